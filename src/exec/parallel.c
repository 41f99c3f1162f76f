/*
 * parallel.c: the query's worker threads and the one primitive operators
 * use them through, "run these N parts" (dcr_exec_parallel, internal.h).
 *
 * The threads (ctx->threads - 1 of them; the calling thread is the last
 * worker) start on the first parallel call and live until the query ends
 * (dcr_exec_workers_stop, from dcr_exec_run), so a join probe or an
 * aggregation step costs two condition-variable hand-offs per batch, not a
 * pthread_create. Parts are taken from a shared counter, so a slow part does
 * not hold up the others' threads. The caller waits only for the workers
 * that joined the call: one that wakes after the caller has run the last
 * part stays out, so a worker the scheduler is slow to wake (the scan's
 * threads share the cores) costs nothing, where the caller used to wait
 * for every worker to check in. A call made while another is running
 * (from inside a part) runs its parts on the calling thread; operators pull
 * from each other on the query's thread, so that does not happen today, but
 * it cannot deadlock if it does.
 *
 * If a thread cannot be started, the query runs with the ones that did
 * (down to the calling thread alone): fewer threads, same results.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "exec/internal.h"

struct dcr_exec_workers {
    pthread_mutex_t mu;
    pthread_cond_t go_cv, done_cv;
    pthread_t *tids;
    size_t nthreads;
    uint64_t gen;  /* bumped per call; workers run a call once */
    size_t active; /* workers that joined the current call and are still in it */
    bool closed;   /* the caller is done with its parts: late workers stay out */
    bool stop;
    atomic_bool busy; /* a call is in progress */
    /* the current call */
    dcr_exec_part_fn fn;
    void *arg;
    size_t nparts;
    atomic_size_t next; /* next part to take */
    atomic_bool failed;
    dcr_status status; /* first failure, under mu */
    dcr_error err;
};

/* Takes parts until none is left; records the first failure. */
static void run_parts(dcr_exec_workers *w)
{
    for (;;) {
        size_t part = atomic_fetch_add(&w->next, 1);
        if (part >= w->nparts || atomic_load(&w->failed))
            return;
        dcr_error e = {0};
        dcr_status s = w->fn(w->arg, part, &e);
        if (s != DCR_OK) {
            pthread_mutex_lock(&w->mu);
            if (!atomic_load(&w->failed)) {
                w->status = s;
                w->err = e;
                atomic_store(&w->failed, true);
            }
            pthread_mutex_unlock(&w->mu);
        }
    }
}

static void *worker_main(void *arg)
{
    dcr_exec_workers *w = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->gen == seen && !w->stop)
            pthread_cond_wait(&w->go_cv, &w->mu);
        if (w->stop)
            break;
        seen = w->gen;
        if (w->closed) /* woke after the caller finished: every part is taken */
            continue;
        w->active++;
        pthread_mutex_unlock(&w->mu);
        run_parts(w);
        pthread_mutex_lock(&w->mu);
        if (--w->active == 0)
            pthread_cond_signal(&w->done_cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static dcr_status start(dcr_exec_ctx *ctx, dcr_error *err)
{
    dcr_exec_workers *w = calloc(1, sizeof *w);
    size_t want = ctx->threads > 1 ? ctx->threads - 1 : 0;
    if (!w || !(w->tids = calloc(want ? want : 1, sizeof *w->tids))) {
        free(w);
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->go_cv, NULL);
    pthread_cond_init(&w->done_cv, NULL);
    atomic_init(&w->busy, false);
    atomic_init(&w->next, 0);
    atomic_init(&w->failed, false);
    for (size_t i = 0; i < want; i++) {
        if (pthread_create(&w->tids[w->nthreads], NULL, worker_main, w) != 0)
            break; /* run with the threads we have */
        w->nthreads++;
    }
    ctx->workers = w;
    return DCR_OK;
}

void dcr_exec_workers_stop(dcr_exec_ctx *ctx)
{
    dcr_exec_workers *w = ctx->workers;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->go_cv);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < w->nthreads; i++)
        pthread_join(w->tids[i], NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->go_cv);
    pthread_cond_destroy(&w->done_cv);
    free(w->tids);
    free(w);
    ctx->workers = NULL;
}

static dcr_status run_inline(dcr_exec_part_fn fn, void *arg, size_t nparts, dcr_error *err)
{
    for (size_t i = 0; i < nparts; i++) {
        dcr_status s = fn(arg, i, err);
        if (s != DCR_OK)
            return s;
    }
    return DCR_OK;
}

dcr_status dcr_exec_parallel(dcr_exec_ctx *ctx, size_t nparts, dcr_exec_part_fn fn, void *arg,
                             dcr_error *err)
{
    if (nparts <= 1 || ctx->threads <= 1)
        return run_inline(fn, arg, nparts, err);
    if (!ctx->workers) {
        dcr_status s = start(ctx, err);
        if (s != DCR_OK)
            return s;
    }
    dcr_exec_workers *w = ctx->workers;
    bool idle = false;
    if (w->nthreads == 0 || !atomic_compare_exchange_strong(&w->busy, &idle, true))
        return run_inline(fn, arg, nparts, err);
    pthread_mutex_lock(&w->mu);
    w->fn = fn;
    w->arg = arg;
    w->nparts = nparts;
    atomic_store(&w->next, 0);
    atomic_store(&w->failed, false);
    w->status = DCR_OK;
    w->active = 0;
    w->closed = false;
    w->gen++;
    pthread_cond_broadcast(&w->go_cv);
    pthread_mutex_unlock(&w->mu);
    run_parts(w);
    pthread_mutex_lock(&w->mu);
    w->closed = true; /* wait only for workers already in: one still waking stays out */
    while (w->active > 0)
        pthread_cond_wait(&w->done_cv, &w->mu);
    dcr_status s = w->status;
    if (s != DCR_OK && err)
        *err = w->err;
    pthread_mutex_unlock(&w->mu);
    atomic_store(&w->busy, false);
    return s;
}

/* Four parts per thread: a worker that wakes late (the scan's decoding
 * threads share the cores) still finds parts left to take, instead of the
 * calling thread running them all (seen on the bench's count_sum probe:
 * the query thread ran ~85% of the probe with one part per thread). */
size_t dcr_exec_parts(const dcr_exec_ctx *ctx, size_t rows)
{
    enum { MAX_PARTS = 64, PER_THREAD = 4 };
    size_t parts = ctx->threads < MAX_PARTS / PER_THREAD ? ctx->threads * PER_THREAD : MAX_PARTS;
    size_t min = ctx->split_rows ? ctx->split_rows : 1;
    while (parts > 1 && rows / parts < min)
        parts--;
    return parts ? parts : 1;
}
