/*
 * json.c: the positioned JSON DOM of json.h, built from libyajl callbacks.
 *
 * yajl does the tokenising and the syntax and UTF-8 checks; this file only
 * assembles the tree and works out where each value starts. In a callback,
 * yajl_get_bytes_consumed() is the offset just past the token yajl has just
 * read. A value therefore starts at the first byte after the previous token
 * that is neither JSON whitespace nor the one ',' or ':' separating them.
 *
 * Containers are attached to their parent when they open, so on any error
 * freeing the root releases everything built so far.
 */
#include "contract/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "base/value.h"

typedef struct {
    const char *text;
    size_t len;
    yajl_handle h;
    size_t prev_end; /* offset just past the last token seen */
    dcr_json *root;
    dcr_json *stack[DCR_JSON_DEPTH_MAX];
    size_t caps[DCR_JSON_DEPTH_MAX]; /* allocated slots of each open container */
    size_t depth;
    char *key; /* pending object key, owned until attached */
    size_t key_len, key_offset;
    const char *fail; /* our own reason for cancelling the parse */
    size_t fail_offset;
    bool oom;
} builder;

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Offset of the token that yajl has just finished reading. */
static size_t token_start(builder *b)
{
    size_t p = b->prev_end;
    while (p < b->len && is_ws(b->text[p]))
        p++;
    if (p < b->len && (b->text[p] == ',' || b->text[p] == ':')) {
        p++;
        while (p < b->len && is_ws(b->text[p]))
            p++;
    }
    return p;
}

/* Marks the token just read as seen and returns where it started. */
static size_t advance(builder *b)
{
    size_t start = token_start(b);
    size_t end = yajl_get_bytes_consumed(b->h);
    /* During yajl_complete_parse, offsets are relative to a one-byte chunk;
     * only a top-level scalar can end there and nothing follows it. */
    b->prev_end = end > start && end <= b->len ? end : start;
    return start;
}

static int cancel(builder *b, size_t offset, const char *why)
{
    b->fail = why;
    b->fail_offset = offset;
    return 0;
}

static int out_of_memory(builder *b)
{
    b->oom = true;
    return 0;
}

static void free_members(dcr_json *v)
{
    for (size_t i = 0; i < v->n; i++) {
        free(v->members[i].key);
        dcr_json_free(v->members[i].value);
    }
    free(v->members);
}

void dcr_json_free(dcr_json *v)
{
    if (!v)
        return;
    if (v->kind == DCR_JSON_ARRAY) {
        for (size_t i = 0; i < v->n; i++)
            dcr_json_free(v->items[i]);
        free(v->items);
    } else if (v->kind == DCR_JSON_OBJECT) {
        free_members(v);
    }
    free(v->str);
    free(v);
}

/* Grows the open container at depth d to hold one more child. */
static bool grow(builder *b, size_t d)
{
    dcr_json *c = b->stack[d];
    if (c->n < b->caps[d])
        return true;
    size_t cap = b->caps[d] ? b->caps[d] * 2 : 4;
    if (c->kind == DCR_JSON_ARRAY) {
        dcr_json **items = realloc(c->items, cap * sizeof *items);
        if (!items)
            return false;
        c->items = items;
    } else {
        dcr_json_member *m = realloc(c->members, cap * sizeof *m);
        if (!m)
            return false;
        c->members = m;
    }
    b->caps[d] = cap;
    return true;
}

/* Makes a value of the given kind at offset and attaches it to the open
 * container (or makes it the root). Returns NULL when out of memory. */
static dcr_json *attach(builder *b, dcr_json_kind kind, size_t offset)
{
    dcr_json *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->kind = kind;
    v->offset = offset;
    if (b->depth == 0) {
        b->root = v;
        return v;
    }
    size_t d = b->depth - 1;
    dcr_json *parent = b->stack[d];
    if (!grow(b, d)) {
        free(v);
        return NULL;
    }
    if (parent->kind == DCR_JSON_ARRAY) {
        parent->items[parent->n++] = v;
    } else {
        parent->members[parent->n++] = (dcr_json_member){b->key, b->key_len, b->key_offset, v};
        b->key = NULL;
    }
    return v;
}

static char *copy_text(const void *s, size_t len)
{
    char *c = malloc(len + 1);
    if (!c)
        return NULL;
    memcpy(c, s, len);
    c[len] = 0;
    return c;
}

static int on_null(void *ctx)
{
    builder *b = ctx;
    return attach(b, DCR_JSON_NULL, advance(b)) ? 1 : out_of_memory(b);
}

static int on_bool(void *ctx, int val)
{
    builder *b = ctx;
    dcr_json *v = attach(b, DCR_JSON_BOOL, advance(b));
    if (!v)
        return out_of_memory(b);
    v->boolean = val != 0;
    return 1;
}

/* Sets d, is_int and i from the number's text (yajl has checked its syntax). */
static void number_value(dcr_json *v)
{
    v->d = strtod(v->str, NULL); /* ERANGE: +-inf or a denormal/zero, fine */
    if (strpbrk(v->str, ".eE"))
        return;
    errno = 0;
    long long i = strtoll(v->str, NULL, 10);
    if (errno == 0) {
        v->is_int = true;
        v->i = i;
    }
}

static int on_number(void *ctx, const char *s, size_t len)
{
    builder *b = ctx;
    dcr_json *v = attach(b, DCR_JSON_NUMBER, advance(b));
    if (!v || !(v->str = copy_text(s, len)))
        return out_of_memory(b);
    v->len = len;
    number_value(v);
    return 1;
}

/* yajl checks UTF-8 structure but lets overlong forms through (the raw
 * text is checked up front for that), turns a lone high-surrogate escape
 * into '?' and pairs a high surrogate with any following \u escape. So the
 * raw string token [start, end) is checked here: every \uD800-\uDBFF must
 * be followed by a \uDC00-\uDFFF, and no low surrogate may stand alone. */
static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static bool surrogates_ok(const char *raw, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (raw[i] != '\\')
            continue;
        if (raw[i + 1] != 'u' || i + 6 > n) { /* a two-character escape */
            i++;
            continue;
        }
        unsigned u = hex4(raw + i + 2); /* yajl has checked the hex digits */
        i += 5;
        if (u >= 0xDC00 && u <= 0xDFFF)
            return false;
        if (u < 0xD800 || u > 0xDBFF)
            continue;
        if (i + 7 > n || raw[i + 1] != '\\' || raw[i + 2] != 'u')
            return false;
        unsigned lo = hex4(raw + i + 3);
        if (lo < 0xDC00 || lo > 0xDFFF)
            return false;
        i += 6;
    }
    return true;
}

static bool string_ok(builder *b, size_t start, const unsigned char *s, size_t len)
{
    size_t end = b->prev_end > start ? b->prev_end : start;
    return dcr_utf8_check((const char *)s, len) == len &&
           surrogates_ok(b->text + start, end - start);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    builder *b = ctx;
    size_t start = advance(b);
    if (!string_ok(b, start, s, len))
        return cancel(b, start, "string is not valid UTF-8 (unpaired surrogate escape)");
    dcr_json *v = attach(b, DCR_JSON_STRING, start);
    if (!v || !(v->str = copy_text(s, len)))
        return out_of_memory(b);
    v->len = len;
    return 1;
}

static int open_container(builder *b, dcr_json_kind kind)
{
    size_t start = advance(b);
    if (b->depth == DCR_JSON_DEPTH_MAX)
        return cancel(b, start, "nesting deeper than 32 levels");
    dcr_json *v = attach(b, kind, start);
    if (!v)
        return out_of_memory(b);
    b->caps[b->depth] = 0;
    b->stack[b->depth++] = v;
    return 1;
}

static int on_start_map(void *ctx)
{
    return open_container(ctx, DCR_JSON_OBJECT);
}

static int on_start_array(void *ctx)
{
    return open_container(ctx, DCR_JSON_ARRAY);
}

static int on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    builder *b = ctx;
    b->key_offset = advance(b);
    if (!string_ok(b, b->key_offset, s, len))
        return cancel(b, b->key_offset, "key is not valid UTF-8 (unpaired surrogate escape)");
    free(b->key);
    b->key = copy_text(s, len);
    b->key_len = len;
    return b->key ? 1 : out_of_memory(b);
}

static int cmp_members(const void *pa, const void *pb)
{
    const dcr_json_member *a = *(dcr_json_member *const *)pa, *b = *(dcr_json_member *const *)pb;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, n);
    if (c)
        return c;
    if (a->key_len != b->key_len)
        return a->key_len < b->key_len ? -1 : 1;
    return a->key_offset < b->key_offset ? -1 : a->key_offset > b->key_offset;
}

/* Refuses duplicate keys in a finished object, pointing at the first key in
 * document order that repeats an earlier one. Sorting keeps this O(n log n)
 * for hostile objects with many keys. */
static int check_duplicates(builder *b, const dcr_json *obj)
{
    if (obj->n < 2)
        return 1;
    const dcr_json_member **sorted = malloc(obj->n * sizeof *sorted);
    if (!sorted)
        return out_of_memory(b);
    for (size_t i = 0; i < obj->n; i++)
        sorted[i] = &obj->members[i];
    qsort(sorted, obj->n, sizeof *sorted, cmp_members);
    size_t dup = SIZE_MAX;
    for (size_t i = 1; i < obj->n; i++) {
        const dcr_json_member *x = sorted[i - 1], *y = sorted[i];
        if (x->key_len == y->key_len && memcmp(x->key, y->key, x->key_len) == 0 &&
            y->key_offset < dup)
            dup = y->key_offset;
    }
    free(sorted);
    return dup == SIZE_MAX ? 1 : cancel(b, dup, "duplicate key");
}

static int close_container(builder *b)
{
    advance(b);
    dcr_json *c = b->stack[--b->depth];
    return c->kind == DCR_JSON_OBJECT ? check_duplicates(b, c) : 1;
}

static int on_end(void *ctx)
{
    return close_container(ctx);
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

/* yajl's own message, first line only, without its "lexical/parse error:"
 * prefix noise kept short. */
static void yajl_reason(builder *b, dcr_error *err)
{
    unsigned char *m = yajl_get_error(b->h, 0, (const unsigned char *)b->text, b->len);
    const char *msg = m ? (const char *)m : "syntax error";
    size_t n = strcspn(msg, "\n");
    while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == '.'))
        n--;
    dcr_fail(err, DCR_EINPUT, "invalid JSON: %.*s", (int)(n > 200 ? 200 : n), msg);
    if (m)
        yajl_free_error(b->h, m);
}

/* yajl accepts \v and \f as whitespace; JSON does not. Raw control bytes
 * are invalid everywhere (in strings too), so a scan is enough. */
static size_t find_bad_space(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\v' || text[i] == '\f')
            return i;
    return len;
}

static dcr_status run_parser(builder *b, size_t *err_offset, dcr_error *err)
{
    yajl_status st = yajl_parse(b->h, (const unsigned char *)b->text, b->len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(b->h);
    if (st == yajl_status_ok)
        return DCR_OK;
    if (b->oom)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory parsing JSON");
    if (b->fail) {
        *err_offset = b->fail_offset;
        return dcr_fail(err, DCR_EINPUT, "invalid JSON: %s", b->fail);
    }
    /* yajl's own offset is where it gave up, often past the culprit; the
     * first token after the last good one is what a reader wants to see. */
    *err_offset = token_start(b);
    yajl_reason(b, err);
    return DCR_EINPUT;
}

dcr_status dcr_json_parse(const char *text, size_t len, dcr_json **out, size_t *err_offset,
                          dcr_error *err)
{
    *out = NULL;
    *err_offset = 0;
    if (len > DCR_JSON_TEXT_MAX)
        return dcr_fail(err, DCR_EINPUT, "larger than the %u bytes allowed", DCR_JSON_TEXT_MAX);
    size_t bad = find_bad_space(text, len);
    if (bad < len) {
        *err_offset = bad;
        return dcr_fail(err, DCR_EINPUT, "invalid JSON: control character outside a string");
    }
    if ((bad = dcr_utf8_check(text, len)) < len) {
        *err_offset = bad;
        return dcr_fail(err, DCR_EINPUT, "invalid UTF-8 (byte 0x%02x)", (unsigned char)text[bad]);
    }
    builder b = {.text = text, .len = len};
    b.h = yajl_alloc(&callbacks, NULL, &b);
    if (!b.h)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory (yajl_alloc)");
    if (!yajl_config(b.h, yajl_allow_comments, 0) ||
        !yajl_config(b.h, yajl_dont_validate_strings, 0)) {
        yajl_free(b.h);
        return dcr_fail(err, DCR_EINTERNAL, "yajl_config failed");
    }
    dcr_status s = run_parser(&b, err_offset, err);
    yajl_free(b.h);
    free(b.key);
    if (s != DCR_OK) {
        dcr_json_free(b.root);
        return s;
    }
    *out = b.root;
    return DCR_OK;
}

const dcr_json_member *dcr_json_member_get(const dcr_json *obj, const char *key)
{
    if (!obj || obj->kind != DCR_JSON_OBJECT)
        return NULL;
    size_t len = strlen(key);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->members[i].key_len == len && memcmp(obj->members[i].key, key, len) == 0)
            return &obj->members[i];
    return NULL;
}

const dcr_json *dcr_json_get(const dcr_json *obj, const char *key)
{
    const dcr_json_member *m = dcr_json_member_get(obj, key);
    return m ? m->value : NULL;
}

void dcr_json_position(const char *text, size_t len, size_t offset, unsigned *line,
                       unsigned *column)
{
    unsigned l = 1, c = 1;
    if (offset > len)
        offset = len;
    for (size_t i = 0; i < offset; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) { /* not a UTF-8 continuation byte */
            c++;
        }
    }
    *line = l;
    *column = c;
}

const char *dcr_json_kind_name(dcr_json_kind kind)
{
    switch (kind) {
    case DCR_JSON_NULL:
        return "null";
    case DCR_JSON_BOOL:
        return "a boolean";
    case DCR_JSON_NUMBER:
        return "a number";
    case DCR_JSON_STRING:
        return "a string";
    case DCR_JSON_ARRAY:
        return "an array";
    case DCR_JSON_OBJECT:
        return "an object";
    }
    return "a value";
}
