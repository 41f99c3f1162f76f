/*
 * jsonl.c: a JSON Lines record to seal fields (jsonl.h), with jansson.
 *
 * The texts go to one scratch buffer reserved up front for the whole
 * record, so the field pointers stay valid while it fills: decoded strings
 * are never longer than their JSON spelling, and numbers and booleans take
 * at most NUM_TEXT bytes each.
 */
#include "store/jsonl.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define NUM_TEXT 32 /* "%.17g" of a double, or a 64-bit integer */

int dcr_jsonl_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return 0;
    return 1;
}

static int key_is(const char *key, const char *col)
{
    for (; *key && *col; key++, col++) {
        char k = *key >= 'A' && *key <= 'Z' ? (char)(*key + 32) : *key;
        if (k != *col)
            return 0;
    }
    return *key == *col;
}

static size_t find_column(const dcr_schema *schema, const char *key)
{
    size_t c = 0;
    while (c < schema->ncols && !key_is(key, schema->cols[c].name))
        c++;
    return c;
}

/* Appends the text of one value to scratch and points f at it. */
static const char *put_value(json_t *v, dcr_csv_field *f, dcr_buf *scratch)
{
    char *at = (char *)scratch->data + scratch->len;
    size_t n = 0;
    bool quoted = false;
    switch (json_typeof(v)) {
    case JSON_STRING:
        n = json_string_length(v);
        memcpy(at, json_string_value(v), n);
        quoted = true;
        break;
    case JSON_INTEGER:
        n = (size_t)snprintf(at, NUM_TEXT, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        n = (size_t)snprintf(at, NUM_TEXT, "%.17g", json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        n = (size_t)snprintf(at, NUM_TEXT, "%s", json_is_true(v) ? "true" : "false");
        break;
    case JSON_NULL:
        break; /* an unquoted empty field: NULL */
    case JSON_OBJECT:
    case JSON_ARRAY:
        return "an object or array is not a column value";
    }
    *f = (dcr_csv_field){at, n, quoted};
    scratch->len += n;
    return NULL;
}

static dcr_status fill(const dcr_schema *schema, json_t *obj, dcr_csv_field *fields,
                       dcr_buf *scratch, const char *name, uint64_t line_no, dcr_error *err)
{
    bool seen[DCR_COLUMNS_MAX] = {false};
    for (size_t c = 0; c < schema->ncols; c++)
        fields[c] = (dcr_csv_field){(char *)"", 0, false}; /* a missing key is NULL */
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char quoted[80];
        dcr_error_quote(quoted, sizeof quoted, key, strlen(key));
        size_t c = find_column(schema, key);
        if (c == schema->ncols)
            return dcr_fail(err, DCR_EINPUT,
                            "%s: line %llu: key \"%s\" is not a column of dataset \"%s\"", name,
                            (unsigned long long)line_no, quoted, schema->dataset);
        if (seen[c]) /* exact duplicates are refused by the parser; this is "Email" and "email" */
            return dcr_fail(err, DCR_EINPUT, "%s: line %llu: column \"%s\" appears twice", name,
                            (unsigned long long)line_no, schema->cols[c].name);
        seen[c] = true;
        const char *why = put_value(v, &fields[c], scratch);
        if (why)
            return dcr_fail(err, DCR_EINPUT, "%s: line %llu, column \"%s\": %s", name,
                            (unsigned long long)line_no, schema->cols[c].name, why);
    }
    return DCR_OK;
}

dcr_status dcr_jsonl_fields(const dcr_schema *schema, const char *line, size_t len,
                            dcr_csv_field *fields, dcr_buf *scratch, const char *name,
                            uint64_t line_no, dcr_error *err)
{
    scratch->len = 0;
    if (schema->ncols > (SIZE_MAX - len) / NUM_TEXT)
        return dcr_fail(err, DCR_EINPUT, "%s: line %llu: record too long", name,
                        (unsigned long long)line_no);
    dcr_status s = dcr_buf_reserve(scratch, len + schema->ncols * NUM_TEXT + 1, err);
    if (s != DCR_OK)
        return s;
    json_error_t jerr;
    /* NUL is let through so that the TEXT check names it, as for CSV */
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!obj)
        return dcr_fail(err, DCR_EINPUT, "%s: line %llu, character %d: not valid JSON: %s", name,
                        (unsigned long long)line_no, jerr.position, jerr.text);
    if (!json_is_object(obj))
        s = dcr_fail(err, DCR_EINPUT,
                     "%s: line %llu: not a JSON object (each line holds one {\"column\": value, "
                     "...} record)",
                     name, (unsigned long long)line_no);
    else
        s = fill(schema, obj, fields, scratch, name, line_no, err);
    json_decref(obj);
    return s;
}
