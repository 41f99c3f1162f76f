/*
 * server.h: `dcr serve`, the clean-room service (docs/api.md).
 *
 * dcr_server_run loads and verifies the contract (valid, signed by every
 * party), opens the state directory, makes fresh instance keys, asks the TEE
 * for evidence binding them (api/binding.h) and refuses to start when the
 * contract would not accept that evidence. It then serves the JSON API over
 * HTTPS (TLS 1.3 only, certificate = the attested TLS key) until SIGINT or
 * SIGTERM, and wipes its keys on the way out. With metrics_addr set, a
 * second, plain-HTTP listener answers GET /metrics for the operator
 * (docs/api.md, "Metrics").
 */
#ifndef DCR_SERVER_SERVER_H
#define DCR_SERVER_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

#define DCR_SERVER_MAX_SIGS 1024

typedef struct {
    const char *contract_path;
    const char *const *sig_paths;
    size_t nsigs;
    const char *state_dir;
    const char *listen_addr;  /* numeric IPv4 or IPv6 address */
    uint16_t port;            /* 0 = any free port (printed at start) */
    const char *tee;          /* auto, sim, sev-snp, tdx, azure-vtpm */
    const char *tcti;         /* vTPM for azure-vtpm (NULL: default) */
    const char *state_tcti;   /* TPM anchoring the state and sealing its differencing key;
                                 NULL: the vTPM when the evidence is Azure's, else none;
                                 "none": no TPM */
    const char *ready_file;   /* when set, "https://ADDR:PORT\n" is written here once serving */
    unsigned threads;         /* HTTP thread pool; 0 = 4 */
    uint64_t max_upload;      /* bytes per upload; 0 = 16 GiB */
    size_t max_json;          /* bytes of a JSON request body; 0 = 1 MiB */
    unsigned max_queries;     /* queries running at once; 0 = 2 */
    unsigned rate_per_minute; /* requests per party per minute; 0 = 600 */
    size_t query_mem;         /* bytes a query may hold; 0 = 2 GiB */
    unsigned query_seconds;   /* wall-clock limit of a query; 0 = 300 */
    unsigned max_connections; /* 0 = 256 */
    FILE *log;                /* one line per request and lifecycle event; NULL = stderr */
    bool log_json;            /* JSON lines instead of text */
    const char *metrics_addr; /* numeric address of the operator's GET /metrics; NULL = off */
    uint16_t metrics_port;    /* 0 = any free port (printed at start) */
} dcr_server_config;

/* Runs the server until SIGINT/SIGTERM. Returns DCR_OK after a clean stop. */
dcr_status dcr_server_run(const dcr_server_config *cfg, dcr_error *err);

#endif
