/*
 * test_state.c: the durable state (src/state/): opening and refusing bad
 * directories and damaged databases, the catalog and its crash cleanup,
 * grants, the signed audit chain and its verifier (each tampering found at
 * the right record), the budget ledger (exact units, overspend refused,
 * editing caught), replay nonces, released-row history, concurrency across
 * threads and processes, kill -9 at random points, and the TPM rollback
 * anchor against swtpm.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "crypto/hash.h"
#include "crypto/sign.h"
#include "base/hygiene.h"
#include "base/bytes.h"
#include "privacy/budget.h"
#include "room/history.h"
#include "state/state.h"

static char root[] = "/tmp/dcr-test-state-XXXXXX";
static int dir_counter;
static uint8_t chash[32] = {1, 2, 3};

/* A fresh state directory path (not created). */
static char *fresh_dir(void)
{
    static char buf[8][256];
    char *p = buf[dir_counter % 8];
    snprintf(p, 256, "%s/s%d", root, dir_counter++);
    return p;
}

static void make_instance(dcr_state_instance *in, uint8_t seed_byte)
{
    memset(in, 0, sizeof *in);
    memset(in->audit_seed, seed_byte, 32);
    memset(in->hpke_pub, seed_byte + 1, 32);
    memset(in->tls_spki_sha256, 7, 32);
    memcpy(in->contract_hash, chash, 32);
    in->tee = "sim";
    in->evidence = (const uint8_t *)"evidence bytes";
    in->evidence_len = 14;
}

static dcr_state *open_started(const char *dir, uint8_t seed_byte)
{
    dcr_state *st = NULL;
    dcr_error err = {0};
    CHECK(dcr_state_open(dir, NULL, &st, &err) == DCR_OK);
    if (!st) {
        fprintf(stderr, "  open: %s\n", err.msg);
        return NULL;
    }
    dcr_state_instance in;
    make_instance(&in, seed_byte);
    CHECK(dcr_state_instance_start(st, &in, &err) == DCR_OK);
    return st;
}

/* Runs one SQL statement on DIR/state.db directly (the operator's view). */
static void db_exec(const char *dir, const char *sql)
{
    char path[300];
    snprintf(path, sizeof path, "%s/state.db", dir);
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "  db_exec %s: %s\n", sql, msg ? msg : "?");
    CHECK(rc == SQLITE_OK);
    sqlite3_free(msg);
    sqlite3_close(db);
}

static int count_files(const char *dir)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls -A %s/datasets | wc -l", dir);
    FILE *f = popen(cmd, "r");
    int n = -1;
    if (f) {
        if (fscanf(f, "%d", &n) != 1)
            n = -1;
        pclose(f);
    }
    return n;
}

/* ---- units ---- */

static void test_units(void)
{
    dcr_error err = {0};
    int64_t u;
    CHECK(dcr_budget_units_up(0.1, DCR_EPS_UNIT, &u, &err) == DCR_OK && u == 100000000);
    CHECK(dcr_budget_units_up(0.3, DCR_EPS_UNIT, &u, &err) == DCR_OK && u == 300000000);
    CHECK(dcr_budget_units_up(1e-10, DCR_EPS_UNIT, &u, &err) == DCR_OK && u == 1);
    CHECK(dcr_budget_units_down(1e-10, DCR_EPS_UNIT, &u, &err) == DCR_OK && u == 0);
    CHECK(dcr_budget_units_up(1e-9, DCR_DELTA_UNIT, &u, &err) == DCR_OK && u == 1000000000);
    CHECK(dcr_budget_units_up(1e-20, DCR_DELTA_UNIT, &u, &err) == DCR_OK && u == 1);
    CHECK(dcr_budget_units_up(-1, DCR_EPS_UNIT, &u, &err) == DCR_EINPUT);
    CHECK(dcr_budget_units_up(0.0 / 0.0, DCR_EPS_UNIT, &u, &err) == DCR_EINPUT);
    CHECK(dcr_budget_units_up(1e300, DCR_EPS_UNIT, &u, &err) == DCR_EINPUT);

    dcr_contract *c = calloc(1, sizeof *c);
    if (!c)
        return;
    double e, d;
    dcr_budget_limits(c, &e, &d);
    CHECK(e == 0 && d == 0);
    c->dp = (dcr_contract_dp){.present = true,
                              .enabled = true,
                              .epsilon_per_query = 0.1,
                              .delta = 1e-6,
                              .budget_per_analyst = 1.0};
    dcr_budget_limits(c, &e, &d);
    int64_t eu, du;
    CHECK(dcr_budget_units_down(e, DCR_EPS_UNIT, &eu, &err) == DCR_OK && eu == DCR_EPS_UNIT);
    CHECK(dcr_budget_units_down(d, DCR_DELTA_UNIT, &du, &err) == DCR_OK && du == 10000000000000);
    c->dp.enabled = false;
    dcr_budget_limits(c, &e, &d);
    CHECK(e == 0 && d == 0);
    free(c);
}

/* ---- open ---- */

static void test_open_and_permissions(void)
{
    dcr_error err = {0};
    dcr_state *st = NULL;
    char *d = fresh_dir();
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_OK);
    dcr_state_close(st);
    struct stat sb;
    char p[300];
    snprintf(p, sizeof p, "%s/datasets", d);
    CHECK(stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && (sb.st_mode & 077) == 0);
    snprintf(p, sizeof p, "%s/state.db", d);
    CHECK(stat(p, &sb) == 0 && (sb.st_mode & 077) == 0);
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_OK);
    dcr_state_close(st);

    CHECK(chmod(d, 0777) == 0);
    st = NULL;
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_EINPUT && !st);
    CHECK_MSG(err, "writable by group or others");
    CHECK(chmod(d, 0700) == 0);
    snprintf(p, sizeof p, "%s/datasets", d);
    CHECK(chmod(p, 0722) == 0);
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_EINPUT);
    CHECK_MSG(err, "dataset directory");
    CHECK(chmod(p, 0700) == 0);

    /* a file, not a directory */
    snprintf(p, sizeof p, "%s/state.db", d);
    CHECK(dcr_state_open(p, NULL, &st, &err) == DCR_EINPUT);
    CHECK_MSG(err, "is not a directory");
}

static void test_damaged_database(void)
{
    dcr_error err = {0};
    dcr_state *st = NULL;
    char *d = fresh_dir(), p[300];
    CHECK(mkdir(d, 0700) == 0);
    snprintf(p, sizeof p, "%s/state.db", d);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    for (int i = 0; f && i < 200; i++)
        fputs("this is not a database at all. ", f);
    if (f)
        fclose(f);
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_EINPUT && !st);
    CHECK_MSG(err, "damaged or not a dcr state database");

    /* a foreign table */
    d = fresh_dir();
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_OK);
    dcr_state_close(st);
    db_exec(d, "CREATE TABLE extra(x)");
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_EINPUT);
    CHECK_MSG(err, "schema object 'extra' differs");
    db_exec(d, "DROP TABLE extra; DROP INDEX nonces_seen");
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_EINPUT);
    CHECK_MSG(err, "schema objects present");
    db_exec(d, "CREATE INDEX nonces_seen ON nonces(seen_at); PRAGMA user_version = 9");
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_EINPUT);
    CHECK_MSG(err, "schema version 9");
    db_exec(d, "PRAGMA user_version = 1");
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_OK);
    dcr_state_close(st);

    /* a SQLite database of another program */
    d = fresh_dir();
    CHECK(mkdir(d, 0700) == 0);
    db_exec(d, "CREATE TABLE t(x)");
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_EINPUT);
    CHECK_MSG(err, "not a dcr state database");
}

/* ---- catalog ---- */

static dcr_status upload(dcr_state *st, const char *name, const char *data, dcr_dataset_info *info)
{
    dcr_error err = {0};
    dcr_state_upload *up;
    dcr_status rc = dcr_state_upload_begin(st, name, "alice", chash, &up, &err);
    if (rc != DCR_OK)
        return rc;
    if ((rc = dcr_state_upload_write(up, data, strlen(data), &err))) {
        dcr_state_upload_abort(up);
        return rc;
    }
    return dcr_state_upload_commit(up, 3, NULL, info, &err);
}

static void test_catalog(void)
{
    dcr_error err = {0};
    char *d = fresh_dir();
    dcr_state *st = open_started(d, 1);
    if (!st)
        return;
    dcr_dataset_info info, got;
    CHECK(upload(st, "impressions", "ciphertext-one", &info) == DCR_OK);
    uint8_t sha[32];
    dcr_sha256("ciphertext-one", 14, sha, &err);
    CHECK_MEM(info.sha256, sha, 32);
    CHECK(info.size == 14 && info.rows == 3);
    CHECK_STR(info.name, "impressions");
    dcr_dataset_info_free(&info);
    CHECK(dcr_state_dataset_get(st, "impressions", &got, &err) == DCR_OK);
    CHECK_STR(got.owner, "alice");
    CHECK_MEM(got.sha256, sha, 32);
    CHECK_MEM(got.contract_hash, chash, 32);
    dcr_dataset_info_free(&got);

    /* pending upload: invisible until commit, removed on abort */
    dcr_state_upload *up;
    CHECK(dcr_state_upload_begin(st, "purchases", "bob", chash, &up, &err) == DCR_OK);
    CHECK(dcr_state_upload_write(up, "half", 4, &err) == DCR_OK);
    CHECK(dcr_state_dataset_get(st, "purchases", &got, &err) == DCR_EINPUT);
    CHECK_MSG(err, "no dataset 'purchases'");
    dcr_dataset_info *list;
    size_t n;
    CHECK(dcr_state_dataset_list(st, &list, &n, &err) == DCR_OK && n == 1);
    for (size_t i = 0; i < n; i++)
        dcr_dataset_info_free(&list[i]);
    free(list);
    /* another opener must not remove a live upload */
    dcr_state *other = NULL;
    CHECK(dcr_state_open(d, NULL, &other, &err) == DCR_OK);
    dcr_state_close(other);
    CHECK(count_files(d) == 2);
    dcr_state_upload_abort(up);
    CHECK(count_files(d) == 1);

    /* replacing drops the old file */
    CHECK(upload(st, "impressions", "ciphertext-two", NULL) == DCR_OK);
    CHECK(count_files(d) == 1);
    CHECK(dcr_state_dataset_get(st, "impressions", &got, &err) == DCR_OK && got.size == 14);
    /* tampering with the ciphertext */
    int fd = open(got.path, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, "X", 1, 3) == 1);
    close(fd);
    dcr_dataset_info_free(&got);
    CHECK(dcr_state_dataset_get(st, "impressions", &got, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "does not match its SHA-256 in the catalog");
    CHECK(dcr_state_dataset_lookup(st, "impressions", &got, &err) == DCR_OK); /* size only */
    dcr_dataset_info_free(&got);
    dcr_state_close(st);
    st = NULL;
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_ECRYPTO && !st);
    CHECK_MSG(err, "tampered or replaced");
    dcr_state_options o = {.skip_dataset_hash = true};
    CHECK(dcr_state_open(d, &o, &st, &err) == DCR_OK);
    dcr_state_close(st);
    CHECK(upload(NULL, "", "", NULL) == DCR_EINPUT);
}

static void test_crashed_upload_cleaned(void)
{
    dcr_error err = {0};
    char *d = fresh_dir();
    dcr_state *st = open_started(d, 1);
    if (!st)
        return;
    CHECK(upload(st, "kept", "kept-bytes", NULL) == DCR_OK);
    dcr_state_close(st);
    pid_t pid = fork();
    if (pid == 0) {
        dcr_state *c = NULL;
        dcr_state_upload *up;
        if (dcr_state_open(d, NULL, &c, &err) ||
            dcr_state_upload_begin(c, "half", "bob", chash, &up, &err) ||
            dcr_state_upload_write(up, "partial", 7, &err))
            _exit(1);
        _exit(0); /* dies with the upload pending */
    }
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(count_files(d) == 2);
    /* a stray file nobody references */
    char p[300];
    snprintf(p, sizeof p, "%s/datasets/stray.sealed", d);
    FILE *f = fopen(p, "w");
    if (f)
        fclose(f);
    st = NULL;
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_OK);
    CHECK(count_files(d) == 1);
    dcr_dataset_info got;
    CHECK(dcr_state_dataset_get(st, "half", &got, &err) == DCR_EINPUT);
    CHECK(dcr_state_dataset_get(st, "kept", &got, &err) == DCR_OK);
    dcr_dataset_info_free(&got);
    dcr_state_close(st);
}

/* ---- grants ---- */

static void test_grants(void)
{
    dcr_error err = {0};
    char *d = fresh_dir();
    dcr_state *st = open_started(d, 1);
    if (!st)
        return;
    uint8_t inst1[32], inst2[32];
    memset(inst1, 0xa1, 32);
    memset(inst2, 0xa2, 32);
    CHECK(dcr_state_grant_put(st, "nope", "alice", inst1, (const uint8_t *)"w", 1, &err) ==
          DCR_EINPUT);
    CHECK_MSG(err, "no dataset 'nope'");
    CHECK(upload(st, "ds", "bytes", NULL) == DCR_OK);
    CHECK(dcr_state_grant_put(st, "ds", "alice", inst1, (const uint8_t *)"wrapped1", 8, &err) ==
          DCR_OK);
    dcr_buf b = DCR_BUF_INIT;
    CHECK(dcr_state_grant_get(st, "ds", inst1, &b, &err) == DCR_OK && b.len == 8 &&
          memcmp(b.data, "wrapped1", 8) == 0);
    dcr_buf_free(&b);
    CHECK(dcr_state_grant_get(st, "ds", inst2, &b, &err) == DCR_EINPUT);
    CHECK_MSG(err, "no key grant for this instance");
    CHECK(dcr_state_grant_put(st, "ds", "alice", inst2, (const uint8_t *)"wrapped2", 8, &err) ==
          DCR_OK);
    CHECK(dcr_state_grant_get(st, "ds", inst2, &b, &err) == DCR_OK && b.len == 8 &&
          memcmp(b.data, "wrapped2", 8) == 0);
    dcr_buf_free(&b);
    CHECK(dcr_state_grant_put(st, "ds", "alice", inst2, (const uint8_t *)"", 0, &err) ==
          DCR_EINPUT);
    /* a new upload under the same name needs a new grant */
    CHECK(upload(st, "ds", "bytes2", NULL) == DCR_OK);
    CHECK(dcr_state_grant_get(st, "ds", inst2, &b, &err) == DCR_EINPUT);
    dcr_state_close(st);
}

/* ---- audit ---- */

static dcr_state *chain_fixture(char **dir_out)
{
    dcr_error err = {0};
    char *d = fresh_dir();
    dcr_state *st = open_started(d, 1);
    if (!st)
        return NULL;
    dcr_audit_entry e = {.party = "bob",
                         .sql = "SELECT count(*) FROM t",
                         .decision = "accepted",
                         .rows_released = 4};
    for (int i = 0; i < 3; i++)
        CHECK(dcr_state_audit_append(st, &e, NULL, &err) == DCR_OK);
    /* a restart: a new instance key signs from here */
    dcr_state_instance in;
    make_instance(&in, 9);
    CHECK(dcr_state_instance_start(st, &in, &err) == DCR_OK);
    e.decision = "refused";
    e.reason = "id column in output";
    uint64_t seq = 99;
    CHECK(dcr_state_audit_append(st, &e, &seq, &err) == DCR_OK && seq == 5);
    *dir_out = d;
    return st;
}

static void test_audit_chain(void)
{
    dcr_error err = {0};
    char *d;
    dcr_state *st = chain_fixture(&d);
    if (!st)
        return;
    dcr_audit_chain c;
    CHECK(dcr_state_audit_load(st, 0, &c, &err) == DCR_OK && c.n == 6);
    size_t bad = 77;
    CHECK(dcr_audit_verify(&c, NULL, &bad, &err) == DCR_OK && bad == 6);
    CHECK(strstr(c.v[0].record, "\"type\":\"instance_start\"") != NULL);
    CHECK(strstr(c.v[0].record, "\"evidence_sha256\"") != NULL);
    CHECK(strstr(c.v[5].record, "\"decision\":\"refused\"") != NULL);
    CHECK(strstr(c.v[5].record, "suppressed") == NULL);
    uint64_t next;
    uint8_t head[32];
    CHECK(dcr_state_audit_head(st, &next, head, &err) == DCR_OK && next == 6);
    CHECK_MEM(head, c.v[5].hash, 32);
    dcr_buf ev = DCR_BUF_INIT;
    char kid[17];
    memcpy(kid, strstr(c.v[0].record, "\"key_id\":\"") + 10, 16);
    kid[16] = 0;
    CHECK(dcr_state_instance_evidence(st, kid, &ev, &err) == DCR_OK && ev.len == 14);
    dcr_buf_free(&ev);
    dcr_audit_instance *insts;
    size_t ninst;
    CHECK(dcr_audit_instances(&c, &insts, &ninst, &err) == DCR_OK && ninst == 2);
    if (ninst == 2) {
        uint8_t pub9[32], seed9[32], evh[32];
        memset(seed9, 9, 32);
        dcr_ed25519_public_from_seed(seed9, pub9, &err);
        dcr_sha256("evidence bytes", 14, evh, &err);
        CHECK(insts[0].index == 0 && insts[1].index == 4 && insts[1].seq == 4);
        CHECK_MEM(insts[1].audit_pub, pub9, 32);
        CHECK_MEM(insts[1].evidence_sha256, evh, 32);
        CHECK_MEM(insts[1].contract_hash, chash, 32);
        CHECK(insts[1].hpke_pub[0] == 10 && strcmp(insts[1].tee, "sim") == 0);
        CHECK_STR(insts[0].key_id, kid);
    }
    free(insts);

    /* export round trip */
    dcr_buf x = DCR_BUF_INIT;
    CHECK(dcr_state_audit_export(st, 0, &x, &err) == DCR_OK);
    dcr_audit_chain p;
    CHECK(dcr_audit_parse_export((const char *)x.data, x.len, &p, &err) == DCR_OK && p.n == 6);
    CHECK(dcr_audit_verify(&p, NULL, NULL, &err) == DCR_OK);
    dcr_audit_chain_free(&p);
    dcr_buf_free(&x);
    CHECK(dcr_audit_parse_export("{\"version\":2}", 13, &p, &err) == DCR_EINPUT);

    /* partial chain from seq 2 with the hash before it */
    dcr_audit_chain tail;
    CHECK(dcr_state_audit_load(st, 2, &tail, &err) == DCR_OK && tail.n == 4);
    CHECK(dcr_audit_verify(&tail, NULL, &bad, &err) == DCR_ECRYPTO && bad == 0);
    /* keys of the first instance are unknown to a tail, the second is in it */
    CHECK(dcr_audit_verify(&tail, c.v[1].hash, &bad, &err) == DCR_ECRYPTO && bad == 0);
    CHECK_MSG(err, "key no earlier instance_start introduced");
    dcr_audit_chain_free(&tail);

    /* each tampering is found at its record */
    char *saved = strdup(c.v[2].record);
    char *pos = strstr(c.v[2].record, "\"rows_released\":4");
    if (pos) {
        pos[16] = '9';
        CHECK(dcr_audit_verify(&c, NULL, &bad, &err) == DCR_ECRYPTO && bad == 2);
        CHECK_MSG(err, "record 2 (seq 2): hash does not match");
    }
    strcpy(c.v[2].record, saved);
    free(saved);
    c.v[3].prev[0] ^= 1;
    CHECK(dcr_audit_verify(&c, NULL, &bad, &err) == DCR_ECRYPTO && bad == 3);
    CHECK_MSG(err, "link broken");
    c.v[3].prev[0] ^= 1;
    c.v[5].sig[10] ^= 1;
    CHECK(dcr_audit_verify(&c, NULL, &bad, &err) == DCR_ECRYPTO && bad == 5);
    CHECK_MSG(err, "signature does not verify");
    c.v[5].sig[10] ^= 1;
    c.v[1].hash[0] ^= 1; /* a recomputed-looking hash without the right bytes */
    CHECK(dcr_audit_verify(&c, NULL, &bad, &err) == DCR_ECRYPTO && bad == 1);
    c.v[1].hash[0] ^= 1;
    CHECK(dcr_audit_verify(&c, NULL, &bad, &err) == DCR_OK);

    /* dropping a record */
    dcr_audit_record r2 = c.v[2];
    memmove(&c.v[2], &c.v[3], 3 * sizeof c.v[0]);
    c.n = 5;
    CHECK(dcr_audit_verify(&c, NULL, &bad, &err) == DCR_ECRYPTO && bad == 2);
    CHECK_MSG(err, "sequence gap");
    memmove(&c.v[3], &c.v[2], 3 * sizeof c.v[0]);
    c.v[2] = r2;
    c.n = 6;

    /* client-side rollback check */
    CHECK(dcr_audit_check_extends(&c, 4, c.v[4].hash, &err) == DCR_OK);
    CHECK(dcr_audit_check_extends(&c, 4, c.v[3].hash, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "differs from the one this client saw");
    c.n = 3;
    CHECK(dcr_audit_check_extends(&c, 4, c.v[4].hash, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "rolled back");
    c.n = 6;
    dcr_audit_chain_free(&c);
    dcr_state_close(st);

    /* tampering in the database itself: the head is checked on open */
    db_exec(d, "UPDATE audit SET record = replace(record, 'refused', 'accepted') WHERE seq = 5");
    st = NULL;
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_EINPUT && !st);
    CHECK_MSG(err, "audit record 5 fails its hash or signature");
}

static void test_audit_truncation_and_forgery(void)
{
    dcr_error err = {0};
    char *d;
    dcr_state *st = chain_fixture(&d);
    if (!st)
        return;
    dcr_state_close(st);
    /* a record forged by someone without the instance key */
    char *d2;
    dcr_state *other = chain_fixture(&d2);
    dcr_audit_chain a, b;
    st = NULL;
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_OK);
    if (!st || !other)
        return;
    CHECK(dcr_state_audit_load(st, 0, &a, &err) == DCR_OK);
    dcr_state_instance in;
    make_instance(&in, 42); /* another key */
    CHECK(dcr_state_instance_start(other, &in, &err) == DCR_OK);
    dcr_audit_entry e = {.party = "mallory", .decision = "accepted"};
    CHECK(dcr_state_audit_append(other, &e, NULL, &err) == DCR_OK);
    CHECK(dcr_state_audit_load(other, 0, &b, &err) == DCR_OK && b.n == 8);
    /* splice other's last record (key unknown to a) onto a, relinked */
    dcr_audit_record *v = realloc(a.v, (a.n + 1) * sizeof *v);
    if (v) {
        a.v = v;
        a.v[a.n] = b.v[7];
        a.v[a.n].record = strdup(b.v[7].record);
        a.n++;
        CHECK(dcr_audit_verify(&a, NULL, NULL, &err) == DCR_ECRYPTO);
        size_t bad;
        CHECK(dcr_audit_verify(&a, NULL, &bad, &err) == DCR_ECRYPTO && bad == 6);
    }
    dcr_audit_chain_free(&a);
    dcr_audit_chain_free(&b);
    dcr_state_close(other);
    dcr_state_close(st);

    /* deleting the newest records without a TPM is not caught by the
     * server: the client's remembered head catches it */
    db_exec(d, "DELETE FROM audit WHERE seq >= 4");
    st = NULL;
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_OK);
    if (st) {
        CHECK(dcr_state_audit_load(st, 0, &a, &err) == DCR_OK && a.n == 4);
        CHECK(dcr_audit_verify(&a, NULL, NULL, &err) == DCR_OK);
        uint8_t remembered[32] = {0};
        CHECK(dcr_audit_check_extends(&a, 5, remembered, &err) == DCR_ECRYPTO);
        dcr_audit_chain_free(&a);
        dcr_state_close(st);
    }
    /* a hole in the middle is caught on open (the head's link) */
    db_exec(d, "DELETE FROM audit WHERE seq = 2");
    db_exec(d, "UPDATE audit SET seq = 2 WHERE seq = 3");
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_EINPUT);
}

/* Appends to c a record like its last one, re-keyed to key_id and linked
 * and signed as the state would, with the key of seed byte seed_byte: what
 * someone who kept that instance's audit key could write. */
static void forge_after(dcr_audit_chain *c, uint8_t seed_byte)
{
    dcr_error err = {0};
    uint8_t seed[32], pub[32], h[32];
    memset(seed, seed_byte, 32);
    CHECK(dcr_ed25519_public_from_seed(seed, pub, &err) == DCR_OK);
    uint8_t idbuf[sizeof "dcr audit key id" + 32];
    memcpy(idbuf, "dcr audit key id", sizeof "dcr audit key id");
    memcpy(idbuf + sizeof "dcr audit key id", pub, 32);
    CHECK(dcr_sha256(idbuf, sizeof idbuf, h, &err) == DCR_OK);
    char kid[17];
    dcr_hex_encode(kid, h, 8);
    const dcr_audit_record *last = &c->v[c->n - 1];
    /* canonical JSON of the last record with seq + 1 and the forger's key id */
    char *rec = malloc(last->record_len + 64);
    const char *k = strstr(last->record, "\"key_id\":\"");
    const char *q = strstr(last->record, "\"seq\":");
    if (!rec || !k || !q || k > q) {
        CHECK(!"record layout");
        free(rec);
        return;
    }
    size_t n = (size_t)(k - last->record) + 10;
    memcpy(rec, last->record, n);
    memcpy(rec + n, kid, 16);
    const char *after_kid = k + 10 + 16;
    size_t mid = (size_t)(q - after_kid) + 6;
    memcpy(rec + n + 16, after_kid, mid);
    const char *after_seq = q + 6;
    while (*after_seq >= '0' && *after_seq <= '9')
        after_seq++;
    int w = sprintf(rec + n + 16 + mid, "%llu", (unsigned long long)(last->seq + 1));
    strcpy(rec + n + 16 + mid + (size_t)w, after_seq);
    uint64_t seq = last->seq + 1;
    uint8_t prev[32];
    memcpy(prev, last->hash, 32);
    dcr_audit_record *v = realloc(c->v, (c->n + 1) * sizeof *v); /* last dangles from here */
    if (!v) {
        free(rec);
        return;
    }
    c->v = v;
    dcr_audit_record *f = &c->v[c->n];
    f->seq = seq;
    f->record = rec;
    f->record_len = strlen(rec);
    memcpy(f->prev, prev, 32);
    uint8_t msg[sizeof "dcr audit record v1" + 32];
    memcpy(msg, "dcr audit record v1", sizeof "dcr audit record v1");
    memcpy(msg + sizeof "dcr audit record v1", f->prev, 32);
    dcr_hash_ctx *hc;
    CHECK(dcr_hash_init(&hc, DCR_SHA256, &err) == DCR_OK &&
          dcr_hash_update(hc, msg, sizeof msg, &err) == DCR_OK &&
          dcr_hash_update(hc, rec, f->record_len, &err) == DCR_OK &&
          dcr_hash_final(hc, f->hash, &err) == DCR_OK);
    CHECK(dcr_ed25519_sign(seed, f->hash, 32, f->sig, &err) == DCR_OK);
    c->n++;
}

/* After a newer instance_start only the newest key may sign: a record
 * signed with an older instance's key is refused, the same record signed
 * with the newest key passes. */
static void test_audit_older_key_refused(void)
{
    dcr_error err = {0};
    char *d;
    dcr_state *st = chain_fixture(&d); /* starts with seed 1, restarts with seed 9 */
    if (!st)
        return;
    dcr_audit_chain c;
    CHECK(dcr_state_audit_load(st, 0, &c, &err) == DCR_OK && c.n == 6);
    if (c.n != 6) {
        dcr_state_close(st);
        return;
    }
    forge_after(&c, 9);
    CHECK(dcr_audit_verify(&c, NULL, NULL, &err) == DCR_OK);
    forge_after(&c, 1);
    size_t bad = 0;
    CHECK(dcr_audit_verify(&c, NULL, &bad, &err) == DCR_ECRYPTO && bad == 7);
    CHECK_MSG(err, "older instance's key after a newer instance_start");
    dcr_audit_chain_free(&c);
    dcr_state_close(st);
}

/* One live instance per state directory; a closed or killed one frees it. */
static void test_one_instance_per_directory(void)
{
    dcr_error err = {0};
    char *d = fresh_dir();
    dcr_state *a = open_started(d, 1), *b = NULL;
    if (!a)
        return;
    CHECK(dcr_state_open(d, NULL, &b, &err) == DCR_OK);
    dcr_state_instance in;
    make_instance(&in, 2);
    if (b) {
        CHECK(dcr_state_instance_start(b, &in, &err) == DCR_EINPUT);
        CHECK_MSG(err, "in use by another running instance");
        dcr_audit_entry e = {.party = "bob", .decision = "accepted"};
        CHECK(dcr_state_audit_append(b, &e, NULL, &err) != DCR_OK); /* b never started */
    }
    dcr_state_close(a);
    if (b)
        CHECK(dcr_state_instance_start(b, &in, &err) == DCR_OK);
    dcr_state_close(b);
    pid_t pid = fork();
    if (pid == 0) {
        dcr_state *c = open_started(d, 3);
        pause(); /* killed holding the directory */
        _exit(c ? 0 : 1);
    }
    struct timespec nap = {0, 200 * 1000000L};
    nanosleep(&nap, NULL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    b = open_started(d, 4);
    dcr_audit_chain c;
    if (b && dcr_state_audit_load(b, 0, &c, &err) == DCR_OK) {
        CHECK(dcr_audit_verify(&c, NULL, NULL, &err) == DCR_OK);
        dcr_audit_chain_free(&c);
    }
    dcr_state_close(b);
}

static void test_no_instance(void)
{
    dcr_error err = {0};
    dcr_state *st = NULL;
    CHECK(dcr_state_open(fresh_dir(), NULL, &st, &err) == DCR_OK);
    if (!st)
        return;
    dcr_audit_entry e = {0};
    CHECK(dcr_state_audit_append(st, &e, NULL, &err) == DCR_EINTERNAL);
    CHECK_MSG(err, "no instance started");
    CHECK(dcr_state_charge_units(st, "bob", 1, 0, 10, 0, &e, NULL, &err) == DCR_EINTERNAL);
    dcr_budget b;
    CHECK(dcr_state_budget_get(st, "bob", &b, &err) == DCR_OK && b.eps_spent == 0);
    dcr_state_close(st);
}

/* ---- ledger ---- */

static void test_ledger(void)
{
    dcr_error err = {0};
    char *d = fresh_dir();
    dcr_state *st = open_started(d, 1);
    if (!st)
        return;
    dcr_audit_entry e = {.party = "bob", .sql = "SELECT noisy", .decision = "accepted"};
    dcr_state_charge_ctx ctx = {.state = st, .eps_limit = 1.0, .delta_limit = 1e-6, .entry = &e};
    CHECK(dcr_state_charge_hook(&ctx, "bob", 0.3, 1e-7, &err) == DCR_OK);
    CHECK(dcr_state_charge_hook(&ctx, "bob", 0.3, 1e-7, &err) == DCR_OK);
    CHECK(dcr_state_charge_hook(&ctx, "bob", 0.3, 1e-7, &err) == DCR_OK);
    CHECK(ctx.after.eps_spent == 900000000 && ctx.after.delta_spent == 300000000000);
    /* 0.1 fits exactly (no float drift), 0.1000001 does not */
    CHECK(dcr_state_charge_hook(&ctx, "bob", 0.1000001, 0, &err) == DCR_EINPUT);
    CHECK_MSG(err, "has epsilon 0.1, delta 0.0000007 remaining");
    CHECK_MSG(err, "this query needs epsilon 0.1000001");
    CHECK(dcr_state_charge_hook(&ctx, "bob", 0.1, 0, &err) == DCR_OK);
    CHECK(dcr_state_charge_hook(&ctx, "bob", 1e-9, 0, &err) == DCR_EINPUT);
    CHECK_MSG(err, "has epsilon 0.0, delta 0.0000007 remaining (of 1.0, 0.000001)");
    /* delta too */
    CHECK(dcr_state_charge_hook(&ctx, "carol", 0.1, 2e-6, &err) == DCR_EINPUT);
    CHECK_MSG(err, "delta");
    dcr_budget b;
    CHECK(dcr_state_budget_get(st, "bob", &b, &err) == DCR_OK);
    CHECK(b.eps_spent == DCR_EPS_UNIT && b.eps_limit == DCR_EPS_UNIT);
    CHECK(b.last_seq == 4 && ctx.after.last_seq == 4);
    CHECK(dcr_state_budget_get(st, "carol", &b, &err) == DCR_OK && b.eps_spent == 0);
    /* refusals write nothing: 4 charges + instance start */
    dcr_audit_chain c;
    CHECK(dcr_state_audit_load(st, 0, &c, &err) == DCR_OK && c.n == 5);
    CHECK(c.n == 5 && strstr(c.v[4].record, "\"spent_epsilon_nano\":1000000000") != NULL);
    CHECK(c.n == 5 && strstr(c.v[4].record, "\"epsilon_nano\":100000000") != NULL);
    CHECK(c.n == 5 && strstr(c.v[4].record, "\"analyst\":\"bob\"") != NULL);
    CHECK(dcr_audit_verify(&c, NULL, NULL, &err) == DCR_OK);
    dcr_audit_chain_free(&c);
    /* rows read from the caller's report at charge time */
    size_t released = 0;
    dcr_state_charge_ctx c2 = {
        .state = st, .eps_limit = 5, .entry = &e, .rows_released = &released};
    released = 12;
    CHECK(dcr_state_charge_hook(&c2, "dave", 0, 0, &err) == DCR_OK);
    CHECK(dcr_state_audit_load(st, 5, &c, &err) == DCR_OK && c.n == 1);
    CHECK(c.n == 1 && strstr(c.v[0].record, "\"rows_released\":12,") != NULL);
    CHECK(c.n == 1 && strstr(c.v[0].record, "suppressed") == NULL);
    dcr_audit_chain_free(&c);
    CHECK(dcr_state_charge_units(st, "", 1, 0, 10, 0, &e, NULL, &err) == DCR_EINPUT);
    CHECK(dcr_state_charge_units(st, "bob", -1, 0, 10, 0, &e, NULL, &err) == DCR_EINPUT);
    dcr_state_close(st);

    /* the operator lowers the spent budget: caught on open */
    db_exec(d, "UPDATE ledger SET eps_spent = 0 WHERE analyst = 'bob'");
    st = NULL;
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_EINPUT && !st);
    CHECK_MSG(err, "budget ledger differs");
    db_exec(d, "UPDATE ledger SET eps_spent = 1000000000 WHERE analyst = 'bob'");
    db_exec(d, "DELETE FROM ledger");
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_EINPUT);
    db_exec(d, "DELETE FROM audit");
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_OK);
    dcr_state_close(st);
}

typedef struct {
    dcr_state *st;
    int ok;
} thread_arg;

static void *charge_thread(void *p)
{
    thread_arg *a = p;
    dcr_audit_entry e = {.party = "bob", .decision = "accepted"};
    for (int i = 0; i < 40; i++) {
        dcr_error err;
        if (dcr_state_charge_units(a->st, "bob", 1, 0, 50, 0, &e, NULL, &err) == DCR_OK)
            a->ok++;
    }
    return NULL;
}

static void test_threads_never_overspend(void)
{
    dcr_error err = {0};
    dcr_state *st = open_started(fresh_dir(), 1);
    if (!st)
        return;
    pthread_t t[4];
    thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (thread_arg){st, 0};
        pthread_create(&t[i], NULL, charge_thread, &a[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        total += a[i].ok;
    }
    CHECK(total == 50);
    dcr_budget b;
    CHECK(dcr_state_budget_get(st, "bob", &b, &err) == DCR_OK && b.eps_spent == 50);
    dcr_state_close(st);
}

/* An instance on dir once the running one (if any) has closed. */
static dcr_state *start_when_free(const char *dir, uint8_t seed_byte)
{
    dcr_error err = {0};
    dcr_state_instance in;
    make_instance(&in, seed_byte);
    for (int tries = 0; tries < 30000; tries++) {
        dcr_state *st = NULL;
        if (dcr_state_open(dir, NULL, &st, &err) != DCR_OK)
            return NULL;
        if (dcr_state_instance_start(st, &in, &err) == DCR_OK)
            return st;
        dcr_state_close(st);
        if (!strstr(err.msg, "in use by another running instance"))
            return NULL;
        struct timespec nap = {0, 1000000L};
        nanosleep(&nap, NULL);
    }
    return NULL;
}

/* N processes, each with its own handle, charge until refused; they take
 * turns owning the directory, one instance at a time. */
static void test_processes_never_overspend(void)
{
    dcr_error err = {0};
    char *d = fresh_dir();
    dcr_state *st = open_started(d, 1);
    if (!st)
        return;
    dcr_state_close(st);
    enum { N = 4, LIMIT = 60 };
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pids[N];
    for (int i = 0; i < N; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(fds[0]);
            dcr_state *c = start_when_free(d, (uint8_t)(10 + i));
            if (!c)
                _exit(1);
            dcr_audit_entry e = {.party = "bob", .decision = "accepted"};
            int ok = 0;
            for (int k = 0; k < LIMIT; k++)
                if (dcr_state_charge_units(c, "bob", 1, 0, LIMIT, 0, &e, NULL, &err) == DCR_OK)
                    ok++;
            dcr_state_close(c);
            if (write(fds[1], &ok, sizeof ok) != sizeof ok)
                _exit(1);
            _exit(0);
        }
    }
    close(fds[1]);
    int total = 0, ok;
    while (read(fds[0], &ok, sizeof ok) == sizeof ok)
        total += ok;
    close(fds[0]);
    for (int i = 0; i < N; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK(total == LIMIT);
    st = NULL;
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_OK);
    if (!st)
        return;
    dcr_budget b;
    CHECK(dcr_state_budget_get(st, "bob", &b, &err) == DCR_OK && b.eps_spent == LIMIT);
    dcr_audit_chain c;
    CHECK(dcr_state_audit_load(st, 0, &c, &err) == DCR_OK && c.n == 1 + N + LIMIT);
    CHECK(dcr_audit_verify(&c, NULL, NULL, &err) == DCR_OK);
    dcr_audit_chain_free(&c);
    dcr_state_close(st);
}

/* ---- replay ---- */

static void test_replay(void)
{
    dcr_error err = {0};
    dcr_state *st = open_started(fresh_dir(), 1);
    if (!st)
        return;
    uint8_t n1[16], n2[16];
    memset(n1, 1, 16);
    memset(n2, 2, 16);
    int64_t now = 1800000000;
    CHECK(dcr_state_nonce_use(st, "bob", n1, 16, now, now, &err) == DCR_OK);
    CHECK(dcr_state_nonce_use(st, "bob", n1, 16, now, now + 1, &err) == DCR_EINPUT);
    CHECK_MSG(err, "replay");
    CHECK(dcr_state_nonce_use(st, "alice", n1, 16, now, now + 1, &err) == DCR_OK);
    CHECK(dcr_state_nonce_use(st, "bob", n2, 16, now - 301, now, &err) == DCR_EINPUT);
    CHECK_MSG(err, "301 s behind");
    CHECK(dcr_state_nonce_use(st, "bob", n2, 16, now + 301, now, &err) == DCR_EINPUT);
    CHECK_MSG(err, "ahead of");
    CHECK(dcr_state_nonce_use(st, "bob", n2, 8, now, now, &err) == DCR_EINPUT);
    /* within the window the nonce is still known; after two windows it has
     * expired, and the request time check covers it */
    CHECK(dcr_state_nonce_use(st, "bob", n1, 16, now + 300, now + 300, &err) == DCR_EINPUT);
    CHECK(dcr_state_nonce_use(st, "bob", n1, 16, now, now + 700, &err) == DCR_EINPUT);
    CHECK_MSG(err, "behind");
    CHECK(dcr_state_nonce_use(st, "bob", n1, 16, now + 700, now + 700, &err) == DCR_OK);
    dcr_state_close(st);
}

/* ---- history ---- */

typedef struct {
    int n;
    size_t bytes;
} hist_count;

static dcr_status count_cb(void *ctx, const uint8_t *fp, size_t fp_len, const uint8_t *blob,
                           size_t blob_len, dcr_error *err)
{
    (void)fp;
    (void)blob;
    (void)err;
    hist_count *c = ctx;
    c->n++;
    c->bytes += fp_len + blob_len;
    return DCR_OK;
}

static void test_history(void)
{
    dcr_error err = {0};
    dcr_state_options o = {.history_cap = 100};
    dcr_state *st = NULL;
    CHECK(dcr_state_open(fresh_dir(), &o, &st, &err) == DCR_OK);
    if (!st)
        return;
    const uint8_t fp1[] = "fp1", fp2[] = "fp2";
    CHECK(dcr_state_history_put(st, "bob", fp1, 3, (const uint8_t *)"sketch-one", 10, &err) ==
          DCR_OK);
    dcr_buf b = DCR_BUF_INIT;
    bool found;
    CHECK(dcr_state_history_get(st, "bob", fp1, 3, &b, &found, &err) == DCR_OK && found &&
          b.len == 10);
    dcr_buf_free(&b);
    CHECK(dcr_state_history_get(st, "alice", fp1, 3, &b, &found, &err) == DCR_OK && !found);
    CHECK(dcr_state_history_put(st, "bob", fp1, 3, (const uint8_t *)"sketch-1", 8, &err) == DCR_OK);
    uint8_t big[80] = {0};
    CHECK(dcr_state_history_put(st, "bob", fp2, 3, big, 80, &err) == DCR_OK);
    hist_count c = {0};
    CHECK(dcr_state_history_each(st, "bob", count_cb, &c, &err) == DCR_OK);
    CHECK(c.n == 2 && c.bytes == 94);
    CHECK(dcr_state_history_put(st, "bob", (const uint8_t *)"fp3", 3, big, 10, &err) == DCR_EINPUT);
    CHECK_MSG(err, "history 'bob' is full");
    /* replacing an entry within the cap is fine; other scopes have their own */
    CHECK(dcr_state_history_put(st, "bob", fp2, 3, big, 70, &err) == DCR_OK);
    CHECK(dcr_state_history_put(st, "alice", fp2, 3, big, 80, &err) == DCR_OK);
    CHECK(dcr_state_history_put(st, "bob", fp1, 0, big, 1, &err) == DCR_EINPUT);
    /* a NULL scope reads every entry */
    c = (hist_count){0};
    CHECK(dcr_state_history_each(st, NULL, count_cb, &c, &err) == DCR_OK && c.n == 3);
    dcr_state_close(st);
}

/* Checks one row resting on units first..first+n-1 of dataset "people"
 * (k = 10) against dir's history; returns 1 released, 0 suppressed. */
static int diff_release(dcr_state *st, const char *dir, uint64_t first, size_t n)
{
    static dcr_contract_dataset ds = {.name = "people", .min_units = 10};
    static const dcr_contract c = {.name = "c", .ndatasets = 1, .datasets = &ds, .min_units = 10};
    dcr_error err = {0};
    dcr_diff_history h;
    dcr_diff *d = NULL;
    uint8_t *hashes = calloc(n, 8);
    bool sup = true;
    uint64_t diff;
    CHECK(hashes && dcr_room_diff_history(st, dir, &h, &err) == DCR_OK);
    CHECK(dcr_diff_begin(&c, &h, &d, &err) == DCR_OK);
    for (size_t i = 0; hashes && i < n; i++)
        dcr_put_u64le(hashes + 8 * i, first + i);
    dcr_diff_slot slot = {0, hashes, 8 * n};
    CHECK(d && dcr_diff_check_row(d, &slot, 1, &sup, &diff, &err) == DCR_OK);
    CHECK(d && dcr_diff_commit(d, &err) == DCR_OK);
    dcr_diff_free(d);
    free(hashes);
    return !sup;
}

/* The differencing history outlives a re-upload of the dataset and a new
 * instance on the same directory (a restart): one person fewer is still
 * caught; a row stored under an old per-analyst scope still counts. */
static void test_history_survives_reupload_and_restart(void)
{
    dcr_error err = {0};
    char *d = fresh_dir();
    dcr_state *st = open_started(d, 1);
    dcr_dataset_info info;
    CHECK(st && upload(st, "people", "v1", &info) == DCR_OK);
    dcr_dataset_info_free(&info);
    CHECK(st && diff_release(st, d, 1000, 100) == 1);
    dcr_state_close(st);
    st = open_started(d, 2);
    CHECK(st && upload(st, "people", "v2, re-uploaded", &info) == DCR_OK);
    dcr_dataset_info_free(&info);
    CHECK(st && diff_release(st, d, 1000, 99) == 0);
    CHECK(st && diff_release(st, d, 1000, 100) == 1); /* the same set: released */
    /* An entry of an older, per-analyst history. */
    hist_count n = {0};
    CHECK(st && dcr_state_history_each(st, NULL, count_cb, &n, &err) == DCR_OK && n.n == 1);
    dcr_state_close(st);
    db_exec(d, "UPDATE history SET analyst = 'advertiser'");
    st = open_started(d, 3);
    CHECK(st && diff_release(st, d, 1001, 100) == 0);
    dcr_state_close(st);
}

/* ---- crash safety ---- */

/* Acknowledgements a child sends only after a call returned DCR_OK. */
typedef struct {
    char kind; /* 'c' charge, 'u' upload */
    uint64_t value;
    char name[24];
    uint8_t sha[32];
} ack;

static void crash_child(const char *dir, int fd, unsigned seed)
{
    dcr_error err;
    dcr_state *st = open_started(dir, (uint8_t)(seed % 200 + 1));
    if (!st)
        _exit(1);
    srand(seed);
    ack ready = {.kind = 'r'};
    if (write(fd, &ready, sizeof ready) != sizeof ready)
        _exit(5);
    dcr_audit_entry e = {.party = "bob", .sql = "SELECT noisy()", .decision = "accepted"};
    for (int i = 0;; i++) {
        int what = rand() % 3;
        ack a = {0};
        if (what == 0) {
            dcr_budget after;
            if (dcr_state_charge_units(st, "bob", 1000, 0, INT64_MAX / 2, 0, &e, &after, &err))
                _exit(2);
            a.kind = 'c';
            a.value = (uint64_t)after.eps_spent;
        } else if (what == 1) {
            if (dcr_state_audit_append(st, &e, NULL, &err))
                _exit(3);
            continue;
        } else {
            char data[4096];
            snprintf(a.name, sizeof a.name, "ds%u-%d", seed, i);
            memset(data, 'a' + i % 26, sizeof data);
            dcr_state_upload *up;
            dcr_dataset_info info;
            if (dcr_state_upload_begin(st, a.name, "alice", chash, &up, &err) ||
                dcr_state_upload_write(up, data, sizeof data, &err) ||
                dcr_state_upload_commit(up, -1, "alice", &info, &err))
                _exit(4);
            memcpy(a.sha, info.sha256, 32);
            dcr_dataset_info_free(&info);
            a.kind = 'u';
        }
        if (write(fd, &a, sizeof a) != sizeof a)
            _exit(5);
    }
}

static void test_crash_kill9(void)
{
    dcr_error err = {0};
    char *d = fresh_dir();
    dcr_state *st = open_started(d, 1);
    if (!st)
        return;
    dcr_state_close(st);
    uint64_t max_spent = 0;
    int uploads = 0, charges = 0, trials = 60, bad_trials = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    srand((unsigned)ts.tv_nsec);
    for (int t = 0; t < trials; t++) {
        int fds[2];
        if (pipe(fds) != 0)
            break;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            crash_child(d, fds[1], (unsigned)t * 7919u + (unsigned)rand());
        }
        close(fds[1]);
        ack a;
        /* Most trials kill inside the work loop, whatever the machine's
         * load; every fourth may hit the open and its crash cleanup. */
        if (t % 4 != 0 && (read(fds[0], &a, sizeof a) != sizeof a || a.kind != 'r'))
            bad_trials++;
        struct timespec nap = {0, (long)(5 + rand() % 70) * 1000000L};
        nanosleep(&nap, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status))
            bad_trials++;
        st = NULL;
        CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_OK);
        if (!st) {
            fprintf(stderr, "  trial %d: %s\n", t, err.msg);
            close(fds[0]);
            break;
        }
        while (read(fds[0], &a, sizeof a) == sizeof a) {
            if (a.kind == 'r') {
                continue;
            } else if (a.kind == 'c') {
                charges++;
                if (a.value > max_spent)
                    max_spent = a.value;
            } else {
                uploads++;
                dcr_dataset_info info;
                CHECK(dcr_state_dataset_get(st, a.name, &info, &err) == DCR_OK);
                CHECK_MEM(info.sha256, a.sha, 32);
                dcr_dataset_info_free(&info);
            }
        }
        close(fds[0]);
        dcr_budget b;
        CHECK(dcr_state_budget_get(st, "bob", &b, &err) == DCR_OK);
        CHECK((uint64_t)b.eps_spent >= max_spent);
        max_spent = (uint64_t)b.eps_spent; /* unacknowledged charges may count */
        dcr_state_close(st);
    }
    CHECK(bad_trials == 0);
    fprintf(stderr, "  crash: %d trials, %d acknowledged charges, %d uploads\n", trials, charges,
            uploads);
    CHECK(charges > 0 && uploads > 0);
    /* every committed file is listed and verified; no temp files remain */
    st = NULL;
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_OK);
    if (!st)
        return;
    dcr_dataset_info *list;
    size_t n;
    CHECK(dcr_state_dataset_list(st, &list, &n, &err) == DCR_OK);
    CHECK((int)n == count_files(d));
    CHECK((int)n >= uploads);
    /* every committed upload, acknowledged or not, has its audit record:
     * commit and record are one transaction */
    dcr_audit_chain chain = {0};
    CHECK(dcr_state_audit_load(st, 0, &chain, &err) == DCR_OK);
    size_t unrecorded = 0;
    for (size_t i = 0; i < n; i++) {
        char want[200], hex[65];
        dcr_hex_encode(hex, list[i].sha256, 32);
        snprintf(want, sizeof want, "sha256 %s", hex);
        bool seen = false;
        for (size_t k = 0; k < chain.n && !seen; k++)
            seen = strstr(chain.v[k].record, want) && strstr(chain.v[k].record, list[i].name);
        unrecorded += !seen;
    }
    CHECK(unrecorded == 0);
    dcr_audit_chain_free(&chain);
    for (size_t i = 0; i < n; i++)
        dcr_dataset_info_free(&list[i]);
    free(list);
    dcr_audit_chain c;
    CHECK(dcr_state_audit_load(st, 0, &c, &err) == DCR_OK);
    size_t bad = 0;
    CHECK(dcr_audit_verify(&c, NULL, &bad, &err) == DCR_OK);
    if (bad != c.n)
        fprintf(stderr, "  chain: %s\n", err.msg);
    /* the ledger total equals the sum of the charges in the chain */
    uint64_t sum = 0;
    for (size_t i = 0; i < c.n; i++)
        if (strstr(c.v[i].record, "\"epsilon_nano\":1000,"))
            sum += 1000;
    dcr_budget b;
    CHECK(dcr_state_budget_get(st, "bob", &b, &err) == DCR_OK && (uint64_t)b.eps_spent == sum);
    dcr_audit_chain_free(&c);
    dcr_state_close(st);
}

/* ---- TPM anchor (swtpm) ---- */

static pid_t swtpm_pid;
static char tcti[64];

/* bind (connecting = false) or connect to 127.0.0.1:port; whether it worked. */
static bool loopback_try(int port, bool connecting)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && (connecting ? connect(fd, (struct sockaddr *)&sa, sizeof sa)
                                     : bind(fd, (struct sockaddr *)&sa, sizeof sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static bool port_free(int port)
{
    return loopback_try(port, false);
}

static bool port_listening(int port)
{
    return loopback_try(port, true);
}

/* Starts swtpm on a free loopback port pair (other tests may run their own
 * swtpm at the same time), retrying on another port if it cannot bind. */
static bool start_swtpm(void)
{
    if (system("command -v swtpm >/dev/null 2>&1") != 0)
        return false;
    char dir[300], log[300];
    snprintf(dir, sizeof dir, "%s/tpm", root);
    snprintf(log, sizeof log, "%s/swtpm.log", root);
    mkdir(dir, 0700);
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    for (int attempt = 0; attempt < 10; attempt++) {
        int port = 20000 + rand() % 20000;
        if (!port_free(port) || !port_free(port + 1))
            continue;
        char srv[80], ctl[80], state[340];
        snprintf(srv, sizeof srv, "type=tcp,port=%d,bindaddr=127.0.0.1", port);
        snprintf(ctl, sizeof ctl, "type=tcp,port=%d,bindaddr=127.0.0.1", port + 1);
        snprintf(state, sizeof state, "dir=%s", dir);
        swtpm_pid = fork();
        if (swtpm_pid == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execlp("swtpm", "swtpm", "socket", "--tpm2", "--server", srv, "--ctrl", ctl, "--flags",
                   "not-need-init,startup-clear", "--tpmstate", state, (char *)NULL);
            _exit(127);
        }
        if (swtpm_pid < 0)
            return false;
        for (int i = 0; i < 100; i++) {
            if (waitpid(swtpm_pid, NULL, WNOHANG) == swtpm_pid)
                break; /* it could not bind: try another port */
            if (port_listening(port)) {
                snprintf(tcti, sizeof tcti, "swtpm:host=127.0.0.1,port=%d", port);
                return true;
            }
            usleep(30000);
        }
        kill(swtpm_pid, SIGKILL);
        waitpid(swtpm_pid, NULL, 0);
    }
    return false;
}

static dcr_status open_tpm(const char *d, dcr_state **st, dcr_error *err)
{
    dcr_state_options o = {.tcti = tcti};
    return dcr_state_open(d, &o, st, err);
}

static void copy_state(const char *from, const char *to)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -a %s %s", to, from, to);
    CHECK(system(cmd) == 0);
}

/* kill -9 of anchored writers at random points, some between COMMIT and
 * the counter increment: every reopen must succeed (the one-behind counter
 * is repaired, not taken for a rollback) and keep every acknowledged charge. */
static void tpm_crash_trials(void)
{
    dcr_error err = {0};
    char *d = fresh_dir();
    dcr_state *st = NULL;
    CHECK(open_tpm(d, &st, &err) == DCR_OK);
    dcr_state_close(st);
    int acked = 0, trials = 20;
    uint64_t max_spent = 0;
    for (int t = 0; t < trials; t++) {
        int fds[2];
        if (pipe(fds) != 0)
            break;
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            dcr_state *c = NULL;
            dcr_state_instance in;
            make_instance(&in, (uint8_t)(t + 1));
            uint64_t ready = 0;
            if (open_tpm(d, &c, &err) || dcr_state_instance_start(c, &in, &err) ||
                write(fds[1], &ready, sizeof ready) != sizeof ready)
                _exit(1);
            dcr_audit_entry e = {.party = "bob", .decision = "accepted"};
            for (;;) {
                dcr_budget after;
                if (dcr_state_charge_units(c, "bob", 7, 0, INT64_MAX / 2, 0, &e, &after, &err))
                    _exit(2);
                uint64_t v = (uint64_t)after.eps_spent;
                if (write(fds[1], &v, sizeof v) != sizeof v)
                    _exit(3);
            }
        }
        close(fds[1]);
        uint64_t v;
        CHECK(read(fds[0], &v, sizeof v) == sizeof v && v == 0); /* ready */
        struct timespec nap = {0, (long)(20 + rand() % 80) * 1000000L};
        nanosleep(&nap, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        while (read(fds[0], &v, sizeof v) == sizeof v) {
            acked++;
            if (v > max_spent)
                max_spent = v;
        }
        close(fds[0]);
        st = NULL;
        CHECK(open_tpm(d, &st, &err) == DCR_OK);
        if (!st) {
            fprintf(stderr, "  tpm trial %d: %s\n", t, err.msg);
            return;
        }
        dcr_budget b;
        CHECK(dcr_state_budget_get(st, "bob", &b, &err) == DCR_OK &&
              (uint64_t)b.eps_spent >= max_spent);
        dcr_state_anchor_info ai;
        CHECK(dcr_state_anchor_status(st, &ai, &err) == DCR_OK && ai.tpm_counter == ai.db_counter);
        dcr_state_close(st);
    }
    fprintf(stderr, "  tpm crash: %d trials, %d acknowledged anchored charges\n", trials, acked);
    CHECK(acked > 0);
    st = NULL;
    CHECK(open_tpm(d, &st, &err) == DCR_OK);
    dcr_audit_chain c;
    if (st && dcr_state_audit_load(st, 0, &c, &err) == DCR_OK) {
        CHECK(dcr_audit_verify(&c, NULL, NULL, &err) == DCR_OK);
        dcr_audit_chain_free(&c);
    }
    dcr_state_close(st);
}

static bool file_exists(const char *dir, const char *name)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* With a TPM the differencing key is sealed to it: no plaintext on disk,
 * the same key after a reopen, a damaged blob refused, and a plaintext key
 * from a run without the TPM sealed and then deleted. */
static void tpm_sealed_key(void)
{
    dcr_error err = {0};
    char *d = fresh_dir();
    dcr_state *st = NULL;
    dcr_diff_history h1, h2;
    CHECK(open_tpm(d, &st, &err) == DCR_OK);
    CHECK(st && dcr_room_diff_history(st, d, &h1, &err) == DCR_OK);
    dcr_state_close(st);
    CHECK(file_exists(d, "differencing.key.tpm") && !file_exists(d, "differencing.key"));
    st = NULL;
    CHECK(open_tpm(d, &st, &err) == DCR_OK);
    CHECK(st && dcr_room_diff_history(st, d, &h2, &err) == DCR_OK);
    CHECK_MEM(h1.key, h2.key, DCR_DIFF_KEY_LEN);
    dcr_state_close(st);
    /* the blob on disk does not hold the key in the clear */
    char p[400];
    snprintf(p, sizeof p, "%s/differencing.key.tpm", d);
    uint8_t blob[4096];
    FILE *f = fopen(p, "rb");
    size_t n = f ? fread(blob, 1, sizeof blob, f) : 0;
    if (f)
        fclose(f);
    CHECK(n > 64 && n < sizeof blob);
    bool clear = false;
    for (size_t i = 0; i + DCR_DIFF_KEY_LEN <= n; i++)
        clear = clear || memcmp(blob + i, h1.key, DCR_DIFF_KEY_LEN) == 0;
    CHECK(!clear);
    /* a flipped bit in the private area (the last byte) is refused */
    blob[n - 1] ^= 1;
    f = fopen(p, "wb");
    CHECK(f && fwrite(blob, 1, n, f) == n);
    if (f)
        fclose(f);
    st = NULL;
    CHECK(open_tpm(d, &st, &err) == DCR_OK);
    CHECK(st && dcr_room_diff_history(st, d, &h2, &err) == DCR_EINPUT);
    CHECK_MSG(err, "state TPM seal");
    dcr_state_close(st);
    /* migration: a plaintext key made without the TPM becomes sealed */
    char *d2 = fresh_dir();
    st = NULL;
    CHECK(dcr_state_open(d2, NULL, &st, &err) == DCR_OK);
    CHECK(st && dcr_room_diff_history(st, d2, &h1, &err) == DCR_OK);
    dcr_state_close(st);
    CHECK(file_exists(d2, "differencing.key"));
    st = NULL;
    CHECK(open_tpm(d2, &st, &err) == DCR_OK);
    CHECK(st && dcr_room_diff_history(st, d2, &h2, &err) == DCR_OK);
    CHECK_MEM(h1.key, h2.key, DCR_DIFF_KEY_LEN);
    dcr_state_close(st);
    CHECK(file_exists(d2, "differencing.key.tpm") && !file_exists(d2, "differencing.key"));
}

static void test_tpm_anchor(void)
{
    if (system("command -v swtpm >/dev/null 2>&1") != 0) {
        printf("SKIP test_tpm_anchor: swtpm is not installed (scripts/deps.sh installs it)\n");
        return;
    }
    CHECK(start_swtpm());
    dcr_error err = {0};
    char *d = fresh_dir();
    char snap[300];
    snprintf(snap, sizeof snap, "%s-snap", d);
    dcr_state *st = NULL;
    CHECK(open_tpm(d, &st, &err) == DCR_OK);
    if (!st) {
        fprintf(stderr, "  swtpm: %s\n", err.msg);
        return;
    }
    dcr_state_instance in;
    make_instance(&in, 3);
    CHECK(dcr_state_instance_start(st, &in, &err) == DCR_OK);
    dcr_audit_entry e = {.party = "bob", .decision = "accepted"};
    CHECK(dcr_state_charge_units(st, "bob", 5, 0, 100, 0, &e, NULL, &err) == DCR_OK);
    dcr_state_anchor_info ai;
    CHECK(dcr_state_anchor_status(st, &ai, &err) == DCR_OK && ai.tpm &&
          ai.tpm_counter == ai.db_counter && ai.db_counter > 0);
    uint64_t first = ai.db_counter;
    dcr_state_close(st);
    copy_state(d, snap); /* the operator keeps a copy */

    st = NULL;
    CHECK(open_tpm(d, &st, &err) == DCR_OK);
    if (!st)
        return;
    CHECK(dcr_state_instance_start(st, &in, &err) == DCR_OK);
    CHECK(dcr_state_charge_units(st, "bob", 50, 0, 100, 0, &e, NULL, &err) == DCR_OK);
    CHECK(dcr_state_anchor_status(st, &ai, &err) == DCR_OK && ai.db_counter == first + 2 &&
          ai.tpm_counter == ai.db_counter);
    dcr_audit_chain c;
    CHECK(dcr_state_audit_load(st, 0, &c, &err) == DCR_OK && c.n == 4);
    CHECK(c.n == 4 && strstr(c.v[3].record, "\"anchor\":") != NULL);
    dcr_audit_chain_free(&c);
    dcr_state_close(st);

    /* ... and puts it back to get the budget back: refused */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -a %s %s", d, snap, d);
    CHECK(system(cmd) == 0);
    st = NULL;
    CHECK(open_tpm(d, &st, &err) == DCR_EINPUT && !st);
    CHECK_MSG(err, "ROLLED BACK");
    /* opening without the TPM is refused too */
    CHECK(dcr_state_open(d, NULL, &st, &err) == DCR_EINPUT);
    CHECK_MSG(err, "anchored in TPM NV counter");
    dcr_state_options o = {.allow_unanchored = true};
    CHECK(dcr_state_open(d, &o, &st, &err) == DCR_OK);
    dcr_state_close(st);

    /* a state with records but never anchored, while the counter exists:
     * rolled back to before anchoring, or another state's counter */
    char *d2 = fresh_dir();
    st = open_started(d2, 4);
    dcr_state_close(st);
    st = NULL;
    CHECK(open_tpm(d2, &st, &err) == DCR_EINPUT && !st);
    CHECK_MSG(err, "another state directory uses this counter");
    tpm_sealed_key();
    tpm_crash_trials();
}

int main(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_units);
    RUN(test_open_and_permissions);
    RUN(test_damaged_database);
    RUN(test_catalog);
    RUN(test_crashed_upload_cleaned);
    RUN(test_grants);
    RUN(test_audit_chain);
    RUN(test_audit_truncation_and_forgery);
    RUN(test_audit_older_key_refused);
    RUN(test_one_instance_per_directory);
    RUN(test_no_instance);
    RUN(test_ledger);
    RUN(test_threads_never_overspend);
    RUN(test_processes_never_overspend);
    RUN(test_replay);
    RUN(test_history);
    RUN(test_history_survives_reupload_and_restart);
    RUN(test_crash_kill9);
    RUN(test_tpm_anchor);
    if (swtpm_pid > 0) {
        kill(swtpm_pid, SIGTERM);
        waitpid(swtpm_pid, NULL, 0);
    }
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", root);
    return check_summary();
}
