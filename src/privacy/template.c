/*
 * template.c: contract query templates: loading (parse, fingerprint, bind
 * once), matching submitted SQL, instantiating by name, and the type and
 * range checks of their parameters. See template.h.
 */
#include "privacy/template.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buffer.h"
#include "base/value.h"
#include "privacy/internal.h"

/* ---- parameter checks ---- */

/* A checked parameter value in its declared type. */
typedef struct {
    int64_t i; /* BIGINT, TIMESTAMP (microseconds) */
    int32_t days;
    double d;
    bool b;
    const char *text; /* TEXT: points into the caller's string */
    size_t len;
} tvalue;

/* "a DATE between 2024-01-01 and 2024-12-31" */
static void describe_param(const dcr_contract_param *p, char *out, size_t size)
{
    char lo[DCR_VALUE_TEXT_MAX], hi[DCR_VALUE_TEXT_MAX];
    const dcr_param_bound *b[2] = {&p->min, &p->max};
    char *txt[2] = {lo, hi};
    for (int i = 0; i < 2; i++) {
        txt[i][0] = '\0';
        if (!b[i]->present)
            continue;
        switch (p->type) {
        case DCR_TYPE_BIGINT:
            dcr_format_bigint(b[i]->i, txt[i]);
            break;
        case DCR_TYPE_DOUBLE:
            dcr_format_double(b[i]->d, txt[i]);
            break;
        case DCR_TYPE_DATE:
            dcr_format_date((int32_t)b[i]->i, txt[i]);
            break;
        case DCR_TYPE_TIMESTAMP:
            dcr_format_timestamp(b[i]->i, txt[i]);
            break;
        default:
            break;
        }
    }
    const char *t = dcr_type_name(p->type);
    if (p->min.present && p->max.present)
        snprintf(out, size, "a %s between %s and %s", t, lo, hi);
    else if (p->min.present)
        snprintf(out, size, "a %s of at least %s", t, lo);
    else if (p->max.present)
        snprintf(out, size, "a %s of at most %s", t, hi);
    else
        snprintf(out, size, "a %s", t);
}

/* Why v is outside p's range, or NULL. */
static const char *out_of_range(const dcr_contract_param *p, const tvalue *v)
{
    if (p->type == DCR_TYPE_DOUBLE) {
        if (!isfinite(v->d))
            return "the value is not a finite number";
        if ((p->min.present && v->d < p->min.d) || (p->max.present && v->d > p->max.d))
            return "the value is out of range";
        return NULL;
    }
    int64_t x;
    switch (p->type) {
    case DCR_TYPE_BIGINT:
    case DCR_TYPE_TIMESTAMP:
        x = v->i;
        break;
    case DCR_TYPE_DATE:
        x = v->days;
        break;
    default:
        return NULL; /* TEXT and BOOLEAN have no range */
    }
    if ((p->min.present && x < p->min.i) || (p->max.present && x > p->max.i))
        return "the value is out of range";
    return NULL;
}

/* Parses text as p's type and checks its range; NULL on success or why
 * not as a complete phrase. */
static const char *parse_value(const dcr_contract_param *p, const char *text, tvalue *out,
                               char *why, size_t why_size)
{
    size_t len = strlen(text);
    const char *bad = NULL;
    memset(out, 0, sizeof *out);
    switch (p->type) {
    case DCR_TYPE_BIGINT:
        bad = dcr_parse_bigint(text, len, &out->i);
        break;
    case DCR_TYPE_DOUBLE:
        bad = dcr_parse_double(text, len, &out->d);
        break;
    case DCR_TYPE_BOOLEAN:
        bad = dcr_parse_bool(text, len, &out->b);
        break;
    case DCR_TYPE_DATE:
        bad = dcr_parse_date(text, len, &out->days);
        break;
    case DCR_TYPE_TIMESTAMP:
        bad = dcr_parse_timestamp(text, len, &out->i);
        break;
    case DCR_TYPE_TEXT:
        if (dcr_utf8_check(text, len) != len)
            return "the value is not valid UTF-8 text";
        out->text = text;
        out->len = len;
        break;
    case DCR_TYPE_INTERVAL: /* never a parameter's type: dcr_type_from_name refuses it */
        bad = "INTERVAL is not a parameter type";
        break;
    }
    if (bad) {
        snprintf(why, why_size, "the value is not a valid %s: %s", dcr_type_name(p->type), bad);
        return why;
    }
    return out_of_range(p, out);
}

/* Which literal kinds may stand for a parameter of type t. */
static bool kind_fits(dcr_type t, dcr_sql_lit_kind k)
{
    switch (t) {
    case DCR_TYPE_BIGINT:
    case DCR_TYPE_DOUBLE:
        return k == DCR_SQL_LIT_INTEGER || k == DCR_SQL_LIT_NUMERIC;
    case DCR_TYPE_BOOLEAN:
        return k == DCR_SQL_LIT_BOOLEAN;
    case DCR_TYPE_TEXT:
    case DCR_TYPE_DATE:
    case DCR_TYPE_TIMESTAMP:
        return k == DCR_SQL_LIT_STRING;
    case DCR_TYPE_INTERVAL: /* never a parameter's type */
        return false;
    }
    return false;
}

static const char *kind_name(dcr_sql_lit_kind k)
{
    switch (k) {
    case DCR_SQL_LIT_NULL:
        return "NULL";
    case DCR_SQL_LIT_INTEGER:
    case DCR_SQL_LIT_NUMERIC:
        return "a number";
    case DCR_SQL_LIT_BOOLEAN:
        return "a boolean";
    case DCR_SQL_LIT_STRING:
        return "a string";
    case DCR_SQL_LIT_BITS:
        return "a bit string";
    }
    return "a literal";
}

static dcr_status param_refusal(dcr_error *err, const char *where, const dcr_contract_template *t,
                                size_t i, const char *why)
{
    char expect[160];
    describe_param(&t->params[i], expect, sizeof expect);
    return dcr_fail(err, DCR_EINPUT,
                    "%s: refused by rule %s: template %s, parameter %s ($%zu): expected %s; %s",
                    where, DCR_RULE_TEMPLATE, t->name, t->params[i].name, i + 1, expect, why);
}

/* v in its canonical text form (malloc'd; NULL when out of memory). */
static char *value_text(dcr_type type, const tvalue *v)
{
    char txt[DCR_VALUE_TEXT_MAX];
    switch (type) {
    case DCR_TYPE_BIGINT:
        dcr_format_bigint(v->i, txt);
        break;
    case DCR_TYPE_DOUBLE:
        dcr_format_double(v->d, txt);
        break;
    case DCR_TYPE_BOOLEAN:
        dcr_format_bool(v->b, txt);
        break;
    case DCR_TYPE_DATE:
        dcr_format_date(v->days, txt);
        break;
    case DCR_TYPE_TIMESTAMP:
        dcr_format_timestamp(v->i, txt);
        break;
    case DCR_TYPE_TEXT:
        return strndup(v->text ? v->text : "", v->len);
    case DCR_TYPE_INTERVAL: /* never a parameter's type */
        return strdup("");
    }
    return strdup(txt);
}

void dcr_template_match_free(dcr_template_match *m)
{
    for (size_t i = 0; m->values && i < m->nvalues; i++)
        free(m->values[i]);
    free(m->values);
    m->values = NULL;
    m->nvalues = 0;
    m->matched = false;
}

/* Checks the literals of a structural match and fills m. */
static dcr_status take_literals(const dcr_contract_template *t, size_t index,
                                const dcr_sql_literal *lits, dcr_template_match *m, dcr_error *err)
{
    m->values = calloc(t->nparams + 1, sizeof *m->values);
    if (!m->values)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    m->nvalues = t->nparams;
    for (size_t i = 0; i < t->nparams; i++) {
        char why[120];
        if (!kind_fits(t->params[i].type, lits[i].kind)) {
            snprintf(why, sizeof why, "got %s", kind_name(lits[i].kind));
            return param_refusal(err, lits[i].pos, t, i, why);
        }
        tvalue v;
        const char *bad = parse_value(&t->params[i], lits[i].text, &v, why, sizeof why);
        if (bad)
            return param_refusal(err, lits[i].pos, t, i, bad);
        m->values[i] = value_text(t->params[i].type, &v);
        if (!m->values[i])
            return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    m->matched = true;
    m->index = index;
    return DCR_OK;
}

/* Matches sql against template i only. */
static dcr_status match_one(const dcr_templates *ts, size_t i, const char *sql, bool *structural,
                            dcr_template_match *m, dcr_error *err)
{
    const dcr_contract_template *t = &ts->contract->templates[i];
    dcr_sql_literal *lits = calloc(t->nparams + 1, sizeof *lits);
    if (!lits)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    char why[200];
    dcr_status s = dcr_sql_shape_match(ts->shapes[i], sql, structural, why, sizeof why, lits, err);
    if (s == DCR_OK && *structural) {
        s = take_literals(t, i, lits, m, err);
        dcr_sql_literals_free(lits, t->nparams);
    } else if (s == DCR_OK && !m->near_miss[0]) {
        snprintf(m->near_miss, sizeof m->near_miss, "same fingerprint as template %s, but %s",
                 t->name, why);
    }
    free(lits);
    if (s != DCR_OK)
        dcr_template_match_free(m);
    return s;
}

dcr_status dcr_template_match_sql(const dcr_templates *ts, const char *sql, dcr_template_match *m,
                                  dcr_error *err)
{
    memset(m, 0, sizeof *m);
    if (ts->n == 0)
        return DCR_OK;
    uint64_t fp;
    dcr_status s = dcr_sql_fingerprint(sql, &fp, err);
    for (size_t i = 0; s == DCR_OK && i < ts->n; i++) {
        if (dcr_sql_shape_fingerprint(ts->shapes[i]) != fp)
            continue;
        bool structural = false;
        s = match_one(ts, i, sql, &structural, m, err);
        if (s == DCR_OK && structural)
            return DCR_OK;
    }
    return s;
}

/* ---- instantiation ---- */

/* Appends v (already checked against its type) as a SQL literal,
 * surrounded by spaces so it can never join a neighbouring token (`x -$1`
 * with -5 must not become the comment `x --5`). */
static dcr_status append_literal(dcr_buf *b, dcr_type type, const tvalue *v, dcr_error *err)
{
    char *txt = value_text(type, v);
    if (!txt)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    bool quoted = type == DCR_TYPE_TEXT || type == DCR_TYPE_DATE || type == DCR_TYPE_TIMESTAMP;
    dcr_status s = dcr_buf_append(b, quoted ? " '" : " ", quoted ? 2 : 1, err);
    /* standard_conforming_strings: inside '...' only the quote is special. */
    for (const char *q = txt; s == DCR_OK && *q; q++)
        s = dcr_buf_append(b, *q == '\'' ? "''" : q, *q == '\'' ? 2 : 1, err);
    if (s == DCR_OK)
        s = dcr_buf_append(b, quoted ? "' " : " ", quoted ? 2 : 1, err);
    free(txt);
    return s;
}

/* Writes t's SQL with every $n replaced by values[n-1] into *out. */
static dcr_status substitute(const dcr_contract_template *t, const dcr_sql_shape *shape,
                             const tvalue *values, char **out, dcr_error *err)
{
    dcr_buf b = DCR_BUF_INIT;
    size_t nslots, at = 0;
    const dcr_sql_slot *slots = dcr_sql_shape_slots(shape, &nslots);
    dcr_status s = DCR_OK;
    for (size_t i = 0; s == DCR_OK && i < nslots; i++) {
        size_t loc = (size_t)slots[i].location;
        s = dcr_buf_append(&b, t->sql + at, loc - at, err);
        if (s == DCR_OK)
            s = append_literal(&b, t->params[slots[i].param - 1].type, &values[slots[i].param - 1],
                               err);
        at = loc + slots[i].length;
    }
    if (s == DCR_OK)
        s = dcr_buf_append(&b, t->sql + at, strlen(t->sql + at) + 1, err);
    if (s != DCR_OK) {
        dcr_buf_free(&b);
        return s;
    }
    *out = (char *)b.data; /* NUL included above */
    return DCR_OK;
}

static int find_template(const dcr_contract *c, const char *name)
{
    for (size_t i = 0; i < c->ntemplates; i++)
        if (strcmp(c->templates[i].name, name) == 0)
            return (int)i;
    return -1;
}

dcr_status dcr_template_instantiate(const dcr_templates *ts, const char *name,
                                    const char *const *values, size_t nvalues, char **sql_out,
                                    dcr_template_match *m, dcr_error *err)
{
    memset(m, 0, sizeof *m);
    *sql_out = NULL;
    int ti = find_template(ts->contract, name);
    if (ti < 0) {
        char q[80];
        dcr_error_quote(q, sizeof q, name, strlen(name));
        return dcr_fail(err, DCR_EINPUT,
                        "refused by rule %s: template \"%s\" is not in the contract",
                        DCR_RULE_TEMPLATE, q);
    }
    const dcr_contract_template *t = &ts->contract->templates[ti];
    if (nvalues != t->nparams)
        return dcr_fail(err, DCR_EINPUT,
                        "refused by rule %s: template %s takes %zu parameter%s, got %zu value%s",
                        DCR_RULE_TEMPLATE, t->name, t->nparams, t->nparams == 1 ? "" : "s", nvalues,
                        nvalues == 1 ? "" : "s");
    tvalue *v = calloc(nvalues + 1, sizeof *v);
    if (!v)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    dcr_status s = DCR_OK;
    for (size_t i = 0; s == DCR_OK && i < nvalues; i++) {
        char buf[120];
        const char *why = parse_value(&t->params[i], values[i], &v[i], buf, sizeof buf);
        if (why) {
            char where[32];
            snprintf(where, sizeof where, "value %zu", i + 1);
            s = param_refusal(err, where, t, i, why);
        }
    }
    char *sql = NULL;
    if (s == DCR_OK)
        s = substitute(t, ts->shapes[ti], v, &sql, err);
    free(v); /* TEXT values point into the caller's strings */
    bool structural = false;
    if (s == DCR_OK)
        s = match_one(ts, (size_t)ti, sql, &structural, m, err);
    if (s == DCR_OK && !structural) /* the substitution must reproduce the template */
        s = dcr_fail(err, DCR_EINTERNAL, "template %s: the instantiated SQL does not match (%s)",
                     t->name, m->near_miss);
    if (s != DCR_OK) {
        free(sql);
        dcr_template_match_free(m);
        return s;
    }
    *sql_out = sql;
    return DCR_OK;
}

/* ---- loading ---- */

/* A value of p's type for a trial bind: its lower bound, else its upper
 * bound, else a plain value (0, false, the empty string, 1970-01-01). */
static void sample_value(const dcr_contract_param *p, tvalue *v)
{
    memset(v, 0, sizeof *v);
    const dcr_param_bound *b = p->min.present ? &p->min : p->max.present ? &p->max : NULL;
    if (!b)
        return;
    v->i = b->i;
    v->days = (int32_t)b->i;
    v->d = b->d;
}

dcr_status dcr_template_sample_sql(const dcr_templates *ts, size_t i, char **sql_out,
                                   dcr_error *err)
{
    const dcr_contract_template *t = &ts->contract->templates[i];
    tvalue *v = calloc(t->nparams + 1, sizeof *v);
    if (!v)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t j = 0; j < t->nparams; j++)
        sample_value(&t->params[j], &v[j]);
    dcr_status s = substitute(t, ts->shapes[i], v, sql_out, err);
    free(v);
    return s;
}

dcr_status dcr_templates_load(const dcr_contract *c, dcr_templates *out, dcr_error *err)
{
    memset(out, 0, sizeof *out);
    out->contract = c;
    if (c->ntemplates == 0)
        return DCR_OK;
    out->shapes = calloc(c->ntemplates, sizeof *out->shapes);
    if (!out->shapes)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    out->n = c->ntemplates;
    for (size_t i = 0; i < c->ntemplates; i++) {
        const dcr_contract_template *t = &c->templates[i];
        dcr_status s = dcr_sql_shape_new(t->sql, t->nparams, &out->shapes[i], err);
        if (s != DCR_OK) {
            dcr_error_prefix(err, "contract template %s", t->name);
            dcr_templates_free(out);
            return s;
        }
    }
    return DCR_OK;
}

void dcr_templates_free(dcr_templates *t)
{
    for (size_t i = 0; t->shapes && i < t->n; i++)
        dcr_sql_shape_free(t->shapes[i]);
    free(t->shapes);
    t->shapes = NULL;
    t->n = 0;
}

/* ---- in the guarded query ---- */

dcr_status pv_template_match(pv_ctx *x)
{
    if (x->c->ntemplates == 0)
        return DCR_OK;
    dcr_templates own = {0};
    const dcr_templates *ts = x->templates;
    if (ts && (ts->contract != x->c || ts->n != x->c->ntemplates))
        return dcr_fail(x->err, DCR_EINTERNAL, "templates loaded for another contract");
    if (!ts) {
        dcr_status s = dcr_templates_load(x->c, &own, x->err);
        if (s != DCR_OK)
            return s;
        ts = &own;
    }
    dcr_template_match m;
    dcr_status s = dcr_template_match_sql(ts, x->sql, &m, x->err);
    if (s == DCR_OK && m.matched) {
        x->template_approved = true;
        snprintf(x->report->template_name, sizeof x->report->template_name, "%s",
                 x->c->templates[m.index].name);
    } else if (s == DCR_EINPUT && strstr(x->err->msg, "refused by rule " DCR_RULE_TEMPLATE)) {
        /* A parameter refusal: name the rule like every other refusal. */
        snprintf(x->report->rule, sizeof x->report->rule, "%s", DCR_RULE_TEMPLATE);
    } else if (s == DCR_EINPUT) {
        s = DCR_OK; /* a syntax error: the compiler words it with its position */
    }
    dcr_template_match_free(&m);
    dcr_templates_free(&own);
    return s;
}

dcr_status dcr_guarded_template(const dcr_contract *c, size_t analyst, const char *name,
                                const char *const *values, size_t nvalues,
                                const dcr_exec_source *sources, const dcr_privacy_hooks *hooks,
                                const dcr_exec_opts *opts, dcr_result *out,
                                dcr_privacy_report *report, dcr_error *err)
{
    memset(out, 0, sizeof *out);
    memset(report, 0, sizeof *report);
    dcr_templates ts;
    dcr_status s = dcr_templates_load(c, &ts, err);
    char *sql = NULL;
    dcr_template_match m = {0};
    if (s == DCR_OK)
        s = dcr_template_instantiate(&ts, name, values, nvalues, &sql, &m, err);
    dcr_template_match_free(&m);
    dcr_templates_free(&ts);
    if (s != DCR_OK) {
        if (s == DCR_EINPUT)
            snprintf(report->rule, sizeof report->rule, "%s", DCR_RULE_TEMPLATE);
        return s;
    }
    s = dcr_guarded_query(c, analyst, sql, sources, hooks, opts, out, report, err);
    free(sql);
    return s;
}
