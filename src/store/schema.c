/*
 * schema.c: parsing and validating schema JSON (with jansson).
 */
#include "store/schema.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"

#define SCHEMA_FILE_MAX (1u << 20)

bool dcr_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > DCR_NAME_MAX || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

int dcr_schema_find(const dcr_schema *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->ncols; i++)
        if (strlen(s->cols[i].name) == len && memcmp(s->cols[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

void dcr_schema_free(dcr_schema *s)
{
    free(s->cols);
    s->cols = NULL;
    s->ncols = 0;
}

/* Refuses keys of obj not in allowed (NULL-terminated). */
static dcr_status check_keys(json_t *obj, const char *const *allowed, const char *what,
                             const char *path, dcr_error *err)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value)
    {
        (void)value;
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok |= strcmp(key, *a) == 0;
        if (!ok)
            return dcr_fail(err, DCR_EINPUT, "%s: %s: unknown key \"%.64s\"", what, path, key);
    }
    return DCR_OK;
}

static dcr_status parse_name(json_t *v, char out[DCR_NAME_MAX + 1], const char *what,
                             const char *path, dcr_error *err)
{
    if (!json_is_string(v))
        return dcr_fail(err, DCR_EINPUT, "%s: %s: must be a string", what, path);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (!dcr_name_valid(s, len))
        return dcr_fail(err, DCR_EINPUT,
                        "%s: %s: \"%.64s\" is not a valid name (1-63 characters of a-z, 0-9, _; "
                        "not starting with a digit)",
                        what, path, s);
    memcpy(out, s, len + 1);
    return DCR_OK;
}

static dcr_status parse_normalize(json_t *v, uint8_t *out, const char *what, const char *path,
                                  dcr_error *err)
{
    *out = 0;
    if (!v)
        return DCR_OK;
    if (!json_is_array(v))
        return dcr_fail(err, DCR_EINPUT, "%s: %s: must be an array like [\"trim\", \"lower\"]",
                        what, path);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        const char *s = json_is_string(item) ? json_string_value(item) : NULL;
        if (s && strcmp(s, "trim") == 0)
            *out |= DCR_NORM_TRIM;
        else if (s && strcmp(s, "lower") == 0)
            *out |= DCR_NORM_LOWER;
        else
            return dcr_fail(err, DCR_EINPUT,
                            "%s: %s[%zu]: unknown normalisation (use \"trim\" or "
                            "\"lower\")",
                            what, path, i);
    }
    return DCR_OK;
}

static dcr_status parse_column(json_t *c, size_t idx, dcr_column_def *def, const char *what,
                               dcr_error *err)
{
    static const char *const keys[] = {"name", "type", "normalize", "not_null", NULL};
    char path[64];
    snprintf(path, sizeof path, "columns[%zu]", idx);
    if (!json_is_object(c))
        return dcr_fail(err, DCR_EINPUT, "%s: %s: must be an object", what, path);
    dcr_status s = check_keys(c, keys, what, path, err);
    if (s != DCR_OK)
        return s;
    char sub[96];
    snprintf(sub, sizeof sub, "%s.name", path);
    if ((s = parse_name(json_object_get(c, "name"), def->name, what, sub, err)) != DCR_OK)
        return s;
    json_t *type = json_object_get(c, "type");
    if (!json_is_string(type) || !dcr_type_from_name(json_string_value(type), &def->type))
        return dcr_fail(err, DCR_EINPUT,
                        "%s: %s.type: must be one of BIGINT, DOUBLE PRECISION, TEXT, BOOLEAN, "
                        "DATE, TIMESTAMP",
                        what, path);
    snprintf(sub, sizeof sub, "%s.normalize", path);
    if ((s = parse_normalize(json_object_get(c, "normalize"), &def->normalize, what, sub, err)))
        return s;
    if ((def->normalize & DCR_NORM_LOWER) && def->type != DCR_TYPE_TEXT)
        return dcr_fail(err, DCR_EINPUT, "%s: %s: \"lower\" applies only to TEXT columns", what,
                        sub);
    json_t *nn = json_object_get(c, "not_null");
    if (nn && !json_is_boolean(nn))
        return dcr_fail(err, DCR_EINPUT, "%s: %s.not_null: must be true or false", what, path);
    def->not_null = nn && json_is_true(nn);
    return DCR_OK;
}

static dcr_status parse_schema(json_t *root, const char *what, dcr_schema *out, dcr_error *err)
{
    static const char *const keys[] = {"dataset", "columns", NULL};
    if (!json_is_object(root))
        return dcr_fail(err, DCR_EINPUT, "%s: the schema must be a JSON object", what);
    dcr_status s = check_keys(root, keys, what, "schema", err);
    if (s != DCR_OK)
        return s;
    if ((s = parse_name(json_object_get(root, "dataset"), out->dataset, what, "dataset", err)))
        return s;
    json_t *cols = json_object_get(root, "columns");
    if (!json_is_array(cols) || json_array_size(cols) == 0)
        return dcr_fail(err, DCR_EINPUT, "%s: columns: must be a non-empty array", what);
    size_t n = json_array_size(cols);
    if (n > DCR_COLUMNS_MAX)
        return dcr_fail(err, DCR_EINPUT, "%s: columns: %zu columns, more than the %d allowed", what,
                        n, DCR_COLUMNS_MAX);
    out->cols = calloc(n, sizeof *out->cols);
    if (!out->cols)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    out->ncols = n;
    for (size_t i = 0; i < n; i++) {
        if ((s = parse_column(json_array_get(cols, i), i, &out->cols[i], what, err)))
            return s;
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->cols[j].name, out->cols[i].name) == 0)
                return dcr_fail(err, DCR_EINPUT, "%s: columns[%zu]: duplicate column \"%s\"", what,
                                i, out->cols[i].name);
    }
    return DCR_OK;
}

dcr_status dcr_schema_parse_json(const char *json, size_t len, const char *what, dcr_schema *out,
                                 dcr_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return dcr_fail(err, DCR_EINPUT, "%s:%d:%d: invalid JSON: %s", what, jerr.line, jerr.column,
                        jerr.text);
    dcr_status s = parse_schema(root, what, out, err);
    json_decref(root);
    if (s != DCR_OK)
        dcr_schema_free(out);
    return s;
}

dcr_status dcr_schema_load(const char *path, dcr_schema *out, dcr_error *err)
{
    char *text;
    size_t len;
    memset(out, 0, sizeof *out);
    dcr_status s = dcr_read_file(path, SCHEMA_FILE_MAX, &text, &len, err);
    if (s != DCR_OK)
        return s;
    s = dcr_schema_parse_json(text, len, path, out, err);
    free(text);
    return s;
}
