/*
 * server.c: `dcr serve` top level (server.h). The order matters: nothing is
 * served before the contract is fully signed, the state opens cleanly, and
 * the instance's own evidence passes the contract's checks. Signals are
 * blocked in every thread and taken by sigwait here, so a stop is orderly:
 * the HTTP daemon stops (finishing requests in flight), then the state
 * closes and the keys are wiped.
 */
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/fileio.h"
#include "contract/signature.h"
#include "base/hygiene.h"
#include "room/room.h"
#include "server/internal.h"
#include "state/state.h"

/* The contract's lint findings, one log line each. */
static void log_diags(srv *s, const dcr_contract_diags *diags)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return;
    dcr_contract_diags_print(diags, s->cfg->contract_path, f);
    if (fclose(f) == 0 && text)
        srv_log_lines(s, "contract", text);
    free(text);
}

static dcr_status load_contract(srv *s, dcr_error *err)
{
    const dcr_server_config *cfg = s->cfg;
    dcr_contract_diags diags;
    dcr_status st = dcr_contract_load(cfg->contract_path, &s->contract, &diags, &s->contract_text,
                                      &s->contract_len, err);
    if (st == DCR_EINPUT && diags.n)
        log_diags(s, &diags);
    dcr_contract_diags_free(&diags);
    if (st != DCR_OK)
        return st;
    bool *signed_by = calloc(s->contract.nparties, sizeof *signed_by);
    if (!signed_by)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t i = 0; st == DCR_OK && i < cfg->nsigs; i++) {
        dcr_contract_sig sig;
        size_t party;
        st = dcr_contract_sig_load(cfg->sig_paths[i], &sig, err);
        if (st == DCR_OK && (st = dcr_contract_sig_verify(&s->contract, &sig, &party, err)))
            dcr_error_prefix(err, "%s", cfg->sig_paths[i]);
        if (st == DCR_OK)
            signed_by[party] = true;
    }
    for (size_t i = 0; st == DCR_OK && i < s->contract.nparties; i++)
        if (!signed_by[i])
            st = dcr_fail(err, DCR_ECRYPTO,
                          "the contract is not in force: %s has not signed it (give every "
                          "party's signature with --signatures)",
                          s->contract.parties[i].name);
    free(signed_by);
    return st;
}

static dcr_status build_attestation(srv *s, dcr_error *err)
{
    const srv_instance *in = &s->inst;
    size_t b64_len = 4 * ((in->evidence.len + 2) / 3) + 1;
    char *b64 = malloc(b64_len);
    if (!b64)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    EVP_EncodeBlock((unsigned char *)b64, in->evidence.data, (int)in->evidence.len);
    s->attestation = json_pack(
        "{s:i,s:o,s:s,s:s,s:o,s:o,s:o,s:o,s:I}", "version", 1, "contract_sha256",
        srv_hex(s->contract.hash, 32), "evidence_type", in->evidence_type, "evidence", b64,
        "tls_spki_sha256", srv_hex(in->pub.tls_spki_sha256, 32), "hpke_public_key",
        srv_hex(in->pub.hpke_pub, 32), "audit_public_key", srv_hex(in->pub.audit_pub, 32),
        "report_data", srv_hex(in->report_data, 64), "started_at", (json_int_t)s->started);
    free(b64);
    return s->attestation ? DCR_OK : dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

/* The TPM of the state: as configured, else the vTPM that produced Azure
 * evidence (resolved as the attestation does), else none. */
static const char *state_tcti(const srv *s)
{
    const char *t = s->cfg->state_tcti;
    if (t)
        return strcmp(t, "none") == 0 ? NULL : t;
    if (strncmp(s->inst.evidence_type, "azure-", 6) != 0)
        return NULL;
    if (s->cfg->tcti)
        return s->cfg->tcti;
    const char *env = getenv("DCR_TCTI");
    return env && *env ? env : "device:/dev/tpmrm0";
}

static dcr_status start_state(srv *s, dcr_error *err)
{
    dcr_state_options opt = {.tcti = state_tcti(s)};
    s->tpm_anchored = opt.tcti != NULL;
    if (opt.tcti)
        srv_log(s, "start", "state anchored on TPM %s (rollback refused; differencing key sealed)",
                opt.tcti);
    else
        srv_log(s, "start",
                "state without a TPM: a rolled-back state is caught only by clients' remembered "
                "audit heads; the differencing key is a plain file");
    dcr_status st = dcr_state_open(s->cfg->state_dir, &opt, &s->state, err);
    if (st != DCR_OK)
        return dcr_error_prefix(err, "--state %s", s->cfg->state_dir);
    dcr_state_instance inst = {.tee = s->inst.evidence_type,
                               .evidence = s->inst.evidence.data,
                               .evidence_len = s->inst.evidence.len};
    memcpy(inst.audit_seed, s->inst.audit_seed, 32);
    memcpy(inst.audit_pub, s->inst.pub.audit_pub, 32);
    memcpy(inst.hpke_pub, s->inst.pub.hpke_pub, 32);
    memcpy(inst.tls_spki_sha256, s->inst.pub.tls_spki_sha256, 32);
    memcpy(inst.contract_hash, s->contract.hash, 32);
    st = dcr_state_instance_start(s->state, &inst, err);
    dcr_wipe(inst.audit_seed, sizeof inst.audit_seed);
    dcr_room_config rc = {
        .contract = &s->contract, .templates = &s->templates, .dir = s->cfg->state_dir};
    if (st == DCR_OK)
        st = dcr_room_open(&rc, s->state, &s->room, err);
    return st;
}

static dcr_status write_ready(const srv *s, const char *url, dcr_error *err)
{
    if (!s->cfg->ready_file)
        return DCR_OK;
    dcr_atomic_file f;
    dcr_status st = dcr_atomic_open(&f, s->cfg->ready_file, 0644, true, err);
    if (st != DCR_OK)
        return st;
    if ((st = dcr_write_all(f.fd, url, strlen(url), s->cfg->ready_file, err)) == DCR_OK)
        return dcr_atomic_commit(&f, err);
    dcr_atomic_abort(&f);
    return st;
}

static dcr_status serve(srv *s, dcr_error *err)
{
    dcr_status st = load_contract(s, err);
    if (st == DCR_OK)
        st = dcr_templates_load(&s->contract, &s->templates, err);
    if (st == DCR_OK)
        st = srv_instance_make(s, err);
    if (st == DCR_OK)
        st = start_state(s, err);
    if (st != DCR_OK)
        return st;
    s->keys = calloc(s->contract.ndatasets, sizeof *s->keys);
    s->buckets = calloc(s->contract.nparties, sizeof *s->buckets);
    if (!s->keys || !s->buckets)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    if ((st = build_attestation(s, err)) || (st = srv_http_start(s, err)) ||
        (st = srv_metrics_start(s, err)))
        return st;
    char url[128], hex[65];
    const char *a = s->cfg->listen_addr;
    snprintf(url, sizeof url, strchr(a, ':') ? "https://[%s]:%u\n" : "https://%s:%u\n", a,
             (unsigned)s->port);
    dcr_hex_encode(hex, s->inst.pub.tls_spki_sha256, 32);
    srv_log(s, "start", "contract %s (%zu parties, %zu datasets), evidence %s", s->contract.name,
            s->contract.nparties, s->contract.ndatasets, s->inst.evidence_type);
    srv_log(s, "start", "TLS key sha256 %s", hex);
    if (s->metrics_mhd) {
        const char *m = s->cfg->metrics_addr;
        srv_log(s, "start",
                strchr(m, ':') ? "metrics on http://[%s]:%u/metrics (operator only, no TLS)"
                               : "metrics on http://%s:%u/metrics (operator only, no TLS)",
                m, (unsigned)s->metrics_port);
    }
    srv_log(s, "start", "listening on %s", url);
    return write_ready(s, url, err);
}

/* A query abandoned at its time limit runs on in its detached worker until
 * the executor returns (it cannot be interrupted); the state, contract and
 * keys it reads must outlive it. */
static void wait_for_queries(srv *s)
{
    unsigned n = atomic_load(&s->queries_running);
    if (n)
        srv_log(s, "stop", "waiting for %u abandoned queries to finish", n);
    while (atomic_load(&s->queries_running) != 0) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void cleanup(srv *s)
{
    srv_metrics_stop(s);
    srv_http_stop(s);
    wait_for_queries(s);
    dcr_room_close(s->room);
    if (s->state)
        dcr_state_close(s->state);
    if (s->keys)
        dcr_wipe(s->keys, s->contract.ndatasets * sizeof *s->keys);
    free(s->keys);
    free(s->buckets);
    json_decref(s->attestation);
    srv_instance_free(&s->inst);
    dcr_templates_free(&s->templates);
    dcr_contract_free(&s->contract);
    free(s->contract_text);
    pthread_cond_destroy(&s->data_cv);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->metrics.mu);
}

static dcr_server_config with_defaults(const dcr_server_config *in)
{
    dcr_server_config c = *in;
    c.threads = c.threads ? c.threads : 4;
    c.max_upload = c.max_upload ? c.max_upload : (uint64_t)16 << 30;
    c.max_json = c.max_json ? c.max_json : (size_t)1 << 20;
    c.max_queries = c.max_queries ? c.max_queries : 2;
    c.rate_per_minute = c.rate_per_minute ? c.rate_per_minute : 600;
    c.query_mem = c.query_mem ? c.query_mem : (size_t)2 << 30;
    c.query_seconds = c.query_seconds ? c.query_seconds : 300;
    c.max_connections = c.max_connections ? c.max_connections : 256;
    c.log = c.log ? c.log : stderr;
    return c;
}

dcr_status dcr_server_run(const dcr_server_config *cfg_in, dcr_error *err)
{
    dcr_server_config cfg = with_defaults(cfg_in);
    srv *s = calloc(1, sizeof *s);
    if (!s)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    s->cfg = &cfg;
    s->log = cfg.log;
    s->started = time(NULL);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->data_cv, NULL);
    pthread_mutex_init(&s->metrics.mu, NULL);
    /* Block the stop signals before any thread starts; sigwait takes them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    dcr_status st = serve(s, err);
    if (st == DCR_OK) {
        int sig = 0;
        sigwait(&set, &sig);
        srv_log(s, "stop", "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    cleanup(s);
    free(s);
    return st;
}
