/*
 * agg_sketch.h: the UNIT_SKETCH aggregate (sql/plan.h, DCR_AGG_UNIT_SKETCH),
 * internal to src/exec/; aggregate.c dispatches to it.
 *
 * Per group it collects the distinct values of its argument (the privacy
 * unit) as 64-bit hashes and emits them as one TEXT value: the sorted,
 * duplicate-free hashes, 8 bytes each, little-endian. The privacy layer
 * reads that hidden column to build the differencing sketches
 * (privacy/differencing.c) and drops it before anything is returned.
 *
 * UNIT_SKETCH_MERGE takes such TEXT values (of released groups) instead of
 * units and emits the union of their hash sets, in the same format: the
 * units an outer aggregate's group rests on.
 *
 * Memory: each group keeps at most about twice its distinct count (values
 * are sorted and de-duplicated whenever a group's buffer fills).
 */
#ifndef DCR_EXEC_AGG_SKETCH_H
#define DCR_EXEC_AGG_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/column.h"

typedef struct dcr_agg_sketch dcr_agg_sketch;

/* merge: the argument is UNIT_SKETCH values to union (UNIT_SKETCH_MERGE). */
dcr_status dcr_agg_sketch_new(dcr_agg_sketch **out, bool merge, dcr_error *err);
void dcr_agg_sketch_free(dcr_agg_sketch *s);
/* Makes room for groups 0..ngroups-1. */
dcr_status dcr_agg_sketch_grow(dcr_agg_sketch *s, size_t ngroups, dcr_error *err);
/* Adds v[i] (a unit, or with merge a set of unit hashes) to group gids[i]
 * for i < n; NULL values are skipped. */
dcr_status dcr_agg_sketch_add(dcr_agg_sketch *s, const uint32_t *gids, const dcr_column *v,
                              size_t n, dcr_error *err);
/* Appends group g's value (TEXT) to out. */
dcr_status dcr_agg_sketch_emit(dcr_agg_sketch *s, size_t g, dcr_column *out, dcr_error *err);
size_t dcr_agg_sketch_bytes(const dcr_agg_sketch *s);

#endif
