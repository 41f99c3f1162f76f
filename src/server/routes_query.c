/*
 * routes_query.c: POST /v1/query {"sql": "..."}.
 *
 * The query runs through the one guarded entry point (privacy/privacy.h)
 * with the state's budget ledger as its charge hook, so budget and the
 * audit record of an accepted query are written in one durable transaction
 * before the result leaves. A refused query (by a privacy rule, the budget,
 * a limit or an error) gets its own "refused" audit record here.
 *
 * Limits: a query slot (max_queries at once), the executor's memory limit,
 * and a wall-clock limit: the query runs in a worker thread and the handler
 * waits at most query_seconds. A query past its time is abandoned: its
 * charge hook then refuses, so it can neither spend budget nor release a
 * result, and the worker frees it when the executor returns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/util.h"
#include "csv/value.h"
#include "exec/source.h"
#include "privacy/privacy.h"
#include "server/internal.h"
#include "state/state.h"

typedef struct {
    srv *s;
    size_t analyst;
    char *sql;
    dcr_exec_source *src;
    dcr_sealed_source *sealed;
    dcr_exec_opts opts;
    dcr_result out;
    dcr_privacy_report rep;
    dcr_error err;
    dcr_status st;
    dcr_audit_entry entry;
    dcr_state_charge_ctx charge;
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
    dcr_result_free(&j->out);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j->src);
    free(j->sealed);
    bool reading = j->reading;
    free(j->sql);
    free(j);
    if (reading)
        srv_data_read_end(s);
    srv_query_slot_give(s);
}

/* The charge hook: refuses once the handler gave up waiting; otherwise
 * puts the released and suppressed row counts into the audit entry and charges
 * through the state (budget + audit record in one transaction). */
static dcr_status charge(void *ctx, const char *analyst, double eps, double delta, dcr_error *err)
{
    qjob *j = ctx;
    pthread_mutex_lock(&j->mu);
    bool late = j->abandoned;
    pthread_mutex_unlock(&j->mu);
    if (late)
        return dcr_fail(err, DCR_EINPUT, "query time limit of %u s exceeded; nothing released",
                        j->s->cfg->query_seconds);
    /* The hook runs when the result is about to be returned: out holds it. */
    j->entry.rows_released = (int64_t)j->out.nrows;
    return dcr_state_charge_hook(&j->charge, analyst, eps, delta, err);
}

static void *worker(void *arg)
{
    qjob *j = arg;
    srv *s = j->s;
    dcr_privacy_hooks hooks = {
        .charge = charge, .ctx = j, .history = &s->history, .templates = &s->templates};
    /* One history per contract: threshold-mode queries take turns. */
    pthread_mutex_t *turn =
        s->contract.dp.enabled ? &s->analyst_locks[j->analyst] : &s->history_lock;
    pthread_mutex_lock(turn);
    j->st = dcr_guarded_query(&s->contract, j->analyst, j->sql, j->src, &hooks, &j->opts, &j->out,
                              &j->rep, &j->err);
    pthread_mutex_unlock(turn);
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
    if (!j->src || !j->sealed)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&s->lock);
        srv_data_key k = s->keys[i];
        pthread_mutex_unlock(&s->lock);
        if (!k.present)
            continue;
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
        if (st == DCR_OK && memcmp(info.sha256, k.file_sha256, 32) == 0) {
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

static json_t *value_json(const dcr_column *c, size_t row, dcr_type t)
{
    char buf[DCR_RESULT_TEXT_MAX];
    size_t len;
    const char *v = dcr_result_value_text(c, row, buf, &len);
    if (!v)
        return json_null();
    if (t == DCR_TYPE_BIGINT) {
        char tmp[32];
        if (len < sizeof tmp) {
            memcpy(tmp, v, len);
            tmp[len] = '\0';
            return json_integer(strtoll(tmp, NULL, 10));
        }
    } else if (t == DCR_TYPE_DOUBLE) {
        char tmp[64];
        if (len < sizeof tmp) {
            memcpy(tmp, v, len);
            tmp[len] = '\0';
            char *end;
            double d = strtod(tmp, &end);
            if (*end == '\0' && d == d && d - d == 0)
                return json_real(d);
        }
    } else if (t == DCR_TYPE_BOOLEAN) {
        return json_boolean(len == 4);
    }
    return json_stringn(v, len);
}

static json_t *result_json(const srv *s, const qjob *j)
{
    const dcr_result *r = &j->out;
    json_t *cols = json_array(), *rows = json_array(), *recv = json_array();
    for (size_t c = 0; c < r->ncols; c++)
        json_array_append_new(
            cols, json_pack("{s:s,s:s}", "name", r->names[c], "type", dcr_type_name(r->types[c])));
    for (size_t b = 0; b < r->nbatches; b++)
        for (size_t i = 0; i < r->batches[b].nrows; i++) {
            json_t *row = json_array();
            for (size_t c = 0; c < r->ncols; c++)
                json_array_append_new(row, value_json(&r->batches[b].cols[c], i, r->types[c]));
            json_array_append_new(rows, row);
        }
    for (size_t i = 0; i < j->rep.nreceivers; i++)
        json_array_append_new(recv, json_string(s->contract.parties[j->rep.receivers[i]].name));
    /* No count of suppressed groups: it is a function of the people in
     * them (docs/privacy.md, "Nothing about suppressed rows"). */
    return json_pack("{s:o,s:o,s:{s:s,s:I,s:I,s:f,s:f,s:s,s:o}}", "columns", cols, "rows", rows,
                     "privacy", "protection", j->rep.protection ? j->rep.protection : "", "k",
                     (json_int_t)j->rep.k, "rows_released", (json_int_t)j->rep.rows_released,
                     "epsilon", j->rep.epsilon, "delta", j->rep.delta, "template",
                     j->rep.template_name, "receivers", recv);
}

static void audit_refusal(srv *s, const char *party, const char *sql, const char *rule,
                          const char *why)
{
    char reason[DCR_ERROR_MSG_MAX + 64];
    snprintf(reason, sizeof reason, "%s%s%s", rule && *rule ? rule : "", rule && *rule ? ": " : "",
             why);
    dcr_audit_entry e = {
        .type = "query", .party = party, .sql = sql, .decision = "refused", .reason = reason};
    dcr_error err = {0};
    if (dcr_state_audit_append(s->state, &e, NULL, &err) != DCR_OK)
        fprintf(s->log, "dcr serve: audit append failed: %s\n", err.msg);
}

bool srv_query_body_parse(const uint8_t *body, size_t len, char **sql, srv_response *res)
{
    json_error_t jerr;
    const char *text = NULL;
    json_t *o = json_loadb((const char *)body, len, 0, &jerr);
    *sql = NULL;
    if (!o || json_unpack(o, "{s:s!}", "sql", &text) != 0) {
        json_decref(o);
        srv_error(res, 400, "bad_request", "the body must be {\"sql\": \"SELECT ...\"}");
        return false;
    }
    *sql = strdup(text);
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
    const char *party = s->contract.parties[r->party].name;
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
        audit_refusal(s, party, j->sql, "time-limit", why);
        srv_error(res, 504, "query_timeout", "%s", why);
        return; /* the worker frees j */
    }
    if (j->st == DCR_OK) {
        srv_json(res, 200, result_json(s, j));
    } else {
        audit_refusal(s, party, j->sql, j->rep.rule, j->err.msg);
        int status = j->err.code == DCR_EINPUT ? 422 : j->err.code == DCR_ECRYPTO ? 403 : 500;
        srv_json(res, status,
                 json_pack("{s:{s:s,s:s,s:s}}", "error", "code",
                           j->rep.rule[0] ? "refused" : "query_failed", "rule", j->rep.rule,
                           "message", j->err.msg));
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
    if (!srv_query_slot_take(s, res)) {
        audit_refusal(s, s->contract.parties[r->party].name, copy, "concurrency-limit",
                      "too many queries running");
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
    j->opts.mem_limit = s->cfg->query_mem;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->entry = (dcr_audit_entry){.type = "query",
                                 .party = s->contract.parties[r->party].name,
                                 .sql = j->sql,
                                 .decision = "accepted"};
    j->charge = (dcr_state_charge_ctx){.state = s->state, .entry = &j->entry};
    dcr_budget_limits(&s->contract, &j->charge.eps_limit, &j->charge.delta_limit);
    dcr_error err = {0};
    srv_data_read_begin(s);
    j->reading = true;
    if (bind_sources(j, &err) != DCR_OK) {
        audit_refusal(s, j->entry.party, j->sql, "storage", err.msg);
        srv_error_from(res, &err, "storage");
        job_free(j);
        return;
    }
    run_job(r, res, j);
}
