/*
 * format.c: a query result as text: an aligned table for people, CSV and
 * JSON for programs. Values use the canonical forms of base/value.h (the
 * same text `dcr unseal` writes), so CSV output reads back into `dcr seal`.
 *
 * Table: psql's layout; numbers right-aligned, NULL blank, a row count at
 * the end; control characters in TEXT are shown as \xNN so a value cannot
 * move the cursor. CSV: header row, RFC 4180 quoting, NULL = empty unquoted
 * field, "" = empty string. JSON: an array with one object per row; BIGINT
 * and finite DOUBLE as numbers, NaN/Infinity, dates, timestamps and intervals as
 * strings, NULL as null.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/textwidth.h"
#include "csv/csv.h"
#include "base/value.h"
#include "exec/exec.h"

const char *dcr_result_value_text(const dcr_column *c, size_t row, char *buf, size_t *len)
{
    if (dcr_column_is_null(c, row)) {
        *len = 0;
        return NULL;
    }
    switch (c->type) {
    case DCR_TYPE_TEXT:
        return dcr_vec_text(c, row, len);
    case DCR_TYPE_BIGINT:
        *len = dcr_format_bigint(((const int64_t *)c->values)[row], buf);
        break;
    case DCR_TYPE_DOUBLE:
        *len = dcr_format_double(((const double *)c->values)[row], buf);
        break;
    case DCR_TYPE_BOOLEAN:
        *len = dcr_format_bool(((const uint8_t *)c->values)[row], buf);
        break;
    case DCR_TYPE_DATE:
        *len = dcr_format_date(((const int32_t *)c->values)[row], buf);
        break;
    case DCR_TYPE_TIMESTAMP:
        *len = dcr_format_timestamp(((const int64_t *)c->values)[row], buf);
        break;
    case DCR_TYPE_INTERVAL:
        *len = dcr_format_interval(((const dcr_interval *)c->values)[row], buf);
        break;
    }
    return buf;
}

static dcr_status put(dcr_buf *out, const char *s, size_t n, dcr_error *err)
{
    return dcr_buf_append(out, s, n, err);
}

static dcr_status puts_(dcr_buf *out, const char *s, dcr_error *err)
{
    return dcr_buf_append(out, s, strlen(s), err);
}

/* ---- table ---- */

/* Appends s with control characters escaped; returns its display width
 * (terminal columns: a CJK character takes two). */
static dcr_status put_cell(dcr_buf *out, const char *s, size_t n, size_t *width, dcr_error *err)
{
    size_t w = 0, run = 0; /* run: the printable bytes not yet measured */
    dcr_status st = DCR_OK;
    for (size_t i = 0; st == DCR_OK && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\x%02x", c);
            w += dcr_text_width(s + i - run, run) + 4;
            run = 0;
            if (out)
                st = puts_(out, esc, err);
        } else {
            if (out)
                st = put(out, s + i, 1, err);
            run++;
        }
    }
    *width = w + dcr_text_width(s + n - run, run);
    return st;
}

static size_t cell_width(const dcr_column *c, size_t row)
{
    char buf[DCR_RESULT_TEXT_MAX];
    size_t len, w = 0;
    const char *t = dcr_result_value_text(c, row, buf, &len);
    if (t)
        put_cell(NULL, t, len, &w, NULL);
    return w;
}

static dcr_status pad(dcr_buf *out, size_t n, dcr_error *err)
{
    dcr_status s = DCR_OK;
    for (size_t i = 0; s == DCR_OK && i < n; i++)
        s = put(out, " ", 1, err);
    return s;
}

static bool right_aligned(dcr_type t)
{
    return t == DCR_TYPE_BIGINT || t == DCR_TYPE_DOUBLE;
}

static dcr_status table_row(const dcr_result *r, const dcr_batch *b, size_t row,
                            const size_t *widths, dcr_buf *out, dcr_error *err)
{
    dcr_status s = DCR_OK;
    for (size_t c = 0; s == DCR_OK && c < r->ncols; c++) {
        char buf[DCR_RESULT_TEXT_MAX];
        size_t len, w = cell_width(&b->cols[c], row);
        const char *t = dcr_result_value_text(&b->cols[c], row, buf, &len);
        s = puts_(out, c ? " | " : " ", err);
        if (s == DCR_OK && right_aligned(r->types[c]))
            s = pad(out, widths[c] - w, err);
        if (s == DCR_OK && t)
            s = put_cell(out, t, len, &w, err);
        if (s == DCR_OK && !right_aligned(r->types[c]) && c + 1 < r->ncols)
            s = pad(out, widths[c] - w, err);
    }
    return s ? s : puts_(out, "\n", err);
}

static dcr_status format_table(const dcr_result *r, dcr_buf *out, dcr_error *err)
{
    size_t *widths = calloc(r->ncols ? r->ncols : 1, sizeof *widths);
    if (!widths)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    for (size_t c = 0; c < r->ncols; c++) {
        put_cell(NULL, r->names[c], strlen(r->names[c]), &widths[c], NULL);
        for (size_t b = 0; b < r->nbatches; b++)
            for (size_t i = 0; i < r->batches[b].nrows; i++) {
                size_t w = cell_width(&r->batches[b].cols[c], i);
                widths[c] = w > widths[c] ? w : widths[c];
            }
    }
    dcr_status s = DCR_OK;
    for (size_t c = 0; s == DCR_OK && c < r->ncols; c++) {
        size_t w;
        s = puts_(out, c ? " | " : " ", err);
        s = s ? s : put_cell(out, r->names[c], strlen(r->names[c]), &w, err);
        if (s == DCR_OK && c + 1 < r->ncols)
            s = pad(out, widths[c] - w, err);
    }
    s = s ? s : puts_(out, "\n", err);
    for (size_t c = 0; s == DCR_OK && c < r->ncols; c++) {
        s = puts_(out, c ? "-+-" : "-", err);
        for (size_t i = 0; s == DCR_OK && i < widths[c]; i++)
            s = puts_(out, "-", err);
    }
    s = s ? s : puts_(out, "-\n", err);
    for (size_t b = 0; s == DCR_OK && b < r->nbatches; b++)
        for (size_t i = 0; s == DCR_OK && i < r->batches[b].nrows; i++)
            s = table_row(r, &r->batches[b], i, widths, out, err);
    char foot[48];
    snprintf(foot, sizeof foot, "(%zu row%s)\n", r->nrows, r->nrows == 1 ? "" : "s");
    free(widths);
    return s ? s : puts_(out, foot, err);
}

/* ---- CSV ---- */

static dcr_status format_csv(const dcr_result *r, dcr_buf *out, dcr_error *err)
{
    dcr_status s = DCR_OK;
    for (size_t c = 0; s == DCR_OK && c < r->ncols; c++) {
        s = c ? puts_(out, ",", err) : DCR_OK;
        s = s ? s : dcr_csv_write_field(out, r->names[c], strlen(r->names[c]), false, err);
    }
    s = s ? s : puts_(out, "\n", err);
    for (size_t b = 0; s == DCR_OK && b < r->nbatches; b++) {
        const dcr_batch *bt = &r->batches[b];
        for (size_t i = 0; s == DCR_OK && i < bt->nrows; i++) {
            for (size_t c = 0; s == DCR_OK && c < r->ncols; c++) {
                char buf[DCR_RESULT_TEXT_MAX];
                size_t len;
                const char *t = dcr_result_value_text(&bt->cols[c], i, buf, &len);
                s = c ? puts_(out, ",", err) : DCR_OK;
                if (s == DCR_OK && t) /* "" keeps an empty TEXT apart from NULL */
                    s = dcr_csv_write_field(out, t, len, r->types[c] == DCR_TYPE_TEXT && len == 0,
                                            err);
            }
            s = s ? s : puts_(out, "\n", err);
        }
    }
    return s;
}

/* ---- JSON ---- */

static dcr_status json_string(dcr_buf *out, const char *s, size_t n, dcr_error *err)
{
    dcr_status st = puts_(out, "\"", err);
    for (size_t i = 0; st == DCR_OK && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            st = put(out, esc, 2, err);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            st = puts_(out, esc, err);
        } else {
            st = put(out, s + i, 1, err);
        }
    }
    return st ? st : puts_(out, "\"", err);
}

static dcr_status json_value(const dcr_column *c, size_t row, dcr_buf *out, dcr_error *err)
{
    char buf[DCR_RESULT_TEXT_MAX];
    size_t len;
    const char *t = dcr_result_value_text(c, row, buf, &len);
    if (!t)
        return puts_(out, "null", err);
    bool number = c->type == DCR_TYPE_BIGINT || c->type == DCR_TYPE_BOOLEAN ||
                  (c->type == DCR_TYPE_DOUBLE && isfinite(((const double *)c->values)[row]));
    return number ? put(out, t, len, err) : json_string(out, t, len, err);
}

/* The API's answer shape (docs/api.md), one row per line:
 * {"columns": [{"name": N, "type": T}, ...], "rows": [[v, ...], ...]}. */
static dcr_status format_json(const dcr_result *r, dcr_buf *out, dcr_error *err)
{
    dcr_status s = puts_(out, "{\"columns\": [", err);
    for (size_t c = 0; s == DCR_OK && c < r->ncols; c++) {
        s = puts_(out, c ? ", {\"name\": " : "{\"name\": ", err);
        s = s ? s : json_string(out, r->names[c], strlen(r->names[c]), err);
        s = s ? s : puts_(out, ", \"type\": \"", err);
        s = s ? s : puts_(out, dcr_type_name(r->types[c]), err);
        s = s ? s : puts_(out, "\"}", err);
    }
    s = s ? s : puts_(out, "],\n \"rows\": [", err);
    size_t n = 0;
    for (size_t b = 0; s == DCR_OK && b < r->nbatches; b++) {
        const dcr_batch *bt = &r->batches[b];
        for (size_t i = 0; s == DCR_OK && i < bt->nrows; i++, n++) {
            s = puts_(out, n ? ",\n  [" : "\n  [", err);
            for (size_t c = 0; s == DCR_OK && c < r->ncols; c++) {
                s = c ? puts_(out, ", ", err) : DCR_OK;
                s = s ? s : json_value(&bt->cols[c], i, out, err);
            }
            s = s ? s : puts_(out, "]", err);
        }
    }
    return s ? s : puts_(out, n ? "\n ]}\n" : "]}\n", err);
}

dcr_status dcr_result_format(const dcr_result *r, dcr_format f, dcr_buf *out, dcr_error *err)
{
    switch (f) {
    case DCR_FORMAT_CSV:
        return format_csv(r, out, err);
    case DCR_FORMAT_JSON:
        return format_json(r, out, err);
    default:
        return format_table(r, out, err);
    }
}
