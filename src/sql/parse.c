/*
 * parse.c: SQL text -> libpg_query parse tree, and messages that point into
 * the SQL.
 *
 * Why protobuf and not JSON: Debian 12's libpg-query-dev (15-4.0.0) offers
 * both pg_query_parse (JSON text) and pg_query_parse_protobuf. Its JSON
 * writer drops negative integer constants (`SELECT -5` comes out as
 * "ival":{}, the same as 0), which would silently change queries. The
 * protobuf form is exact and unpacks into typed C structs (no string
 * matching on node names). libpg_query bundles the protobuf-c runtime, so
 * only the protobuf-c header package (libprotobuf-c-dev) is needed at build
 * time and nothing more at link time.
 *
 * Positions: libpg_query records the byte offset of most nodes in a
 * `location` field; dcr_sql_node_location finds it through the protobuf
 * descriptors, so one function serves every node kind.
 */
#include "sql/parse.h"

#include <pg_query.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sql/sql.h"

void dcr_sql_position(const char *sql, int location, char *out, size_t out_size)
{
    size_t len = sql ? strlen(sql) : 0;
    if (location < 0 || (size_t)location > len) {
        snprintf(out, out_size, "SQL");
        return;
    }
    size_t line = 1, col = 1;
    for (size_t i = 0; i < (size_t)location; i++) {
        unsigned char c = (unsigned char)sql[i];
        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) {
            col++;
        }
    }
    snprintf(out, out_size, "SQL:%zu:%zu", line, col);
}

dcr_status dcr_sql_locate(dcr_error *err, const char *sql, int location)
{
    char pos[48];
    dcr_sql_position(sql, location, pos, sizeof pos);
    return dcr_error_prefix(err, "%s", pos);
}

dcr_status dcr_sql_fail(dcr_error *err, const char *sql, int location, const char *fmt, ...)
{
    char msg[DCR_ERROR_MSG_MAX], pos[48];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dcr_sql_position(sql, location, pos, sizeof pos);
    return dcr_fail(err, DCR_EINPUT, "%s: %s", pos, msg);
}

dcr_status dcr_sql_unsupported(dcr_error *err, const char *sql, int location, const char *what)
{
    return dcr_sql_fail(err, sql, location, "%s is not supported", what);
}

/* libpg_query reports a syntax error's position as a 1-based character
 * index; turn it into a byte offset. */
static int char_pos_to_offset(const char *sql, int cursorpos)
{
    if (cursorpos <= 0)
        return -1;
    int chars = 0;
    for (size_t i = 0; sql[i]; i++) {
        if (((unsigned char)sql[i] & 0xC0) != 0x80 && ++chars == cursorpos)
            return (int)i;
    }
    return (int)strlen(sql);
}

dcr_status dcr_sql_parse(const char *sql, dcr_sql_tree *out, dcr_error *err)
{
    out->tree = NULL;
    if (strlen(sql) > DCR_SQL_MAX_LEN)
        return dcr_fail(err, DCR_EINPUT, "SQL: the statement is longer than %u bytes",
                        DCR_SQL_MAX_LEN);
    PgQueryProtobufParseResult r = pg_query_parse_protobuf(sql);
    dcr_status s = DCR_OK;
    if (r.error) {
        char quoted[200];
        const char *m = r.error->message ? r.error->message : "syntax error";
        dcr_error_quote(quoted, sizeof quoted, m, strlen(m));
        s = dcr_sql_fail(err, sql, char_pos_to_offset(sql, r.error->cursorpos), "%s", quoted);
    } else {
        out->tree = pg_query__parse_result__unpack(NULL, r.parse_tree.len,
                                                   (const uint8_t *)r.parse_tree.data);
        if (!out->tree)
            s = dcr_fail(err, DCR_EINTERNAL, "SQL: cannot read libpg_query's parse tree");
    }
    pg_query_free_protobuf_parse_result(r);
    return s;
}

void dcr_sql_tree_free(dcr_sql_tree *t)
{
    if (t->tree)
        pg_query__parse_result__free_unpacked(t->tree, NULL);
    t->tree = NULL;
}

/* The oneof member of a Node that is set: its descriptor and its message. */
static const ProtobufCFieldDescriptor *node_field(const PgQuery__Node *n, const void **msg)
{
    if (!n || n->node_case == PG_QUERY__NODE__NODE__NOT_SET)
        return NULL;
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor, (int)n->node_case);
    if (!fd || fd->type != PROTOBUF_C_TYPE_MESSAGE)
        return NULL;
    *msg = *(const void *const *)((const char *)n + fd->offset);
    return fd;
}

int dcr_sql_node_location(const PgQuery__Node *n)
{
    const void *msg = NULL;
    const ProtobufCFieldDescriptor *fd = node_field(n, &msg);
    if (!fd || !msg)
        return -1;
    const ProtobufCFieldDescriptor *loc = protobuf_c_message_descriptor_get_field_by_name(
        (const ProtobufCMessageDescriptor *)fd->descriptor, "location");
    if (!loc || loc->type != PROTOBUF_C_TYPE_INT32)
        return -1;
    return *(const int32_t *)((const char *)msg + loc->offset);
}

const char *dcr_sql_node_name(const PgQuery__Node *n)
{
    static const struct {
        const char *field, *name;
    } names[] = {
        {"sub_link", "subquery expression"},
        {"range_subselect", "subquery in FROM"},
        {"range_function", "function in FROM"},
        {"window_def", "window definition"},
        {"a_indirection", "array subscript or field selection"},
        {"a_array_expr", "ARRAY constructor"},
        {"row_expr", "row constructor"},
        {"collate_clause", "COLLATE"},
        {"param_ref", "parameter ($n)"},
        {"min_max_expr", "GREATEST/LEAST"},
        {"sqlvalue_function", "SQL value function (CURRENT_DATE, ...)"},
        {"grouping_func", "GROUPING()"},
        {"grouping_set", "GROUPING SETS / ROLLUP / CUBE"},
        {"xml_expr", "XML expression"},
        {"insert_stmt", "INSERT"},
        {"update_stmt", "UPDATE"},
        {"delete_stmt", "DELETE"},
        {"create_stmt", "CREATE TABLE"},
        {"drop_stmt", "DROP"},
    };
    const void *msg = NULL;
    const ProtobufCFieldDescriptor *fd = node_field(n, &msg);
    if (!fd)
        return "this construct";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(fd->name, names[i].field) == 0)
            return names[i].name;
    return fd->name;
}
