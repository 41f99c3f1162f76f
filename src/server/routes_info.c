/*
 * routes_info.c: the read-only endpoints: attestation (no authentication:
 * it is what a client checks before trusting anything), health, contract,
 * status, audit and budget, and the route table itself.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/fileio.h"
#include "server/internal.h"
#include "state/state.h"

const srv_route srv_routes[] = {
    {"GET", "/v1/attestation", 0, SRV_BODY_NONE, srv_route_attestation, NULL, NULL, NULL},
    {"GET", "/v1/health", 0, SRV_BODY_NONE, srv_route_health, NULL, NULL, NULL},
    {"GET", "/v1/contract", SRV_ANY_PARTY, SRV_BODY_NONE, srv_route_contract, NULL, NULL, NULL},
    {"GET", "/v1/status", SRV_ANY_PARTY, SRV_BODY_NONE, srv_route_status, NULL, NULL, NULL},
    {"GET", "/v1/audit", SRV_ANY_PARTY, SRV_BODY_NONE, srv_route_audit, NULL, NULL, NULL},
    {"GET", "/v1/budget", DCR_ROLE_ANALYST, SRV_BODY_NONE, srv_route_budget, NULL, NULL, NULL},
    {"POST", "/v1/query", DCR_ROLE_ANALYST, SRV_BODY_JSON, srv_route_query, NULL, NULL, NULL},
    {"GET", "/v1/results/{}", SRV_ANY_PARTY, SRV_BODY_NONE, srv_route_result, NULL, NULL, NULL},
    {"PUT", "/v1/datasets/{}", DCR_ROLE_PROVIDER, SRV_BODY_STREAM, srv_upload_handle,
     srv_upload_begin, srv_upload_data, srv_upload_cleanup},
    {"GET", "/v1/datasets/{}/header", DCR_ROLE_PROVIDER, SRV_BODY_NONE, srv_route_header, NULL,
     NULL, NULL},
    {"POST", "/v1/datasets/{}/grant", DCR_ROLE_PROVIDER, SRV_BODY_JSON, srv_route_grant, NULL, NULL,
     NULL},
};
const size_t srv_nroutes = sizeof srv_routes / sizeof srv_routes[0];

void srv_route_attestation(srv_request *r, srv_response *res)
{
    srv_json(res, 200, json_incref(r->s->attestation));
}

void srv_route_health(srv_request *r, srv_response *res)
{
    (void)r;
    srv_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

void srv_route_contract(srv_request *r, srv_response *res)
{
    srv *s = r->s;
    json_t *sigs = json_array();
    for (size_t i = 0; sigs && i < s->cfg->nsigs; i++) {
        char *text;
        size_t len;
        dcr_error err = {0};
        if (dcr_read_file(s->cfg->sig_paths[i], 4096, &text, &len, &err) == DCR_OK) {
            text[strcspn(text, "\n")] = '\0';
            json_array_append_new(sigs, json_string(text));
            free(text);
        }
    }
    srv_json(res, 200,
             json_pack("{s:o,s:s%,s:o}", "contract_sha256", srv_hex(s->contract.hash, 32),
                       "contract", s->contract_text, s->contract_len, "signatures", sigs));
}

/* A time as ISO 8601 UTC ("2026-12-07T21:39:06Z"): people read status. */
static json_t *iso_time(int64_t t)
{
    char out[32] = "";
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm))
        strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(out);
}

static json_t *dataset_status(srv *s, size_t i, const dcr_dataset_info *info)
{
    const dcr_contract_dataset *d = &s->contract.datasets[i];
    pthread_mutex_lock(&s->lock);
    bool granted =
        s->keys[i].present && info && memcmp(s->keys[i].file_sha256, info->sha256, 32) == 0;
    pthread_mutex_unlock(&s->lock);
    json_t *o =
        json_pack("{s:s,s:s,s:b,s:b}", "name", d->name, "owner", s->contract.parties[d->owner].name,
                  "uploaded", info != NULL, "granted", granted);
    if (o && info) {
        json_object_set_new(o, "rows", json_integer(info->rows));
        json_object_set_new(o, "bytes", json_integer((json_int_t)info->size));
        json_object_set_new(o, "sha256", srv_hex(info->sha256, 32));
        json_object_set_new(o, "uploaded_at", iso_time(info->uploaded_at));
    }
    return o;
}

void srv_route_status(srv_request *r, srv_response *res)
{
    srv *s = r->s;
    dcr_error err = {0};
    dcr_dataset_info *list = NULL;
    size_t n = 0;
    if (dcr_state_dataset_list(s->state, &list, &n, &err) != DCR_OK) {
        srv_error_from(res, &err, "storage");
        return;
    }
    json_t *ds = json_array();
    for (size_t i = 0; i < s->contract.ndatasets; i++) {
        const dcr_dataset_info *info = NULL;
        for (size_t j = 0; j < n; j++)
            if (strcmp(list[j].name, s->contract.datasets[i].name) == 0)
                info = &list[j];
        json_array_append_new(ds, dataset_status(s, i, info));
    }
    for (size_t j = 0; j < n; j++)
        dcr_dataset_info_free(&list[j]);
    free(list);
    uint64_t next = 0;
    uint8_t head[32] = {0};
    dcr_state_audit_head(s->state, &next, head, &err);
    const dcr_server_config *c = s->cfg;
    srv_json(res, 200,
             json_pack("{s:o,s:s,s:o,s:I,s:o,s:{s:I,s:o},s:{s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I,"
                       "s:I,s:I,s:I}}",
                       "contract_sha256", srv_hex(s->contract.hash, 32), "evidence_type",
                       s->inst.evidence_type, "started_at", iso_time(s->started), "uptime_s",
                       (json_int_t)(time(NULL) - s->started), "datasets", ds, "audit", "next_seq",
                       (json_int_t)next, "head", srv_hex(head, 32), "counters", "requests",
                       (json_int_t)atomic_load(&s->requests), "refused",
                       (json_int_t)atomic_load(&s->refusals), "queries",
                       (json_int_t)atomic_load(&s->queries_total), "queries_running",
                       (json_int_t)atomic_load(&s->queries_running), "limits", "max_upload_bytes",
                       (json_int_t)c->max_upload, "max_json_bytes", (json_int_t)c->max_json,
                       "max_concurrent_queries", (json_int_t)c->max_queries, "requests_per_minute",
                       (json_int_t)c->rate_per_minute, "query_memory_bytes",
                       (json_int_t)c->query_mem, "query_seconds", (json_int_t)c->query_seconds));
}

void srv_route_audit(srv_request *r, srv_response *res)
{
    dcr_error err = {0};
    if (dcr_state_audit_export(r->s->state, 0, &res->raw, &err) != DCR_OK) {
        dcr_buf_free(&res->raw);
        srv_error_from(res, &err, "storage");
        return;
    }
    res->status = 200;
    res->raw_type = "application/json";
}

void srv_route_budget(srv_request *r, srv_response *res)
{
    srv *s = r->s;
    const dcr_contract_dp *dp = &s->contract.dp;
    const char *party = s->contract.parties[r->party].name;
    dcr_budget b = {0};
    dcr_error err = {0};
    if (dcr_state_budget_get(s->state, party, &b, &err) != DCR_OK) {
        srv_error_from(res, &err, "storage");
        return;
    }
    bool on = dp->present && dp->enabled;
    double spent = (double)b.eps_spent / (double)DCR_EPS_UNIT;
    double limit = on ? dp->budget_per_analyst : 0;
    srv_json(res, 200,
             json_pack("{s:s,s:b,s:f,s:f,s:f,s:f,s:f}", "party", party, "differential_privacy", on,
                       "epsilon_spent", spent, "epsilon_budget", limit, "epsilon_remaining",
                       limit > spent ? limit - spent : 0.0, "epsilon_per_query",
                       on ? dp->epsilon_per_query : 0.0, "delta_spent",
                       (double)b.delta_spent / (double)DCR_DELTA_UNIT));
}
