/*
 * ordered_pool.c: one mutex and two condition variables around a ring of
 * task slots. Sequence numbers only grow: slot = seq % ring. A slot is
 * between `head` (oldest unreleased) and `tail` (next to submit); workers
 * take slots in order from `next_take`.
 */
#include "base/ordered_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    bool done;
    dcr_status status;
    dcr_error err;
} slot_state;

typedef struct {
    dcr_ordered_pool *pool;
    void *ctx;
} worker_arg;

struct dcr_ordered_pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    char *tasks;
    size_t ring, task_size;
    slot_state *state;
    uint64_t head, tail, next_take;
    bool stop;
    dcr_pool_work_fn work;
    pthread_t *threads;
    worker_arg *args;
    size_t nthreads;
};

static void *slot_task(dcr_ordered_pool *p, uint64_t seq)
{
    return p->tasks + (seq % p->ring) * p->task_size;
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    dcr_ordered_pool *p = wa->pool;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->next_take == p->tail && !p->stop)
            pthread_cond_wait(&p->work_cv, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        uint64_t seq = p->next_take++;
        pthread_mutex_unlock(&p->mu);

        slot_state *st = &p->state[seq % p->ring];
        st->status = p->work(wa->ctx, slot_task(p, seq), &st->err);

        pthread_mutex_lock(&p->mu);
        st->done = true;
        pthread_cond_broadcast(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
}

dcr_status dcr_pool_start(dcr_ordered_pool **pool, size_t nworkers, void **worker_ctx, void *tasks,
                          size_t ring, size_t task_size, dcr_pool_work_fn work, dcr_error *err)
{
    *pool = NULL;
    dcr_ordered_pool *p = calloc(1, sizeof *p);
    if (!p)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    p->tasks = tasks;
    p->ring = ring;
    p->task_size = task_size;
    p->work = work;
    p->state = calloc(ring, sizeof *p->state);
    p->threads = calloc(nworkers, sizeof *p->threads);
    p->args = calloc(nworkers, sizeof *p->args);
    if (!p->state || !p->threads || !p->args || ring == 0 || nworkers == 0) {
        dcr_pool_stop(p);
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    }
    for (size_t i = 0; i < nworkers; i++) {
        p->args[i] = (worker_arg){p, worker_ctx[i]};
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]) != 0) {
            dcr_pool_stop(p);
            return dcr_fail(err, DCR_EINTERNAL, "cannot start a worker thread");
        }
        p->nthreads++;
    }
    *pool = p;
    return DCR_OK;
}

void *dcr_pool_free_slot(dcr_ordered_pool *p)
{
    return p->tail - p->head == p->ring ? NULL : slot_task(p, p->tail);
}

void dcr_pool_submit(dcr_ordered_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->state[p->tail % p->ring].done = false;
    p->tail++;
    pthread_cond_signal(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
}

size_t dcr_pool_pending(const dcr_ordered_pool *p)
{
    return (size_t)(p->tail - p->head);
}

void *dcr_pool_wait_oldest(dcr_ordered_pool *p, dcr_status *status, dcr_error *err)
{
    slot_state *st = &p->state[p->head % p->ring];
    pthread_mutex_lock(&p->mu);
    while (!st->done)
        pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    *status = st->status;
    if (st->status != DCR_OK && err)
        *err = st->err;
    return slot_task(p, p->head);
}

void dcr_pool_release_oldest(dcr_ordered_pool *p)
{
    p->head++;
}

void dcr_pool_stop(dcr_ordered_pool *p)
{
    if (!p)
        return;
    if (p->nthreads) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_broadcast(&p->work_cv);
        pthread_mutex_unlock(&p->mu);
        for (size_t i = 0; i < p->nthreads; i++)
            pthread_join(p->threads[i], NULL);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    free(p->state);
    free(p->threads);
    free(p->args);
    free(p);
}

size_t dcr_pool_default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (size_t)n;
}
