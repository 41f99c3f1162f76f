/*
 * cmd_serve.c: `dcr serve`, the clean-room service. Options in, then
 * src/server does everything (server.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/command.h"
#include "server/server.h"

static const char usage[] =
    "Usage: dcr serve --contract FILE --signatures SIG... --state DIR\n"
    "                 --listen ADDR:PORT --tee auto|sim|sev-snp|tdx|azure-vtpm [options]\n"
    "\n"
    "Runs the clean room: checks that the contract is valid and signed by every\n"
    "party, makes fresh instance keys (TLS, HPKE, audit), gets TEE evidence that\n"
    "binds them to the contract and refuses to start if the contract would not\n"
    "accept that evidence, then serves the HTTPS API (TLS 1.3 only; docs/api.md)\n"
    "until SIGINT or SIGTERM. One log line per request on stderr.\n"
    "\n"
    "  --contract FILE       the contract\n"
    "  --signatures SIG...   every party's signature file (repeat, or list them)\n"
    "  --state DIR           durable state: catalog, ciphertext, audit log, budgets\n"
    "  --listen ADDR:PORT    numeric address (or a name of loopback, e.g. localhost)\n"
    "                        and port; port 0 picks a free one\n"
    "                        ([::1]:8443 for IPv6)\n"
    "  --tee NAME            auto (the hardware found), sim (development only:\n"
    "                        insecure, accepted only by a contract listing sim),\n"
    "                        sev-snp, tdx, azure-vtpm\n"
    "  --tcti CONF           the vTPM for azure-vtpm (default $DCR_TCTI or the device)\n"
    "  --state-tcti CONF|none  the TPM that anchors the state against rollback and\n"
    "                        seals its differencing key (default: the vTPM when the\n"
    "                        evidence is azure-vtpm, else none)\n"
    "  --ready-file FILE     write the server's URL here once it serves\n"
    "  --threads N           HTTP threads (default 4)\n"
    "  --max-upload BYTES    largest upload (default 16 GiB)\n"
    "  --max-queries N       queries running at once (default 2)\n"
    "  --rate N              requests per party per minute (default 600)\n"
    "  --query-memory MIB    memory a query may hold (default 2048)\n"
    "  --query-seconds N     wall-clock limit of a query (default 300)\n"
    "  --log-format text|json  the log on stderr: text lines (default) or JSON lines;\n"
    "                        one per request (time, request id, peer, party, route,\n"
    "                        status, error code, duration; never SQL or data)\n"
    "  --metrics-listen ADDR:PORT  serve GET /metrics (Prometheus text format) over\n"
    "                        plain HTTP, without authentication, for the operator;\n"
    "                        a loopback name or a numeric address (off by default)\n"
    "\n"
    "Exit codes: 0 stopped cleanly, 2 usage, 3 input (contract, state, address),\n"
    "4 verification (signatures, own evidence), 5 internal.\n";

#define usage_error(...) cli_usage_error(&dcr_cmd_serve, __VA_ARGS__)

static bool is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    return sa->sa_family == AF_INET6 &&
           IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

/* A numeric address stays as it is. A host name is accepted only when it
 * resolves to loopback ("localhost"), and becomes that numeric address: the
 * server binds one address, and a name that could mean a public interface
 * should be written as the address the operator means. All before any
 * state is touched. */
static int resolve_listen(const char *opt, char *addr, size_t addr_size)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, addr, buf) == 1 || inet_pton(AF_INET6, addr, buf) == 1)
        return 0;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    int e = getaddrinfo(addr, NULL, &hints, &res);
    if (e != 0)
        return usage_error("%s: cannot resolve '%s' (%s); give a numeric address such as "
                           "127.0.0.1",
                           opt, addr, gai_strerror(e));
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *r = res; r; r = r->ai_next)
        if (!is_loopback(r->ai_addr)) {
            pick = NULL;
            break;
        } else if (!pick || r->ai_family == AF_INET) {
            pick = r; /* IPv4 loopback first: it is there on every host */
        }
    char num[INET6_ADDRSTRLEN] = "";
    if (pick)
        getnameinfo(pick->ai_addr, pick->ai_addrlen, num, sizeof num, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    if (!num[0] || strlen(num) >= addr_size)
        return usage_error("%s: '%s' is not a loopback name; to listen on another "
                           "interface give its numeric address (e.g. 0.0.0.0 for all)",
                           opt, addr);
    memcpy(addr, num, strlen(num) + 1);
    return 0;
}

/* Binds and closes a socket on addr:port, so that an address this host
 * does not have, or a port in use, is refused with the other arguments,
 * before the state (and its audit log) is touched. The server binds again
 * when it starts; a port taken in between still fails there. */
static int probe_bind(const char *opt, const char *addr, long port)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    socklen_t len;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        len = sizeof *v6;
    } else {
        return usage_error("%s: '%s' is not a numeric IPv4 or IPv6 address", opt, addr);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    int e = 0;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0)
        e = errno;
    if (fd >= 0)
        close(fd);
    if (e == EADDRNOTAVAIL)
        return usage_error("%s: this host has no address %s (give one of its own, "
                           "127.0.0.1, or 0.0.0.0 for all)",
                           opt, addr);
    if (e)
        return usage_error("%s: cannot listen on %s port %ld: %s", opt, addr, port, strerror(e));
    return 0;
}

/* ADDR:PORT of option opt ([V6]:PORT for IPv6) into addr and *port. */
static int parse_listen(const char *opt, const char *s, char *addr, size_t addr_size,
                        uint16_t *port_out)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return usage_error("%s must be ADDR:PORT, e.g. 127.0.0.1:8443", opt);
    size_t n = (size_t)(colon - s);
    if (s[0] == '[' && n >= 2 && s[n - 1] == ']') {
        s++;
        n -= 2;
    }
    long port;
    if (n >= addr_size || !cli_parse_int(colon + 1, 0, 65535, &port))
        return usage_error("%s: bad address or port in '%s'", opt, s);
    memcpy(addr, s, n);
    addr[n] = '\0';
    int rc = resolve_listen(opt, addr, addr_size);
    rc = rc ? rc : probe_bind(opt, addr, port);
    if (rc)
        return rc;
    *port_out = (uint16_t)port;
    return 0;
}

static int parse_num(const char *opt, const char *arg, long min, long max, long *out)
{
    if (!cli_parse_int(arg, min, max, out))
        return usage_error("%s must be %ld-%ld", opt, min, max);
    return 0;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"contract", required_argument, 0, 'c'},
                                         {"signatures", required_argument, 0, 's'},
                                         {"state", required_argument, 0, 'd'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"tee", required_argument, 0, 't'},
                                         {"tcti", required_argument, 0, 'T'},
                                         {"state-tcti", required_argument, 0, 'A'},
                                         {"ready-file", required_argument, 0, 'r'},
                                         {"threads", required_argument, 0, 'n'},
                                         {"max-upload", required_argument, 0, 'u'},
                                         {"max-queries", required_argument, 0, 'q'},
                                         {"rate", required_argument, 0, 'R'},
                                         {"query-memory", required_argument, 0, 'm'},
                                         {"query-seconds", required_argument, 0, 'S'},
                                         {"log-format", required_argument, 0, 'F'},
                                         {"metrics-listen", required_argument, 0, 'M'},
                                         {0, 0, 0, 0}};
    dcr_server_config cfg = {0};
    const char **sigs = calloc((size_t)argc + 1, sizeof *sigs);
    char addr[128] = "", maddr[128] = "";
    long v;
    int c, rc = 0;
    if (!sigs)
        return DCR_EINTERNAL;
    opterr = 0;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cfg.contract_path = optarg;
            break;
        case 's':
            sigs[cfg.nsigs++] = optarg;
            break;
        case 'd':
            cfg.state_dir = optarg;
            break;
        case 'l':
            if (!(rc = parse_listen("--listen", optarg, addr, sizeof addr, &cfg.port)))
                cfg.listen_addr = addr;
            break;
        case 'M':
            if (!(rc = parse_listen("--metrics-listen", optarg, maddr, sizeof maddr,
                                    &cfg.metrics_port)))
                cfg.metrics_addr = maddr;
            break;
        case 'F':
            if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0)
                rc = usage_error("--log-format must be text or json, not '%s'", optarg);
            cfg.log_json = strcmp(optarg, "json") == 0;
            break;
        case 't':
            cfg.tee = optarg;
            break;
        case 'T':
            cfg.tcti = optarg;
            break;
        case 'A':
            cfg.state_tcti = optarg;
            break;
        case 'r':
            cfg.ready_file = optarg;
            break;
        case 'n':
            if (!(rc = parse_num("--threads", optarg, 1, 256, &v)))
                cfg.threads = (unsigned)v;
            break;
        case 'u':
            if (!(rc = parse_num("--max-upload", optarg, 1024, 1L << 50, &v)))
                cfg.max_upload = (uint64_t)v;
            break;
        case 'q':
            if (!(rc = parse_num("--max-queries", optarg, 1, 1024, &v)))
                cfg.max_queries = (unsigned)v;
            break;
        case 'R':
            if (!(rc = parse_num("--rate", optarg, 1, 1000000, &v)))
                cfg.rate_per_minute = (unsigned)v;
            break;
        case 'm':
            if (!(rc = parse_num("--query-memory", optarg, 16, 1L << 22, &v)))
                cfg.query_mem = (size_t)v << 20;
            break;
        case 'S':
            if (!(rc = parse_num("--query-seconds", optarg, 1, 86400, &v)))
                cfg.query_seconds = (unsigned)v;
            break;
        default:
            rc = usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    /* --signatures a.sig b.sig: the files after it are signatures too. */
    for (; rc == 0 && optind < argc; optind++) {
        if (cfg.nsigs == 0)
            rc = usage_error("unexpected argument '%s'", argv[optind]);
        else
            sigs[cfg.nsigs++] = argv[optind];
    }
    if (rc == 0 &&
        (!cfg.contract_path || !cfg.nsigs || !cfg.state_dir || !cfg.listen_addr || !cfg.tee))
        rc =
            usage_error("%s", "--contract, --signatures, --state, --listen and --tee are required");
    if (rc == 0) {
        cfg.sig_paths = sigs;
        dcr_error err = {0};
        if (dcr_server_run(&cfg, &err) != DCR_OK)
            rc = cli_report("serve", &err);
    }
    free(sigs);
    return rc;
}

const dcr_command dcr_cmd_serve = {"serve", "run the clean-room service (HTTPS API)", usage, run};
