/*
 * internal.h: what the executor's files share: the per-query context
 * (memory accounting, error position), the operator node interface,
 * vectorised expression evaluation and the hash table of keys.
 */
#ifndef DCR_EXEC_INTERNAL_H
#define DCR_EXEC_INTERNAL_H

#include "exec/exec.h"

/* Declares a helper that only issues prefetches. Always inlined: GCC finds
 * a function whose only effect is a prefetch "pure", and a pure call whose
 * result is unused is dead code, so a call left out of line is deleted
 * with its prefetches (GCC 12 did so to the join's probe, which then ran
 * without them). */
#define DCR_PREFETCHER static inline __attribute__((always_inline)) void

typedef struct dcr_exec_workers dcr_exec_workers;

typedef struct {
    size_t mem_limit, mem_used;
    size_t batch_rows;         /* rows per batch an operator makes */
    size_t scan_rows;          /* rows per batch a scan emits; 0 = each chunk whole, uncopied */
    size_t threads;            /* threads a scan or an operator may use, >= 1 */
    size_t split_rows;         /* smallest batch an operator splits across threads */
    dcr_exec_workers *workers; /* parallel.c; started on first use */
    int err_location;          /* SQL offset of the expression that failed, or -1 */
    bool total;                /* dcr_exec_opts.total: row-level failures give NULL */
    const dcr_exec_source *sources;
    size_t nsources;
} dcr_exec_ctx;

/* Takes bytes from the memory budget, or fails saying the limit is hit. */
dcr_status dcr_exec_charge(dcr_exec_ctx *ctx, size_t bytes, dcr_error *err);
void dcr_exec_release(dcr_exec_ctx *ctx, size_t bytes);

/* One part of a parallel step: part is in [0, nparts). It may run on any
 * thread, at the same time as the other parts, so it writes only what its
 * part owns and never calls dcr_exec_charge (the caller charges after the
 * step). */
typedef dcr_status (*dcr_exec_part_fn)(void *arg, size_t part, dcr_error *err);
/* Runs fn for every part on the query's worker threads and the calling
 * thread; returns when all are done, with the first failure (parallel.c). */
dcr_status dcr_exec_parallel(dcr_exec_ctx *ctx, size_t nparts, dcr_exec_part_fn fn, void *arg,
                             dcr_error *err);
/* Stops the worker threads (at the end of the query). */
void dcr_exec_workers_stop(dcr_exec_ctx *ctx);
/* How many parts to split rows into: up to 4 per thread (64 at most), each
 * of at least ctx->split_rows rows. */
size_t dcr_exec_parts(const dcr_exec_ctx *ctx, size_t rows);

/* An operator. next() sets *out to a batch it owns (valid until the next
 * call) or to NULL at the end. */
typedef struct dcr_exec_node dcr_exec_node;
struct dcr_exec_node {
    const dcr_plan *plan;
    dcr_exec_ctx *ctx;
    dcr_exec_node *child[2];
    dcr_status (*next)(dcr_exec_node *n, dcr_batch **out, dcr_error *err);
    void (*destroy)(dcr_exec_node *n); /* frees the state, not the node or children */
    void *state;
    /* Per output column: whether the operator above reads it (NULL = all;
     * owned). Set before the first next() on projects, aggregates and
     * joins only; they emit the other columns as NULLs, uncomputed. */
    bool *need;
};

/* Builds the operator tree for plan (run.c). */
dcr_status dcr_exec_build(dcr_exec_ctx *ctx, const dcr_plan *plan, dcr_exec_node **out,
                          dcr_error *err);
void dcr_exec_node_free(dcr_exec_node *n);

/* Operator constructors (one file each); they fill n->next/destroy/state. */
dcr_status dcr_exec_aggregate_init(dcr_exec_node *n, dcr_error *err);
dcr_status dcr_exec_sort_init(dcr_exec_node *n, dcr_error *err);
dcr_status dcr_exec_join_init(dcr_exec_node *n, dcr_error *err);
dcr_status dcr_exec_bound_init(dcr_exec_node *n, dcr_error *err);
/* For a scan (under any projects): a guess at the rows its input has in
 * all, from the rows read so far and the part of the input they came from;
 * false when it cannot tell. Only a guess (a sealed file's chunks may hold
 * rows of different sizes): good for choosing, never for a bound. */
bool dcr_exec_scan_estimate(const dcr_exec_node *n, uint64_t *rows);

/* A vector produced by evaluation: either a column of the input batch
 * (borrowed) or one the evaluator made (own). */
typedef struct {
    const dcr_column *c;
    dcr_column own;
} dcr_vec;

void dcr_vec_free(dcr_vec *v);

/* Evaluates e over the rows of in. active (NULL = all) selects rows to
 * compute; the others come out NULL and raise no errors, which is how CASE,
 * COALESCE, AND and OR avoid evaluating what SQL says they skip. */
dcr_status dcr_eval(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_batch *in,
                    const uint8_t *active, dcr_vec *out, dcr_error *err);

/* Scalar functions (DCR_EXPR_FUNC) over argument vectors a[0..e->nargs):
 * out is an initialised, empty column of e->type that receives n rows; a
 * row is NULL when it is not active or an argument is NULL. like.c,
 * func_text.c, func_math.c, func_date.c. */
typedef dcr_status (*dcr_func_eval)(dcr_exec_ctx *ctx, const dcr_expr *e,
                                    const dcr_column *const *a, const uint8_t *active, size_t n,
                                    dcr_column *out, dcr_error *err);
dcr_status dcr_fn_like(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *const *a,
                       const uint8_t *active, size_t n, dcr_column *out, dcr_error *err);
dcr_status dcr_fn_text(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *const *a,
                       const uint8_t *active, size_t n, dcr_column *out, dcr_error *err);
dcr_status dcr_fn_math(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *const *a,
                       const uint8_t *active, size_t n, dcr_column *out, dcr_error *err);
dcr_status dcr_fn_date(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *const *a,
                       const uint8_t *active, size_t n, dcr_column *out, dcr_error *err);

/* Whether row i of a function call is computed (active, no NULL argument). */
static inline bool dcr_fn_row_on(const dcr_expr *e, const dcr_column *const *a,
                                 const uint8_t *active, size_t i)
{
    if (active && !active[i])
        return false;
    for (size_t k = 0; k < e->nargs; k++)
        if (dcr_column_is_null(a[k], i))
            return false;
    return true;
}

/* Date, timestamp and interval arithmetic (arith_time.c): whether an
 * ARITH node has such operands, and its evaluation into out (allocated
 * with e->type and the batch's rows); unary minus on an INTERVAL. */
bool dcr_arith_is_time(const dcr_expr *e);
dcr_status dcr_eval_arith_time(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *a,
                               const dcr_column *b, const uint8_t *active, dcr_column *out,
                               dcr_error *err);
dcr_status dcr_eval_neg_interval(dcr_exec_ctx *ctx, const dcr_expr *e, const dcr_column *a,
                                 const uint8_t *active, dcr_column *out, dcr_error *err);

/* The one seam for a row whose value cannot be computed (overflow, out of
 * range, invalid input): returns true when the query must stop, with err
 * set (DCR_EINPUT, msg) and the error recorded at e's position, as
 * PostgreSQL raises it; under total evaluation returns false and the caller
 * makes that row's value NULL and goes on, so that no row's value can
 * decide whether a guarded query fails. Call sites read
 *     if (dcr_eval_row_fail(ctx, e, err, msg)) return DCR_EINPUT;
 *     <row = NULL>; continue; */
bool dcr_eval_row_fail(dcr_exec_ctx *ctx, const dcr_expr *e, dcr_error *err, const char *msg)
    __attribute__((warn_unused_result));

/* Open-addressing hash table of distinct composite keys; entry i's key is
 * row i of keys[0..nkeys), but for a one-TEXT-key table's short keys, held
 * in their records (keytab.c): read keys with dcr_keytab_push_key or
 * dcr_keytab_key_text. NULL keys are equal to each other. */
typedef struct {
    size_t nkeys;
    dcr_column *keys;
    uint64_t *hashes;
    bool inline_text;  /* one TEXT key: entries keep records (keytab.c) */
    bool one_i64;      /* one BIGINT or TIMESTAMP key: compared as int64_t in place */
    uint8_t *inl;      /* per entry, its key's record (keyrec.h), when inline_text */
    size_t n, hcap;    /* entries; entries inl (and hashes) can hold */
    size_t hashes_cap; /* what hashes holds: above hcap when growing inl failed */
    uint64_t *slots;   /* high 32 bits of the hash | entry + 1; 0 = empty */
    size_t nslots;     /* power of two */
} dcr_keytab;

dcr_status dcr_keytab_init(dcr_keytab *t, const dcr_type *types, size_t nkeys, dcr_error *err);
void dcr_keytab_free(dcr_keytab *t);
size_t dcr_keytab_bytes(const dcr_keytab *t);
uint64_t dcr_keytab_hash(const dcr_column *const *cols, size_t nkeys, size_t row);
/* dcr_keytab_hash of rows [from, to) into out[0..to - from). */
void dcr_keytab_hash_rows(const dcr_column *const *cols, size_t nkeys, size_t from, size_t to,
                          uint64_t *out);
/* Finds the key cols[*][row]; inserts it when missing. */
dcr_status dcr_keytab_upsert(dcr_keytab *t, const dcr_column *const *cols, size_t row, uint64_t h,
                             size_t *id, bool *inserted, dcr_error *err);
/* Upserts the keys of rows [0, n): ids[i] receives row i's entry, fresh[i]
 * (when fresh is not NULL) whether it was inserted. hashes is scratch for n
 * values. Looks ahead, so the cache misses of consecutive rows overlap. */
dcr_status dcr_keytab_upsert_batch(dcr_keytab *t, const dcr_column *const *cols, size_t n,
                                   uint64_t *hashes, uint32_t *ids, uint8_t *fresh, dcr_error *err);
/* The same for rows[0..m) (NULL = rows 0..m-1) whose hashes are given:
 * hashes, ids and fresh are indexed by row; new_rows (when not NULL)
 * receives, per entry this call inserted, in order, its row. */
dcr_status dcr_keytab_upsert_rows(dcr_keytab *t, const dcr_column *const *cols,
                                  const uint32_t *rows, size_t m, const uint64_t *hashes,
                                  uint32_t *ids, uint8_t *fresh, uint32_t *new_rows,
                                  dcr_error *err);
/* A set of 64-bit keys (u64set.c). */
typedef struct {
    uint64_t *slots; /* 0 = empty */
    size_t nslots, n;
    bool has_zero;
} dcr_u64set;

void dcr_u64set_init(dcr_u64set *s);
void dcr_u64set_free(dcr_u64set *s);
size_t dcr_u64set_bytes(const dcr_u64set *s);
uint64_t dcr_u64set_hash(uint64_t key);
/* Inserts keys[rows[j]] for j in [0, m), in order; fresh[rows[j]] says
 * whether that key was new. hashes[r] must be dcr_u64set_hash(keys[r]). */
dcr_status dcr_u64set_insert_rows(dcr_u64set *s, const uint64_t *keys, const uint64_t *hashes,
                                  const uint32_t *rows, size_t m, uint8_t *fresh, dcr_error *err);

/* Appends part k of entry id's key to out. (Read keys only this way: a
 * one-TEXT-key table keeps short keys in their records, not in keys[0].) */
/* A one-TEXT-key table's key of entry id: its bytes (*len of them), or
 * NULL for the NULL key. */
const char *dcr_keytab_key_text(const dcr_keytab *t, size_t id, size_t *len);
dcr_status dcr_keytab_push_key(const dcr_keytab *t, size_t k, size_t id, dcr_column *out,
                               dcr_error *err);
/* Finds the key; false when absent. */
bool dcr_keytab_find(const dcr_keytab *t, const dcr_column *const *cols, size_t row, uint64_t h,
                     size_t *id);

#endif
