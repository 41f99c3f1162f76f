/*
 * fuzz_sql.c: the SQL front end (libpg_query parse, then binding and typing
 * against a catalog) on arbitrary text. An analyst may be malicious, so
 * every SQL string is hostile input. Plans that compile are printed with
 * EXPLAIN too, which walks the whole tree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sql/sql.h"

static const char impressions_json[] =
    "{\"dataset\": \"impressions\", \"columns\": [{\"name\": \"email\", \"type\": \"TEXT\"},"
    "{\"name\": \"campaign\", \"type\": \"TEXT\"}, {\"name\": \"shown_at\", \"type\": "
    "\"TIMESTAMP\"}, {\"name\": \"cost\", \"type\": \"DOUBLE PRECISION\"},"
    "{\"name\": \"clicked\", \"type\": \"BOOLEAN\"}, {\"name\": \"n\", \"type\": \"BIGINT\"},"
    "{\"name\": \"day\", \"type\": \"DATE\"}]}";
static const char purchases_json[] =
    "{\"dataset\": \"purchases\", \"columns\": [{\"name\": \"email\", \"type\": \"TEXT\"},"
    "{\"name\": \"amount\", \"type\": \"DOUBLE PRECISION\"}, {\"name\": \"qty\", \"type\": "
    "\"BIGINT\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dcr_error err;
    dcr_schema imp, pur;
    if (dcr_schema_parse_json(impressions_json, sizeof impressions_json - 1, "f", &imp, &err) ||
        dcr_schema_parse_json(purchases_json, sizeof purchases_json - 1, "f", &pur, &err))
        __builtin_trap();
    dcr_catalog_entry entries[] = {{"impressions", &imp}, {"purchases", &pur}};
    dcr_catalog cat = {2, entries};
    char *sql = malloc(size + 1); /* the API takes a NUL-terminated string */
    if (!sql)
        return 0;
    memcpy(sql, data, size);
    sql[size] = '\0';
    dcr_plan *plan = NULL;
    bool explain = false;
    dcr_status s = dcr_sql_compile(sql, &cat, &plan, &explain, &err);
    if (s == DCR_OK) {
        if (!plan)
            __builtin_trap();
        dcr_buf text = DCR_BUF_INIT;
        (void)dcr_plan_explain(plan, &text, &err);
        dcr_buf_free(&text);
        dcr_plan_free(plan);
    } else if (s != DCR_EINPUT && s != DCR_EINTERNAL) {
        __builtin_trap();
    }
    free(sql);
    dcr_schema_free(&imp);
    dcr_schema_free(&pur);
    return 0;
}
