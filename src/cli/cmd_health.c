/*
 * cmd_health.c: `dcr health --server URL`, the liveness probe of a running
 * clean room (GET /v1/health). It exists for the container HEALTHCHECK:
 * the runtime image has no curl, and liveness must stay cheap and apart
 * from attestation (a party checks that with `dcr attest check`).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/command.h"
#include "client/client.h"

static const char usage[] =
    "Usage: dcr health --server URL [--quiet]\n"
    "\n"
    "Asks a running clean room whether it serves: GET /v1/health must answer\n"
    "{\"status\": \"ok\"}. Verifies nothing (no attestation, no key pin): it\n"
    "says the service is alive, not that it is trustworthy; for that, run\n"
    "dcr attest check. Prints \"ok\" unless --quiet.\n"
    "\n"
    "  --server URL   https://HOST:PORT of the clean room\n"
    "  --quiet        print nothing on success\n"
    "\n"
    "Exit codes: 0 alive, 2 usage, 3 not answering, not TLS, or not a dcr\n"
    "clean room.\n";

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"server", required_argument, 0, 's'}, {"quiet", no_argument, 0, 'q'}, {0, 0, 0, 0}};
    const char *url = NULL;
    int quiet = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 's')
            url = optarg;
        else if (c == 'q')
            quiet = 1;
        else
            return cli_usage_error(&dcr_cmd_health, "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
    }
    if (optind < argc)
        return cli_usage_error(&dcr_cmd_health, "unexpected argument '%s'", argv[optind]);
    if (!url)
        return cli_usage_error(&dcr_cmd_health, "%s", "--server is required");
    dcr_error err = {0};
    if (dcr_client_health(url, &err) != DCR_OK)
        return cli_report("health", &err);
    if (!quiet)
        puts("ok");
    return 0;
}

const dcr_command dcr_cmd_health = {"health", "check that a clean room is alive (GET /v1/health)",
                                    usage, run};
