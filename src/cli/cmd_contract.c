/*
 * cmd_contract.c: `dcr contract init|lint|hash|show|sign|verify`, the
 * command line around the contract (src/contract/, docs/contract.md).
 *
 * Every subcommand that reads a contract lints it first and prints every
 * problem as FILE:LINE:COLUMN: reason (exit 3), so no signature, hash or
 * summary is ever produced for an invalid contract.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/fileio.h"
#include "cli/command.h"
#include "contract/contract.h"
#include "contract/signature.h"
#include "privacy/budget.h"

static const char usage[] =
    "Usage: dcr contract SUBCOMMAND ...\n"
    "\n"
    "The contract every party signs: parties, datasets, analysis rules and the\n"
    "accepted TEE evidence (see docs/contract.md).\n"
    "\n"
    "  dcr contract init --out FILE --party NAME=NAME.pub --party NAME=NAME.pub\n"
    "      write a starter two-party contract (the first party provides\n"
    "      impressions, the second provides purchases and analyses); never\n"
    "      overwrites FILE\n"
    "  dcr contract lint FILE\n"
    "      check FILE; print every problem as FILE:LINE:COLUMN: reason\n"
    "  dcr contract hash FILE\n"
    "      print the contract's identity: SHA-256 of its exact bytes, in hex\n"
    "  dcr contract show FILE\n"
    "      summarise who may do what with which data\n"
    "  dcr contract sign --key NAME.key --out SIG FILE\n"
    "      sign FILE as the party holding NAME.key; refuses an invalid contract\n"
    "      and a key that is not one of its parties'\n"
    "  dcr contract verify FILE SIG...\n"
    "      check each signature and say which parties have signed and which\n"
    "      have not; exit 0 only when FILE is valid and every party signed\n"
    "\n"
    "Exit codes: 0 ok, 2 usage, 3 invalid contract or file, 4 bad, foreign or\n"
    "missing signature, 5 internal.\n";

#define usage_error(...) cli_usage_error(&dcr_cmd_contract, __VA_ARGS__)

/* Loads and lints path; on problems prints them all and returns 3. */
static int load_valid(const char *path, dcr_contract *c)
{
    dcr_contract_diags diags;
    dcr_error err = {0};
    dcr_status s = dcr_contract_load(path, c, &diags, NULL, NULL, &err);
    if (s == DCR_EINPUT && diags.n) {
        dcr_contract_diags_print(&diags, path, stderr);
        fprintf(stderr, "dcr contract: %s: %zu problem%s\n", path, diags.n + diags.dropped,
                diags.n + diags.dropped > 1 ? "s" : "");
    } else if (s != DCR_OK) {
        cli_report("contract", &err);
    }
    dcr_contract_diags_free(&diags);
    if (s != DCR_OK)
        dcr_contract_free(c);
    return (int)s;
}

/* Parses "--opt VALUE" pairs for sign and init; returns 0 or an exit code. */
typedef struct {
    const char *out, *key;
    const char *party[2];
    size_t nparty;
    int extra_party;
} sub_args;

static int parse_opts(int argc, char **argv, sub_args *a, const char *allowed)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"key", required_argument, 0, 'k'},
                                         {"party", required_argument, 0, 'p'},
                                         {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == '?' || !strchr(allowed, c))
            return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        if (c == 'o')
            a->out = optarg;
        if (c == 'k')
            a->key = optarg;
        if (c == 'p') {
            if (a->nparty < 2)
                a->party[a->nparty++] = optarg;
            else
                a->extra_party = 1;
        }
    }
    return 0;
}

/* ---- init ---------------------------------------------------------------- */

static const char starter[] =
    "{\n"
    "  \"dcr_contract\": 1,\n"
    "  \"name\": \"example-attribution\",\n"
    "  \"version\": 1,\n"
    "  \"purpose\": \"Example: measure which of %1$s's campaigns lead to purchases at %2$s. Edit "
    "before signing.\",\n"
    "  \"development\": true,\n"
    "  \"parties\": [\n"
    "    {\"name\": \"%1$s\", \"roles\": [\"provider\", \"receiver\"],\n"
    "     \"public_key\": \"%3$s\"},\n"
    "    {\"name\": \"%2$s\", \"roles\": [\"provider\", \"analyst\", \"receiver\"],\n"
    "     \"public_key\": \"%4$s\"}\n"
    "  ],\n"
    "  \"datasets\": [\n"
    "    {\"name\": \"impressions\", \"owner\": \"%1$s\", \"privacy_unit\": \"email\",\n"
    "     \"columns\": [\n"
    "       {\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\", \"normalize\": "
    "[\"trim\", \"lower\"]},\n"
    "       {\"name\": \"campaign\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "       {\"name\": \"shown_at\", \"type\": \"TIMESTAMP\", \"role\": \"dimension\"},\n"
    "       {\"name\": \"cost\", \"type\": \"DOUBLE PRECISION\", \"role\": \"metric\", "
    "\"bounds\": [0, 10]},\n"
    "       {\"name\": \"clicked\", \"type\": \"BOOLEAN\", \"role\": \"dimension\"}\n"
    "     ]},\n"
    "    {\"name\": \"purchases\", \"owner\": \"%2$s\", \"privacy_unit\": \"email\",\n"
    "     \"columns\": [\n"
    "       {\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\", \"normalize\": "
    "[\"trim\", \"lower\"]},\n"
    "       {\"name\": \"product\", \"type\": \"TEXT\", \"role\": \"dimension\"},\n"
    "       {\"name\": \"bought_at\", \"type\": \"TIMESTAMP\", \"role\": \"dimension\"},\n"
    "       {\"name\": \"amount\", \"type\": \"DOUBLE PRECISION\", \"role\": \"metric\", "
    "\"bounds\": [0, 1000]}\n"
    "     ]}\n"
    "  ],\n"
    "  \"rules\": {\n"
    "    \"aggregation\": {\n"
    "      \"min_units\": 50,\n"
    "      \"aggregates\": {\n"
    "        \"impressions.email\": [\"COUNT_DISTINCT\"],\n"
    "        \"impressions.cost\": [\"SUM\", \"AVG\"],\n"
    "        \"purchases.email\": [\"COUNT_DISTINCT\"],\n"
    "        \"purchases.amount\": [\"COUNT\", \"SUM\", \"AVG\"]\n"
    "      },\n"
    "      \"joins\": [{\"left\": \"impressions.email\", \"right\": \"purchases.email\"}]\n"
    "    },\n"
    "    \"differential_privacy\": {\"enabled\": true, \"epsilon_per_query\": 0.5, \"delta\": "
    "1e-6,\n"
    "                             \"budget_per_analyst\": 10, \"max_contributions_per_unit\": "
    "10},\n"
    "    \"templates\": [\n"
    "      {\"name\": \"attribution_by_campaign\",\n"
    "       \"sql\": \"SELECT i.campaign, COUNT(DISTINCT p.email) AS buyers, SUM(p.amount) AS "
    "revenue FROM impressions i JOIN purchases p ON i.email = p.email WHERE p.bought_at >= $1 "
    "GROUP BY i.campaign\",\n"
    "       \"parameters\": [{\"name\": \"since\", \"type\": \"TIMESTAMP\", \"min\": "
    "\"2020-01-01\", \"max\": \"2030-12-31\"}]}\n"
    "    ],\n"
    "    \"overlap\": [{\"receiver\": \"%2$s\", \"dataset\": \"purchases\", \"column\": "
    "\"email\"}],\n"
    "    \"receivers\": {\"%2$s\": [\"%2$s\"]}\n"
    "  },\n"
    "  \"evidence\": [\n"
    "    {\"type\": \"sim\"}\n"
    "  ]\n"
    "}\n";

/* Splits NAME=FILE.pub, checks the name and loads the key text. */
static int load_party_arg(const char *arg, char name[DCR_NAME_MAX + 1], char key[160])
{
    const char *eq = strchr(arg, '=');
    size_t nlen = eq ? (size_t)(eq - arg) : 0;
    if (!eq || !dcr_name_valid(arg, nlen))
        return usage_error("--party wants NAME=NAME.pub with NAME of a-z, 0-9, _ (got '%s')", arg);
    memcpy(name, arg, nlen);
    name[nlen] = 0;
    dcr_party_pub pub;
    dcr_error err = {0};
    if (dcr_party_pub_load(eq + 1, &pub, &err) != DCR_OK)
        return cli_report("contract init", &err);
    char text[DCR_PUB_TEXT_LEN + 2];
    dcr_party_pub_format(&pub, text, sizeof text);
    text[DCR_PUB_TEXT_LEN] = 0; /* drop the newline */
    memcpy(key, text, DCR_PUB_TEXT_LEN + 1);
    return 0;
}

static int write_text(const char *path, const char *text, size_t len, const char *cmd)
{
    dcr_atomic_file f;
    dcr_error err = {0};
    dcr_status s = dcr_atomic_open(&f, path, 0644, false, &err);
    if (s == DCR_OK) {
        s = dcr_write_all(f.fd, text, len, path, &err);
        if (s == DCR_OK)
            s = dcr_atomic_commit(&f, &err);
        else
            dcr_atomic_abort(&f);
    }
    return s == DCR_OK ? 0 : cli_report(cmd, &err);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int format_starter(char *buf, size_t size, char names[2][DCR_NAME_MAX + 1],
                          char keys[2][160])
{
    return snprintf(buf, size, starter, names[0], names[1], keys[0], keys[1]);
}
#pragma GCC diagnostic pop

static int run_init(int argc, char **argv)
{
    sub_args a = {0};
    int rc = parse_opts(argc, argv, &a, "op");
    if (rc)
        return rc;
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!a.out || a.nparty != 2 || a.extra_party)
        return usage_error("%s", "init needs --out FILE and exactly two --party NAME=NAME.pub");
    char names[2][DCR_NAME_MAX + 1], keys[2][160];
    for (int i = 0; i < 2; i++)
        if ((rc = load_party_arg(a.party[i], names[i], keys[i])))
            return rc;
    if (strcmp(names[0], names[1]) == 0)
        return usage_error("the two parties need different names%s", "");
    char buf[8192];
    int n = format_starter(buf, sizeof buf, names, keys);
    if (n < 0 || (size_t)n >= sizeof buf) {
        dcr_error err;
        dcr_fail(&err, DCR_EINTERNAL, "starter contract does not fit its buffer");
        return cli_report("contract init", &err);
    }
    /* Check what we are about to write: a starter must lint clean. */
    dcr_contract c;
    dcr_contract_diags diags;
    dcr_error err = {0};
    dcr_status s = dcr_contract_parse(buf, (size_t)n, a.out, &c, &diags, &err);
    dcr_contract_free(&c);
    dcr_contract_diags_free(&diags);
    if (s != DCR_OK)
        return cli_report("contract init", &err);
    if ((rc = write_text(a.out, buf, (size_t)n, "contract init")))
        return rc;
    fprintf(stderr,
            "wrote %s: a development contract between %s and %s (sim evidence only); "
            "edit it, then run 'dcr contract lint %s'\n",
            a.out, names[0], names[1], a.out);
    return 0;
}

/* ---- lint, hash, show ------------------------------------------------------ */

static int one_file(int argc, char **argv, const char **path)
{
    if (argc != 2)
        return usage_error("%s needs exactly one contract FILE", argv[0]);
    *path = argv[1];
    return 0;
}

static void hash_hex(const dcr_contract *c, char out[2 * DCR_SHA256_LEN + 1])
{
    dcr_hex_encode(out, c->hash, DCR_SHA256_LEN);
}

/* lint, hash and show: load and validate the one FILE, then print. */
static int with_valid_contract(int argc, char **argv,
                               void (*print)(const char *path, const dcr_contract *c))
{
    const char *path = NULL;
    int rc = one_file(argc, argv, &path);
    if (rc)
        return rc;
    dcr_contract c;
    if ((rc = load_valid(path, &c)))
        return rc;
    print(path, &c);
    dcr_contract_free(&c);
    return 0;
}

static void print_lint(const char *path, const dcr_contract *c)
{
    char hex[2 * DCR_SHA256_LEN + 1];
    hash_hex(c, hex);
    printf("%s: valid contract \"%s\" version %lld: %zu parties, %zu datasets; hash %s\n", path,
           c->name, (long long)c->version, c->nparties, c->ndatasets, hex);
    const char *w[8];
    size_t n = dcr_contract_warnings(c, w, 8);
    for (size_t i = 0; i < n; i++)
        printf("%s: warning: %s\n", path, w[i]);
}

static void print_hash(const char *path, const dcr_contract *c)
{
    (void)path;
    char hex[2 * DCR_SHA256_LEN + 1];
    hash_hex(c, hex);
    printf("%s\n", hex);
}

static void print_show(const char *path, const dcr_contract *c)
{
    (void)path;
    int64_t n = -1;
    dcr_dp_cost cost;
    dcr_error err = {0};
    if (c->dp.enabled && dcr_dp_cost_of(&c->dp, &cost, &err) == DCR_OK)
        n = cost.max_queries;
    dcr_contract_show(c, n, stdout);
}

static int run_lint(int argc, char **argv)
{
    return with_valid_contract(argc, argv, print_lint);
}

static int run_hash(int argc, char **argv)
{
    return with_valid_contract(argc, argv, print_hash);
}

static int run_show(int argc, char **argv)
{
    return with_valid_contract(argc, argv, print_show);
}

/* ---- sign, verify ---------------------------------------------------------- */

static int sign_with(const dcr_contract *c, const char *key_path, const char *out, const char *path)
{
    dcr_party_key key;
    dcr_error err = {0};
    if (dcr_party_key_load(key_path, &key, &err) != DCR_OK)
        return cli_report("contract sign", &err);
    int p = dcr_contract_find_party_by_key(c, key.pub.sign_pub);
    if (p < 0) {
        dcr_party_key_wipe(&key);
        dcr_fail(&err, DCR_EINPUT, "%s: this key is not the key of any party of %s", key_path,
                 path);
        return cli_report("contract sign", &err);
    }
    dcr_contract_sig sig;
    dcr_status s = dcr_contract_sign(&key, c->hash, &sig, &err);
    dcr_party_key_wipe(&key);
    if (s != DCR_OK)
        return cli_report("contract sign", &err);
    char line[DCR_SIG_TEXT_LEN + 2];
    dcr_contract_sig_format(&sig, line, sizeof line);
    int rc = write_text(out, line, DCR_SIG_TEXT_LEN + 1, "contract sign");
    if (rc)
        return rc;
    char hex[2 * DCR_SHA256_LEN + 1];
    hash_hex(c, hex);
    fprintf(stderr, "signed contract %s as party \"%s\": %s\n", hex, c->parties[p].name, out);
    return 0;
}

static int run_sign(int argc, char **argv)
{
    sub_args a = {0};
    int rc = parse_opts(argc, argv, &a, "ok");
    if (rc)
        return rc;
    if (!a.key || !a.out || optind != argc - 1)
        return usage_error("%s", "sign needs --key NAME.key --out SIG and one contract FILE");
    const char *path = argv[optind];
    dcr_contract c;
    if ((rc = load_valid(path, &c)))
        return rc;
    rc = sign_with(&c, a.key, a.out, path);
    dcr_contract_free(&c);
    return rc;
}

/* Checks one signature file; marks its party in signed_by. Returns 0, 3
 * (unreadable file) or 4 (bad signature). */
static int verify_one(const dcr_contract *c, const char *sig_path, const char **signed_by)
{
    dcr_contract_sig sig;
    dcr_error err = {0};
    dcr_status s = dcr_contract_sig_load(sig_path, &sig, &err);
    size_t p = 0;
    if (s == DCR_OK)
        s = dcr_contract_sig_verify(c, &sig, &p, &err);
    if (s != DCR_OK) {
        if (s == DCR_ECRYPTO)
            dcr_error_prefix(&err, "%s: rejected", sig_path);
        cli_report("contract verify", &err);
        return (int)s;
    }
    printf("%s: good signature by %s\n", sig_path, c->parties[p].name);
    if (!signed_by[p])
        signed_by[p] = sig_path;
    return 0;
}

static int report_signers(const dcr_contract *c, const char **signed_by)
{
    size_t missing = 0;
    for (size_t i = 0; i < c->nparties; i++) {
        printf("  %-20s %s%s\n", c->parties[i].name, signed_by[i] ? "signed: " : "NOT SIGNED",
               signed_by[i] ? signed_by[i] : "");
        missing += !signed_by[i];
    }
    if (!missing)
        return 0;
    fprintf(stderr, "dcr contract verify: not fully signed: missing a valid signature from");
    for (size_t i = 0, k = 0; i < c->nparties; i++)
        if (!signed_by[i])
            fprintf(stderr, "%s %s", k++ ? "," : "", c->parties[i].name);
    fputc('\n', stderr);
    return DCR_ECRYPTO;
}

static int run_verify(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "verify needs a contract FILE and its SIG files");
    const char *path = argv[1];
    dcr_contract c;
    int rc = load_valid(path, &c);
    if (rc)
        return rc;
    const char **signed_by = calloc(c.nparties, sizeof *signed_by);
    if (!signed_by) {
        dcr_contract_free(&c);
        dcr_error err;
        dcr_fail(&err, DCR_EINTERNAL, "out of memory");
        return cli_report("contract verify", &err);
    }
    int worst = 0;
    for (int i = 2; i < argc; i++) {
        int r = verify_one(&c, argv[i], signed_by);
        if (r > worst)
            worst = r;
    }
    char hex[2 * DCR_SHA256_LEN + 1];
    hash_hex(&c, hex);
    printf("contract %s (%s):\n", hex, path);
    int missing = report_signers(&c, signed_by);
    if (!worst && !missing)
        printf("valid and signed by every party\n");
    free(signed_by);
    dcr_contract_free(&c);
    return worst ? worst : missing;
}

/* ---- dispatch ---------------------------------------------------------------- */

static int run(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } subs[] = {{"init", run_init}, {"lint", run_lint}, {"hash", run_hash},
                {"show", run_show}, {"sign", run_sign}, {"verify", run_verify}};
    if (argc < 2)
        return usage_error("%s", "a subcommand is required: init, lint, hash, show, sign, verify");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(argc - 1, argv + 1);
    return usage_error("unknown subcommand '%s' (use init, lint, hash, show, sign, verify)",
                       argv[1]);
}

const dcr_command dcr_cmd_contract = {"contract", "create, check, show, sign and verify contracts",
                                      usage, run};
