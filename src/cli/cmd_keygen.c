/*
 * cmd_keygen.c: `dcr keygen`, which creates a party's key pair as NAME.key
 * (private, mode 0600) and NAME.pub (public, mode 0644).
 *
 * The key formats and the generator live in crypto/party_key.c; this file
 * only handles the command line and the files. Existing keys are never
 * overwritten, with or without --force: replacing a private key silently
 * would make every dataset sealed to the old one unreadable. Both files are
 * written through base/fileio.h's atomic helper, so an interrupted keygen
 * leaves either both files or neither.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/bytes.h"
#include "base/fileio.h"
#include "cli/command.h"
#include "crypto/party_key.h"
#include "base/hygiene.h"

static const char usage[] =
    "Usage: dcr keygen --out NAME\n"
    "\n"
    "Creates a party key pair: NAME.key holds the private keys (Ed25519 signing\n"
    "seed and X25519 decryption key) and is readable only by you (mode 0600);\n"
    "NAME.pub holds the matching public keys and is what you give to others so\n"
    "they can seal data to you. Prints the public key line and the key id.\n"
    "\n"
    "Options:\n"
    "  --out NAME   base name of the two files, without an extension; NAME may\n"
    "               include a directory (e.g. keys/alice)\n"
    "  -h, --help   show this help\n"
    "\n"
    "Existing files are never overwritten: if NAME.key or NAME.pub exists, keygen\n"
    "refuses and changes nothing. Keep NAME.key secret and backed up; data sealed\n"
    "to NAME.pub cannot be opened without it.\n"
    "\n"
    "Exit codes: 0 ok, 2 usage, 3 input (file exists or cannot be written), 5 internal.\n";

static int parse_args(int argc, char **argv, const char **name)
{
    enum { O_OUT = 1, O_FORCE };
    static const struct option opts[] = {
        {"out", required_argument, 0, O_OUT}, {"force", no_argument, 0, O_FORCE}, {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_OUT:
            *name = optarg;
            break;
        case O_FORCE:
            /* Recognised only to explain why it does not exist. */
            return cli_usage_error(&dcr_cmd_keygen,
                                   "--force is not supported: keygen never overwrites keys; "
                                   "move the old NAME.key and NAME.pub away first");
        default:
            return cli_usage_error(&dcr_cmd_keygen, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(&dcr_cmd_keygen, "unexpected argument '%s'", argv[optind]);
    if (!*name || !**name)
        return cli_usage_error(&dcr_cmd_keygen, "--out NAME is required");
    size_t n = strlen(*name);
    if ((n >= 4 && (strcmp(*name + n - 4, ".key") == 0 || strcmp(*name + n - 4, ".pub") == 0)) ||
        (*name)[n - 1] == '/')
        return cli_usage_error(&dcr_cmd_keygen,
                               "--out takes a base name such as 'alice', without '.key' or "
                               "'.pub'; keygen adds both");
    return 0;
}

/* Opens an atomic output file and gives it exactly `mode`, whatever the
 * umask: a .pub that only its owner can read is useless to share. */
static dcr_status open_output(dcr_atomic_file *f, const char *path, mode_t mode, dcr_error *err)
{
    dcr_status s = dcr_atomic_open(f, path, mode, false, err);
    if (s != DCR_OK)
        return s;
    if (fchmod(f->fd, mode) != 0) {
        dcr_atomic_abort(f);
        return dcr_fail(err, DCR_EINPUT, "%s: cannot set mode %04o", path, (unsigned)mode);
    }
    return DCR_OK;
}

static dcr_status write_keys(const char *key_path, const char *pub_path, const dcr_party_key *key,
                             dcr_error *err)
{
    char key_text[DCR_KEY_TEXT_LEN + 2], pub_text[DCR_PUB_TEXT_LEN + 2];
    dcr_atomic_file kf = {.fd = -1}, pf = {.fd = -1};
    dcr_party_key_format(key, key_text, sizeof key_text);
    dcr_party_pub_format(&key->pub, pub_text, sizeof pub_text);

    /* Both temp files exist before either is renamed into place, so a
     * failure to create NAME.pub cannot leave a lone NAME.key behind. */
    dcr_status s = open_output(&kf, key_path, 0600, err);
    if (s == DCR_OK)
        s = open_output(&pf, pub_path, 0644, err);
    if (s == DCR_OK)
        s = dcr_write_all(kf.fd, key_text, strlen(key_text), key_path, err);
    if (s == DCR_OK)
        s = dcr_write_all(pf.fd, pub_text, strlen(pub_text), pub_path, err);
    dcr_wipe(key_text, sizeof key_text);
    if (s != DCR_OK) {
        dcr_atomic_abort(&kf);
        dcr_atomic_abort(&pf);
        return s;
    }
    s = dcr_atomic_commit(&kf, err);
    if (s != DCR_OK) {
        dcr_atomic_abort(&pf);
        return s;
    }
    s = dcr_atomic_commit(&pf, err);
    if (s != DCR_OK)
        unlink(key_path); /* a private key with no public half is no use */
    return s;
}

static int run(int argc, char **argv)
{
    const char *name = NULL;
    int rc = parse_args(argc, argv, &name);
    if (rc != 0)
        return rc;

    dcr_error err = {0};
    size_t n = strlen(name) + 5;
    char *key_path = malloc(n), *pub_path = malloc(n);
    if (!key_path || !pub_path) {
        free(key_path);
        free(pub_path);
        dcr_fail(&err, DCR_EINTERNAL, "out of memory");
        return cli_report(dcr_cmd_keygen.name, &err);
    }
    snprintf(key_path, n, "%s.key", name);
    snprintf(pub_path, n, "%s.pub", name);

    /* Checked up front so the message names the file and nothing is
     * generated for nothing; the atomic writes check again. */
    dcr_status s = DCR_OK;
    if (access(key_path, F_OK) == 0)
        s = dcr_fail(&err, DCR_EINPUT, "%s already exists; refusing to overwrite a key", key_path);
    else if (access(pub_path, F_OK) == 0)
        s = dcr_fail(&err, DCR_EINPUT, "%s already exists; refusing to overwrite a key", pub_path);

    dcr_party_key key;
    memset(&key, 0, sizeof key);
    if (s == DCR_OK)
        s = dcr_party_key_generate(&key, &err);
    if (s == DCR_OK)
        s = write_keys(key_path, pub_path, &key, &err);
    uint8_t id[8];
    if (s == DCR_OK)
        s = dcr_hpke_key_id(key.pub.hpke_pub, id, &err);
    if (s == DCR_OK) {
        char pub_text[DCR_PUB_TEXT_LEN + 2], id_hex[17];
        dcr_party_pub_format(&key.pub, pub_text, sizeof pub_text);
        dcr_hex_encode(id_hex, id, sizeof id);
        printf("private key: %s (keep it secret)\n"
               "public key:  %s (share it)\n"
               "key id:      %s\n"
               "%s",
               key_path, pub_path, id_hex, pub_text);
        if (fflush(stdout) != 0)
            s = dcr_fail(&err, DCR_EINPUT, "cannot write to standard output");
    }
    dcr_party_key_wipe(&key);
    free(key_path);
    free(pub_path);
    return s == DCR_OK ? 0 : cli_report(dcr_cmd_keygen.name, &err);
}

const dcr_command dcr_cmd_keygen = {
    .name = "keygen",
    .summary = "create a key pair: NAME.key (private) and NAME.pub (public)",
    .usage = usage,
    .run = run,
};
