/*
 * metrics.c: GET /metrics for the operator, in the Prometheus text
 * exposition format (version 0.0.4), on its own plain-HTTP listener
 * (--metrics-listen; loopback unless the operator gives another numeric
 * address). It is a second libmicrohttpd daemon without TLS and without
 * authentication: it is meant for a scraper on the same host, and what it
 * says is chosen to be harmless there (docs/security.md, "Logs and
 * metrics"): counts of requests, queries, refusals by rule, uploads and
 * grants, query latency, budget spent per analyst as a total, the instance
 * start and whether the state is anchored in a TPM. Nothing about data
 * values, and no row counts of answers: how many rows a query released
 * depends on the data (how many groups passed the threshold), so even a
 * total would leak a little of it to someone who is not a party.
 *
 * Counters live in srv.metrics (atomics, the refusal rules under a mutex)
 * and are read at scrape time; budgets are read from the state then.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server/internal.h"
#include "state/state.h"

static const int statuses[SRV_MET_STATUSES - 1] = {200, 201, 400, 401, 403, 404, 405,
                                                   413, 422, 429, 500, 503, 504};

/* Upper bounds of the query latency buckets, in seconds (+Inf after). */
static const double buckets[SRV_MET_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                1,     2.5,  5,     10,   30,  60,   300};

static size_t status_index(int status)
{
    for (size_t i = 0; i < SRV_MET_STATUSES - 1; i++)
        if (statuses[i] == status)
            return i;
    return SRV_MET_STATUSES - 1;
}

void srv_metrics_request(srv *s, const srv_route *route, int status)
{
    size_t ri = route ? (size_t)(route - srv_routes) : srv_nroutes;
    atomic_fetch_add(&s->metrics.requests[ri][status_index(status)], 1);
}

void srv_metrics_query(srv *s, int outcome, double seconds)
{
    srv_metrics *m = &s->metrics;
    size_t b = 0;
    while (b < SRV_MET_BUCKETS && seconds > buckets[b])
        b++;
    atomic_fetch_add(&m->latency[b], 1);
    atomic_fetch_add(&m->latency_us, (unsigned long)(seconds * 1e6));
    atomic_fetch_add(&m->queries[outcome], 1);
}

void srv_metrics_refusal(srv *s, const char *rule)
{
    srv_metrics *m = &s->metrics;
    pthread_mutex_lock(&m->mu);
    size_t i = 0;
    while (i < m->nrules && strcmp(m->rules[i].name, rule) != 0)
        i++;
    if (i == m->nrules) {
        if (m->nrules < SRV_MET_RULES) {
            snprintf(m->rules[i].name, sizeof m->rules[i].name, "%s", rule);
            m->nrules++;
        } else { /* more distinct rules than expected: counted together */
            i = SRV_MET_RULES;
            snprintf(m->rules[i].name, sizeof m->rules[i].name, "other");
        }
    }
    m->rules[i].n++;
    pthread_mutex_unlock(&m->mu);
}

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', f);
        if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_requests(srv *s, FILE *f)
{
    head(f, "dcr_http_requests_total", "counter",
         "Requests answered, by method, route pattern (other: no route matched) and HTTP status.");
    for (size_t r = 0; r <= srv_nroutes; r++)
        for (size_t i = 0; i < SRV_MET_STATUSES; i++) {
            unsigned long n = atomic_load(&s->metrics.requests[r][i]);
            if (!n)
                continue;
            bool known = r < srv_nroutes;
            fprintf(f, "dcr_http_requests_total{method=\"%s\",route=\"",
                    known ? srv_routes[r].method : "other");
            label(f, known ? srv_routes[r].pattern : "other");
            if (i < SRV_MET_STATUSES - 1)
                fprintf(f, "\",code=\"%d\"} %lu\n", statuses[i], n);
            else
                fprintf(f, "\",code=\"other\"} %lu\n", n);
        }
}

static void render_queries(srv *s, FILE *f)
{
    srv_metrics *m = &s->metrics;
    head(f, "dcr_queries_running", "gauge",
         "Queries running now, including ones abandoned at their time limit.");
    fprintf(f, "dcr_queries_running %u\n", atomic_load(&s->queries_running));
    static const char *const outcomes[SRV_Q_OUTCOMES] = {"released", "refused", "failed",
                                                         "timeout"};
    head(f, "dcr_queries_total", "counter", "Queries that ran, by outcome.");
    for (int i = 0; i < SRV_Q_OUTCOMES; i++)
        fprintf(f, "dcr_queries_total{outcome=\"%s\"} %lu\n", outcomes[i],
                atomic_load(&m->queries[i]));
    head(f, "dcr_query_duration_seconds", "histogram",
         "Time from a query taking its slot to its answer (released, refused or failed).");
    unsigned long cum = 0;
    for (size_t b = 0; b <= SRV_MET_BUCKETS; b++) {
        cum += atomic_load(&m->latency[b]);
        if (b < SRV_MET_BUCKETS)
            fprintf(f, "dcr_query_duration_seconds_bucket{le=\"%g\"} %lu\n", buckets[b], cum);
        else
            fprintf(f, "dcr_query_duration_seconds_bucket{le=\"+Inf\"} %lu\n", cum);
    }
    fprintf(f, "dcr_query_duration_seconds_sum %.6f\n", (double)atomic_load(&m->latency_us) / 1e6);
    fprintf(f, "dcr_query_duration_seconds_count %lu\n", cum);
    head(f, "dcr_query_refusals_total", "counter",
         "Queries refused, by the rule that refused them (rule names are dcr's own).");
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i <= SRV_MET_RULES; i++) {
        if (i >= m->nrules && (i < SRV_MET_RULES || !m->rules[i].n))
            continue;
        fputs("dcr_query_refusals_total{rule=\"", f);
        label(f, m->rules[i].name);
        fprintf(f, "\"} %lu\n", m->rules[i].n);
    }
    pthread_mutex_unlock(&m->mu);
}

static void render_data(srv *s, FILE *f)
{
    srv_metrics *m = &s->metrics;
    head(f, "dcr_uploads_total", "counter", "Dataset uploads, by outcome.");
    fprintf(f, "dcr_uploads_total{outcome=\"accepted\"} %lu\n", atomic_load(&m->uploads_ok));
    fprintf(f, "dcr_uploads_total{outcome=\"refused\"} %lu\n", atomic_load(&m->uploads_refused));
    head(f, "dcr_upload_bytes_total", "counter",
         "Bytes of sealed ciphertext stored by accepted uploads.");
    fprintf(f, "dcr_upload_bytes_total %lu\n", atomic_load(&m->upload_bytes));
    head(f, "dcr_grants_total", "counter", "Data-key grants to this instance, by outcome.");
    fprintf(f, "dcr_grants_total{outcome=\"accepted\"} %lu\n", atomic_load(&m->grants_ok));
    fprintf(f, "dcr_grants_total{outcome=\"refused\"} %lu\n", atomic_load(&m->grants_refused));
}

/* Budgets as totals per analyst, read from the ledger now. */
static void render_budget(srv *s, FILE *f)
{
    const dcr_contract *c = &s->contract;
    bool dp = c->dp.present && c->dp.enabled;
    head(f, "dcr_budget_epsilon_spent", "gauge",
         "Differential-privacy epsilon spent so far, per analyst (total only).");
    for (size_t i = 0; i < c->nparties; i++) {
        if (!(c->parties[i].roles & DCR_ROLE_ANALYST))
            continue;
        dcr_budget b = {0};
        dcr_error err = {0};
        if (dcr_state_budget_get(s->state, c->parties[i].name, &b, &err) != DCR_OK)
            continue;
        fputs("dcr_budget_epsilon_spent{analyst=\"", f);
        label(f, c->parties[i].name);
        fprintf(f, "\"} %.9g\n", (double)b.eps_spent / (double)DCR_EPS_UNIT);
    }
    head(f, "dcr_budget_epsilon_limit", "gauge",
         "The contract's epsilon budget per analyst (0 without differential privacy).");
    fprintf(f, "dcr_budget_epsilon_limit %.9g\n", dp ? c->dp.budget_per_analyst : 0.0);
}

static void render_instance(srv *s, FILE *f)
{
    head(f, "dcr_instance_start_time_seconds", "gauge",
         "Unix time this instance started (made its keys).");
    fprintf(f, "dcr_instance_start_time_seconds %lld\n", (long long)s->started);
    head(f, "dcr_evidence_time_seconds", "gauge",
         "Unix time of this instance's attestation evidence (made once, at start).");
    fprintf(f, "dcr_evidence_time_seconds %lld\n", (long long)s->started);
    head(f, "dcr_state_tpm_anchor", "gauge",
         "1 when the state is anchored on a TPM counter against rollback, else 0.");
    fprintf(f, "dcr_state_tpm_anchor %d\n", s->tpm_anchored ? 1 : 0);
}

dcr_status srv_metrics_render(srv *s, char **text, size_t *len, dcr_error *err)
{
    *text = NULL;
    FILE *f = open_memstream(text, len);
    if (!f)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    render_requests(s, f);
    render_queries(s, f);
    render_data(s, f);
    render_budget(s, f);
    render_instance(s, f);
    if (fclose(f) != 0 || !*text) {
        free(*text);
        *text = NULL;
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    return DCR_OK;
}

static enum MHD_Result plain(struct MHD_Connection *conn, unsigned status, const char *text)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_scrape(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    (void)version, (void)upload;
    srv *s = cls;
    if (!*con_cls) { /* headers only: wait for the (empty) body */
        *con_cls = s;
        return MHD_YES;
    }
    if (*upload_size) { /* a scrape has no body: discard one */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") != 0)
        return plain(conn, 404, "not found: this listener serves GET /metrics only\n");
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return plain(conn, 405, "method not allowed: GET /metrics\n");
    char *text;
    size_t len;
    dcr_error err = {0};
    if (srv_metrics_render(s, &text, &len, &err) != DCR_OK)
        return plain(conn, 500, "cannot render the metrics\n");
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void on_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    srv_log(cls, "metrics", "metrics: %s", msg);
}
#pragma GCC diagnostic pop

dcr_status srv_metrics_start(srv *s, dcr_error *err)
{
    const dcr_server_config *cfg = s->cfg;
    if (!cfg->metrics_addr)
        return DCR_OK;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    struct sockaddr_storage ss;
    dcr_status st =
        srv_parse_addr("--metrics-listen", cfg->metrics_addr, cfg->metrics_port, &ss, &flags, err);
    if (st != DCR_OK)
        return st;
    s->metrics_mhd = MHD_start_daemon(
        flags, cfg->metrics_port, NULL, NULL, on_scrape, s, MHD_OPTION_EXTERNAL_LOGGER, on_log, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!s->metrics_mhd)
        return dcr_fail(err, DCR_EINPUT,
                        "--metrics-listen: cannot serve HTTP on %s:%u (address in use, or not a "
                        "local address?)",
                        cfg->metrics_addr, cfg->metrics_port);
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(s->metrics_mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->metrics_port = info ? info->port : cfg->metrics_port;
    return DCR_OK;
}

void srv_metrics_stop(srv *s)
{
    if (s->metrics_mhd)
        MHD_stop_daemon(s->metrics_mhd);
    s->metrics_mhd = NULL;
}
