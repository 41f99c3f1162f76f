/*
 * limits.c: per-party request rate (a token bucket refilled continuously,
 * rate_per_minute tokens per minute, burst of the same size) and the number
 * of queries running at once. Both refuse with 429/503 and a message saying
 * the limit, rather than queueing: a client can retry, a queue would let one
 * party hold the service.
 */
#include "server/internal.h"

bool srv_rate_take(srv *s, int party, srv_response *res)
{
    double cap = (double)s->cfg->rate_per_minute;
    double now = srv_now();
    pthread_mutex_lock(&s->lock);
    srv_bucket *b = &s->buckets[party];
    if (b->last == 0)
        b->tokens = cap;
    else
        b->tokens += (now - b->last) * cap / 60.0;
    if (b->tokens > cap)
        b->tokens = cap;
    b->last = now;
    bool ok = b->tokens >= 1.0;
    if (ok)
        b->tokens -= 1.0;
    pthread_mutex_unlock(&s->lock);
    if (!ok)
        srv_error(res, 429, "rate_limited",
                  "%s is over the rate limit of %u requests per minute; retry in a few seconds",
                  s->contract.parties[party].name, s->cfg->rate_per_minute);
    return ok;
}

bool srv_query_slot_take(srv *s, srv_response *res)
{
    unsigned cur = atomic_load(&s->queries_running);
    do {
        if (cur >= s->cfg->max_queries) {
            srv_error(res, 503, "too_many_queries",
                      "%u queries are running, the limit; retry when one finishes", cur);
            return false;
        }
    } while (!atomic_compare_exchange_weak(&s->queries_running, &cur, cur + 1));
    return true;
}

void srv_query_slot_give(srv *s)
{
    atomic_fetch_sub(&s->queries_running, 1);
}
