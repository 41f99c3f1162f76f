/*
 * log.c: the server's log, one line per request and per lifecycle event,
 * as text or as JSON lines (--log-format json) for a log collector.
 *
 * What a line may hold is deliberately narrow (docs/security.md, "Logs
 * and metrics"): times, the request id, the peer address, the party name,
 * method, path and route pattern, status, error code, refusal rule,
 * duration, and for queries a short SHA-256 prefix of the SQL. Never the
 * SQL itself (its literals may be identifiers the analyst probes for),
 * never an error message (a message may quote SQL), never a value, a key
 * or a body. Each line is written with one fwrite, so lines of the HTTP
 * threads never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/internal.h"

void srv_iso_now(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    out[0] = '\0';
    if (!gmtime_r(&ts.tv_sec, &tm))
        return;
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void write_line(srv *s, const char *line, size_t len)
{
    fwrite(line, 1, len, s->log);
    fflush(s->log);
}

/* A JSON object as one line (consumed). */
static void write_json(srv *s, json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text)
        return;
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return;
    }
    line[n] = '\n';
    write_line(s, line, n + 1);
    free(line);
}

void srv_log(srv *s, const char *event, const char *fmt, ...)
{
    char msg[1024], now[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    msg[strcspn(msg, "\n")] = '\0';
    srv_iso_now(now);
    if (s->cfg->log_json) {
        write_json(s, json_pack("{s:s,s:s,s:s}", "time", now, "event", event, "message", msg));
        return;
    }
    char line[1100];
    int n = snprintf(line, sizeof line, "%s dcr serve: %s\n", now, msg);
    write_line(s, line, n < (int)sizeof line ? (size_t)n : sizeof line - 1);
}

void srv_log_lines(srv *s, const char *event, const char *text)
{
    while (*text) {
        size_t n = strcspn(text, "\n");
        if (n)
            srv_log(s, event, "%.*s", (int)n, text);
        text += n + (text[n] == '\n');
    }
}

/* The method as sent when it is a plain token (MHD passes any), else "?". */
static const char *safe_method(const char *m)
{
    size_t n = strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    return n && !m[n] ? m : "?";
}

static const char *error_member(const srv_request *r, const char *key)
{
    json_t *e = json_object_get(r->res.json, "error");
    return json_string_value(json_object_get(e, key));
}

void srv_log_request(const srv_request *r)
{
    srv *s = r->s;
    char now[32];
    srv_iso_now(now);
    const char *party = r->party >= 0 ? s->contract.parties[r->party].name : NULL;
    const char *route = r->route ? r->route->pattern : NULL;
    const char *code = error_member(r, "code"), *rule = error_member(r, "rule");
    double ms = (srv_now() - r->t0) * 1e3;
    if (s->cfg->log_json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:f}", "time", now, "event", "request",
                              "request_id", r->id, "peer", r->peer, "method",
                              safe_method(r->method), "status", r->res.status, "ms", ms);
        if (o) {
            const char *opt[][2] = {
                {"party", party}, {"path", r->path[0] ? r->path : NULL},
                {"route", route}, {"code", code},
                {"rule", rule},   {"sql_sha256", r->sql_hash[0] ? r->sql_hash : NULL}};
            for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
                if (opt[i][1] && *opt[i][1])
                    json_object_set_new(o, opt[i][0], json_string(opt[i][1]));
        }
        write_json(s, o);
        return;
    }
    char line[1024];
    int n =
        snprintf(line, sizeof line,
                 "%s dcr serve: request id=%s peer=%s party=%s method=%s path=%s route=%s "
                 "status=%d code=%s%s%s%s%s ms=%.1f\n",
                 now, r->id, r->peer[0] ? r->peer : "-", party ? party : "-",
                 safe_method(r->method), r->path[0] ? r->path : "-", route ? route : "-",
                 r->res.status, code ? code : "-", rule && *rule ? " rule=" : "",
                 rule && *rule ? rule : "", r->sql_hash[0] ? " sql_sha256=" : "", r->sql_hash, ms);
    write_line(s, line, n < (int)sizeof line ? (size_t)n : sizeof line - 1);
}
