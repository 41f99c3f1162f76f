/*
 * internal.h: what the files of src/room share. Not for use outside it.
 *
 * room.c runs the queries (serialisation, charge, audit, history);
 * answer.c turns an answer into JSON; results.c seals, stores and fetches
 * results for their receivers.
 */
#ifndef DCR_ROOM_INTERNAL_H
#define DCR_ROOM_INTERNAL_H

#include <pthread.h>

#include "privacy/differencing.h"
#include "room/room.h"

struct dcr_room {
    const dcr_contract *contract;
    const struct dcr_templates *templates;
    char *dir;
    dcr_state *st;
    bool owns_state;          /* a local room opened (and closes) st */
    dcr_diff_history history; /* the differencing defence's; key wiped on close */
    /* One guarded query of the contract at a time (see room.h): mu within
     * this process, a flock on lock_fd (DIR/query.lock) between processes. */
    pthread_mutex_t mu;
    int lock_fd;
    bool lock_held; /* a local room holds the flock for its whole life */
};

/* The answer JSON; rows included when with_rows (the stored copy). */
json_t *room_answer_json(const dcr_contract *c, size_t analyst, const dcr_room_answer *a,
                         bool with_rows);

/* A fresh result id into id (DCR_ROOM_RESULT_ID_LEN + 1 bytes). */
dcr_status room_result_id(char *id, dcr_error *err) DCR_ROOM_WUR;
/* Seals the answer (with its rows) to each of its receivers and stores it
 * under a->result_id in DIR/results/, durably. */
dcr_status room_result_store(dcr_room *r, size_t analyst, const dcr_room_answer *a,
                             dcr_error *err) DCR_ROOM_WUR;

#endif
