/*
 * shape.c: statement shapes with $n placeholders, matched by libpg_query
 * fingerprint and then by an exact comparison of the parse trees (see
 * shape.h for why the fingerprint alone is not enough).
 *
 * The trees are compared generically through the protobuf descriptors of
 * libpg_query's parse tree, field by field, so no node kind can be
 * forgotten: a new field in a newer libpg_query is compared too. Only byte
 * positions (location, stmt_location, stmt_len) are skipped.
 */
#include "sql/shape.h"

#include <pg_query.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql/parse.h"
#include "sql/sql.h"

struct dcr_sql_shape {
    dcr_sql_tree tree;
    uint64_t fingerprint;
    size_t nparams;
    size_t nslots;
    dcr_sql_slot *slots;
};

dcr_status dcr_sql_fingerprint(const char *sql, uint64_t *out, dcr_error *err)
{
    if (strlen(sql) > DCR_SQL_MAX_LEN)
        return dcr_fail(err, DCR_EINPUT, "SQL: the statement is longer than %u bytes",
                        DCR_SQL_MAX_LEN);
    PgQueryFingerprintResult r = pg_query_fingerprint(sql);
    dcr_status s = DCR_OK;
    if (r.error) {
        /* dcr_sql_parse words the syntax error with its position. */
        dcr_sql_tree t;
        s = dcr_sql_parse(sql, &t, err);
        dcr_sql_tree_free(&t);
        if (s == DCR_OK)
            s = dcr_fail(err, DCR_EINPUT, "SQL: cannot fingerprint the statement");
    } else {
        *out = r.fingerprint;
    }
    pg_query_free_fingerprint_result(r);
    return s;
}

/* ---- generic access to protobuf fields ---- */

static bool skipped_field(const ProtobufCFieldDescriptor *f)
{
    return strcmp(f->name, "location") == 0 || strcmp(f->name, "stmt_location") == 0 ||
           strcmp(f->name, "stmt_len") == 0;
}

static bool field_active(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)((const char *)m + f->quantifier_offset) == f->id;
    return true;
}

static size_t value_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    default: /* 32-bit integers, float, enum */
        return 4;
    }
}

/* Field f of m as (count, pointer to the first value). */
static size_t field_values(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                           const char **first)
{
    const char *base = (const char *)m + f->offset;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        *first = *(const char *const *)base;
        return *(const size_t *)((const char *)m + f->quantifier_offset);
    }
    *first = base;
    return 1;
}

/* Calls fn on every message reachable from m (m included). */
typedef void (*visit_fn)(const ProtobufCMessage *m, void *ctx);

static void visit(const ProtobufCMessage *m, visit_fn fn, void *ctx)
{
    fn(m, ctx);
    const ProtobufCMessageDescriptor *d = m->descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || !field_active(m, f))
            continue;
        const char *v;
        size_t n = field_values(m, f, &v);
        for (size_t j = 0; j < n; j++) {
            const ProtobufCMessage *sub = ((const ProtobufCMessage *const *)v)[j];
            if (sub)
                visit(sub, fn, ctx);
        }
    }
}

/* ---- shapes ---- */

typedef struct {
    const char *sql;
    size_t nparams;
    size_t nslots, cap;
    dcr_sql_slot *slots;
    bool *used;
    bool bad; /* a $n out of range was seen: the first one is below */
    int bad_location;
    int bad_number;
    bool oom;
} collect_ctx;

static void collect_param(const ProtobufCMessage *m, void *vctx)
{
    collect_ctx *c = vctx;
    if (m->descriptor != &pg_query__param_ref__descriptor)
        return;
    const PgQuery__ParamRef *p = (const PgQuery__ParamRef *)m;
    if (p->number < 1 || (size_t)p->number > c->nparams) {
        if (!c->bad || p->location < c->bad_location) {
            c->bad = true;
            c->bad_location = p->location;
            c->bad_number = p->number;
        }
        return;
    }
    c->used[p->number - 1] = true;
    if (c->nslots == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        dcr_sql_slot *s = realloc(c->slots, cap * sizeof *s);
        if (!s) {
            c->oom = true;
            return;
        }
        c->slots = s;
        c->cap = cap;
    }
    size_t len = 1;
    if (p->location >= 0)
        while (c->sql[p->location + len] >= '0' && c->sql[p->location + len] <= '9')
            len++;
    c->slots[c->nslots++] = (dcr_sql_slot){(size_t)p->number, p->location, len};
}

static int slot_cmp(const void *a, const void *b)
{
    const dcr_sql_slot *x = a, *y = b;
    return (x->location > y->location) - (x->location < y->location);
}

static dcr_status shape_check_statement(const char *sql, const PgQuery__ParseResult *t,
                                        dcr_error *err)
{
    if (t->n_stmts != 1)
        return dcr_fail(err, DCR_EINPUT, "SQL: a template must be exactly one statement, not %zu",
                        t->n_stmts);
    const PgQuery__Node *st = t->stmts[0]->stmt;
    if (!st || st->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
        return dcr_sql_fail(err, sql, dcr_sql_node_location(st),
                            "a template must be a SELECT statement, not %s", dcr_sql_node_name(st));
    return DCR_OK;
}

static dcr_status shape_collect(dcr_sql_shape *s, const char *sql, dcr_error *err)
{
    collect_ctx c = {.sql = sql, .nparams = s->nparams, .bad_location = -1};
    c.used = calloc(s->nparams + 1, sizeof *c.used);
    if (!c.used)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    visit(&s->tree.tree->base, collect_param, &c);
    dcr_status st = DCR_OK;
    if (c.oom) {
        st = dcr_fail(err, DCR_EINTERNAL, "out of memory");
    } else if (c.bad) {
        st = dcr_sql_fail(err, sql, c.bad_location,
                          "$%d is not a declared parameter (the template declares %zu)",
                          c.bad_number, s->nparams);
    } else {
        for (size_t i = 0; i < s->nparams; i++)
            if (!c.used[i]) {
                st = dcr_fail(err, DCR_EINPUT, "SQL: parameter $%zu is declared but not used",
                              i + 1);
                break;
            }
    }
    free(c.used);
    if (st != DCR_OK) {
        free(c.slots);
        return st;
    }
    if (c.nslots > 0) /* no slots: c.slots may be NULL, which qsort must not get */
        qsort(c.slots, c.nslots, sizeof *c.slots, slot_cmp);
    s->slots = c.slots;
    s->nslots = c.nslots;
    return DCR_OK;
}

dcr_status dcr_sql_shape_new(const char *sql, size_t nparams, dcr_sql_shape **out, dcr_error *err)
{
    *out = NULL;
    dcr_sql_shape *s = calloc(1, sizeof *s);
    if (!s)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    s->nparams = nparams;
    dcr_status st = dcr_sql_parse(sql, &s->tree, err);
    if (st == DCR_OK)
        st = shape_check_statement(sql, s->tree.tree, err);
    if (st == DCR_OK)
        st = dcr_sql_fingerprint(sql, &s->fingerprint, err);
    if (st == DCR_OK)
        st = shape_collect(s, sql, err);
    if (st != DCR_OK) {
        dcr_sql_shape_free(s);
        return st;
    }
    *out = s;
    return DCR_OK;
}

void dcr_sql_shape_free(dcr_sql_shape *s)
{
    if (!s)
        return;
    dcr_sql_tree_free(&s->tree);
    free(s->slots);
    free(s);
}

uint64_t dcr_sql_shape_fingerprint(const dcr_sql_shape *s)
{
    return s->fingerprint;
}

const dcr_sql_slot *dcr_sql_shape_slots(const dcr_sql_shape *s, size_t *n)
{
    *n = s->nslots;
    return s->slots;
}

/* ---- matching ---- */

typedef struct {
    const char *sql;               /* the statement being matched */
    const PgQuery__AConst **bound; /* [nparams] */
    size_t nparams;
    int loc; /* location of the innermost statement node being compared */
    char *why;
    size_t why_size;
} match_ctx;

__attribute__((format(printf, 2, 3))) static bool mismatch(match_ctx *c, const char *fmt, ...)
{
    char pos[48], msg[200];
    dcr_sql_position(c->sql, c->loc, pos, sizeof pos);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->why, c->why_size, "%s: %s", pos, msg);
    return false;
}

static bool msg_equal(match_ctx *c, const ProtobufCMessage *a, const ProtobufCMessage *b);

static bool bind_param(match_ctx *c, const PgQuery__ParamRef *p, const PgQuery__Node *b)
{
    char what[32];
    snprintf(what, sizeof what, "$%d", p->number);
    if (b->node_case != PG_QUERY__NODE__NODE_A_CONST)
        return mismatch(c, "where the template has %s the statement must have a literal value",
                        what);
    const PgQuery__AConst *v = b->a_const;
    c->loc = v->location;
    size_t i = (size_t)p->number - 1; /* checked when the shape was made */
    if (!c->bound[i]) {
        c->bound[i] = v;
        return true;
    }
    char why[8];
    match_ctx probe = *c;
    probe.why = why;
    probe.why_size = sizeof why;
    if (!msg_equal(&probe, &c->bound[i]->base, &v->base))
        return mismatch(c, "%s appears more than once in the template with different values here",
                        what);
    return true;
}

static bool values_equal(match_ctx *c, const ProtobufCFieldDescriptor *f, const char *va,
                         const char *vb, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        switch (f->type) {
        case PROTOBUF_C_TYPE_MESSAGE: {
            const ProtobufCMessage *x = ((const ProtobufCMessage *const *)va)[j];
            const ProtobufCMessage *y = ((const ProtobufCMessage *const *)vb)[j];
            if (!x || !y) {
                if (x != y)
                    return mismatch(c, "the statement differs from the template here (%s)",
                                    f->name);
            } else if (!msg_equal(c, x, y)) {
                return false;
            }
            break;
        }
        case PROTOBUF_C_TYPE_STRING: {
            const char *x = ((const char *const *)va)[j], *y = ((const char *const *)vb)[j];
            if (strcmp(x ? x : "", y ? y : "") != 0)
                return mismatch(c, "the statement differs from the template here (%s)", f->name);
            break;
        }
        case PROTOBUF_C_TYPE_BYTES: {
            const ProtobufCBinaryData *x = (const ProtobufCBinaryData *)va + j;
            const ProtobufCBinaryData *y = (const ProtobufCBinaryData *)vb + j;
            if (x->len != y->len || (x->len && memcmp(x->data, y->data, x->len) != 0))
                return mismatch(c, "the statement differs from the template here (%s)", f->name);
            break;
        }
        default: {
            size_t w = value_size(f->type);
            if (memcmp(va + j * w, vb + j * w, w) != 0)
                return mismatch(c, "the statement differs from the template here (%s)", f->name);
        }
        }
    }
    return true;
}

static bool msg_equal(match_ctx *c, const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    const ProtobufCMessageDescriptor *d = a->descriptor;
    if (b->descriptor != d)
        return mismatch(c, "the statement differs from the template here (%s)", d->short_name);
    if (d == &pg_query__node__descriptor) {
        const PgQuery__Node *na = (const PgQuery__Node *)a, *nb = (const PgQuery__Node *)b;
        int l = dcr_sql_node_location(nb);
        if (l >= 0)
            c->loc = l;
        if (na->node_case == PG_QUERY__NODE__NODE_PARAM_REF)
            return bind_param(c, na->param_ref, nb);
        if (na->node_case != nb->node_case)
            return mismatch(c, "the statement has %s where the template has something else",
                            dcr_sql_node_name(nb));
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (skipped_field(f))
            continue;
        bool aa = field_active(a, f), ab = field_active(b, f);
        if (aa != ab)
            return mismatch(c, "the statement differs from the template here (%s)", f->name);
        if (!aa)
            continue;
        if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_MESSAGE &&
            f->type != PROTOBUF_C_TYPE_STRING) {
            protobuf_c_boolean ha =
                *(const protobuf_c_boolean *)((const char *)a + f->quantifier_offset);
            protobuf_c_boolean hb =
                *(const protobuf_c_boolean *)((const char *)b + f->quantifier_offset);
            if (ha != hb)
                return mismatch(c, "the statement differs from the template here (%s)", f->name);
            if (!ha)
                continue;
        }
        const char *va, *vb;
        size_t na = field_values(a, f, &va), nb = field_values(b, f, &vb);
        if (na != nb)
            return mismatch(c, "the statement has a different number of %s than the template",
                            f->name);
        if (!values_equal(c, f, va, vb, na))
            return false;
    }
    return true;
}

static dcr_status literal_from(const char *sql, const PgQuery__AConst *v, dcr_sql_literal *out,
                               dcr_error *err)
{
    char num[16];
    const char *text = "";
    out->location = v->location;
    dcr_sql_position(sql, v->location, out->pos, sizeof out->pos);
    if (v->isnull) {
        out->kind = DCR_SQL_LIT_NULL;
    } else {
        switch (v->val_case) {
        case PG_QUERY__A__CONST__VAL_IVAL:
            out->kind = DCR_SQL_LIT_INTEGER;
            snprintf(num, sizeof num, "%d", (int)v->ival->ival);
            text = num;
            break;
        case PG_QUERY__A__CONST__VAL_FVAL:
            out->kind = DCR_SQL_LIT_NUMERIC;
            text = v->fval->fval ? v->fval->fval : "";
            break;
        case PG_QUERY__A__CONST__VAL_BOOLVAL:
            out->kind = DCR_SQL_LIT_BOOLEAN;
            text = v->boolval->boolval ? "true" : "false";
            break;
        case PG_QUERY__A__CONST__VAL_SVAL:
            out->kind = DCR_SQL_LIT_STRING;
            text = v->sval->sval ? v->sval->sval : "";
            break;
        default:
            out->kind = DCR_SQL_LIT_BITS;
            break;
        }
    }
    out->text = strdup(text);
    if (!out->text)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    return DCR_OK;
}

void dcr_sql_literals_free(dcr_sql_literal *lits, size_t n)
{
    for (size_t i = 0; lits && i < n; i++) {
        free(lits[i].text);
        lits[i].text = NULL;
    }
}

dcr_status dcr_sql_shape_match(const dcr_sql_shape *s, const char *sql, bool *matched, char *why,
                               size_t why_size, dcr_sql_literal *lits, dcr_error *err)
{
    *matched = false;
    snprintf(why, why_size, "SQL: no difference found");
    uint64_t fp;
    dcr_status st = dcr_sql_fingerprint(sql, &fp, err);
    if (st != DCR_OK)
        return st;
    if (fp != s->fingerprint) {
        snprintf(why, why_size, "SQL: the statement's fingerprint differs from the template's");
        return DCR_OK;
    }
    dcr_sql_tree t;
    st = dcr_sql_parse(sql, &t, err);
    if (st != DCR_OK)
        return st;
    match_ctx c = {.sql = sql, .nparams = s->nparams, .loc = -1, .why = why, .why_size = why_size};
    c.bound = calloc(s->nparams + 1, sizeof *c.bound);
    if (!c.bound) {
        dcr_sql_tree_free(&t);
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    bool eq = msg_equal(&c, &s->tree.tree->base, &t.tree->base);
    size_t done = 0;
    for (; eq && st == DCR_OK && done < s->nparams; done++)
        st = literal_from(sql, c.bound[done], &lits[done], err);
    if (st != DCR_OK)
        dcr_sql_literals_free(lits, done);
    else
        *matched = eq;
    free(c.bound);
    dcr_sql_tree_free(&t);
    return st;
}
