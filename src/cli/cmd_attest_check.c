/*
 * cmd_attest_check.c: `dcr attest check --server URL --contract FILE`:
 * fetch a running instance's evidence, verify it against the contract and
 * the key binding, prove the pinned TLS key on a second connection, and
 * print what the evidence proves: on vTPM evidence, whether pinned PCRs
 * name the booted image or only the platform is proven. cmd_attest.c dispatches here.
 */
#include <stdio.h>
#include <string.h>

#include "base/bytes.h"
#include "cli/remote.h"

int cli_attest_check(int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_REMOTE_OPTIONS, {"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    cli_remote r = {0};
    int c, json = 0;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (!cli_remote_opt(&r, c, optarg) || c == 1003)
            return cli_usage_error(&dcr_cmd_attest, "check takes --server, --contract, --json");
    }
    if (optind != argc)
        return cli_usage_error(&dcr_cmd_attest, "unexpected argument '%s'", argv[optind]);
    r.quiet = true;
    int rc = cli_remote_open(&r, &dcr_cmd_attest, false);
    if (rc) {
        cli_remote_close(&r);
        return rc;
    }
    const dcr_client_instance *in = dcr_client_instance_info(r.cl);
    char tls[65], hpke[65], audit[65], ch[65];
    dcr_hex_encode(tls, in->keys.tls_spki_sha256, 32);
    dcr_hex_encode(hpke, in->keys.hpke_pub, 32);
    dcr_hex_encode(audit, in->keys.audit_pub, 32);
    dcr_hex_encode(ch, r.contract.hash, 32);
    char words[512];
    /* A valid contract requires measurements for every real type. */
    dcr_attest_proves(in->evidence_type, in->claims, true, "the contract", words, sizeof words);
    if (json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:O}", "server", r.server,
                              "contract_sha256", ch, "evidence_type", in->evidence_type,
                              "tls_spki_sha256", tls, "hpke_public_key", hpke, "audit_public_key",
                              audit, "proves", words, "claims", in->claims);
        char *s = json_dumps(o, JSON_INDENT(2));
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(o);
    } else {
        json_t *m = json_object_get(in->claims, "measurement");
        printf("server         %s\n"
               "evidence       %s, verified against the contract's accepted evidence\n"
               "measurement    %s\n"
               "contract       %s (%s): the instance runs exactly this contract\n"
               "TLS key        sha256 %s (pinned; the serving key matches)\n"
               "HPKE key       %s (data keys are wrapped to it)\n"
               "audit key      %s (signs this instance's audit records)\n"
               "proves         %s\n",
               r.server, in->evidence_type,
               json_is_string(m) ? json_string_value(m) : "(see --json)", r.contract.name, ch, tls,
               hpke, audit, words);
        if (strcmp(in->evidence_type, "sim") == 0)
            printf(
                "WARNING        simulated evidence: anyone can forge it; it proves nothing about "
                "the machine. Development only.\n");
    }
    cli_remote_close(&r);
    return 0;
}
