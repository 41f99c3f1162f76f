/*
 * routes_query.c: POST /v1/query {"sql": "..."} and GET /v1/results/ID.
 *
 * A query runs in the room (room/room.h), which serialises it with the
 * contract's other guarded queries, charges budget and writes its audit
 * record in one durable transaction before the answer leaves, audits
 * refusals, and keeps the rows from an asker that is not one of the
 * contract's receivers (the answer then carries the report and a result
 * id, and the receivers fetch the sealed result with GET /v1/results/ID).
 * This file adds what is the server's own: the data keys and files bound
 * as sources, and the limits.
 *
 * Limits: a query slot (max_queries at once), the executor's memory limit,
 * and a wall-clock limit: the query runs in a worker thread and the handler
 * waits at most query_seconds. A query past its time is abandoned: the
 * handler audits the refusal, the room's gate then refuses at the charge,
 * so it can neither spend budget nor release a result, and the worker
 * frees it when the executor returns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/hygiene.h"
#include "crypto/hash.h"
#include "exec/source.h"
#include "room/room.h"
#include "server/internal.h"
#include "state/state.h"

typedef struct {
    srv *s;
    size_t analyst;
    char *sql;
    dcr_exec_source *src;
    dcr_sealed_source *sealed;
    char (*why)[256]; /* per dataset: why it is unavailable (src[i].unavailable) */
    dcr_room_query_opts opts;
    dcr_room_answer ans;
    dcr_error err;
    dcr_status st;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done, abandoned;
    bool reading; /* inside srv_data_read_begin: the bound files stay */
} qjob;

/* Gives the query slot back last: the server's stop waits for every slot
 * (an abandoned worker may outlive its request), so nothing of srv may be
 * touched after it. */
static void job_free(qjob *j)
{
    srv *s = j->s;
    for (size_t i = 0; j->sealed && i < s->contract.ndatasets; i++) {
        dcr_wipe(j->sealed[i].key, sizeof j->sealed[i].key);
        free((char *)j->sealed[i].path);
    }
    dcr_room_answer_free(&j->ans);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j->src);
    free(j->sealed);
    free(j->why);
    bool reading = j->reading;
    free(j->sql);
    free(j);
    if (reading)
        srv_data_read_end(s);
    srv_query_slot_give(s);
}

/* The room's gate: refuses once the handler gave up waiting (it audited
 * the time limit then). */
static dcr_status gate(void *ctx, dcr_error *err)
{
    qjob *j = ctx;
    pthread_mutex_lock(&j->mu);
    bool late = j->abandoned;
    pthread_mutex_unlock(&j->mu);
    if (late)
        return dcr_fail(err, DCR_EINPUT, "query time limit of %u s exceeded; nothing released",
                        j->s->cfg->query_seconds);
    return DCR_OK;
}

static void *worker(void *arg)
{
    qjob *j = arg;
    srv *s = j->s;
    j->st = dcr_room_query(s->room, j->analyst, j->sql, j->src, &j->opts, &j->ans, &j->err);
    pthread_mutex_lock(&j->mu);
    j->done = true;
    bool orphan = j->abandoned;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    if (orphan)
        job_free(j);
    return NULL;
}

/* Sources for every dataset whose file is committed and whose key this
 * instance holds; the others stay unavailable (open == NULL). */
static dcr_status bind_sources(qjob *j, dcr_error *err)
{
    srv *s = j->s;
    size_t n = s->contract.ndatasets;
    j->src = calloc(n, sizeof *j->src);
    j->sealed = calloc(n, sizeof *j->sealed);
    j->why = calloc(n ? n : 1, sizeof *j->why);
    if (!j->src || !j->sealed || !j->why)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&s->lock);
        srv_data_key k = s->keys[i];
        pthread_mutex_unlock(&s->lock);
        dcr_dataset_info info = {0};
        /* Size check only: hashing the whole file per query would cost more
         * than the query; the file was hashed at open, and every chunk is
         * authenticated under the granted key as the scan reads it. */
        dcr_status st =
            dcr_state_dataset_lookup(s->state, s->contract.datasets[i].name, &info, err);
        if (st == DCR_ECRYPTO || st == DCR_EINTERNAL) {
            dcr_wipe(&k, sizeof k);
            return st;
        }
        const char *owner = s->contract.parties[s->contract.datasets[i].owner].name;
        if (st != DCR_OK)
            snprintf(j->why[i], sizeof j->why[i],
                     "it was not uploaded yet: its owner %s must run `dcr upload`", owner);
        else if (!k.present || memcmp(info.sha256, k.file_sha256, 32) != 0)
            snprintf(j->why[i], sizeof j->why[i],
                     "it is uploaded, but its data key is not granted to this instance (a "
                     "restart makes new keys): its owner %s must run `dcr grant`",
                     owner);
        j->src[i].unavailable = j->why[i];
        if (st == DCR_OK && k.present && memcmp(info.sha256, k.file_sha256, 32) == 0) {
            j->sealed[i].path = info.path;
            info.path = NULL;
            memcpy(j->sealed[i].key, k.key, 32);
            dcr_sealed_source_bind(&j->src[i], &j->sealed[i]);
        }
        dcr_wipe(&k, sizeof k);
        dcr_dataset_info_free(&info);
    }
    return DCR_OK;
}

static void audit_refusal(srv *s, size_t party, const char *sql, const char *rule, const char *why)
{
    dcr_error err = {0};
    srv_metrics_refusal(s, rule);
    if (dcr_room_audit_refusal(s->room, party, sql, rule, why, &err) != DCR_OK)
        srv_log(s, "audit", "audit append failed: %s", err.msg);
}

/* The log's handle on a query: a SHA-256 prefix of its SQL, never the SQL
 * (an operator can match it against the audit log, which the parties see,
 * without the log carrying literals). */
static void hash_sql(srv_request *r, const char *sql)
{
    uint8_t h[32];
    dcr_error err = {0};
    if (dcr_sha256(sql, strlen(sql), h, &err) == DCR_OK)
        dcr_hex_encode(r->sql_hash, h, 8);
}

bool srv_query_body_parse(const uint8_t *body, size_t len, char **sql, srv_response *res)
{
    static const char *const keys[] = {"sql", NULL};
    json_t *o;
    *sql = NULL;
    if (!srv_body_strings(body, len, keys, &o, res))
        return false;
    *sql = strdup(json_string_value(json_object_get(o, "sql")));
    json_decref(o);
    if (!*sql) {
        srv_error(res, 500, "internal", "out of memory");
        return false;
    }
    return true;
}

/* Waits for the worker at most the time limit; true when it finished. */
static bool wait_job(qjob *j, unsigned seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&j->mu);
    while (!j->done)
        if (pthread_cond_timedwait(&j->cv, &j->mu, &until) == ETIMEDOUT && !j->done) {
            j->abandoned = true;
            break;
        }
    bool done = j->done;
    pthread_mutex_unlock(&j->mu);
    return done;
}

static void run_job(srv_request *r, srv_response *res, qjob *j)
{
    srv *s = r->s;
    double t0 = srv_now();
    pthread_t t;
    if (pthread_create(&t, NULL, worker, j) != 0) {
        job_free(j);
        srv_error(res, 500, "internal", "cannot start the query");
        return;
    }
    pthread_detach(t);
    if (!wait_job(j, s->cfg->query_seconds)) {
        char why[128];
        snprintf(why, sizeof why, "query time limit of %u s exceeded; nothing released",
                 s->cfg->query_seconds);
        audit_refusal(s, j->analyst, j->sql, "time-limit", why);
        srv_error(res, 504, "query_timeout", "%s", why);
        srv_metrics_query(s, SRV_Q_TIMEOUT, srv_now() - t0);
        return; /* the worker frees j */
    }
    const char *rule = j->ans.report.rule;
    srv_metrics_query(s,
                      j->st == DCR_OK ? SRV_Q_RELEASED
                      : rule[0]       ? SRV_Q_REFUSED
                                      : SRV_Q_FAILED,
                      srv_now() - t0);
    if (j->st != DCR_OK && rule[0])
        srv_metrics_refusal(s, rule);
    if (j->st == DCR_OK) {
        json_t *o = dcr_room_answer_json(&s->contract, j->analyst, &j->ans);
        if (o)
            srv_json(res, 200, o);
        else
            srv_error(res, 500, "internal", "out of memory");
    } else {
        int status = j->err.code == DCR_EINPUT ? 422 : j->err.code == DCR_ECRYPTO ? 403 : 500;
        srv_json(res, status,
                 json_pack("{s:{s:s,s:s,s:s}}", "error", "code",
                           rule[0] ? "refused" : "query_failed", "rule", rule, "message",
                           j->err.msg));
    }
    job_free(j);
}

void srv_route_query(srv_request *r, srv_response *res)
{
    srv *s = r->s;
    char *copy;
    /* finish() NUL-terminated the body: that byte is not part of it */
    if (!srv_query_body_parse(r->body.data, r->body.len - 1, &copy, res))
        return;
    hash_sql(r, copy);
    if (!srv_query_slot_take(s, res)) {
        audit_refusal(s, (size_t)r->party, copy, "concurrency-limit", "too many queries running");
        free(copy);
        return;
    }
    atomic_fetch_add(&s->queries_total, 1);
    qjob *j = calloc(1, sizeof *j);
    if (!j) {
        free(copy);
        srv_query_slot_give(s);
        srv_error(res, 500, "internal", "out of memory");
        return;
    }
    j->s = s;
    j->analyst = (size_t)r->party;
    j->sql = copy;
    j->opts = (dcr_room_query_opts){
        .exec = {.mem_limit = s->cfg->query_mem}, .gate = gate, .gate_ctx = j};
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    dcr_error err = {0};
    srv_data_read_begin(s);
    j->reading = true;
    if (bind_sources(j, &err) != DCR_OK) {
        audit_refusal(s, j->analyst, j->sql, "storage", err.msg);
        srv_error_from(res, &err, "storage");
        job_free(j);
        return;
    }
    run_job(r, res, j);
}

/* GET /v1/results/ID: the caller's sealed copy of a stored result. Any
 * party may ask; the room answers only a receiver of that result and
 * audits every fetch, refused or not. */
void srv_route_result(srv_request *r, srv_response *res)
{
    srv *s = r->s;
    dcr_room_sealed sealed;
    dcr_error err = {0};
    if (dcr_room_fetch(s->room, (size_t)r->party, r->param, &sealed, &err) != DCR_OK) {
        int status = err.code == DCR_EINPUT ? 404 : err.code == DCR_ECRYPTO ? 403 : 500;
        srv_error(res, status,
                  status == 404   ? "not_found"
                  : status == 403 ? "forbidden"
                                  : "internal",
                  "%s", err.msg);
        return;
    }
    json_t *o = dcr_room_sealed_json(&sealed);
    dcr_room_sealed_free(&sealed);
    if (o)
        srv_json(res, 200, o);
    else
        srv_error(res, 500, "internal", "out of memory");
}
