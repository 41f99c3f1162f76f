/*
 * run.c: building the operator tree from a plan, the streaming operators
 * (scan, values, filter, project, limit), and running a query to a result.
 *
 * Operators pull: each next() asks its child for a batch and returns one of
 * its own. Streaming operators keep at most one batch; the ones that must
 * see all their input (aggregate, sort, join build) live in their own files.
 * A scan asks its source for one chunk's worth of the needed columns at a
 * time, so a per-chunk worker pool can slot in underneath later.
 */
#include <stdlib.h>
#include <string.h>

#include "base/ordered_pool.h"
#include "exec/internal.h"

static dcr_status oom(dcr_error *err)
{
    return dcr_fail(err, DCR_EINTERNAL, "out of memory");
}

dcr_status dcr_exec_charge(dcr_exec_ctx *ctx, size_t bytes, dcr_error *err)
{
    ctx->mem_used += bytes;
    if (ctx->mem_used <= ctx->mem_limit)
        return DCR_OK;
    return dcr_fail(err, DCR_EINPUT,
                    "the query needs more than its memory limit of %zu MiB; make the query "
                    "smaller, or raise the limit (dcr sql --memory-limit, dcr serve "
                    "--query-memory)",
                    ctx->mem_limit >> 20);
}

void dcr_exec_release(dcr_exec_ctx *ctx, size_t bytes)
{
    ctx->mem_used = bytes > ctx->mem_used ? 0 : ctx->mem_used - bytes;
}

/* ---- scan ---- */

typedef struct {
    void *scan;
    const dcr_exec_source *src;
    dcr_batch chunk; /* what the source produced */
    size_t pos;      /* next row of chunk to emit */
    dcr_batch out;
    bool done;
    uint64_t rows_in; /* rows the source has given so far */
} scan_op;

static dcr_status scan_next(dcr_exec_node *n, dcr_batch **out, dcr_error *err)
{
    scan_op *s = n->state;
    *out = NULL;
    while (!s->done && s->pos >= s->chunk.nrows) {
        dcr_batch_clear(&s->chunk);
        s->pos = 0;
        dcr_status st = s->src->next(s->scan, &s->chunk, &s->done, err);
        if (st != DCR_OK)
            return st;
        s->rows_in += s->chunk.nrows;
    }
    if (s->pos >= s->chunk.nrows)
        return DCR_OK;
    size_t take = s->chunk.nrows - s->pos, max = n->ctx->scan_rows;
    if (s->pos == 0 && (max == 0 || take <= max)) { /* the whole chunk, no copy */
        s->pos = s->chunk.nrows;
        *out = &s->chunk;
        return DCR_OK;
    }
    take = take < max ? take : max;
    dcr_batch_clear(&s->out);
    dcr_status st = dcr_batch_append_rows(&s->out, &s->chunk, NULL, s->pos, take, err);
    s->pos += take;
    *out = &s->out;
    return st;
}

bool dcr_exec_scan_estimate(const dcr_exec_node *n, uint64_t *rows)
{
    while (n->plan->kind == DCR_PLAN_PROJECT) /* a project keeps the row count */
        n = n->child[0];
    const scan_op *s = n->plan->kind == DCR_PLAN_SCAN ? n->state : NULL;
    if (!s || !s->src->progress || s->rows_in == 0)
        return false;
    double part = s->src->progress(s->scan);
    if (!(part > 0 && part <= 1))
        return false;
    *rows = (uint64_t)((double)s->rows_in / part);
    return true;
}

static void scan_destroy(dcr_exec_node *n)
{
    scan_op *s = n->state;
    if (!s)
        return;
    if (s->scan)
        s->src->close(s->scan);
    dcr_batch_free(&s->chunk);
    dcr_batch_free(&s->out);
    free(s);
}

static dcr_status scan_init(dcr_exec_node *n, dcr_error *err)
{
    const dcr_plan *p = n->plan;
    if (p->dataset >= n->ctx->nsources)
        return dcr_fail(err, DCR_EINTERNAL, "no source for dataset %s", p->dataset_name);
    scan_op *s = calloc(1, sizeof *s);
    if (!s)
        return oom(err);
    n->state = s;
    n->next = scan_next;
    n->destroy = scan_destroy;
    s->src = &n->ctx->sources[p->dataset];
    dcr_status st = dcr_batch_init(&s->chunk, p->types, p->ncols, err);
    st = st ? st : dcr_batch_init(&s->out, p->types, p->ncols, err);
    return st ? st
              : s->src->open(s->src->ctx, p->scan_cols, p->ncols, n->ctx->threads, &s->scan, err);
}

/* ---- values: one row, no columns ---- */

static dcr_status values_next(dcr_exec_node *n, dcr_batch **out, dcr_error *err)
{
    (void)err;
    dcr_batch *b = n->state;
    *out = b->nrows ? NULL : b;
    b->nrows = 1;
    return DCR_OK;
}

static void values_destroy(dcr_exec_node *n)
{
    if (n->state)
        dcr_batch_free(n->state);
    free(n->state);
}

static dcr_status values_init(dcr_exec_node *n, dcr_error *err)
{
    dcr_batch *b = calloc(1, sizeof *b);
    if (!b)
        return oom(err);
    n->state = b;
    n->next = values_next;
    n->destroy = values_destroy;
    return dcr_batch_init(b, NULL, 0, err);
}

/* ---- filter ---- */

typedef struct {
    dcr_batch out;
    uint32_t *rows;
    size_t cap;
} filter_op;

static dcr_status filter_next(dcr_exec_node *n, dcr_batch **out, dcr_error *err)
{
    filter_op *f = n->state;
    for (;;) {
        dcr_batch *in;
        dcr_status s = n->child[0]->next(n->child[0], &in, err);
        if (s != DCR_OK || !in) {
            *out = NULL;
            return s;
        }
        dcr_vec v = {0};
        if ((s = dcr_eval(n->ctx, n->plan->pred, in, NULL, &v, err)) != DCR_OK)
            return s;
        if (in->nrows > f->cap) {
            uint32_t *r = realloc(f->rows, in->nrows * sizeof *r);
            if (!r) {
                dcr_vec_free(&v);
                return oom(err);
            }
            f->rows = r;
            f->cap = in->nrows;
        }
        size_t k = 0;
        const uint8_t *t = v.c->values;
        for (size_t i = 0; i < in->nrows; i++)
            if (t[i] && !dcr_column_is_null(v.c, i))
                f->rows[k++] = (uint32_t)i;
        dcr_vec_free(&v);
        if (k == 0)
            continue;
        if (k == in->nrows) {
            *out = in;
            return DCR_OK;
        }
        dcr_batch_clear(&f->out);
        *out = &f->out;
        return dcr_batch_append_rows(&f->out, in, f->rows, 0, k, err);
    }
}

static void filter_destroy(dcr_exec_node *n)
{
    filter_op *f = n->state;
    if (!f)
        return;
    dcr_batch_free(&f->out);
    free(f->rows);
    free(f);
}

static dcr_status filter_init(dcr_exec_node *n, dcr_error *err)
{
    filter_op *f = calloc(1, sizeof *f);
    if (!f)
        return oom(err);
    n->state = f;
    n->next = filter_next;
    n->destroy = filter_destroy;
    const dcr_plan *c = n->plan->child[0];
    return dcr_batch_init(&f->out, c->types, c->ncols, err);
}

/* ---- project ---- */

/* A project moves a column that it passes through unchanged out of its
 * input instead of copying it: every operator rebuilds its output batch on
 * each next(), so the input's arrays are the project's to take (its old
 * arrays go back in their place). A column read twice is copied. */
typedef struct {
    dcr_batch out;
    uint32_t *reads; /* per input column: how many of the computed exprs read it */
    bool counted;
} project_op;

static bool project_needs(const dcr_exec_node *n, size_t i)
{
    return !n->need || n->need[i];
}

static void count_reads(const dcr_expr *e, uint32_t *reads, size_t ncols)
{
    if (e->kind == DCR_EXPR_COLUMN && e->col < ncols)
        reads[e->col]++;
    for (size_t i = 0; i < e->nargs; i++)
        count_reads(e->args[i], reads, ncols);
}

static dcr_status project_column(dcr_exec_node *n, project_op *p, size_t i, dcr_batch *in,
                                 dcr_error *err)
{
    dcr_column *dst = &p->out.cols[i];
    if (!project_needs(n, i)) {
        dcr_column_clear(dst);
        return dcr_vec_append_nulls(dst, in->nrows, err);
    }
    const dcr_expr *e = n->plan->exprs[i];
    if (e->kind == DCR_EXPR_COLUMN && e->col < in->ncols && p->reads[e->col] == 1) {
        dcr_column t = *dst;
        *dst = in->cols[e->col];
        in->cols[e->col] = t;
        return DCR_OK;
    }
    dcr_vec v = {0};
    dcr_status s = dcr_eval(n->ctx, e, in, NULL, &v, err);
    if (s == DCR_OK && v.c == &v.own) { /* take the computed vector over */
        dcr_column_free(dst);
        *dst = v.own;
        dcr_column_init(&v.own, v.own.type);
    } else if (s == DCR_OK) {
        s = dcr_vec_copy(dst, v.c, err);
    }
    dcr_vec_free(&v);
    return s;
}

static dcr_status project_next(dcr_exec_node *n, dcr_batch **out, dcr_error *err)
{
    project_op *p = n->state;
    dcr_batch *in;
    *out = NULL;
    dcr_status s = n->child[0]->next(n->child[0], &in, err);
    if (s != DCR_OK || !in)
        return s;
    if (!p->counted) { /* every batch of the child has the same columns */
        if (!(p->reads = calloc(in->ncols ? in->ncols : 1, sizeof *p->reads)))
            return oom(err);
        for (size_t i = 0; i < p->out.ncols; i++)
            if (project_needs(n, i))
                count_reads(n->plan->exprs[i], p->reads, in->ncols);
        p->counted = true;
    }
    for (size_t i = 0; s == DCR_OK && i < p->out.ncols; i++)
        s = project_column(n, p, i, in, err);
    if (s != DCR_OK)
        return s;
    p->out.nrows = in->nrows;
    *out = &p->out;
    return DCR_OK;
}

static void project_destroy(dcr_exec_node *n)
{
    project_op *p = n->state;
    if (!p)
        return;
    dcr_batch_free(&p->out);
    free(p->reads);
    free(p);
}

static dcr_status project_init(dcr_exec_node *n, dcr_error *err)
{
    project_op *p = calloc(1, sizeof *p);
    if (!p)
        return oom(err);
    n->state = p;
    n->next = project_next;
    n->destroy = project_destroy;
    return dcr_batch_init(&p->out, n->plan->types, n->plan->ncols, err);
}

/* ---- limit ---- */

typedef struct {
    uint64_t skipped, emitted;
    dcr_batch out;
} limit_op;

static dcr_status limit_next(dcr_exec_node *n, dcr_batch **out, dcr_error *err)
{
    limit_op *l = n->state;
    const dcr_plan *p = n->plan;
    *out = NULL;
    while (p->limit < 0 || l->emitted < (uint64_t)p->limit) {
        dcr_batch *in;
        dcr_status s = n->child[0]->next(n->child[0], &in, err);
        if (s != DCR_OK || !in)
            return s;
        size_t first = 0;
        if (l->skipped < (uint64_t)p->offset) {
            uint64_t skip = (uint64_t)p->offset - l->skipped;
            first = skip < in->nrows ? (size_t)skip : in->nrows;
            l->skipped += first;
        }
        size_t take = in->nrows - first;
        if (p->limit >= 0 && take > (uint64_t)p->limit - l->emitted)
            take = (size_t)((uint64_t)p->limit - l->emitted);
        if (take == 0)
            continue;
        l->emitted += take;
        if (first == 0 && take == in->nrows) {
            *out = in;
            return DCR_OK;
        }
        dcr_batch_clear(&l->out);
        *out = &l->out;
        return dcr_batch_append_rows(&l->out, in, NULL, first, take, err);
    }
    return DCR_OK;
}

static void limit_destroy(dcr_exec_node *n)
{
    limit_op *l = n->state;
    if (l)
        dcr_batch_free(&l->out);
    free(l);
}

static dcr_status limit_init(dcr_exec_node *n, dcr_error *err)
{
    limit_op *l = calloc(1, sizeof *l);
    if (!l)
        return oom(err);
    n->state = l;
    n->next = limit_next;
    n->destroy = limit_destroy;
    return dcr_batch_init(&l->out, n->plan->types, n->plan->ncols, err);
}

/* ---- the tree ---- */

void dcr_exec_node_free(dcr_exec_node *n)
{
    if (!n)
        return;
    if (n->destroy)
        n->destroy(n);
    free(n->need);
    dcr_exec_node_free(n->child[0]);
    dcr_exec_node_free(n->child[1]);
    free(n);
}

/* ---- union all: child 0's batches, then child 1's ---- */

static dcr_status union_next(dcr_exec_node *n, dcr_batch **out, dcr_error *err)
{
    int *cur = n->state;
    *out = NULL;
    while (*cur < 2) {
        dcr_status s = n->child[*cur]->next(n->child[*cur], out, err);
        if (s != DCR_OK || *out)
            return s;
        (*cur)++;
    }
    return DCR_OK;
}

static void union_destroy(dcr_exec_node *n)
{
    free(n->state);
}

static dcr_status union_init(dcr_exec_node *n, dcr_error *err)
{
    if (!(n->state = calloc(1, sizeof(int))))
        return oom(err);
    n->next = union_next;
    n->destroy = union_destroy;
    return DCR_OK;
}

dcr_status dcr_exec_build(dcr_exec_ctx *ctx, const dcr_plan *plan, dcr_exec_node **out,
                          dcr_error *err)
{
    dcr_exec_node *n = calloc(1, sizeof *n);
    if (!n)
        return oom(err);
    n->plan = plan;
    n->ctx = ctx;
    dcr_status s = DCR_OK;
    for (int c = 0; s == DCR_OK && c < 2; c++)
        if (plan->child[c])
            s = dcr_exec_build(ctx, plan->child[c], &n->child[c], err);
    if (s == DCR_OK) {
        switch (plan->kind) {
        case DCR_PLAN_SCAN:
            s = scan_init(n, err);
            break;
        case DCR_PLAN_VALUES:
            s = values_init(n, err);
            break;
        case DCR_PLAN_FILTER:
            s = filter_init(n, err);
            break;
        case DCR_PLAN_PROJECT:
            s = project_init(n, err);
            break;
        case DCR_PLAN_LIMIT:
            s = limit_init(n, err);
            break;
        case DCR_PLAN_AGGREGATE:
            s = dcr_exec_aggregate_init(n, err);
            break;
        case DCR_PLAN_SORT:
            s = dcr_exec_sort_init(n, err);
            break;
        case DCR_PLAN_JOIN:
            s = dcr_exec_join_init(n, err);
            break;
        case DCR_PLAN_UNION_ALL:
            s = union_init(n, err);
            break;
        case DCR_PLAN_BOUND:
            s = dcr_exec_bound_init(n, err);
            break;
        }
    }
    if (s != DCR_OK) {
        dcr_exec_node_free(n);
        return s;
    }
    *out = n;
    return DCR_OK;
}

/* ---- pruning: which columns each operator's parent reads ---- */

/* Marks in need[] (ncols long) every input column that e reads. */
static void mark_columns(const dcr_expr *e, bool *need, size_t ncols)
{
    if (!e)
        return;
    if (e->kind == DCR_EXPR_COLUMN && e->col < ncols)
        need[e->col] = true;
    for (size_t i = 0; i < e->nargs; i++)
        mark_columns(e->args[i], need, ncols);
}

static bool honours_need(const dcr_exec_node *n)
{
    dcr_plan_kind k = n->plan->kind;
    return k == DCR_PLAN_PROJECT || k == DCR_PLAN_AGGREGATE || k == DCR_PLAN_JOIN;
}

/* A join only copies rows of its inputs' columns out (gather, or into its
 * build table), except those its keys read: a scan right under it may hand
 * out its other TEXT columns deferred (store/column.h), and the join then
 * expands just the rows that match, not every row of every chunk (the
 * attribution query's campaign names: 10 million rows, 1.4 million joined). */
static dcr_status defer_join_inputs(dcr_exec_node *n, dcr_error *err)
{
    const dcr_plan *p = n->plan;
    for (int side = 0; side < 2; side++) {
        dcr_exec_node *c = n->child[side];
        if (!c || c->plan->kind != DCR_PLAN_SCAN || !c->state)
            continue;
        scan_op *s = c->state;
        if (!s->src->defer)
            continue;
        size_t nc = c->plan->ncols;
        bool *keyed = calloc(nc ? nc : 1, sizeof *keyed);
        if (!keyed)
            return oom(err);
        for (size_t k = 0; k < p->nkeys; k++)
            mark_columns(side == 0 ? p->left_keys[k] : p->right_keys[k], keyed, nc);
        for (size_t i = 0; i < nc; i++)
            if (!keyed[i] && c->plan->types[i] == DCR_TYPE_TEXT)
                s->src->defer(s->scan, i);
        free(keyed);
    }
    return DCR_OK;
}

/* Top down: a project or an aggregate tells the project, aggregate or join
 * under it which of that one's output columns it reads, given what it must
 * produce itself (its own need), so a chain such as frequency's
 * `SELECT n ... FROM (SELECT email, count(*) AS n ... GROUP BY email)`
 * never copies the e-mails out of the inner aggregate. A join's ON
 * condition reads the join's own output. Every other operator may copy
 * whole batches (sort, filter, a join's build), so under it nothing is
 * pruned. On the way, each join lets its scans defer what it only copies
 * (defer_join_inputs). */
static dcr_status prune(dcr_exec_node *n, dcr_error *err)
{
    const dcr_plan *p = n->plan;
    if (p->kind == DCR_PLAN_JOIN) {
        dcr_status s = defer_join_inputs(n, err);
        if (s != DCR_OK)
            return s;
    }
    dcr_exec_node *c = n->child[0];
    if ((p->kind == DCR_PLAN_PROJECT || p->kind == DCR_PLAN_AGGREGATE) && c && honours_need(c)) {
        size_t nc = c->plan->ncols;
        if (!(c->need = calloc(nc ? nc : 1, sizeof *c->need)))
            return oom(err);
        /* An aggregate evaluates all its expressions, whatever it emits. */
        size_t ne = p->kind == DCR_PLAN_PROJECT ? p->ncols : p->ngroups + p->naggs;
        for (size_t i = 0; i < ne; i++)
            if (p->kind == DCR_PLAN_AGGREGATE || !n->need || n->need[i])
                mark_columns(p->exprs[i], c->need, nc);
        if (c->plan->kind == DCR_PLAN_JOIN)
            mark_columns(c->plan->pred, c->need, nc);
    }
    for (int i = 0; i < 2; i++) {
        dcr_status s = n->child[i] ? prune(n->child[i], err) : DCR_OK;
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

/* ---- running ---- */

void dcr_result_free(dcr_result *r)
{
    for (size_t i = 0; r->names && i < r->ncols; i++)
        free(r->names[i]);
    free(r->names);
    free(r->types);
    for (size_t i = 0; r->batches && i < r->nbatches; i++)
        dcr_batch_free(&r->batches[i]);
    free(r->batches);
    memset(r, 0, sizeof *r);
}

static dcr_status result_init(dcr_result *r, const dcr_plan *p, dcr_error *err)
{
    memset(r, 0, sizeof *r);
    r->types = calloc(p->ncols ? p->ncols : 1, sizeof *r->types);
    r->names = calloc(p->ncols ? p->ncols : 1, sizeof *r->names);
    if (!r->types || !r->names)
        return oom(err);
    r->ncols = p->ncols;
    for (size_t i = 0; i < p->ncols; i++) {
        r->types[i] = p->types[i];
        if (!(r->names[i] = strdup(p->names[i] ? p->names[i] : "?column?")))
            return oom(err);
    }
    return DCR_OK;
}

static dcr_status result_add(dcr_exec_ctx *ctx, dcr_result *r, const dcr_batch *b, dcr_error *err)
{
    dcr_batch *bs = realloc(r->batches, (r->nbatches + 1) * sizeof *bs);
    if (!bs)
        return oom(err);
    r->batches = bs;
    dcr_status s = dcr_batch_init(&bs[r->nbatches], r->types, r->ncols, err);
    if (s != DCR_OK)
        return s;
    r->nbatches++;
    s = dcr_batch_append_rows(&bs[r->nbatches - 1], b, NULL, 0, b->nrows, err);
    r->nrows += b->nrows;
    return s ? s : dcr_exec_charge(ctx, dcr_batch_bytes(&bs[r->nbatches - 1]), err);
}

dcr_status dcr_exec_run(const dcr_plan *plan, const dcr_exec_source *sources, size_t nsources,
                        const dcr_exec_opts *opts, dcr_result *out, int *err_location,
                        dcr_error *err)
{
    dcr_exec_ctx ctx = {
        .mem_limit = opts && opts->mem_limit ? opts->mem_limit : DCR_EXEC_MEM_DEFAULT,
        .batch_rows = opts && opts->batch_rows ? opts->batch_rows : DCR_BATCH_ROWS,
        .scan_rows = opts ? opts->batch_rows : 0,
        .threads = opts && opts->threads ? opts->threads : dcr_pool_default_workers(),
        .split_rows = opts && opts->split_rows ? opts->split_rows : 8192,
        .total = opts && opts->total,
        .err_location = -1,
        .sources = sources,
        .nsources = nsources,
    };
    dcr_exec_node *root = NULL;
    dcr_status s = result_init(out, plan, err);
    s = s ? s : dcr_exec_build(&ctx, plan, &root, err);
    s = s ? s : prune(root, err);
    while (s == DCR_OK) {
        dcr_batch *b;
        if ((s = root->next(root, &b, err)) != DCR_OK || !b)
            break;
        if (b->nrows)
            s = result_add(&ctx, out, b, err);
    }
    dcr_exec_node_free(root);
    dcr_exec_workers_stop(&ctx);
    if (err_location)
        *err_location = s == DCR_OK ? -1 : ctx.err_location;
    if (s != DCR_OK)
        dcr_result_free(out);
    return s;
}
