/*
 * result.c: printing a query answer (result.h). Every member is looked up
 * defensively: the server is trusted for the contract's rules only after
 * attestation, but a bug or a hostile answer must never crash the client.
 */
#include "cli/result.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/hygiene.h"
#include "base/textwidth.h"

/* Table cells and names go to a terminal: control characters (which could
 * move the cursor, recolour or rewrite what is shown) become '?'. The data
 * comes from other parties' datasets, so this is not only about a hostile
 * server. */
static void tame(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

/* The name of column c, "" when it has none. */
static const char *col_name(const json_t *cols, size_t c)
{
    const char *n = json_string_value(json_object_get(json_array_get(cols, c), "name"));
    return n ? n : "";
}

/* col_name, tamed for the table (caller frees). */
static char *table_name(const json_t *cols, size_t c)
{
    char *n = strdup(col_name(cols, c));
    if (n)
        tame(n);
    return n;
}

/* The text of a result cell (caller frees); NULL prints as the empty
 * string, and so does anything that is not a scalar. */
static char *cell(const json_t *v)
{
    char buf[64] = "";
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof buf, "%.15g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    return strdup(buf);
}

static size_t utf8_width(const char *s)
{
    return dcr_text_width(s, strlen(s));
}

static void print_table(FILE *out, const json_t *cols, const json_t *rows)
{
    size_t nc = json_array_size(cols), nr = json_array_size(rows);
    size_t *w = calloc(nc ? nc : 1, sizeof *w);
    if (!w)
        return;
    for (size_t c = 0; c < nc; c++)
        w[c] = utf8_width(col_name(cols, c));
    for (size_t r = 0; r < nr; r++)
        for (size_t c = 0; c < nc; c++) {
            char *t = cell(json_array_get(json_array_get(rows, r), c));
            if (t && utf8_width(t) > w[c])
                w[c] = utf8_width(t);
            free(t);
        }
    for (size_t c = 0; c < nc; c++) {
        char *n = table_name(cols, c);
        fprintf(out, "%s %s%*s", c ? " |" : "", n ? n : "", (int)(w[c] - utf8_width(n ? n : "")),
                "");
        free(n);
    }
    fprintf(out, "\n");
    for (size_t c = 0; c < nc; c++) {
        fprintf(out, "%s", c ? "-+-" : "-");
        for (size_t i = 0; i < w[c]; i++)
            fputc('-', out);
    }
    fprintf(out, "-\n");
    for (size_t r = 0; r < nr; r++) {
        for (size_t c = 0; c < nc; c++) {
            json_t *v = json_array_get(json_array_get(rows, r), c);
            char *t = cell(v);
            if (t)
                tame(t);
            int pad = (int)(w[c] - utf8_width(t ? t : ""));
            if (json_is_number(v))
                fprintf(out, "%s %*s%s", c ? " |" : "", pad, "", t ? t : "");
            else
                fprintf(out, "%s %s%*s", c ? " |" : "", t ? t : "", pad, "");
            free(t);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "(%zu row%s)\n", nr, nr == 1 ? "" : "s");
    free(w);
}

/* A CSV field: empty for SQL NULL, quoted when it needs to be (an empty
 * string is "" so it differs from NULL). */
static void print_csv_field(FILE *out, const char *s, bool is_null)
{
    if (is_null)
        return;
    if (!strpbrk(s, ",\"\r\n") && *s) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void print_csv(FILE *out, const json_t *cols, const json_t *rows)
{
    size_t nc = json_array_size(cols);
    for (size_t c = 0; c < nc; c++) {
        fprintf(out, "%s", c ? "," : "");
        print_csv_field(out, col_name(cols, c), false);
    }
    fprintf(out, "\n");
    for (size_t r = 0; r < json_array_size(rows); r++) {
        for (size_t c = 0; c < nc; c++) {
            json_t *v = json_array_get(json_array_get(rows, r), c);
            char *t = cell(v);
            fprintf(out, "%s", c ? "," : "");
            print_csv_field(out, t ? t : "", json_is_null(v));
            free(t);
        }
        fprintf(out, "\n");
    }
}

void cli_result_print(FILE *out, const json_t *o, bool csv)
{
    const json_t *cols = json_object_get(o, "columns"), *rows = json_object_get(o, "rows");
    if (csv)
        print_csv(out, cols, rows);
    else
        print_table(out, cols, rows);
}

void cli_result_print_privacy(FILE *out, const json_t *o)
{
    const json_t *p = json_object_get(o, "privacy");
    long long rel = json_integer_value(json_object_get(p, "rows_released"));
    double eps = json_number_value(json_object_get(p, "epsilon"));
    char prot[40];
    const char *pr = json_string_value(json_object_get(p, "protection"));
    snprintf(prot, sizeof prot, "%s", pr ? pr : "");
    tame(prot);
    fprintf(out, "privacy: k = %lld; %lld row%s released (groups under k withheld)",
            (long long)json_integer_value(json_object_get(p, "k")), rel, rel == 1 ? "" : "s");
    if (prot[0])
        fprintf(out, "; protection %s", prot);
    if (eps > 0)
        fprintf(out, "; epsilon %.4g spent", eps);
    const char *t = json_string_value(json_object_get(p, "template"));
    if (t && *t && strlen(t) <= 64) {
        char name[65];
        snprintf(name, sizeof name, "%s", t);
        tame(name);
        fprintf(out, "; template %s", name);
    }
    fprintf(out, "\n");
    /* Rows withheld from an asker that is not a receiver (docs/privacy.md,
     * "Receivers"): say so, and where they went. */
    const json_t *res = json_object_get(o, "result");
    const char *note = json_string_value(json_object_get(res, "note"));
    if (json_is_false(json_object_get(res, "delivered")) && note && strlen(note) < 1024) {
        char *line = strdup(note);
        if (line) {
            tame(line);
            fprintf(out, "result: %s\n", line);
        }
        free(line);
    }
}

void cli_result_print_answer(FILE *out, const json_t *o, const char *json_text, size_t json_len,
                             const char *format)
{
    if (strcmp(format, "json") == 0) {
        char *own = json_text ? NULL : json_dumps(o, JSON_COMPACT);
        const char *t = json_text ? json_text : own;
        size_t n = json_text ? json_len : own ? strlen(own) : 0;
        if (t)
            fwrite(t, 1, n, out);
        if (!n || t[n - 1] != '\n')
            fputc('\n', out);
        free(own);
        fflush(out);
        return;
    }
    cli_result_print(out, o, strcmp(format, "csv") == 0);
    fflush(out);
    cli_result_print_privacy(stderr, o);
}

/* ---- results as files ---- */

/* The format a file name implies, or NULL. */
static const char *format_of_name(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && strchr(dot, '/') == NULL) {
        if (strcmp(dot, ".csv") == 0)
            return "csv";
        if (strcmp(dot, ".json") == 0)
            return "json";
    }
    return NULL;
}

dcr_status cli_output_open(cli_output *o, dcr_error *err)
{
    o->open = false;
    if (!o->path) {
        if (!o->format)
            o->format = "table";
        return DCR_OK;
    }
    if (!o->format && !(o->format = format_of_name(o->path)))
        return dcr_fail(err, DCR_EUSAGE,
                        "--out %s: cannot tell the format from the name: end it in .csv or "
                        ".json, or give --format csv|json|table",
                        o->path);
    dcr_status s = dcr_atomic_open(&o->file, o->path, 0600, o->force, err);
    if (s == DCR_EINPUT && strstr(err->msg, "already exists"))
        s = dcr_fail(err, DCR_EINPUT, "--out %s: already exists; give --force to replace it",
                     o->path);
    o->open = s == DCR_OK;
    return s;
}

dcr_status cli_output_write(cli_output *o, const void *data, size_t len, dcr_error *err)
{
    if (o->open)
        return dcr_write_all(o->file.fd, data, len, o->path, err);
    return dcr_write_all(STDOUT_FILENO, data, len, "standard output", err);
}

dcr_status cli_output_answer(cli_output *o, const json_t *answer, const char *json_text,
                             size_t json_len, dcr_error *err)
{
    if (!o->open) {
        cli_result_print_answer(stdout, answer, json_text, json_len, o->format);
        return DCR_OK;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    cli_result_print_answer(mem, answer, json_text, json_len, o->format);
    bool failed = ferror(mem) != 0;
    fclose(mem);
    dcr_status s = failed ? dcr_fail(err, DCR_EINTERNAL, "out of memory")
                          : cli_output_write(o, text, len, err);
    dcr_wipe_free(text, len); /* the result's plaintext */
    return s;
}

dcr_status cli_output_commit(cli_output *o, dcr_error *err)
{
    if (!o->open)
        return DCR_OK;
    o->open = false;
    return dcr_atomic_commit(&o->file, err);
}

void cli_output_abort(cli_output *o)
{
    if (o->open)
        dcr_atomic_abort(&o->file);
    o->open = false;
}

dcr_status cli_read_sql_file(const char *path, char **sql, dcr_error *err)
{
    size_t len;
    dcr_status s = dcr_read_file(path, 1u << 20, sql, &len, err);
    if (s != DCR_OK)
        return dcr_error_prefix(err, "--file");
    if (strlen(*sql) != len) {
        free(*sql);
        *sql = NULL;
        return dcr_fail(err, DCR_EINPUT, "--file %s: contains a NUL byte: not SQL text", path);
    }
    return DCR_OK;
}
