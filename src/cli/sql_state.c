/*
 * sql_state.c: the state side of `dcr sql --state DIR` (see sql_state.h):
 * the charge hook of the guarded query goes to the budget ledger, which
 * appends the signed audit record in the same transaction; refusals are
 * audited afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli/sql_state.h"
#include "crypto/util.h"

static dcr_status charge(void *ctx, const char *analyst, double epsilon, double delta,
                         dcr_error *err)
{
    cli_sql_state *ss = ctx;
    dcr_status st = dcr_state_charge_hook(&ss->ctx, analyst, epsilon, delta, err);
    ss->charged = st == DCR_OK;
    return st;
}

/* The differencing defence reads the history and then adds to it, so two
 * runs at once could each pass half of a differencing pair: runs on one
 * state directory take turns (as the server does per analyst). */
static dcr_status take_turn(cli_sql_state *ss, const char *dir, dcr_error *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/query.lock", dir) >= sizeof path)
        return dcr_fail(err, DCR_EINPUT, "--state %s: the path is too long", dir);
    ss->lock_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (ss->lock_fd < 0)
        return dcr_fail(err, DCR_EINPUT, "%s: %s", path, strerror(errno));
    while (flock(ss->lock_fd, LOCK_EX) != 0)
        if (errno != EINTR)
            return dcr_fail(err, DCR_EINPUT, "%s: cannot lock: %s", path, strerror(errno));
    return DCR_OK;
}

dcr_status cli_sql_state_open(cli_sql_state *ss, const char *dir, const dcr_contract *c,
                              size_t analyst, const char *sql, const dcr_privacy_report *rep,
                              dcr_privacy_hooks *hooks, dcr_error *err)
{
    memset(ss, 0, sizeof *ss);
    ss->lock_fd = -1;
    dcr_status st = dcr_state_open(dir, NULL, &ss->st, err);
    if (st != DCR_OK)
        return dcr_error_prefix(err, "--state %s", dir);
    if ((st = take_turn(ss, dir, err)) != DCR_OK)
        return st;
    dcr_state_instance in = {.tee = "local"};
    memcpy(in.contract_hash, c->hash, sizeof in.contract_hash);
    if ((st = dcr_random_bytes(in.audit_seed, sizeof in.audit_seed, err)) == DCR_OK)
        st = dcr_state_instance_start(ss->st, &in, err);
    dcr_wipe(in.audit_seed, sizeof in.audit_seed);
    if (st != DCR_OK)
        return st;
    ss->entry = (dcr_audit_entry){
        .type = "query", .party = c->parties[analyst].name, .sql = sql, .decision = "accepted"};
    ss->ctx = (dcr_state_charge_ctx){.state = ss->st,
                                     .entry = &ss->entry,
                                     .rows_released = &rep->rows_released};
    dcr_budget_limits(c, &ss->ctx.eps_limit, &ss->ctx.delta_limit);
    hooks->charge = charge;
    hooks->ctx = ss;
    st = dcr_state_diff_history(ss->st, dir, &ss->history, err);
    if (st == DCR_OK)
        hooks->history = &ss->history;
    return st;
}

dcr_status cli_sql_state_finish(cli_sql_state *ss, dcr_status query_status,
                                const dcr_privacy_report *rep, const dcr_error *qerr,
                                dcr_error *err)
{
    if (query_status != DCR_OK && !ss->charged) {
        dcr_audit_entry e = ss->entry;
        e.decision = "refused";
        e.reason = rep->rule[0] ? rep->rule : qerr->msg;
        dcr_status st = dcr_state_audit_append(ss->st, &e, NULL, err);
        if (st != DCR_OK)
            return st;
    }
    dcr_budget b;
    dcr_status st = dcr_state_budget_get(ss->st, ss->entry.party, &b, err);
    if (st == DCR_OK && b.eps_limit > 0)
        fprintf(stderr,
                "dcr sql: budget of %s: epsilon %" PRId64 ".%09" PRId64 " of %" PRId64 ".%09" PRId64
                " spent\n",
                ss->entry.party, (int64_t)(b.eps_spent / DCR_EPS_UNIT),
                (int64_t)(b.eps_spent % DCR_EPS_UNIT), (int64_t)(b.eps_limit / DCR_EPS_UNIT),
                (int64_t)(b.eps_limit % DCR_EPS_UNIT));
    return st;
}

void cli_sql_state_close(cli_sql_state *ss)
{
    dcr_wipe(ss->history.key, sizeof ss->history.key);
    dcr_state_close(ss->st);
    ss->st = NULL;
    if (ss->lock_fd >= 0)
        close(ss->lock_fd); /* releases the flock */
    ss->lock_fd = -1;
}
