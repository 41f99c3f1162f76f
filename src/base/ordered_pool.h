/*
 * ordered_pool.h: worker threads over a fixed ring of tasks, consumed in the
 * order they were submitted.
 *
 * The caller owns an array of `ring` task structs. It fills a free slot,
 * submits it, and consumes finished tasks oldest first; workers run `work` on
 * each task meanwhile. Because the ring is fixed, at most `ring` tasks exist
 * at once, which bounds memory whatever the input size. This is the shape of
 * seal (CSV blocks -> payloads, written in order) and unseal (chunks -> CSV,
 * written in order).
 *
 *     while (more input) {
 *         void *t;
 *         while (!(t = dcr_pool_free_slot(p))) { consume(dcr_pool_wait_oldest(p, &st, &err));
 *                                                 dcr_pool_release_oldest(p); }
 *         fill(t); dcr_pool_submit(p);
 *     }
 *     drain the same way until dcr_pool_pending(p) == 0; dcr_pool_stop(p);
 */
#ifndef DCR_BASE_ORDERED_POOL_H
#define DCR_BASE_ORDERED_POOL_H

#include <stddef.h>

#include "base/error.h"

/* Runs one task on one worker; worker_ctx is that worker's own state. */
typedef dcr_status (*dcr_pool_work_fn)(void *worker_ctx, void *task, dcr_error *err);

typedef struct dcr_ordered_pool dcr_ordered_pool;

/* Starts nworkers threads; worker i gets worker_ctx[i]. tasks points to ring
 * task structs of task_size bytes each, owned by the caller and outliving the
 * pool. */
dcr_status dcr_pool_start(dcr_ordered_pool **pool, size_t nworkers, void **worker_ctx, void *tasks,
                          size_t ring, size_t task_size, dcr_pool_work_fn work, dcr_error *err);

/* The next slot to fill, or NULL when every slot is submitted and not yet
 * released (consume the oldest first). */
void *dcr_pool_free_slot(dcr_ordered_pool *p);
/* Hands the slot last returned by dcr_pool_free_slot to the workers. */
void dcr_pool_submit(dcr_ordered_pool *p);
/* Number of submitted tasks not yet released. */
size_t dcr_pool_pending(const dcr_ordered_pool *p);
/* Waits until the oldest submitted task is done; returns it, with the
 * status of its work (and its message in err when not DCR_OK). */
void *dcr_pool_wait_oldest(dcr_ordered_pool *p, dcr_status *status, dcr_error *err);
/* Makes the oldest slot free again. */
void dcr_pool_release_oldest(dcr_ordered_pool *p);
/* Stops and joins the workers (tasks not yet started are never run) and
 * frees the pool. The caller then frees its tasks. */
void dcr_pool_stop(dcr_ordered_pool *p);

/* Worker threads to use by default: the online CPUs, 1..64. */
size_t dcr_pool_default_workers(void);

#endif
