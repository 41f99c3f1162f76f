/*
 * datalock.c: stored datasets against their replacement. A re-upload
 * commits a new file and the state deletes the old one; a query, grant or
 * header read that found the old file's path must not lose it halfway. So
 * readers (from looking a dataset up until they are done with its file)
 * and the commit of an upload exclude each other: readers share, a commit
 * waits for the readers in progress and holds new ones back meanwhile (so a
 * stream of queries cannot starve an upload). A count under a mutex rather
 * than a pthread rwlock, because a query's read ends in its worker thread,
 * not in the thread that began it.
 */
#include "server/internal.h"

void srv_data_read_begin(srv *s)
{
    pthread_mutex_lock(&s->lock);
    while (s->data_writer)
        pthread_cond_wait(&s->data_cv, &s->lock);
    s->data_readers++;
    pthread_mutex_unlock(&s->lock);
}

void srv_data_read_end(srv *s)
{
    pthread_mutex_lock(&s->lock);
    if (--s->data_readers == 0)
        pthread_cond_broadcast(&s->data_cv);
    pthread_mutex_unlock(&s->lock);
}

void srv_data_write_begin(srv *s)
{
    pthread_mutex_lock(&s->lock);
    while (s->data_writer)
        pthread_cond_wait(&s->data_cv, &s->lock);
    s->data_writer = true;
    while (s->data_readers)
        pthread_cond_wait(&s->data_cv, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

void srv_data_write_end(srv *s)
{
    pthread_mutex_lock(&s->lock);
    s->data_writer = false;
    pthread_cond_broadcast(&s->data_cv);
    pthread_mutex_unlock(&s->lock);
}
