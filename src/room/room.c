/*
 * room.c: opening a room over a state directory and running one guarded
 * query in it (room.h): the turn (mutex + flock), the charge hook that
 * decides delivery and writes budget and audit record together, the
 * refusal record, and storing the result for receivers other than the
 * asker.
 *
 * Why the order in the charge hook: the result id and the receivers go
 * into the "query" audit record, and that record is written in the same
 * transaction as the charge, so the id is drawn before the charge and the
 * sealed copy is written right after the guarded query returns. A crash
 * in between leaves an audited, charged query whose result is lost, never
 * a stored result without its record.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "crypto/util.h"
#include "room/internal.h"
#include "privacy/budget.h"
#include "room/history.h"

static dcr_status open_lock(dcr_room *r, dcr_error *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/query.lock", r->dir) >= sizeof path)
        return dcr_fail(err, DCR_EINPUT, "--state %s: the path is too long", r->dir);
    r->lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (r->lock_fd < 0)
        return dcr_fail(err, DCR_EINPUT, "%s: %s", path, strerror(errno));
    return DCR_OK;
}

static dcr_status lock_wait(dcr_room *r, dcr_error *err)
{
    while (flock(r->lock_fd, LOCK_EX) != 0)
        if (errno != EINTR)
            return dcr_fail(err, DCR_EINPUT, "%s/query.lock: cannot lock: %s", r->dir,
                            strerror(errno));
    return DCR_OK;
}

static dcr_status room_new(const dcr_room_config *cfg, dcr_room **out, dcr_error *err)
{
    assert(cfg && cfg->contract && cfg->dir);
    dcr_room *r = calloc(1, sizeof *r);
    if (!r || !(r->dir = strdup(cfg->dir))) {
        free(r);
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    r->contract = cfg->contract;
    r->templates = cfg->templates;
    r->lock_fd = -1;
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return DCR_OK;
}

dcr_status dcr_room_open(const dcr_room_config *cfg, dcr_state *st, dcr_room **out, dcr_error *err)
{
    *out = NULL;
    dcr_room *r;
    dcr_status s = room_new(cfg, &r, err);
    if (s == DCR_OK) {
        r->st = st;
        s = open_lock(r, err);
        s = s ? s : dcr_room_diff_history(st, r->dir, &r->history, err);
    }
    if (s != DCR_OK) {
        dcr_room_close(r);
        return s;
    }
    *out = r;
    return DCR_OK;
}

/* Each local run is its own short-lived instance with a fresh audit key.
 * It holds DIR/query.lock from before its instance starts until it closes,
 * so concurrent runs on one directory take turns instead of finding the
 * directory owned by another instance. */
static dcr_status start_local(dcr_room *r, dcr_error *err)
{
    dcr_status s = dcr_state_open(r->dir, NULL, &r->st, err);
    if (s != DCR_OK)
        return dcr_error_prefix(err, "--state %s", r->dir);
    r->owns_state = true;
    if ((s = open_lock(r, err)) != DCR_OK || (s = lock_wait(r, err)) != DCR_OK)
        return s;
    r->lock_held = true;
    dcr_state_instance in = {.tee = "local"};
    memcpy(in.contract_hash, r->contract->hash, sizeof in.contract_hash);
    if ((s = dcr_random_bytes(in.audit_seed, sizeof in.audit_seed, err)) == DCR_OK)
        s = dcr_state_instance_start(r->st, &in, err);
    dcr_wipe(in.audit_seed, sizeof in.audit_seed);
    return s ? s : dcr_room_diff_history(r->st, r->dir, &r->history, err);
}

dcr_status dcr_room_open_local(const dcr_room_config *cfg, dcr_room **out, dcr_error *err)
{
    *out = NULL;
    dcr_room *r;
    dcr_status s = room_new(cfg, &r, err);
    s = s ? s : start_local(r, err);
    if (s != DCR_OK) {
        dcr_room_close(r);
        return s;
    }
    *out = r;
    return DCR_OK;
}

void dcr_room_close(dcr_room *r)
{
    if (!r)
        return;
    dcr_wipe(r->history.key, sizeof r->history.key);
    if (r->owns_state)
        dcr_state_close(r->st);
    if (r->lock_fd >= 0)
        close(r->lock_fd);
    pthread_mutex_destroy(&r->mu);
    free(r->dir);
    free(r);
}

dcr_state *dcr_room_state(dcr_room *r)
{
    return r->st;
}

bool dcr_room_is_receiver(const dcr_privacy_report *rep, size_t party)
{
    for (size_t i = 0; i < rep->nreceivers; i++)
        if (rep->receivers[i] == party)
            return true;
    return false;
}

/* ---- the turn ---- */

static dcr_status turn_take(dcr_room *r, dcr_error *err)
{
    pthread_mutex_lock(&r->mu);
    dcr_status s = r->lock_held ? DCR_OK : lock_wait(r, err);
    if (s != DCR_OK)
        pthread_mutex_unlock(&r->mu);
    return s;
}

static void turn_give(dcr_room *r)
{
    if (!r->lock_held)
        flock(r->lock_fd, LOCK_UN);
    pthread_mutex_unlock(&r->mu);
}

/* ---- one query ---- */

typedef struct {
    dcr_room *r;
    size_t analyst;
    const dcr_room_query_opts *o;
    dcr_room_answer *ans;
    bool store;      /* a receiver other than the asker: keep a sealed copy */
    bool charged;    /* the charge (and its audit record) is written */
    bool gated;      /* the caller's gate refused (and audited) */
    bool dp_charged; /* charged before reading data: the outcome is a record of its own */
    dcr_audit_entry entry;
    dcr_state_charge_ctx charge;
    char reason[DCR_ERROR_MSG_MAX];
} qrun;

/* "receivers: b, c; result: ID" for the audit record. */
static void describe_delivery(qrun *q)
{
    const dcr_privacy_report *rep = &q->ans->report;
    size_t n = 0;
    n += (size_t)snprintf(q->reason + n, sizeof q->reason - n, "receivers:");
    for (size_t i = 0; i < rep->nreceivers && n < sizeof q->reason; i++)
        n += (size_t)snprintf(q->reason + n, sizeof q->reason - n, "%s %s", i ? "," : "",
                              q->r->contract->parties[rep->receivers[i]].name);
    if (q->store && n < sizeof q->reason)
        snprintf(q->reason + n, sizeof q->reason - n, "; result: %s", q->ans->result_id);
    q->entry.reason = q->reason;
}

/* Decides delivery and draws the result id before the record is written. */
static dcr_status plan_delivery(qrun *q, dcr_error *err)
{
    const dcr_privacy_report *rep = &q->ans->report;
    q->ans->delivered = dcr_room_is_receiver(rep, q->analyst);
    q->store = false;
    for (size_t i = 0; i < rep->nreceivers; i++)
        q->store |= rep->receivers[i] != q->analyst;
    dcr_status s = q->store ? room_result_id(q->ans->result_id, err) : DCR_OK;
    if (s == DCR_OK)
        describe_delivery(q);
    return s;
}

static dcr_status charge(void *ctx, const char *analyst, double eps, double delta, dcr_error *err)
{
    qrun *q = ctx;
    assert(!q->charged); /* the privacy layer charges once per query */
    if (q->o && q->o->gate) {
        dcr_status s = q->o->gate(q->o->gate_ctx, err);
        if (s != DCR_OK) {
            q->gated = true;
            return s;
        }
    }
    dcr_status s = plan_delivery(q, err);
    if (s != DCR_OK)
        return s;
    /* In threshold mode the hook runs when the result is complete; in DP
     * mode before any data is read (then nothing is counted yet). */
    q->entry.rows_released = (int64_t)q->ans->rows.nrows;
    if (eps > 0)
        q->entry.decision = "charged"; /* DP: before any data is read; see finish() */
    s = dcr_state_charge_hook(&q->charge, analyst, eps, delta, err);
    q->charged = s == DCR_OK;
    q->dp_charged = q->charged && eps > 0;
    /* An overspend is a refusal by the contract's budget, not a failure. */
    if (s == DCR_EINPUT && eps > 0)
        snprintf(q->ans->report.rule, sizeof q->ans->report.rule, "%s", DCR_RULE_BUDGET);
    return s;
}

dcr_status dcr_room_audit_refusal(dcr_room *r, size_t party, const char *sql, const char *rule,
                                  const char *why, dcr_error *err)
{
    assert(party < r->contract->nparties);
    char reason[DCR_ERROR_MSG_MAX + 64];
    snprintf(reason, sizeof reason, "%s%s%s", rule && *rule ? rule : "", rule && *rule ? ": " : "",
             why);
    dcr_audit_entry e = {.type = "query",
                         .party = r->contract->parties[party].name,
                         .sql = sql,
                         .decision = "refused",
                         .reason = reason};
    return dcr_state_audit_append(r->st, &e, NULL, err);
}

/* A DP query is charged (and its record written) before any data is read,
 * when nothing is released yet: what it then released, or that it failed,
 * is a second record. */
static dcr_status audit_dp_outcome(qrun *q, const char *sql, dcr_status s, const dcr_error *qerr,
                                   dcr_error *err)
{
    dcr_audit_entry e = {.type = "query_result",
                         .party = q->entry.party,
                         .sql = sql,
                         .decision = s == DCR_OK ? "accepted" : "failed",
                         .reason = s == DCR_OK ? q->entry.reason : qerr->msg,
                         .rows_released = s == DCR_OK ? (int64_t)q->ans->report.rows_released : 0};
    return dcr_state_audit_append(q->r->st, &e, NULL, err);
}

/* After the guarded query: store, withhold, or audit the refusal. */
static dcr_status finish(qrun *q, const char *sql, dcr_status s, dcr_error *err)
{
    dcr_room_answer *a = q->ans;
    if (s == DCR_OK && q->store) {
        s = room_result_store(q->r, q->analyst, a, err);
        a->stored = s == DCR_OK;
        dcr_error aerr = {0};
        if (s != DCR_OK &&
            dcr_room_audit_refusal(q->r, q->analyst, sql, "result-store", err->msg, &aerr))
            dcr_error_prefix(err, "%s; and the refusal was not audited", aerr.msg);
    }
    if (s != DCR_OK || !a->delivered) {
        dcr_result_free(&a->rows);
        memset(&a->rows, 0, sizeof a->rows);
        a->delivered = false;
    }
    if (q->dp_charged) {
        dcr_error aerr = {0};
        if (audit_dp_outcome(q, sql, s, err, &aerr) != DCR_OK && s == DCR_OK) {
            dcr_result_free(&a->rows); /* nothing leaves unaudited */
            memset(&a->rows, 0, sizeof a->rows);
            a->delivered = false;
            *err = aerr;
            s = aerr.code;
        }
    }
    if (s != DCR_OK && !q->charged && !q->gated) {
        dcr_error aerr = {0};
        if (dcr_room_audit_refusal(q->r, q->analyst, sql, a->report.rule, err->msg, &aerr))
            dcr_error_prefix(err, "%s; and the refusal was not audited", aerr.msg);
    }
    return s;
}

dcr_status dcr_room_query(dcr_room *r, size_t analyst, const char *sql,
                          const dcr_exec_source *sources, const dcr_room_query_opts *opts,
                          dcr_room_answer *ans, dcr_error *err)
{
    memset(ans, 0, sizeof *ans);
    const dcr_contract *c = r->contract;
    if (analyst >= c->nparties)
        return dcr_fail(err, DCR_EINPUT, "no such party in the contract");
    qrun q = {.r = r, .analyst = analyst, .o = opts, .ans = ans};
    q.entry = (dcr_audit_entry){
        .type = "query", .party = c->parties[analyst].name, .sql = sql, .decision = "accepted"};
    q.charge = (dcr_state_charge_ctx){.state = r->st, .entry = &q.entry};
    dcr_budget_limits(c, &q.charge.eps_limit, &q.charge.delta_limit);
    dcr_privacy_hooks hooks = {.charge = charge,
                               .ctx = &q,
                               .history = &r->history,
                               .templates = r->templates,
                               .caller_releases = true};
    struct timespec arrived;
    bool timed = clock_gettime(CLOCK_MONOTONIC, &arrived) == 0;
    dcr_status s = turn_take(r, err);
    if (s != DCR_OK)
        return s;
    s = dcr_guarded_query(c, analyst, sql, sources, &hooks, opts ? &opts->exec : NULL, &ans->rows,
                          &ans->report, err);
    s = finish(&q, sql, s, err);
    turn_give(r);
    /* The schedule is kept after the turn is given back: the contract's
     * other queries need not wait out this one's interval. */
    if (timed)
        dcr_release_on_schedule(&arrived, c->release_interval_ms);
    return s;
}

void dcr_room_answer_free(dcr_room_answer *a)
{
    if (a->delivered)
        dcr_result_free(&a->rows);
    memset(a, 0, sizeof *a);
}
