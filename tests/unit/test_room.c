/*
 * test_room.c: the room (room/room.h) over a real state directory and
 * in-memory tables: rows go only to the contract's receivers. Analyst
 * "ana" sends its results only to "bob": ana gets the report and a result
 * id without rows, bob fetches and opens the rows with his key, ana and a
 * third party are refused, a planted or altered result is refused, and the
 * audit log holds the query (naming receivers and id) and every fetch. An
 * analyst that receives its own results ("self") gets its rows as before.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "exec/source.h"
#include "room/room.h"

static const char contract_fmt[] =
    "{\"dcr_contract\": 1, \"name\": \"t\", \"version\": 1, \"purpose\": \"test\",\n"
    " \"development\": true,\n"
    " \"parties\": [\n"
    "  {\"name\": \"ana\", \"roles\": [\"analyst\"], \"public_key\": \"%1$s\"},\n"
    "  {\"name\": \"bob\", \"roles\": [\"receiver\"], \"public_key\": \"%2$s\"},\n"
    "  {\"name\": \"carol\", \"roles\": [\"provider\", \"receiver\"], \"public_key\": \"%3$s\"},\n"
    "  {\"name\": \"self\", \"roles\": [\"analyst\", \"receiver\"], \"public_key\": \"%4$s\"}],\n"
    " \"datasets\": [\n"
    "  {\"name\": \"people\", \"owner\": \"carol\", \"privacy_unit\": \"email\", \"columns\": [\n"
    "    {\"name\": \"email\", \"type\": \"TEXT\", \"role\": \"id\"},\n"
    "    {\"name\": \"grp\", \"type\": \"TEXT\", \"role\": \"dimension\"}]}],\n"
    " \"rules\": {\"aggregation\": {\"min_units\": 3,\n  "
    "\"unsafe_free_form_sql_open_to_differencing\": true},\n"
    "  \"receivers\": {\"ana\": [\"bob\"], \"self\": [\"self\"]}},\n"
    " \"evidence\": [{\"type\": \"sim\"}]}\n";

enum { ANA, BOB, CAROL, SELF, NPARTIES };
static dcr_party_key keys[NPARTIES];
static dcr_contract contract;
static dcr_column cols[2];
static dcr_table_source people = {2, cols, 0};
static char dir[] = "/tmp/dcr-test-room-XXXXXX";

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void make_contract(void)
{
    char pub[NPARTIES][DCR_PUB_TEXT_LEN + 2];
    static char text[8192];
    dcr_error err = {0};
    for (int i = 0; i < NPARTIES; i++) {
        if (dcr_party_key_generate(&keys[i], &err))
            abort();
        dcr_party_pub_format(&keys[i].pub, pub[i], sizeof pub[i]);
        pub[i][DCR_PUB_TEXT_LEN] = '\0';
    }
    snprintf(text, sizeof text, contract_fmt, pub[0], pub[1], pub[2], pub[3]);
    dcr_contract_diags d = {0};
    if (dcr_contract_parse(text, strlen(text), "t", &contract, &d, &err) != DCR_OK) {
        fprintf(stderr, "contract: %s\n", err.msg);
        dcr_contract_diags_print(&d, "t", stderr);
        abort();
    }
    dcr_contract_diags_free(&d);
}
#pragma GCC diagnostic pop

static void make_table(void)
{
    dcr_column_init(&cols[0], DCR_TYPE_TEXT);
    dcr_column_init(&cols[1], DCR_TYPE_TEXT);
    char e[16];
    for (int u = 0; u < 12; u++) {
        snprintf(e, sizeof e, "u%d@x", u);
        dcr_column_push_text(&cols[0], e, strlen(e), NULL);
        dcr_column_push_text(&cols[1], "a", 1, NULL);
    }
}

static dcr_room *open_room(void)
{
    dcr_room_config rc = {.contract = &contract, .dir = dir};
    dcr_room *r = NULL;
    dcr_error err = {0};
    CHECK(dcr_room_open_local(&rc, &r, &err) == DCR_OK);
    if (!r)
        fprintf(stderr, "  room: %s\n", err.msg);
    return r;
}

static dcr_status query(dcr_room *r, size_t analyst, const char *sql, dcr_room_answer *ans,
                        dcr_error *err)
{
    dcr_exec_source src;
    dcr_table_source_bind(&src, &people);
    return dcr_room_query(r, analyst, sql, &src, NULL, ans, err);
}

/* The newest audit record's JSON text (caller frees). */
static char *last_record(dcr_room *r, uint64_t back)
{
    dcr_audit_chain c = {0};
    dcr_error err = {0};
    char *out = NULL;
    if (dcr_state_audit_load(dcr_room_state(r), 0, &c, &err) == DCR_OK && c.n > back)
        out = strndup(c.v[c.n - 1 - back].record, c.v[c.n - 1 - back].record_len);
    dcr_audit_chain_free(&c);
    return out ? out : strdup("");
}

static char result_id[DCR_ROOM_RESULT_ID_LEN + 1];

static void test_asker_not_a_receiver_gets_no_rows(void)
{
    dcr_room *r = open_room();
    if (!r)
        return;
    dcr_room_answer ans;
    dcr_error err = {0};
    CHECK(query(r, ANA, "SELECT grp, COUNT(*) AS n FROM people GROUP BY grp", &ans, &err) ==
          DCR_OK);
    CHECK(!ans.delivered && ans.stored && ans.rows.nrows == 0);
    CHECK(ans.report.rows_released == 1);
    CHECK(strlen(ans.result_id) == DCR_ROOM_RESULT_ID_LEN);
    snprintf(result_id, sizeof result_id, "%s", ans.result_id);
    json_t *o = dcr_room_answer_json(&contract, ANA, &ans);
    CHECK(o && !json_object_get(o, "rows"));
    json_t *res = json_object_get(o, "result");
    CHECK(json_is_false(json_object_get(res, "delivered")));
    CHECK(strcmp(json_string_value(json_object_get(res, "id")) ?: "", result_id) == 0);
    CHECK(strstr(json_string_value(json_object_get(res, "note")) ?: "", "not one of them"));
    json_decref(o);
    dcr_room_answer_free(&ans);
    char *rec = last_record(r, 0);
    CHECK(strstr(rec, "\"decision\":\"accepted\""));
    char want[128];
    snprintf(want, sizeof want, "\"reason\":\"receivers: bob; result: %s\"", result_id);
    CHECK(strstr(rec, want));
    free(rec);
    dcr_room_close(r);
}

static void test_receiver_fetches(void)
{
    dcr_room *r = open_room();
    if (!r)
        return;
    dcr_room_sealed s;
    dcr_error err = {0};
    json_t *o = NULL;
    CHECK(dcr_room_fetch(r, BOB, result_id, &s, &err) == DCR_OK);
    CHECK(strcmp(s.receiver, "bob") == 0 && strcmp(s.analyst, "ana") == 0);
    /* Only bob's key opens it, and only as result_id for bob. */
    CHECK(dcr_room_sealed_open(&contract, BOB, result_id, &s, &keys[ANA], &o, &err) == DCR_ECRYPTO);
    CHECK(dcr_room_sealed_open(&contract, CAROL, result_id, &s, &keys[CAROL], &o, &err) ==
          DCR_ECRYPTO);
    CHECK(dcr_room_sealed_open(&contract, BOB, result_id, &s, &keys[BOB], &o, &err) == DCR_OK);
    json_t *rows = json_object_get(o, "rows");
    CHECK(json_array_size(rows) == 1);
    CHECK(json_integer_value(json_array_get(json_array_get(rows, 0), 1)) == 12);
    json_decref(o);
    /* Through the wire form too. */
    json_t *w = dcr_room_sealed_json(&s);
    dcr_room_sealed back;
    CHECK(w && dcr_room_sealed_parse(w, &back, &err) == DCR_OK);
    CHECK(back.sealed.len == s.sealed.len &&
          memcmp(back.sealed.data, s.sealed.data, s.sealed.len) == 0);
    dcr_room_sealed_free(&back);
    json_decref(w);
    dcr_room_sealed_free(&s);
    char *rec = last_record(r, 0);
    CHECK(strstr(rec, "\"type\":\"result_fetch\"") && strstr(rec, "\"party\":\"bob\"") &&
          strstr(rec, "\"decision\":\"accepted\""));
    free(rec);
    /* A second fetch is allowed (and audited again). */
    CHECK(dcr_room_fetch(r, BOB, result_id, &s, &err) == DCR_OK);
    dcr_room_sealed_free(&s);
    dcr_room_close(r);
}

static void test_others_refused(void)
{
    dcr_room *r = open_room();
    if (!r)
        return;
    dcr_room_sealed s;
    dcr_error err = {0};
    CHECK(dcr_room_fetch(r, ANA, result_id, &s, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "is not addressed to ana");
    char *rec = last_record(r, 0);
    CHECK(strstr(rec, "\"type\":\"result_fetch\"") && strstr(rec, "\"party\":\"ana\"") &&
          strstr(rec, "\"decision\":\"refused\""));
    free(rec);
    CHECK(dcr_room_fetch(r, CAROL, result_id, &s, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "the contract sends it to bob only");
    CHECK(dcr_room_fetch(r, BOB, "r00000000000000000000000000000000", &s, &err) == DCR_EINPUT);
    CHECK_MSG(err, "no result");
    CHECK(dcr_room_fetch(r, BOB, "../state.db", &s, &err) == DCR_EINPUT);
    dcr_room_close(r);
}

/* The host plants or alters a stored result: the MAC refuses it. */
static void test_planted_result_refused(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/results/%s", dir, result_id);
    FILE *f = fopen(path, "r+");
    CHECK(f != NULL);
    if (!f)
        return;
    fseek(f, 70, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 70, SEEK_SET);
    fputc(c == 'a' ? 'b' : 'a', f);
    fclose(f);
    dcr_room *r = open_room();
    if (!r)
        return;
    dcr_room_sealed s;
    dcr_error err = {0};
    CHECK(dcr_room_fetch(r, BOB, result_id, &s, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "MAC does not verify");
    dcr_room_close(r);
}

static void test_self_receiver_gets_rows(void)
{
    dcr_room *r = open_room();
    if (!r)
        return;
    dcr_room_answer ans;
    dcr_error err = {0};
    CHECK(query(r, SELF, "SELECT COUNT(*) AS n FROM people", &ans, &err) == DCR_OK);
    CHECK(ans.delivered && !ans.stored && ans.rows.nrows == 1 && ans.result_id[0] == '\0');
    json_t *o = dcr_room_answer_json(&contract, SELF, &ans);
    CHECK(json_array_size(json_object_get(o, "rows")) == 1);
    json_decref(o);
    dcr_room_answer_free(&ans);
    char *rec = last_record(r, 0);
    CHECK(strstr(rec, "\"reason\":\"receivers: self\""));
    free(rec);
    /* A refusal is audited by the room. */
    CHECK(query(r, SELF, "SELECT email FROM people", &ans, &err) == DCR_EINPUT);
    CHECK(!ans.delivered && ans.rows.nrows == 0);
    rec = last_record(r, 0);
    CHECK(strstr(rec, "\"decision\":\"refused\"") && strstr(rec, "\"reason\":\"id-column: "));
    free(rec);
    dcr_room_close(r);
}

/* rules.release_interval_ms holds each answer to the schedule, but after
 * the room's turn is given back: two queries at once take one interval,
 * not two (the room serialises the queries, not their waits). */
typedef struct {
    dcr_room *r;
    dcr_status s;
} race;

static void *race_query(void *arg)
{
    race *q = arg;
    dcr_room_answer ans;
    dcr_error err = {0};
    q->s = query(q->r, SELF, "SELECT COUNT(*) AS n FROM people", &ans, &err);
    dcr_room_answer_free(&ans);
    return NULL;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_release_interval_outside_the_turn(void)
{
    dcr_room *r = open_room();
    if (!r)
        return;
    contract.release_interval_ms = 500;
    race a = {r, DCR_EINTERNAL}, b = {r, DCR_EINTERNAL};
    pthread_t ta, tb;
    double t0 = now_s();
    CHECK(pthread_create(&ta, NULL, race_query, &a) == 0);
    CHECK(pthread_create(&tb, NULL, race_query, &b) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    double took = now_s() - t0;
    contract.release_interval_ms = 0;
    CHECK(a.s == DCR_OK && b.s == DCR_OK);
    CHECK(took >= 0.5 && took < 0.95); /* one interval (two would be >= 1.0 s) */
    if (took < 0.5 || took >= 0.95)
        fprintf(stderr, "  two queries took %.3f s\n", took);
    dcr_room_close(r);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    make_contract();
    make_table();
    RUN(test_asker_not_a_receiver_gets_no_rows);
    RUN(test_receiver_fetches);
    RUN(test_others_refused);
    RUN(test_planted_result_refused);
    RUN(test_self_receiver_gets_rows);
    RUN(test_release_interval_outside_the_turn);
    dcr_column_free(&cols[0]);
    dcr_column_free(&cols[1]);
    dcr_contract_free(&contract);
    for (int i = 0; i < NPARTIES; i++)
        dcr_party_key_wipe(&keys[i]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return check_summary();
}
