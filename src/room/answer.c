/*
 * answer.c: a guarded query's answer as JSON (room.h), the one form the
 * API returns (POST /v1/query) and a receiver fetches (the stored copy,
 * with its rows). Values keep their SQL type where JSON has one: BIGINT
 * as an integer, a finite DOUBLE as a number, BOOLEAN as true/false;
 * everything else (and a DOUBLE that JSON cannot hold) is its text.
 */
#include <stdlib.h>
#include <string.h>

#include "room/internal.h"

static json_t *bigint_json(const char *v, size_t len)
{
    char tmp[32];
    if (len >= sizeof tmp)
        return json_stringn(v, len);
    memcpy(tmp, v, len);
    tmp[len] = '\0';
    return json_integer(strtoll(tmp, NULL, 10));
}

static json_t *double_json(const char *v, size_t len)
{
    char tmp[64];
    if (len >= sizeof tmp)
        return json_stringn(v, len);
    memcpy(tmp, v, len);
    tmp[len] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (*end == '\0' && d == d && d - d == 0)
        return json_real(d);
    return json_stringn(v, len);
}

static json_t *value_json(const dcr_column *c, size_t row, dcr_type t)
{
    char buf[DCR_RESULT_TEXT_MAX];
    size_t len;
    const char *v = dcr_result_value_text(c, row, buf, &len);
    if (!v)
        return json_null();
    if (t == DCR_TYPE_BIGINT)
        return bigint_json(v, len);
    if (t == DCR_TYPE_DOUBLE)
        return double_json(v, len);
    if (t == DCR_TYPE_BOOLEAN)
        return json_boolean(len == 4);
    return json_stringn(v, len);
}

static json_t *columns_json(const dcr_result *r)
{
    json_t *cols = json_array();
    for (size_t c = 0; c < r->ncols; c++)
        json_array_append_new(
            cols, json_pack("{s:s,s:s}", "name", r->names[c], "type", dcr_type_name(r->types[c])));
    return cols;
}

static json_t *rows_json(const dcr_result *r)
{
    json_t *rows = json_array();
    for (size_t b = 0; b < r->nbatches; b++)
        for (size_t i = 0; i < r->batches[b].nrows; i++) {
            json_t *row = json_array();
            for (size_t c = 0; c < r->ncols; c++)
                json_array_append_new(row, value_json(&r->batches[b].cols[c], i, r->types[c]));
            json_array_append_new(rows, row);
        }
    return rows;
}

static json_t *receivers_json(const dcr_contract *c, const dcr_privacy_report *rep)
{
    json_t *recv = json_array();
    for (size_t i = 0; i < rep->nreceivers; i++)
        json_array_append_new(recv, json_string(c->parties[rep->receivers[i]].name));
    return recv;
}

/* No count of suppressed groups: it is a function of the people in them
 * (docs/privacy.md, "Nothing about suppressed rows"). */
static json_t *privacy_json(const dcr_contract *c, const dcr_privacy_report *rep)
{
    return json_pack("{s:s,s:I,s:I,s:f,s:f,s:s,s:o}", "protection",
                     rep->protection ? rep->protection : "", "k", (json_int_t)rep->k,
                     "rows_released", (json_int_t)rep->rows_released, "epsilon", rep->epsilon,
                     "delta", rep->delta, "template", rep->template_name, "receivers",
                     receivers_json(c, rep));
}

/* What happened to the rows, in words an analyst reads. */
static json_t *delivery_json(const dcr_contract *c, size_t analyst, const dcr_room_answer *a,
                             bool with_rows)
{
    json_t *o =
        json_pack("{s:b,s:o}", "delivered", with_rows, "receivers", receivers_json(c, &a->report));
    if (o && a->stored)
        json_object_set_new(o, "id", json_string(a->result_id));
    if (o && !with_rows) {
        char note[512];
        snprintf(note, sizeof note,
                 "the contract sends %s's results only to its receivers; %s is not one of "
                 "them, so no rows are returned here%s%s",
                 c->parties[analyst].name, c->parties[analyst].name,
                 a->stored ? ": the receivers fetch them as result " : "",
                 a->stored ? a->result_id : "");
        json_object_set_new(o, "note", json_string(note));
    }
    return o;
}

json_t *room_answer_json(const dcr_contract *c, size_t analyst, const dcr_room_answer *a,
                         bool with_rows)
{
    json_t *o =
        json_pack("{s:o,s:o,s:o}", "columns", columns_json(&a->rows), "privacy",
                  privacy_json(c, &a->report), "result", delivery_json(c, analyst, a, with_rows));
    if (o && with_rows)
        json_object_set_new(o, "rows", rows_json(&a->rows));
    return o;
}

json_t *dcr_room_answer_json(const dcr_contract *c, size_t analyst, const dcr_room_answer *a)
{
    return room_answer_json(c, analyst, a, a->delivered);
}
