/*
 * ledger.c: the per-analyst differential-privacy budget.
 *
 * Spent epsilon and delta are integers (nano-epsilon, atto-delta; see
 * state.h) so sums never drift. A charge is one BEGIN IMMEDIATE transaction:
 * read what the analyst has spent, refuse if the charge would pass the
 * limit, write the new total, and append the signed audit record that
 * describes the query; SQLite's write lock serialises threads and
 * processes, synchronous=FULL makes the COMMIT durable before we return.
 * Every audit record carries a digest of the ledger (st_ledger_digest), so
 * an operator who edits the spent amounts is caught when the state opens.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/bytes.h"
#include "crypto/hash.h"
#include "state/internal.h"

static const char LEDGER_LABEL[] = "dcr ledger v1";
#define UNITS_MAX 9.0e18

static dcr_status to_units(double v, int64_t unit, bool up, int64_t *out, dcr_error *err)
{
    if (isnan(v) || v < 0)
        return dcr_fail(err, DCR_EINPUT, "budget: %s is not a non-negative number",
                        isnan(v) ? "NaN" : "a negative value");
    double x = v * (double)unit;
    if (!(x <= UNITS_MAX))
        return dcr_fail(err, DCR_EINPUT, "budget: value %g is too large", v);
    double r = nearbyint(x);
    /* Within 1e-6 of a unit is that unit: 0.1 is 100000000 nano-epsilon,
     * not 100000001 because of binary rounding. */
    *out = (int64_t)(fabs(x - r) <= 1e-6 ? r : up ? ceil(x) : floor(x));
    return DCR_OK;
}

dcr_status dcr_budget_units_up(double v, int64_t unit, int64_t *out, dcr_error *err)
{
    return to_units(v, unit, true, out, err);
}

dcr_status dcr_budget_units_down(double v, int64_t unit, int64_t *out, dcr_error *err)
{
    return to_units(v, unit, false, out, err);
}

/* "1.250000000" style decimal of a unit count (no float). */
static void fmt_units(char *out, size_t n, int64_t v, int64_t unit, int digits)
{
    if (v < 0)
        v = 0;
    snprintf(out, n, "%" PRId64 ".%0*" PRId64, v / unit, digits, v % unit);
    /* trim trailing zeros, keep one digit after the point */
    size_t len = strlen(out);
    while (len > 2 && out[len - 1] == '0' && out[len - 2] != '.')
        out[--len] = 0;
}

dcr_status st_ledger_digest(dcr_state *st, uint8_t out[32], dcr_error *err)
{
    dcr_hash_ctx *h;
    dcr_status rc = dcr_hash_init(&h, DCR_SHA256, err);
    if (rc != DCR_OK)
        return rc;
    rc = dcr_hash_update(h, LEDGER_LABEL, sizeof LEDGER_LABEL, err);
    sqlite3_stmt *s = NULL;
    if (rc == DCR_OK)
        rc = st_prepare(st, "SELECT analyst, eps_spent, delta_spent FROM ledger ORDER BY analyst",
                        &s, err);
    int r = SQLITE_DONE;
    while (rc == DCR_OK && (r = sqlite3_step(s)) == SQLITE_ROW) {
        uint8_t b[20];
        int alen = sqlite3_column_bytes(s, 0);
        dcr_put_u32le(b, (uint32_t)alen);
        dcr_put_u64le(b + 4, (uint64_t)sqlite3_column_int64(s, 1));
        dcr_put_u64le(b + 12, (uint64_t)sqlite3_column_int64(s, 2));
        if (!(rc = dcr_hash_update(h, b, 4, err)) &&
            !(rc = dcr_hash_update(h, sqlite3_column_text(s, 0), (size_t)alen, err)))
            rc = dcr_hash_update(h, b + 4, 16, err);
    }
    if (rc == DCR_OK && r != SQLITE_DONE)
        rc = st_sql_fail(st, err, "reading the ledger");
    sqlite3_finalize(s);
    if (rc != DCR_OK) {
        dcr_hash_free(h);
        return rc;
    }
    return dcr_hash_final(h, out, err);
}

static dcr_status read_spent(dcr_state *st, const char *analyst, dcr_budget *b, dcr_error *err)
{
    memset(b, 0, sizeof *b);
    b->last_seq = -1;
    sqlite3_stmt *s;
    dcr_status rc = st_prepare(st,
                               "SELECT eps_spent, delta_spent, eps_limit, delta_limit, last_seq "
                               "FROM ledger WHERE analyst = ?",
                               &s, err);
    if (rc != DCR_OK)
        return rc;
    sqlite3_bind_text(s, 1, analyst, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        b->eps_spent = sqlite3_column_int64(s, 0);
        b->delta_spent = sqlite3_column_int64(s, 1);
        b->eps_limit = sqlite3_column_int64(s, 2);
        b->delta_limit = sqlite3_column_int64(s, 3);
        b->last_seq = sqlite3_column_int64(s, 4);
    } else if (r != SQLITE_DONE) {
        rc = st_sql_fail(st, err, "reading the ledger");
    }
    sqlite3_finalize(s);
    return rc;
}

static dcr_status overspend(dcr_error *err, const char *analyst, const dcr_budget *b, int64_t eps,
                            int64_t delta)
{
    char need_e[40], need_d[48], rem_e[40], rem_d[48], lim_e[40], lim_d[48], who[80];
    fmt_units(need_e, sizeof need_e, eps, DCR_EPS_UNIT, 9);
    fmt_units(need_d, sizeof need_d, delta, DCR_DELTA_UNIT, 18);
    fmt_units(rem_e, sizeof rem_e, b->eps_limit - b->eps_spent, DCR_EPS_UNIT, 9);
    fmt_units(rem_d, sizeof rem_d, b->delta_limit - b->delta_spent, DCR_DELTA_UNIT, 18);
    fmt_units(lim_e, sizeof lim_e, b->eps_limit, DCR_EPS_UNIT, 9);
    fmt_units(lim_d, sizeof lim_d, b->delta_limit, DCR_DELTA_UNIT, 18);
    dcr_error_quote(who, sizeof who, analyst, strlen(analyst));
    return dcr_fail(err, DCR_EINPUT,
                    "budget: refused: '%s' has epsilon %s, delta %s remaining (of %s, %s); this "
                    "query needs epsilon %s, delta %s",
                    who, rem_e, rem_d, lim_e, lim_d, need_e, need_d);
}

static dcr_status charge_locked(dcr_state *st, const char *analyst, int64_t eps, int64_t delta,
                                int64_t eps_limit, int64_t delta_limit, const dcr_audit_entry *e,
                                dcr_budget *after, dcr_error *err)
{
    dcr_budget b;
    dcr_status rc = read_spent(st, analyst, &b, err);
    if (rc != DCR_OK)
        return rc;
    b.eps_limit = eps_limit;
    b.delta_limit = delta_limit;
    if (eps > eps_limit - b.eps_spent || delta > delta_limit - b.delta_spent)
        return overspend(err, analyst, &b, eps, delta);
    b.eps_spent += eps;
    b.delta_spent += delta;
    sqlite3_stmt *s;
    if ((rc = st_prepare(st,
                         "INSERT INTO ledger VALUES(?1, ?2, ?3, ?4, ?5, -1) ON CONFLICT(analyst) "
                         "DO UPDATE SET eps_spent = ?2, delta_spent = ?3, eps_limit = ?4, "
                         "delta_limit = ?5",
                         &s, err)))
        return rc;
    sqlite3_bind_text(s, 1, analyst, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, b.eps_spent);
    sqlite3_bind_int64(s, 3, b.delta_spent);
    sqlite3_bind_int64(s, 4, eps_limit);
    sqlite3_bind_int64(s, 5, delta_limit);
    if (sqlite3_step(s) != SQLITE_DONE)
        rc = st_sql_fail(st, err, "writing the ledger");
    sqlite3_finalize(s);
    st_charge_fields cf = {analyst, eps, delta, b.eps_spent, b.delta_spent};
    uint64_t seq = 0;
    if (rc == DCR_OK)
        rc = st_audit_append_locked(st, e, &cf, &seq, err);
    if (rc == DCR_OK &&
        !(rc = st_prepare(st, "UPDATE ledger SET last_seq = ? WHERE analyst = ?", &s, err))) {
        sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
        sqlite3_bind_text(s, 2, analyst, -1, SQLITE_STATIC);
        if (sqlite3_step(s) != SQLITE_DONE)
            rc = st_sql_fail(st, err, "writing the ledger");
        sqlite3_finalize(s);
    }
    b.last_seq = (int64_t)seq;
    if (rc == DCR_OK && after)
        *after = b;
    return rc;
}

dcr_status dcr_state_charge_units(dcr_state *st, const char *analyst, int64_t eps, int64_t delta,
                                  int64_t eps_limit, int64_t delta_limit, const dcr_audit_entry *e,
                                  dcr_budget *after, dcr_error *err)
{
    if (!analyst || !*analyst)
        return dcr_fail(err, DCR_EINPUT, "budget: no analyst named");
    if (eps < 0 || delta < 0 || eps_limit < 0 || delta_limit < 0)
        return dcr_fail(err, DCR_EINPUT, "budget: negative charge or limit");
    dcr_audit_entry none = {0};
    pthread_mutex_lock(&st->mu);
    dcr_status rc = st_write_begin(st, true, err);
    if (rc == DCR_OK)
        rc = st_write_end(st,
                          charge_locked(st, analyst, eps, delta, eps_limit, delta_limit,
                                        e ? e : &none, after, err),
                          err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

dcr_status dcr_state_budget_get(dcr_state *st, const char *analyst, dcr_budget *out, dcr_error *err)
{
    pthread_mutex_lock(&st->mu);
    dcr_status rc = read_spent(st, analyst, out, err);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

dcr_status dcr_state_charge_hook(void *ctx, const char *analyst, double epsilon, double delta,
                                 dcr_error *err)
{
    dcr_state_charge_ctx *c = ctx;
    if (!c || !c->state)
        return dcr_fail(err, DCR_EINTERNAL, "budget: charge hook without state");
    int64_t e, d, el, dl;
    dcr_status rc;
    if ((rc = dcr_budget_units_up(epsilon, DCR_EPS_UNIT, &e, err)) ||
        (rc = dcr_budget_units_up(delta, DCR_DELTA_UNIT, &d, err)) ||
        (rc = dcr_budget_units_down(c->eps_limit, DCR_EPS_UNIT, &el, err)) ||
        (rc = dcr_budget_units_down(c->delta_limit, DCR_DELTA_UNIT, &dl, err)))
        return rc;
    dcr_audit_entry entry = {0};
    if (c->entry)
        entry = *c->entry;
    if (c->rows_released)
        entry.rows_released = (int64_t)*c->rows_released;
    return dcr_state_charge_units(c->state, analyst, e, d, el, dl, &entry, &c->after, err);
}
