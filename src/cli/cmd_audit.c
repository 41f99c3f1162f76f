/*
 * cmd_audit.c: `dcr audit`: fetch the clean room's whole audit log, verify
 * it (hash chain, signatures by each instance's audit key, the newest
 * instance being the attested one), check it extends the head this client
 * saw last time (a rolled-back or forked log is refused), remember the new
 * head, and print the records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/bytes.h"
#include "base/fileio.h"
#include "cli/remote.h"
#include "state/state.h"

static const char usage[] =
    "Usage: dcr audit --server URL --contract FILE --key NAME.key [--head FILE] [--json]\n"
    "\n"
    "Fetches and verifies the whole audit log: every record links to the one\n"
    "before it and is signed by the instance that wrote it; the newest instance\n"
    "must be the one whose attestation was just verified. The last head seen is\n"
    "remembered (--head, default ~/.local/state/dcr/audit-<contract hash>.head);\n"
    "a log that no longer contains it was rolled back or forked: refused.\n"
    "\n" CLI_REMOTE_USAGE "  --head FILE       where the last verified head is remembered\n"
    "  --json            print the records as JSON lines instead of a table\n"
    "\n"
    "Exit codes: 0 verified, 2 usage, 3 input, 4 verification failed (tampered,\n"
    "rolled back or forked log), 5 internal.\n";

static char *default_head(const cli_remote *r)
{
    const char *base = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[900], hex[65];
    if (base && *base)
        snprintf(dir, sizeof dir, "%s/dcr", base);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/state/dcr", home);
    else
        return NULL;
    /* mkdir -p: a fresh account has no ~/.local yet. Failures show up when
     * the head file is written, with its path. */
    for (char *slash = strchr(dir + 1, '/');; slash = strchr(slash + 1, '/')) {
        if (slash)
            *slash = '\0';
        mkdir(dir, 0700);
        if (!slash)
            break;
        *slash = '/';
    }
    dcr_hex_encode(hex, r->contract.hash, 32);
    char *p = malloc(1024);
    if (p)
        snprintf(p, 1024, "%s/audit-%s.head", dir, hex);
    return p;
}

/* The newest instance_start must introduce the attested audit key. */
static dcr_status check_instance(const dcr_audit_chain *c, const uint8_t audit_pub[32],
                                 dcr_error *err)
{
    char want[65];
    dcr_hex_encode(want, audit_pub, 32);
    for (size_t i = c->n; i-- > 0;) {
        json_error_t je;
        json_t *o = json_loadb(c->v[i].record, c->v[i].record_len, 0, &je);
        const char *type = json_string_value(json_object_get(o, "type"));
        if (type && strcmp(type, "instance_start") == 0) {
            const char *pub = json_string_value(json_object_get(o, "audit_pub"));
            bool ok = pub && strcmp(pub, want) == 0;
            json_decref(o);
            if (!ok)
                return dcr_fail(err, DCR_ECRYPTO,
                                "audit: the newest instance in the log (record %llu) is not the "
                                "attested instance",
                                (unsigned long long)c->v[i].seq);
            return DCR_OK;
        }
        json_decref(o);
    }
    return dcr_fail(err, DCR_ECRYPTO, "audit: the log has no instance_start record");
}

static dcr_status check_head(const char *path, const dcr_audit_chain *c, dcr_error *err)
{
    char *text;
    size_t len;
    if (dcr_read_file(path, 256, &text, &len, NULL) != DCR_OK)
        return DCR_OK; /* first visit */
    unsigned long long seq;
    char hex[65];
    uint8_t hash[32];
    dcr_status st = DCR_OK;
    if (sscanf(text, "%llu %64s", &seq, hex) != 2 || !dcr_hex_decode(hash, 32, hex, 64))
        st = dcr_fail(err, DCR_EINPUT, "%s: not a remembered audit head", path);
    free(text);
    if (st == DCR_OK && (st = dcr_audit_check_extends(c, seq, hash, err)) != DCR_OK)
        dcr_error_prefix(err,
                         "ROLLBACK OR FORK: the log does not extend the head seen before "
                         "(record %llu, remembered in %s)",
                         seq, path);
    return st;
}

static dcr_status save_head(const char *path, const dcr_audit_chain *c, dcr_error *err)
{
    if (c->n == 0)
        return DCR_OK;
    const dcr_audit_record *last = &c->v[c->n - 1];
    char line[128], hex[65];
    dcr_hex_encode(hex, last->hash, 32);
    int n = snprintf(line, sizeof line, "%llu %s\n", (unsigned long long)last->seq, hex);
    dcr_atomic_file f;
    dcr_status st = dcr_atomic_open(&f, path, 0600, true, err);
    if (st != DCR_OK)
        return st;
    if ((st = dcr_write_all(f.fd, line, (size_t)n, path, err)) == DCR_OK)
        return dcr_atomic_commit(&f, err);
    dcr_atomic_abort(&f);
    return st;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void print_records(const dcr_audit_chain *c, bool as_json)
{
    for (size_t i = 0; i < c->n; i++) {
        if (as_json) {
            printf("%.*s\n", (int)c->v[i].record_len, c->v[i].record);
            continue;
        }
        json_error_t je;
        json_t *o = json_loadb(c->v[i].record, c->v[i].record_len, 0, &je);
        const char *type = str(o, "type");
        char when[21];
        snprintf(when, sizeof when, "%s", str(o, "time"));
        for (char *p = when; *p; p++) /* the log is the server's: print only what a time has */
            if (!strchr("0123456789-:TZ", *p))
                *p = '?';
        printf("#%-4llu %-20s %-14s %-10s %-8s", (unsigned long long)c->v[i].seq, when, type,
               str(o, "party"), str(o, "decision"));
        bool result = strcmp(type, "query") == 0 || strcmp(type, "query_result") == 0;
        if (result && strcmp(str(o, "decision"), "accepted") == 0) {
            printf(" rows %lld",
                   (long long)json_integer_value(json_object_get(o, "rows_released")));
        }
        const char *reason = str(o, "reason");
        char sql[104];
        snprintf(sql, sizeof sql, "%s", str(o, "sql"));
        for (char *p = sql; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
        if (*sql)
            printf(" %s%.100s%s", strcmp(type, "query") == 0 ? "\"" : "", sql,
                   strcmp(type, "query") == 0 ? (strlen(str(o, "sql")) > 100 ? "...\"" : "\"")
                                              : "");
        if (*reason)
            printf(" -- %.160s", reason);
        printf("\n");
        json_decref(o);
    }
}

static int audit(cli_remote *r, const char *head, bool as_json)
{
    dcr_client_response resp = {0};
    dcr_error err = {0};
    dcr_audit_chain c = {0};
    size_t bad = 0;
    char *def = head ? NULL : default_head(r);
    const char *path = head ? head : def;
    dcr_status st = dcr_client_call(r->cl, "GET", "/v1/audit", NULL, 0, &resp, &err);
    if (st == DCR_OK)
        st = dcr_audit_parse_export((const char *)resp.body.data, resp.body.len, &c, &err);
    if (st == DCR_OK && c.n && c.v[0].seq != 0)
        st = dcr_fail(&err, DCR_ECRYPTO, "audit: the log does not start at record 0");
    if (st == DCR_OK && (st = dcr_audit_verify(&c, NULL, &bad, &err)))
        dcr_error_prefix(&err, "audit: TAMPERED");
    if (st == DCR_OK)
        st = check_instance(&c, dcr_client_instance_info(r->cl)->keys.audit_pub, &err);
    if (st == DCR_OK && path)
        st = check_head(path, &c, &err);
    if (st == DCR_OK && path)
        st = save_head(path, &c, &err);
    if (st == DCR_OK) {
        print_records(&c, as_json);
        char hex[65] = "";
        if (c.n)
            dcr_hex_encode(hex, c.v[c.n - 1].hash, 32);
        fprintf(stderr,
                "dcr audit: %zu records verified: hash chain intact, every record signed by its "
                "instance, the newest instance is the attested one%s; head %.16s...\n",
                c.n, path ? ", extends the head seen before" : "", hex);
    }
    free(def);
    dcr_audit_chain_free(&c);
    dcr_client_response_free(&resp);
    return st == DCR_OK ? 0 : cli_report("audit", &err);
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {CLI_REMOTE_OPTIONS,
                                         {"head", required_argument, 0, 'h'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    cli_remote r = {0};
    const char *head = NULL;
    bool as_json = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'h')
            head = optarg;
        else if (c == 'j')
            as_json = true;
        else if (!cli_remote_opt(&r, c, optarg))
            return cli_usage_error(&dcr_cmd_audit, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
    }
    if (optind != argc)
        return cli_usage_error(&dcr_cmd_audit, "unexpected argument '%s'", argv[optind]);
    int rc = cli_remote_open(&r, &dcr_cmd_audit, true);
    if (rc == 0)
        rc = audit(&r, head, as_json);
    cli_remote_close(&r);
    return rc;
}

const dcr_command dcr_cmd_audit = {"audit", "fetch and verify the clean room's audit log", usage,
                                   run};
