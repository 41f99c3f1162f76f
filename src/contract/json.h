/*
 * json.h: a small JSON document model that remembers where every value came
 * from, so the contract linter can point at the exact line and column.
 *
 * jansson (used for schema files) keeps no positions, so contracts are parsed
 * with libyajl's callback API into this DOM. Each value records the byte
 * offset of its first character; each object member also records the offset
 * of its key. dcr_json_position() turns an offset into 1-based line:column.
 *
 * The parser is strict: RFC 8259 JSON only (no comments, no trailing garbage,
 * valid UTF-8 in strings), duplicate object keys refused, at most
 * DCR_JSON_TEXT_MAX bytes and DCR_JSON_DEPTH_MAX levels of nesting. Numbers
 * keep their text; huge ones become +-inf as doubles and are not integers, so
 * the consumer decides what is too big. Strings are NUL-terminated copies
 * that may contain embedded NULs (escaped \u0000): always use their length.
 *
 * Ownership: dcr_json_parse returns a tree owned by the caller, released with
 * the single function dcr_json_free.
 */
#ifndef DCR_CONTRACT_JSON_H
#define DCR_CONTRACT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define DCR_JSON_TEXT_MAX (1u << 20) /* 1 MiB */
#define DCR_JSON_DEPTH_MAX 32

typedef enum {
    DCR_JSON_NULL,
    DCR_JSON_BOOL,
    DCR_JSON_NUMBER,
    DCR_JSON_STRING,
    DCR_JSON_ARRAY,
    DCR_JSON_OBJECT,
} dcr_json_kind;

typedef struct dcr_json dcr_json;

typedef struct {
    char *key; /* NUL-terminated, key_len bytes */
    size_t key_len;
    size_t key_offset; /* byte offset of the key's opening quote */
    dcr_json *value;
} dcr_json_member;

struct dcr_json {
    dcr_json_kind kind;
    size_t offset; /* byte offset of the value's first character */
    bool boolean;  /* DCR_JSON_BOOL */
    /* DCR_JSON_NUMBER: the number's text is in str/len; d is its value
     * (+-inf when out of range); is_int when it is written without fraction
     * or exponent and fits an int64_t, then i holds it. */
    double d;
    bool is_int;
    int64_t i;
    /* DCR_JSON_STRING (and a number's text) */
    char *str;
    size_t len;
    /* DCR_JSON_ARRAY: items; DCR_JSON_OBJECT: members, in document order */
    size_t n;
    dcr_json **items;
    dcr_json_member *members;
};

/* Parses text (at most DCR_JSON_TEXT_MAX bytes) into *out. On a syntax
 * error returns DCR_EINPUT with err->msg = the reason (no position) and
 * *err_offset = the byte offset of the problem; DCR_EINTERNAL when out of
 * memory. */
dcr_status dcr_json_parse(const char *text, size_t len, dcr_json **out, size_t *err_offset,
                          dcr_error *err);
void dcr_json_free(dcr_json *v);

/* The member value called key in obj (an object), or NULL. */
const dcr_json *dcr_json_get(const dcr_json *obj, const char *key);
/* The member entry called key in obj, or NULL (for the key's position). */
const dcr_json_member *dcr_json_member_get(const dcr_json *obj, const char *key);

/* 1-based line and column of a byte offset into text. Columns count UTF-8
 * characters (a tab is one column); lines end at '\n'. */
void dcr_json_position(const char *text, size_t len, size_t offset, unsigned *line,
                       unsigned *column);

/* "string", "number", ... for messages. */
const char *dcr_json_kind_name(dcr_json_kind kind);

#endif
