/*
 * lint.c: contract text -> typed model (contract.h), checking every rule of
 * docs/contract.md on the way.
 *
 * The checks never stop at the first problem: each one records a
 * diagnostic at the offending value or key (or, for a missing key, at the
 * enclosing object) and parsing carries on with what is usable, so a user
 * fixes a contract in one round. Cross references (owners, columns, joins,
 * receivers) are resolved to indexes once the parts they point to are read;
 * a reference to something that was itself invalid is reported as unknown.
 *
 * Order of work: parties, datasets, rules, evidence, then the top-level
 * scalars and the checks that need the whole model. Diagnostics are sorted
 * by position at the end.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "contract/contract.h"
#include "contract/json.h"
#include "base/value.h"

#define DIAGS_MAX 1000
#define PURPOSE_MAX 4096
#define SQL_MAX 65536
#define MIN_UNITS_MAX 1000000000

typedef struct {
    const char *text;
    size_t len;
    dcr_contract *c;
    dcr_contract_diags *diags;
    size_t seq;
    bool oom;
} cx;

/* ---- diagnostics ---------------------------------------------------- */

static void diag(cx *x, size_t offset, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void diag(cx *x, size_t offset, const char *fmt, ...)
{
    dcr_contract_diags *d = x->diags;
    if (d->n == DIAGS_MAX) {
        d->dropped++;
        return;
    }
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        dcr_contract_diag *items = realloc(d->items, cap * sizeof *items);
        if (!items) {
            x->oom = true;
            return;
        }
        d->items = items;
        d->cap = cap;
    }
    dcr_contract_diag *g = &d->items[d->n++];
    g->offset = offset;
    g->seq = x->seq++;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->msg, sizeof g->msg, fmt, ap);
    va_end(ap);
}

static int cmp_diag(const void *pa, const void *pb)
{
    const dcr_contract_diag *a = pa, *b = pb;
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* A JSON string quoted for a message: escaped, cut. */
typedef struct {
    char s[80];
} quoted;

static quoted q(const dcr_json *v)
{
    quoted r;
    dcr_error_quote(r.s, sizeof r.s, v->str, v->len);
    return r;
}

static void *alloc_array(cx *x, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    void *p = calloc(n, size);
    if (!p)
        x->oom = true;
    return p;
}

/* ---- typed access to the DOM ---------------------------------------- */

/* Reports keys of obj not in allowed and required keys that are absent.
 * Both lists are NULL-terminated; required may be NULL. */
static void check_keys(cx *x, const dcr_json *obj, const char *what, const char *const *allowed,
                       const char *const *required)
{
    for (size_t i = 0; i < obj->n; i++) {
        const dcr_json_member *m = &obj->members[i];
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strlen(*a) == m->key_len && memcmp(*a, m->key, m->key_len) == 0;
        if (!ok) {
            char k[80];
            dcr_error_quote(k, sizeof k, m->key, m->key_len);
            diag(x, m->key_offset, "unknown key \"%s\" in %s", k, what);
        }
    }
    for (const char *const *r = required; r && *r; r++)
        if (!dcr_json_get(obj, *r))
            diag(x, obj->offset, "%s lacks the required key \"%s\"", what, *r);
}

static bool is_kind(cx *x, const dcr_json *v, dcr_json_kind kind, const char *what)
{
    if (v->kind == kind)
        return true;
    diag(x, v->offset, "%s must be %s, not %s", what, dcr_json_kind_name(kind),
         dcr_json_kind_name(v->kind));
    return false;
}

/* obj[key] when present and of the given kind (a wrong kind is reported). */
static const dcr_json *get_kind(cx *x, const dcr_json *obj, const char *key, dcr_json_kind kind)
{
    const dcr_json *v = dcr_json_get(obj, key);
    if (!v || !is_kind(x, v, kind, key))
        return NULL;
    return v;
}

/* An array of at most max items (empty allowed only when allow_empty). */
static const dcr_json *get_array(cx *x, const dcr_json *obj, const char *key, size_t max,
                                 bool allow_empty)
{
    const dcr_json *v = get_kind(x, obj, key, DCR_JSON_ARRAY);
    if (!v)
        return NULL;
    if (v->n == 0 && !allow_empty) {
        diag(x, v->offset, "%s must not be empty", key);
        return NULL;
    }
    if (v->n > max) {
        diag(x, v->offset, "%s has %zu entries, more than the %zu allowed", key, v->n, max);
        return NULL;
    }
    return v;
}

static bool get_int(cx *x, const dcr_json *obj, const char *key, int64_t *out)
{
    const dcr_json *v = get_kind(x, obj, key, DCR_JSON_NUMBER);
    if (!v)
        return false;
    if (!v->is_int) {
        diag(x, v->offset, "%s must be an integer, not %.40s", key, v->str);
        return false;
    }
    *out = v->i;
    return true;
}

static bool number_finite(cx *x, const dcr_json *v, const char *what, double *out)
{
    if (!is_kind(x, v, DCR_JSON_NUMBER, what))
        return false;
    if (!isfinite(v->d)) {
        diag(x, v->offset, "%s is out of range: %.40s", what, v->str);
        return false;
    }
    *out = v->d;
    return true;
}

static bool get_double(cx *x, const dcr_json *obj, const char *key, double *out)
{
    const dcr_json *v = dcr_json_get(obj, key);
    return v && number_finite(x, v, key, out);
}

static bool get_bool(cx *x, const dcr_json *obj, const char *key, bool *out)
{
    const dcr_json *v = get_kind(x, obj, key, DCR_JSON_BOOL);
    if (v)
        *out = v->boolean;
    return v != NULL;
}

/* A string value that is a dcr identifier, copied into out. */
static bool name_value(cx *x, const dcr_json *v, const char *what, char out[DCR_NAME_MAX + 1])
{
    if (!is_kind(x, v, DCR_JSON_STRING, what))
        return false;
    if (!dcr_name_valid(v->str, v->len)) {
        diag(x, v->offset,
             "%s \"%s\" is not a valid name (1-63 characters of a-z, 0-9, _; not starting "
             "with a digit)",
             what, q(v).s);
        return false;
    }
    memcpy(out, v->str, v->len + 1);
    return true;
}

/* Index of the string in names (NULL-terminated), or -1. */
static int lookup(const dcr_json *v, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strlen(names[i]) == v->len && memcmp(names[i], v->str, v->len) == 0)
            return i;
    return -1;
}

static bool same_string(const dcr_json *a, const dcr_json *b)
{
    return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
}

/* Reports a string that already appeared earlier in the same array. */
static bool duplicate_in_array(cx *x, const dcr_json *arr, size_t i, const char *what)
{
    for (size_t j = 0; j < i; j++)
        if (arr->items[j]->kind == DCR_JSON_STRING && same_string(arr->items[j], arr->items[i])) {
            diag(x, arr->items[i]->offset, "%s \"%s\" is listed twice", what, q(arr->items[i]).s);
            return true;
        }
    return false;
}

/* ---- lookups by name on the partly built model ----------------------- */

static int party_index(const dcr_contract *c, const dcr_json *v)
{
    if (v->kind != DCR_JSON_STRING || !dcr_name_valid(v->str, v->len))
        return -1;
    return dcr_contract_find_party(c, v->str);
}

/* A party reference: reports an unknown one and one lacking `role`. */
static int party_ref(cx *x, const dcr_json *v, const char *what, unsigned role,
                     const char *role_name)
{
    if (!is_kind(x, v, DCR_JSON_STRING, what))
        return -1;
    int p = party_index(x->c, v);
    if (p < 0) {
        diag(x, v->offset, "%s \"%s\" is not a party of this contract", what, q(v).s);
        return -1;
    }
    if (role && !(x->c->parties[p].roles & role)) {
        diag(x, v->offset, "%s \"%s\" does not have the %s role", what, q(v).s, role_name);
        return -1;
    }
    return p;
}

static int column_index(const dcr_contract_dataset *d, const char *name, size_t len)
{
    if (!dcr_name_valid(name, len))
        return -1;
    for (size_t i = 0; i < d->ncols; i++)
        if (strlen(d->cols[i].name) == len && memcmp(d->cols[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

/* Resolves "dataset.column" text at offset; reports what is wrong. */
static bool colref_text(cx *x, const char *s, size_t len, size_t offset, dcr_colref *out)
{
    const char *dot = memchr(s, '.', len);
    char shown[80];
    dcr_error_quote(shown, sizeof shown, s, len);
    if (!dot) {
        diag(x, offset, "\"%s\" must name a column as DATASET.COLUMN", shown);
        return false;
    }
    size_t dlen = (size_t)(dot - s);
    int d = -1;
    if (dcr_name_valid(s, dlen))
        for (size_t i = 0; i < x->c->ndatasets; i++)
            if (strlen(x->c->datasets[i].name) == dlen &&
                memcmp(x->c->datasets[i].name, s, dlen) == 0)
                d = (int)i;
    if (d < 0) {
        diag(x, offset, "\"%s\": no dataset \"%.*s\" in this contract", shown,
             (int)(dlen > 63 ? 63 : dlen), dcr_name_valid(s, dlen) ? s : "?");
        return false;
    }
    int col = column_index(&x->c->datasets[d], dot + 1, len - dlen - 1);
    if (col < 0) {
        diag(x, offset, "\"%s\": dataset \"%s\" has no such column", shown, x->c->datasets[d].name);
        return false;
    }
    out->dataset = (size_t)d;
    out->column = (size_t)col;
    return true;
}

static bool colref_value(cx *x, const dcr_json *v, const char *what, dcr_colref *out)
{
    return is_kind(x, v, DCR_JSON_STRING, what) && colref_text(x, v->str, v->len, v->offset, out);
}

static const dcr_contract_column *col_of(const dcr_contract *c, dcr_colref r)
{
    return &c->datasets[r.dataset].cols[r.column];
}

/* ---- parties --------------------------------------------------------- */

static const char *const role_names[] = {"provider", "analyst", "receiver", "auditor", NULL};

static void parse_roles(cx *x, const dcr_json *obj, dcr_contract_party *p)
{
    const dcr_json *roles = get_array(x, obj, "roles", 4 * 4, false);
    for (size_t i = 0; roles && i < roles->n; i++) {
        const dcr_json *r = roles->items[i];
        if (!is_kind(x, r, DCR_JSON_STRING, "a role"))
            continue;
        int k = lookup(r, role_names);
        if (k < 0)
            diag(x, r->offset, "unknown role \"%s\" (use provider, analyst, receiver, auditor)",
                 q(r).s);
        else if (!duplicate_in_array(x, roles, i, "role"))
            p->roles |= 1u << k;
    }
}

static void parse_party_key(cx *x, const dcr_json *obj, size_t idx)
{
    const dcr_json *v = get_kind(x, obj, "public_key", DCR_JSON_STRING);
    if (!v)
        return;
    dcr_contract_party *p = &x->c->parties[idx];
    dcr_error e = {0};
    if (dcr_party_pub_parse(v->str, v->len, &p->key, "public_key", &e) != DCR_OK) {
        diag(x, v->offset, "%s", e.msg);
        return;
    }
    for (size_t j = 0; j < idx; j++) {
        const dcr_contract_party *o = &x->c->parties[j];
        if (memcmp(o->key.sign_pub, p->key.sign_pub, 32) == 0 ||
            memcmp(o->key.hpke_pub, p->key.hpke_pub, 32) == 0) {
            diag(x, v->offset,
                 "public_key is the same key as party \"%s\"'s: every party needs "
                 "its own key",
                 o->name);
            memset(&p->key, 0, sizeof p->key);
            return;
        }
    }
    p->has_key = true;
}

static void parse_party(cx *x, const dcr_json *obj, size_t idx)
{
    static const char *const keys[] = {"name", "roles", "public_key", NULL};
    if (!is_kind(x, obj, DCR_JSON_OBJECT, "a party"))
        return;
    check_keys(x, obj, "a party", keys, keys);
    dcr_contract_party *p = &x->c->parties[idx];
    const dcr_json *nv = dcr_json_get(obj, "name");
    char name[DCR_NAME_MAX + 1];
    if (nv && name_value(x, nv, "party name", name)) {
        if (dcr_contract_find_party(x->c, name) >= 0)
            diag(x, nv->offset, "duplicate party name \"%s\"", name);
        else
            memcpy(p->name, name, sizeof name);
    }
    parse_roles(x, obj, p);
    parse_party_key(x, obj, idx);
}

static void parse_parties(cx *x, const dcr_json *root)
{
    const dcr_json *arr = get_array(x, root, "parties", DCR_CONTRACT_LIST_MAX, false);
    if (!arr)
        return;
    x->c->parties = alloc_array(x, arr->n, sizeof *x->c->parties);
    if (!x->c->parties)
        return;
    x->c->nparties = arr->n;
    for (size_t i = 0; i < arr->n; i++)
        parse_party(x, arr->items[i], i);
}

/* ---- datasets -------------------------------------------------------- */

static const char *const col_role_names[] = {"id", "join", "dimension", "metric", "hidden", NULL};

static void parse_normalize(cx *x, const dcr_json *obj, dcr_contract_column *col)
{
    const dcr_json *arr = get_array(x, obj, "normalize", 2, true);
    for (size_t i = 0; arr && i < arr->n; i++) {
        const dcr_json *v = arr->items[i];
        if (!is_kind(x, v, DCR_JSON_STRING, "a normalisation"))
            continue;
        static const char *const norms[] = {"trim", "lower", NULL};
        int k = lookup(v, norms);
        if (k < 0)
            diag(x, v->offset, "unknown normalisation \"%s\" (use \"trim\" or \"lower\")", q(v).s);
        else if (!duplicate_in_array(x, arr, i, "normalisation"))
            col->normalize |= k == 0 ? DCR_NORM_TRIM : DCR_NORM_LOWER;
        if (k == 1 && col->type && col->type != DCR_TYPE_TEXT)
            diag(x, v->offset, "\"lower\" applies only to TEXT columns");
    }
}

static void parse_bounds(cx *x, const dcr_json *obj, dcr_contract_column *col)
{
    const dcr_json_member *m = dcr_json_member_get(obj, "bounds");
    if (col->role != DCR_COL_METRIC) {
        if (m && col->role)
            diag(x, m->key_offset, "bounds apply only to metric columns (this one is %s)",
                 dcr_column_role_name(col->role));
        return;
    }
    if (!m) {
        diag(x, obj->offset, "metric column \"%s\" needs \"bounds\": [LOW, HIGH]", col->name);
        return;
    }
    const dcr_json *b = m->value;
    if (b->kind != DCR_JSON_ARRAY || b->n != 2) {
        diag(x, b->offset, "bounds must be an array of two numbers [LOW, HIGH]");
        return;
    }
    double lo, hi;
    if (!number_finite(x, b->items[0], "the lower bound", &lo) ||
        !number_finite(x, b->items[1], "the upper bound", &hi))
        return;
    if (col->type == DCR_TYPE_BIGINT && (!b->items[0]->is_int || !b->items[1]->is_int)) {
        diag(x, b->offset, "bounds of a BIGINT column must be integers");
        return;
    }
    if (lo > hi) {
        diag(x, b->offset, "bounds [%g, %g]: the lower bound is greater than the upper", lo, hi);
        return;
    }
    col->has_bounds = true;
    col->lo = lo;
    col->hi = hi;
}

static void parse_column_type(cx *x, const dcr_json *obj, dcr_contract_column *col)
{
    const dcr_json *t = get_kind(x, obj, "type", DCR_JSON_STRING);
    if (!t)
        return;
    if (memchr(t->str, 0, t->len) || !dcr_type_from_name(t->str, &col->type)) {
        diag(x, t->offset,
             "unknown type \"%s\" (use BIGINT, DOUBLE PRECISION, TEXT, BOOLEAN, DATE, "
             "TIMESTAMP)",
             q(t).s);
        return;
    }
    const dcr_json *r = dcr_json_get(obj, "role");
    if (col->role == DCR_COL_METRIC && col->type != DCR_TYPE_BIGINT &&
        col->type != DCR_TYPE_DOUBLE && r)
        diag(x, t->offset, "metric column \"%s\" must be BIGINT or DOUBLE PRECISION, not %s",
             col->name, dcr_type_name(col->type));
}

static void parse_column(cx *x, const dcr_json *obj, dcr_contract_dataset *d, size_t idx)
{
    static const char *const keys[] = {"name",     "type",   "role", "normalize",
                                       "not_null", "bounds", NULL};
    static const char *const required[] = {"name", "type", "role", NULL};
    if (!is_kind(x, obj, DCR_JSON_OBJECT, "a column"))
        return;
    check_keys(x, obj, "a column", keys, required);
    dcr_contract_column *col = &d->cols[idx];
    const dcr_json *nv = dcr_json_get(obj, "name");
    char name[DCR_NAME_MAX + 1];
    if (nv && name_value(x, nv, "column name", name)) {
        if (column_index(d, name, strlen(name)) >= 0)
            diag(x, nv->offset, "duplicate column \"%s\" in dataset \"%s\"", name, d->name);
        else
            memcpy(col->name, name, sizeof name);
    }
    const dcr_json *r = get_kind(x, obj, "role", DCR_JSON_STRING);
    if (r) {
        int k = lookup(r, col_role_names);
        if (k < 0)
            diag(x, r->offset,
                 "unknown column role \"%s\" (use id, join, dimension, metric, hidden)", q(r).s);
        else
            col->role = (dcr_column_role)(k + 1);
    }
    parse_column_type(x, obj, col);
    parse_normalize(x, obj, col);
    get_bool(x, obj, "not_null", &col->not_null);
    parse_bounds(x, obj, col);
}

static void parse_owner(cx *x, const dcr_json *obj, dcr_contract_dataset *d, bool *ok)
{
    const dcr_json *v = dcr_json_get(obj, "owner");
    if (!v)
        return;
    int p = party_ref(x, v, "owner", DCR_ROLE_PROVIDER, "provider");
    if (p >= 0) {
        d->owner = (size_t)p;
        *ok = true;
    }
}

static void parse_privacy_unit(cx *x, const dcr_json *obj, dcr_contract_dataset *d)
{
    const dcr_json *v = get_kind(x, obj, "privacy_unit", DCR_JSON_STRING);
    if (!v || !d->cols)
        return;
    int col = column_index(d, v->str, v->len);
    if (col < 0) {
        diag(x, v->offset, "privacy_unit \"%s\" is not a column of dataset \"%s\"", q(v).s,
             d->name);
        return;
    }
    if (d->cols[col].role != DCR_COL_ID) {
        if (d->cols[col].role)
            diag(x, v->offset, "privacy_unit \"%s\" must be a column with role \"id\", not \"%s\"",
                 q(v).s, dcr_column_role_name(d->cols[col].role));
        return;
    }
    d->privacy_unit = (size_t)col;
    d->has_privacy_unit = true;
}

static bool check_min_units(cx *x, const dcr_json *obj, int64_t *out)
{
    const dcr_json *v = dcr_json_get(obj, "min_units");
    if (!v || !get_int(x, obj, "min_units", out))
        return false;
    if (*out < 2 || *out > MIN_UNITS_MAX) {
        diag(x, v->offset,
             "min_units must be at least 2 (a group of one privacy unit is that unit's data)%s",
             *out > MIN_UNITS_MAX ? " and at most 1000000000" : "");
        return false;
    }
    return true;
}

static void parse_dataset(cx *x, const dcr_json *obj, size_t idx)
{
    static const char *const keys[] = {"name",      "owner",   "privacy_unit",
                                       "min_units", "columns", NULL};
    static const char *const required[] = {"name", "owner", "privacy_unit", "columns", NULL};
    if (!is_kind(x, obj, DCR_JSON_OBJECT, "a dataset"))
        return;
    check_keys(x, obj, "a dataset", keys, required);
    dcr_contract_dataset *d = &x->c->datasets[idx];
    const dcr_json *nv = dcr_json_get(obj, "name");
    char name[DCR_NAME_MAX + 1];
    if (nv && name_value(x, nv, "dataset name", name)) {
        if (dcr_contract_find_dataset(x->c, name) >= 0)
            diag(x, nv->offset, "duplicate dataset name \"%s\"", name);
        else
            memcpy(d->name, name, sizeof name);
    }
    bool owner_ok = false;
    parse_owner(x, obj, d, &owner_ok);
    d->has_owner = owner_ok;
    if (check_min_units(x, obj, &d->min_units))
        d->has_min_units = true;
    const dcr_json *cols = get_array(x, obj, "columns", DCR_COLUMNS_MAX, false);
    if (cols && (d->cols = alloc_array(x, cols->n, sizeof *d->cols))) {
        d->ncols = cols->n;
        for (size_t i = 0; i < cols->n; i++)
            parse_column(x, cols->items[i], d, i);
    }
    parse_privacy_unit(x, obj, d);
}

static void parse_datasets(cx *x, const dcr_json *root)
{
    const dcr_json *arr = get_array(x, root, "datasets", DCR_CONTRACT_LIST_MAX, false);
    if (!arr)
        return;
    x->c->datasets = alloc_array(x, arr->n, sizeof *x->c->datasets);
    if (!x->c->datasets)
        return;
    x->c->ndatasets = arr->n;
    for (size_t i = 0; i < arr->n; i++)
        parse_dataset(x, arr->items[i], i);
}

/* ---- rules: aggregation ---------------------------------------------- */

static const char *const agg_names[] = {"COUNT", "COUNT_DISTINCT", "SUM", "AVG", "MIN", "MAX",
                                        NULL};

static void parse_agg_funcs(cx *x, const dcr_json *arr, const dcr_contract_column *col,
                            const char *ref, dcr_contract_aggregate *a)
{
    for (size_t i = 0; i < arr->n; i++) {
        const dcr_json *v = arr->items[i];
        if (!is_kind(x, v, DCR_JSON_STRING, "an aggregate function"))
            continue;
        int k = lookup(v, agg_names);
        if (k < 0) {
            diag(x, v->offset,
                 "unknown aggregate function \"%s\" (use COUNT, COUNT_DISTINCT, SUM, AVG, MIN, "
                 "MAX)",
                 q(v).s);
            continue;
        }
        if (duplicate_in_array(x, arr, i, "aggregate function"))
            continue;
        if (k >= 2 && col->role != DCR_COL_METRIC) {
            diag(x, v->offset, "%s needs a metric column, and %s is %s", agg_names[k], ref,
                 dcr_column_role_name(col->role));
            continue;
        }
        a->funcs |= 1u << k;
    }
}

static void parse_aggregates(cx *x, const dcr_json *agg)
{
    const dcr_json *obj = get_kind(x, agg, "aggregates", DCR_JSON_OBJECT);
    if (!obj || !(x->c->aggregates = alloc_array(x, obj->n, sizeof *x->c->aggregates)))
        return;
    for (size_t i = 0; i < obj->n; i++) {
        const dcr_json_member *m = &obj->members[i];
        dcr_contract_aggregate a = {0};
        if (!colref_text(x, m->key, m->key_len, m->key_offset, &a.col))
            continue;
        const dcr_contract_column *col = col_of(x->c, a.col);
        char ref[2 * DCR_NAME_MAX + 2];
        snprintf(ref, sizeof ref, "%s.%s", x->c->datasets[a.col.dataset].name, col->name);
        if (col->role == DCR_COL_HIDDEN) {
            diag(x, m->key_offset, "%s is a hidden column and cannot be aggregated", ref);
            continue;
        }
        if (!is_kind(x, m->value, DCR_JSON_ARRAY, ref))
            continue;
        if (m->value->n == 0 || m->value->n > 6) {
            diag(x, m->value->offset, "%s: list 1 to 6 aggregate functions", ref);
            continue;
        }
        parse_agg_funcs(x, m->value, col, ref, &a);
        if (a.funcs)
            x->c->aggregates[x->c->naggregates++] = a;
    }
}

static bool join_side(cx *x, const dcr_json *obj, const char *key, dcr_colref *out)
{
    const dcr_json *v = dcr_json_get(obj, key);
    if (!v || !colref_value(x, v, key, out))
        return false;
    const dcr_contract_column *col = col_of(x->c, *out);
    if (col->role != DCR_COL_ID && col->role != DCR_COL_JOIN) {
        if (col->role)
            diag(x, v->offset, "join column %s.%s must have role id or join, not %s",
                 x->c->datasets[out->dataset].name, col->name, dcr_column_role_name(col->role));
        return false;
    }
    return true;
}

static void parse_join(cx *x, const dcr_json *obj)
{
    static const char *const keys[] = {"left", "right", NULL};
    if (!is_kind(x, obj, DCR_JSON_OBJECT, "a join"))
        return;
    check_keys(x, obj, "a join", keys, keys);
    dcr_contract_join j;
    bool l = join_side(x, obj, "left", &j.left);
    bool r = join_side(x, obj, "right", &j.right);
    if (!l || !r)
        return;
    const dcr_contract_column *a = col_of(x->c, j.left), *b = col_of(x->c, j.right);
    if (j.left.dataset == j.right.dataset) {
        diag(x, obj->offset, "a join must be between two different datasets");
        return;
    }
    if (a->type != b->type) {
        diag(x, obj->offset, "join between columns of different types: %s.%s is %s, %s.%s is %s",
             x->c->datasets[j.left.dataset].name, a->name, dcr_type_name(a->type),
             x->c->datasets[j.right.dataset].name, b->name, dcr_type_name(b->type));
        return;
    }
    x->c->joins[x->c->njoins++] = j;
}

static void parse_aggregation(cx *x, const dcr_json *rules)
{
    static const char *const keys[] = {"min_units",
                                       "aggregates",
                                       "joins",
                                       "unsafe_free_form_sql_open_to_differencing",
                                       "unsafe_min_max_reveal_one_value",
                                       NULL};
    static const char *const required[] = {"min_units", NULL};
    const dcr_json *agg = get_kind(x, rules, "aggregation", DCR_JSON_OBJECT);
    if (!agg)
        return;
    check_keys(x, agg, "rules.aggregation", keys, required);
    if (check_min_units(x, agg, &x->c->min_units))
        x->c->has_min_units = true;
    get_bool(x, agg, "unsafe_free_form_sql_open_to_differencing", &x->c->unsafe_free_form_sql);
    get_bool(x, agg, "unsafe_min_max_reveal_one_value", &x->c->unsafe_min_max);
    parse_aggregates(x, agg);
    const dcr_json *joins = get_array(x, agg, "joins", DCR_CONTRACT_LIST_MAX, true);
    if (!joins || !(x->c->joins = alloc_array(x, joins->n, sizeof *x->c->joins)))
        return;
    for (size_t i = 0; i < joins->n; i++)
        parse_join(x, joins->items[i]);
}

/* ---- rules: differential privacy -------------------------------------- */

static void parse_dp(cx *x, const dcr_json *rules)
{
    static const char *const keys[] = {
        "enabled", "epsilon_per_query", "delta", "budget_per_analyst", "max_contributions_per_unit",
        NULL};
    static const char *const required_on[] = {
        "enabled", "epsilon_per_query", "delta", "budget_per_analyst", "max_contributions_per_unit",
        NULL};
    static const char *const required_off[] = {"enabled", NULL};
    const dcr_json *obj = get_kind(x, rules, "differential_privacy", DCR_JSON_OBJECT);
    if (!obj)
        return;
    dcr_contract_dp *dp = &x->c->dp;
    dp->present = true;
    get_bool(x, obj, "enabled", &dp->enabled);
    check_keys(x, obj, "rules.differential_privacy", keys,
               dp->enabled ? required_on : required_off);
    const dcr_json *v;
    bool eps_ok = false;
    if ((v = dcr_json_get(obj, "epsilon_per_query")) &&
        get_double(x, obj, "epsilon_per_query", &dp->epsilon_per_query)) {
        if (!(dp->epsilon_per_query > 0))
            diag(x, v->offset, "epsilon_per_query must be greater than 0");
        else
            eps_ok = true;
    }
    if ((v = dcr_json_get(obj, "delta")) && get_double(x, obj, "delta", &dp->delta) &&
        !(dp->delta >= 0 && dp->delta < 1))
        diag(x, v->offset, "delta must be at least 0 and less than 1");
    if ((v = dcr_json_get(obj, "budget_per_analyst")) &&
        get_double(x, obj, "budget_per_analyst", &dp->budget_per_analyst)) {
        if (!(dp->budget_per_analyst > 0))
            diag(x, v->offset, "budget_per_analyst must be greater than 0");
        else if (eps_ok && dp->budget_per_analyst < dp->epsilon_per_query)
            diag(x, v->offset,
                 "budget_per_analyst (%g) is less than epsilon_per_query (%g): no query could run",
                 dp->budget_per_analyst, dp->epsilon_per_query);
    }
    if ((v = dcr_json_get(obj, "max_contributions_per_unit")) &&
        get_int(x, obj, "max_contributions_per_unit", &dp->max_contributions_per_unit) &&
        (dp->max_contributions_per_unit < 1 || dp->max_contributions_per_unit > 1000000))
        diag(x, v->offset, "max_contributions_per_unit must be from 1 to 1000000");
}

/* ---- rules: templates ------------------------------------------------- */

/* A template parameter's min or max, in the parameter's type. */
static bool param_bound(cx *x, const dcr_json *p, const char *key, dcr_contract_param *par,
                        dcr_param_bound *out)
{
    const dcr_json *v = dcr_json_get(p, key);
    if (!v || !par->type)
        return false;
    const char *why = NULL;
    switch (par->type) {
    case DCR_TYPE_BIGINT:
        if (!get_int(x, p, key, &out->i))
            return false;
        out->d = (double)out->i;
        break;
    case DCR_TYPE_DOUBLE:
        if (!get_double(x, p, key, &out->d))
            return false;
        break;
    case DCR_TYPE_DATE:
    case DCR_TYPE_TIMESTAMP: {
        if (!is_kind(x, v, DCR_JSON_STRING, key))
            return false;
        int32_t days = 0;
        why = par->type == DCR_TYPE_DATE ? dcr_parse_date(v->str, v->len, &days)
                                         : dcr_parse_timestamp(v->str, v->len, &out->i);
        if (why) {
            diag(x, v->offset, "%s \"%s\": %s", key, q(v).s, why);
            return false;
        }
        if (par->type == DCR_TYPE_DATE)
            out->i = days;
        out->d = (double)out->i;
        break;
    }
    default:
        diag(x, v->offset,
             "%s applies only to BIGINT, DOUBLE PRECISION, DATE and TIMESTAMP "
             "parameters",
             key);
        return false;
    }
    out->present = true;
    return true;
}

static void parse_param(cx *x, const dcr_json *p, dcr_contract_template *t, size_t idx)
{
    static const char *const keys[] = {"name", "type", "min", "max", NULL};
    static const char *const required[] = {"name", "type", NULL};
    if (!is_kind(x, p, DCR_JSON_OBJECT, "a parameter"))
        return;
    check_keys(x, p, "a template parameter", keys, required);
    dcr_contract_param *par = &t->params[idx];
    const dcr_json *nv = dcr_json_get(p, "name");
    char name[DCR_NAME_MAX + 1];
    if (nv && name_value(x, nv, "parameter name", name)) {
        bool dup = false;
        for (size_t j = 0; j < idx; j++)
            dup |= strcmp(t->params[j].name, name) == 0;
        if (dup)
            diag(x, nv->offset, "duplicate parameter \"%s\" in template \"%s\"", name, t->name);
        else
            memcpy(par->name, name, sizeof name);
    }
    const dcr_json *tv = get_kind(x, p, "type", DCR_JSON_STRING);
    if (tv && (memchr(tv->str, 0, tv->len) || !dcr_type_from_name(tv->str, &par->type)))
        diag(x, tv->offset,
             "unknown type \"%s\" (use BIGINT, DOUBLE PRECISION, TEXT, BOOLEAN, DATE, "
             "TIMESTAMP)",
             q(tv).s);
    bool lo = param_bound(x, p, "min", par, &par->min);
    bool hi = param_bound(x, p, "max", par, &par->max);
    bool bad = par->type == DCR_TYPE_DOUBLE ? par->min.d > par->max.d : par->min.i > par->max.i;
    if (lo && hi && bad)
        diag(x, dcr_json_get(p, "max")->offset, "max is less than min for parameter \"%s\"",
             par->name);
}

static void parse_template(cx *x, const dcr_json *obj, size_t idx)
{
    static const char *const keys[] = {"name", "sql", "parameters", NULL};
    static const char *const required[] = {"name", "sql", NULL};
    if (!is_kind(x, obj, DCR_JSON_OBJECT, "a template"))
        return;
    check_keys(x, obj, "a template", keys, required);
    dcr_contract_template *t = &x->c->templates[idx];
    const dcr_json *nv = dcr_json_get(obj, "name");
    char name[DCR_NAME_MAX + 1];
    if (nv && name_value(x, nv, "template name", name)) {
        bool dup = false;
        for (size_t j = 0; j < idx; j++)
            dup |= strcmp(x->c->templates[j].name, name) == 0;
        if (dup)
            diag(x, nv->offset, "duplicate template name \"%s\"", name);
        else
            memcpy(t->name, name, sizeof name);
    }
    const dcr_json *sql = get_kind(x, obj, "sql", DCR_JSON_STRING);
    if (sql) {
        if (sql->len == 0 || sql->len > SQL_MAX || memchr(sql->str, 0, sql->len))
            diag(x, sql->offset, "sql must be 1 to 65536 bytes of text without NUL");
        else if (!(t->sql = strdup(sql->str)))
            x->oom = true;
    }
    const dcr_json *ps = get_array(x, obj, "parameters", 64, true);
    if (!ps || !(t->params = alloc_array(x, ps->n, sizeof *t->params)))
        return;
    t->nparams = ps->n;
    for (size_t i = 0; i < ps->n; i++)
        parse_param(x, ps->items[i], t, i);
}

static void parse_templates(cx *x, const dcr_json *rules)
{
    const dcr_json *arr = get_array(x, rules, "templates", DCR_CONTRACT_LIST_MAX, true);
    if (!arr || !(x->c->templates = alloc_array(x, arr->n, sizeof *x->c->templates)))
        return;
    x->c->ntemplates = arr->n;
    for (size_t i = 0; i < arr->n; i++)
        parse_template(x, arr->items[i], i);
}

/* ---- rules: overlap and receivers --------------------------------------- */

static void parse_overlap_entry(cx *x, const dcr_json *obj)
{
    static const char *const keys[] = {"receiver", "dataset", "column", NULL};
    if (!is_kind(x, obj, DCR_JSON_OBJECT, "an overlap permission"))
        return;
    check_keys(x, obj, "an overlap permission", keys, keys);
    const dcr_json *rv = dcr_json_get(obj, "receiver"), *dv = dcr_json_get(obj, "dataset"),
                   *cv = dcr_json_get(obj, "column");
    int p = rv ? party_ref(x, rv, "receiver", DCR_ROLE_RECEIVER, "receiver") : -1;
    if (!dv || !is_kind(x, dv, DCR_JSON_STRING, "dataset"))
        return;
    int d = dcr_name_valid(dv->str, dv->len) ? dcr_contract_find_dataset(x->c, dv->str) : -1;
    if (d < 0) {
        diag(x, dv->offset, "dataset \"%s\" is not a dataset of this contract", q(dv).s);
        return;
    }
    const dcr_contract_dataset *ds = &x->c->datasets[d];
    if (p >= 0 && ds->has_owner && ds->owner != (size_t)p) {
        diag(x, rv->offset,
             "matched identifiers of dataset \"%s\" may go only to its owner \"%s\", not \"%s\"",
             ds->name, x->c->parties[ds->owner].name, x->c->parties[p].name);
        p = -1;
    }
    if (!cv || !is_kind(x, cv, DCR_JSON_STRING, "column"))
        return;
    int col = column_index(ds, cv->str, cv->len);
    if (col < 0) {
        diag(x, cv->offset, "dataset \"%s\" has no column \"%s\"", ds->name, q(cv).s);
        return;
    }
    if (ds->cols[col].role != DCR_COL_ID && ds->cols[col].role != DCR_COL_JOIN) {
        if (ds->cols[col].role)
            diag(x, cv->offset, "overlap column \"%s\" must have role id or join, not %s",
                 ds->cols[col].name, dcr_column_role_name(ds->cols[col].role));
        return;
    }
    if (p >= 0)
        x->c->overlap[x->c->noverlap++] =
            (dcr_contract_overlap){(size_t)p, {(size_t)d, (size_t)col}};
}

static void parse_overlap(cx *x, const dcr_json *rules)
{
    const dcr_json *arr = get_array(x, rules, "overlap", DCR_CONTRACT_LIST_MAX, true);
    if (!arr || !(x->c->overlap = alloc_array(x, arr->n, sizeof *x->c->overlap)))
        return;
    for (size_t i = 0; i < arr->n; i++)
        parse_overlap_entry(x, arr->items[i]);
}

static void parse_receiver_list(cx *x, const dcr_json_member *m, dcr_contract_receivers *r)
{
    const dcr_json *arr = m->value;
    if (!is_kind(x, arr, DCR_JSON_ARRAY, "a receivers list"))
        return;
    if (arr->n == 0) {
        diag(x, arr->offset, "analyst \"%s\" has no receivers: list who gets the results",
             x->c->parties[r->analyst].name);
        return;
    }
    if (arr->n > x->c->nparties) {
        diag(x, arr->offset, "more receivers than parties");
        return;
    }
    if (!(r->receivers = alloc_array(x, arr->n, sizeof *r->receivers)))
        return;
    for (size_t i = 0; i < arr->n; i++) {
        int p = party_ref(x, arr->items[i], "receiver", DCR_ROLE_RECEIVER, "receiver");
        if (p >= 0 && !duplicate_in_array(x, arr, i, "receiver"))
            r->receivers[r->n++] = (size_t)p;
    }
}

static void parse_receivers(cx *x, const dcr_json *rules)
{
    const dcr_json *obj = get_kind(x, rules, "receivers", DCR_JSON_OBJECT);
    if (obj && (x->c->receivers = alloc_array(x, obj->n, sizeof *x->c->receivers))) {
        for (size_t i = 0; i < obj->n; i++) {
            const dcr_json_member *m = &obj->members[i];
            char k[80];
            dcr_error_quote(k, sizeof k, m->key, m->key_len);
            int p = dcr_name_valid(m->key, m->key_len) ? dcr_contract_find_party(x->c, m->key) : -1;
            if (p < 0) {
                diag(x, m->key_offset, "receivers: \"%s\" is not a party of this contract", k);
                continue;
            }
            if (!(x->c->parties[p].roles & DCR_ROLE_ANALYST)) {
                diag(x, m->key_offset, "receivers: \"%s\" does not have the analyst role", k);
                continue;
            }
            dcr_contract_receivers *r = &x->c->receivers[x->c->nreceivers];
            r->analyst = (size_t)p;
            parse_receiver_list(x, m, r);
            if (r->n)
                x->c->nreceivers++;
            else
                free(r->receivers);
        }
    }
    /* Every analyst needs somewhere for results to go. */
    for (size_t p = 0; p < x->c->nparties; p++) {
        const dcr_contract_party *party = &x->c->parties[p];
        if (!(party->roles & DCR_ROLE_ANALYST) || !party->name[0])
            continue;
        const dcr_json_member *m = obj ? dcr_json_member_get(obj, party->name) : NULL;
        if (!m)
            diag(x, obj ? obj->offset : rules->offset,
                 "analyst \"%s\" has no receivers: add \"%s\": [...] to rules.receivers",
                 party->name, party->name);
    }
}

/* ---- rules: release schedule ------------------------------------------ */

#define RELEASE_INTERVAL_MAX_MS 3600000 /* an hour: beyond that, a typo */

static void parse_release_interval(cx *x, const dcr_json *rules)
{
    const dcr_json *v = dcr_json_get(rules, "release_interval_ms");
    int64_t ms = 0;
    if (!v || !get_int(x, rules, "release_interval_ms", &ms))
        return;
    if (ms < 0 || ms > RELEASE_INTERVAL_MAX_MS)
        diag(x, v->offset, "release_interval_ms must be from 0 to %d", RELEASE_INTERVAL_MAX_MS);
    else
        x->c->release_interval_ms = ms;
}

static void parse_rules(cx *x, const dcr_json *root)
{
    static const char *const keys[] = {
        "aggregation", "differential_privacy", "templates", "overlap",
        "receivers",   "release_interval_ms",  NULL};
    static const char *const required[] = {"aggregation", NULL};
    const dcr_json *rules = get_kind(x, root, "rules", DCR_JSON_OBJECT);
    if (!rules)
        return;
    check_keys(x, rules, "rules", keys, required);
    parse_aggregation(x, rules);
    parse_dp(x, rules);
    parse_templates(x, rules);
    parse_overlap(x, rules);
    parse_receivers(x, rules);
    parse_release_interval(x, rules);
}

/* ---- evidence --------------------------------------------------------- */

static const char *const evidence_names[] = {
    "sim", "sev-snp", "tdx", "azure-snp-vtpm", "azure-tdx-vtpm", NULL};

static bool is_snp(dcr_evidence_type t)
{
    return t == DCR_EVIDENCE_SEV_SNP || t == DCR_EVIDENCE_AZURE_SNP_VTPM;
}

static bool hex_value(cx *x, const dcr_json *v, const char *what, uint8_t *out, size_t n)
{
    if (!is_kind(x, v, DCR_JSON_STRING, what))
        return false;
    if (!dcr_hex_decode(out, n, v->str, v->len)) {
        diag(x, v->offset, "%s must be %zu hex digits (%zu bytes), got \"%s\"", what, 2 * n, n,
             q(v).s);
        return false;
    }
    return true;
}

static void parse_measurements(cx *x, const dcr_json *obj, dcr_contract_evidence *e)
{
    const dcr_json *arr = get_array(x, obj, "measurements", 256, e->type == DCR_EVIDENCE_SIM);
    if (!arr || !(e->measurements = alloc_array(x, arr->n, sizeof *e->measurements)))
        return;
    for (size_t i = 0; i < arr->n; i++)
        if (hex_value(x, arr->items[i], "a measurement", e->measurements[e->nmeasurements],
                      DCR_MEASUREMENT_LEN) &&
            !duplicate_in_array(x, arr, i, "measurement"))
            e->nmeasurements++;
}

static void parse_snp_tcb(cx *x, const dcr_json *obj, dcr_contract_evidence *e)
{
    static const char *const keys[] = {"bootloader", "tee", "snp", "microcode", NULL};
    const dcr_json *t = get_kind(x, obj, "min_tcb", DCR_JSON_OBJECT);
    if (!t)
        return;
    check_keys(x, t, "min_tcb", keys, keys);
    uint8_t *fields[] = {&e->snp_tcb.bootloader, &e->snp_tcb.tee, &e->snp_tcb.snp,
                         &e->snp_tcb.microcode};
    bool ok = true;
    for (size_t i = 0; i < 4; i++) {
        int64_t v;
        const dcr_json *jv = dcr_json_get(t, keys[i]);
        if (!jv || !get_int(x, t, keys[i], &v)) {
            ok = false;
        } else if (v < 0 || v > 255) {
            diag(x, jv->offset, "min_tcb.%s must be from 0 to 255", keys[i]);
            ok = false;
        } else {
            *fields[i] = (uint8_t)v;
        }
    }
    e->has_snp_tcb = ok;
}

/* Types whose evidence carries a vTPM quote, so PCRs can be pinned. */
static bool has_vtpm(dcr_evidence_type t)
{
    return t == DCR_EVIDENCE_AZURE_SNP_VTPM || t == DCR_EVIDENCE_AZURE_TDX_VTPM;
}

/* A PCR index key: "0".."23", written without leading zeros so that one
 * PCR has one spelling (the parser already refuses repeated keys). */
static bool pcr_index(const dcr_json_member *m, unsigned *out)
{
    if (m->key_len == 0 || m->key_len > 2 || (m->key_len == 2 && m->key[0] == '0'))
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < m->key_len; i++) {
        if (m->key[i] < '0' || m->key[i] > '9')
            return false;
        v = v * 10 + (unsigned)(m->key[i] - '0');
    }
    *out = v;
    return v < DCR_CONTRACT_PCRS;
}

static void parse_pcrs(cx *x, const dcr_json *obj, dcr_contract_evidence *e)
{
    const dcr_json_member *m = dcr_json_member_get(obj, "pcrs");
    if (!m)
        return;
    if (!has_vtpm(e->type)) {
        diag(x, m->key_offset,
             "pcrs needs evidence with a vTPM quote (azure-snp-vtpm, azure-tdx-vtpm); %s evidence "
             "has no PCRs to pin",
             dcr_evidence_type_name(e->type));
        return;
    }
    const dcr_json *v = m->value;
    if (!is_kind(x, v, DCR_JSON_OBJECT, "pcrs"))
        return;
    if (v->n == 0)
        diag(x, v->offset, "pcrs must not be empty (leave it out to pin no PCR)");
    for (size_t i = 0; i < v->n; i++) {
        const dcr_json_member *p = &v->members[i];
        unsigned idx;
        char what[16];
        if (!pcr_index(p, &idx)) {
            char k[80];
            dcr_error_quote(k, sizeof k, p->key, p->key_len);
            diag(x, p->key_offset, "a PCR index must be 0 to 23 without leading zeros, got \"%s\"",
                 k);
            continue;
        }
        /* The JSON parser refuses repeated keys; this guards the model. */
        if (e->pcr_mask & (1u << idx)) {
            diag(x, p->key_offset, "PCR %u is pinned twice", idx);
            continue;
        }
        snprintf(what, sizeof what, "PCR %u", idx);
        if (hex_value(x, p->value, what, e->pcrs[idx], DCR_SHA256_LEN))
            e->pcr_mask |= 1u << idx;
    }
}

static void parse_evidence_entry(cx *x, const dcr_json *obj, size_t idx, const dcr_json **sim_at)
{
    /* "pcrs" is a known key for every type so that a type without a vTPM
     * gets parse_pcrs's explanation rather than "unknown key". */
    static const char *const sim_keys[] = {"type", "measurements", "pcrs", NULL};
    static const char *const snp_keys[] = {"type",        "measurements", "min_tcb",
                                           "allow_debug", "pcrs",         NULL};
    static const char *const tdx_keys[] = {"type",        "measurements", "min_tcb_svn",
                                           "allow_debug", "pcrs",         NULL};
    static const char *const required_sim[] = {"type", NULL};
    static const char *const required_real[] = {"type", "measurements", NULL};
    if (!is_kind(x, obj, DCR_JSON_OBJECT, "an evidence entry"))
        return;
    dcr_contract_evidence *e = &x->c->evidence[idx];
    const dcr_json *t = get_kind(x, obj, "type", DCR_JSON_STRING);
    int k = t ? lookup(t, evidence_names) : -1;
    if (k < 0) {
        if (t)
            diag(x, t->offset,
                 "unknown evidence type \"%s\" (use sim, sev-snp, tdx, azure-snp-vtpm, "
                 "azure-tdx-vtpm)",
                 q(t).s);
        else if (!dcr_json_get(obj, "type"))
            diag(x, obj->offset, "an evidence entry lacks the required key \"type\"");
        return;
    }
    e->type = (dcr_evidence_type)(k + 1);
    for (size_t j = 0; j < idx; j++)
        if (x->c->evidence[j].type == e->type)
            diag(x, t->offset,
                 "evidence type \"%s\" is listed twice: put every accepted "
                 "measurement in one entry",
                 evidence_names[k]);
    bool sim = e->type == DCR_EVIDENCE_SIM;
    check_keys(x, obj, "an evidence entry",
               sim               ? sim_keys
               : is_snp(e->type) ? snp_keys
                                 : tdx_keys,
               sim ? required_sim : required_real);
    if (sim)
        *sim_at = t;
    parse_measurements(x, obj, e);
    parse_pcrs(x, obj, e);
    if (is_snp(e->type))
        parse_snp_tcb(x, obj, e);
    const dcr_json *svn = dcr_json_get(obj, "min_tcb_svn");
    if (!sim && !is_snp(e->type) && svn)
        e->has_tdx_tcb = hex_value(x, svn, "min_tcb_svn", e->tdx_tcb_svn, DCR_TDX_TCB_SVN_LEN);
    const dcr_json *dbg = sim ? NULL : dcr_json_get(obj, "allow_debug");
    if (dbg && get_bool(x, obj, "allow_debug", &e->allow_debug) && e->allow_debug &&
        !x->c->development)
        diag(x, dbg->offset,
             "allow_debug: true lets the host read the clean room's memory; it is "
             "allowed only with \"development\": true");
}

static void parse_evidence(cx *x, const dcr_json *root)
{
    const dcr_json *arr = get_array(x, root, "evidence", 8, false);
    if (!arr || !(x->c->evidence = alloc_array(x, arr->n, sizeof *x->c->evidence)))
        return;
    x->c->nevidence = arr->n;
    const dcr_json *sim_at = NULL;
    bool real = false;
    for (size_t i = 0; i < arr->n; i++) {
        parse_evidence_entry(x, arr->items[i], i, &sim_at);
        real |= x->c->evidence[i].type && x->c->evidence[i].type != DCR_EVIDENCE_SIM;
    }
    if (sim_at && !x->c->development)
        diag(x, sim_at->offset,
             real ? "sim evidence mixed with real TEE evidence needs \"development\": true (sim "
                    "evidence proves nothing)"
                  : "sim evidence is for development only and needs \"development\": true");
}

/* ---- top level -------------------------------------------------------- */

static bool collab_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > DCR_CONTRACT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static bool text_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
            return false;
    }
    return true;
}

static void parse_header(cx *x, const dcr_json *root)
{
    const dcr_json *v;
    int64_t fmt;
    if ((v = dcr_json_get(root, "dcr_contract")) && get_int(x, root, "dcr_contract", &fmt) &&
        fmt != DCR_CONTRACT_FORMAT)
        diag(x, v->offset, "unsupported contract format %lld (this dcr reads format %d)",
             (long long)fmt, DCR_CONTRACT_FORMAT);
    if ((v = get_kind(x, root, "name", DCR_JSON_STRING))) {
        if (!collab_name_valid(v->str, v->len))
            diag(x, v->offset,
                 "name \"%s\" must be 1-128 characters of A-Z, a-z, 0-9, '.', '_', "
                 "'-'",
                 q(v).s);
        else
            memcpy(x->c->name, v->str, v->len + 1);
    }
    if ((v = dcr_json_get(root, "version")) && get_int(x, root, "version", &x->c->version) &&
        x->c->version < 1)
        diag(x, v->offset, "version must be at least 1");
    if ((v = get_kind(x, root, "purpose", DCR_JSON_STRING))) {
        if (v->len == 0 || v->len > PURPOSE_MAX || !text_ok(v->str, v->len))
            diag(x, v->offset,
                 "purpose must be 1 to 4096 bytes of text without control "
                 "characters other than newline and tab");
        else if (!(x->c->purpose = strdup(v->str)))
            x->oom = true;
    }
}

static void parse_root(cx *x, const dcr_json *root)
{
    static const char *const keys[] = {"dcr_contract", "name",    "version",  "purpose",
                                       "development",  "parties", "datasets", "rules",
                                       "evidence",     NULL};
    static const char *const required[] = {"dcr_contract", "name",     "version",
                                           "purpose",      "parties",  "datasets",
                                           "rules",        "evidence", NULL};
    if (!is_kind(x, root, DCR_JSON_OBJECT, "a contract"))
        return;
    check_keys(x, root, "the contract", keys, required);
    get_bool(x, root, "development", &x->c->development);
    parse_header(x, root);
    parse_parties(x, root);
    parse_datasets(x, root);
    parse_rules(x, root);
    parse_evidence(x, root);
    /* k per dataset: the larger of its own and the rule's. */
    for (size_t i = 0; i < x->c->ndatasets; i++) {
        dcr_contract_dataset *d = &x->c->datasets[i];
        if (!d->has_min_units || d->min_units < x->c->min_units)
            d->min_units = x->c->min_units;
    }
}

/* Line and column of every (sorted) diagnostic in one pass over the text,
 * so a large contract with many problems stays linear. */
static void set_positions(cx *x)
{
    unsigned line = 1, col = 1;
    size_t at = 0;
    for (size_t i = 0; i < x->diags->n; i++) {
        dcr_contract_diag *g = &x->diags->items[i];
        size_t to = g->offset < x->len ? g->offset : x->len;
        for (; at < to; at++) {
            unsigned char ch = (unsigned char)x->text[at];
            if (ch == '\n') {
                line++;
                col = 1;
            } else if ((ch & 0xC0) != 0x80) {
                col++;
            }
        }
        g->line = line;
        g->column = col;
    }
}

static dcr_status finish(cx *x, const char *what, dcr_error *err)
{
    dcr_contract_diags *d = x->diags;
    if (x->oom)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory reading the contract");
    if (d->n == 0)
        return DCR_OK;
    qsort(d->items, d->n, sizeof *d->items, cmp_diag);
    set_positions(x);
    size_t more = d->n - 1 + d->dropped;
    char tail[64] = "";
    if (more)
        snprintf(tail, sizeof tail, " (and %zu more problem%s)", more, more > 1 ? "s" : "");
    return dcr_fail(err, DCR_EINPUT, "%s:%u:%u: %s%s", what, d->items[0].line, d->items[0].column,
                    d->items[0].msg, tail);
}

dcr_status dcr_contract_parse(const char *text, size_t len, const char *what, dcr_contract *out,
                              dcr_contract_diags *diags, dcr_error *err)
{
    memset(out, 0, sizeof *out);
    memset(diags, 0, sizeof *diags);
    cx x = {.text = text, .len = len, .c = out, .diags = diags};
    if (len > DCR_CONTRACT_FILE_MAX) {
        diag(&x, 0, "the contract is larger than the %u bytes allowed", DCR_CONTRACT_FILE_MAX);
        return finish(&x, what, err);
    }
    dcr_status s = dcr_sha256(text, len, out->hash, err);
    if (s != DCR_OK)
        return s;
    dcr_json *root;
    size_t at;
    dcr_error jerr = {0};
    s = dcr_json_parse(text, len, &root, &at, &jerr);
    if (s == DCR_EINTERNAL)
        return dcr_fail(err, s, "%s", jerr.msg);
    if (s != DCR_OK) {
        diag(&x, at, "%s", jerr.msg);
        return finish(&x, what, err);
    }
    parse_root(&x, root);
    dcr_json_free(root);
    return finish(&x, what, err);
}
