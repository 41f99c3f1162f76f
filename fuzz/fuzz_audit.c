/*
 * fuzz_audit.c: the client side of `dcr audit`: an audit export fetched
 * from a (possibly hostile) server, parsed (dcr_audit_parse_export) and
 * verified (dcr_audit_verify: canonical JSON, sequence, hash links, record
 * hashes, Ed25519 signatures under keys introduced by instance_start
 * records), then the rollback check (dcr_audit_check_extends).
 *
 * Invariants beyond "no crash": a failed verification points at a record
 * inside the chain; a verified chain exports and parses back to the same
 * records, lists its instances (dcr_audit_instances) each under the key id
 * of its own audit key, and extends its own head but not an altered one.
 * Each input is
 * verified twice: as sent, and relinked (prev and hash recomputed, as a
 * server without the keys could) so that mutated records get past the hash
 * check into the record parsing, key lookup and signature checks.
 *
 * Seeds (DCR_FUZZ_WRITE_SEEDS=DIR) are real exports of a state database
 * with two instances (a restart), accepted and refused queries, an upload
 * and a grant, plus a tail starting after record 0.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "fuzz_fixture.h"
#include "state/internal.h"
#include "state/state.h"

/* The start hash assumed for a chain that does not begin at record 0. */
static const uint8_t start_prev[32] = {0x5a, 0xa5};

static void check_seed(dcr_status s, const dcr_error *err)
{
    if (s != DCR_OK) {
        fprintf(stderr, "seed: %s\n", err->msg);
        exit(1);
    }
}

static void start_instance(dcr_state *st, uint8_t seed_byte)
{
    dcr_state_instance in = {
        .tee = "sim", .evidence = (const uint8_t *)"evidence", .evidence_len = 8};
    memset(in.audit_seed, seed_byte, 32);
    memset(in.hpke_pub, seed_byte + 1, 32);
    memset(in.tls_spki_sha256, seed_byte + 2, 32);
    memcpy(in.contract_hash, fx_contract.hash, 32);
    dcr_error err;
    check_seed(dcr_state_instance_start(st, &in, &err), &err);
}

static void write_seeds(const char *dir)
{
    char tmp[] = "/tmp/dcr-fuzz-audit-XXXXXX";
    if (!mkdtemp(tmp))
        exit(1);
    dcr_state *st;
    dcr_error err;
    check_seed(dcr_state_open(tmp, NULL, &st, &err), &err);
    start_instance(st, 0x41);
    dcr_audit_entry es[] = {
        {.type = "upload",
         .party = "publisher",
         .sql = "impressions",
         .decision = "accepted",
         .reason = "1000 rows"},
        {.type = "query",
         .party = "advertiser",
         .sql = "SELECT campaign, COUNT(*) FROM "
                "impressions GROUP BY campaign",
         .decision = "accepted",
         .rows_released = 3},
        {.type = "query",
         .party = "advertiser",
         .sql = "SELECT email FROM purchases",
         .decision = "refused",
         .reason = "not-aggregated: SQL:1:8: \"quoted\"\n\ttab \\ é"},
    };
    for (size_t i = 0; i < 3; i++)
        check_seed(dcr_state_audit_append(st, &es[i], NULL, &err), &err);
    start_instance(st, 0x61); /* a restart: a new instance key */
    dcr_audit_entry g = {.type = "grant",
                         .party = "publisher",
                         .sql = "impressions",
                         .decision = "accepted",
                         .reason = "data key granted to this instance"};
    check_seed(dcr_state_audit_append(st, &g, NULL, &err), &err);
    dcr_buf all = DCR_BUF_INIT, tail = DCR_BUF_INIT, one = DCR_BUF_INIT;
    check_seed(dcr_state_audit_export(st, 0, &all, &err), &err);
    check_seed(dcr_state_audit_export(st, 4, &tail, &err), &err);
    check_seed(dcr_state_audit_export(st, 5, &one, &err), &err);
    fx_write(dir, "chain-restart.json", all.data, all.len);
    fx_write(dir, "chain-tail.json", tail.data, tail.len);
    fx_write(dir, "chain-last.json", one.data, one.len);
    fx_write(dir, "chain-empty.json", "{\"records\":[],\"version\":1}", 27);
    dcr_buf_free(&all);
    dcr_buf_free(&tail);
    dcr_buf_free(&one);
    dcr_state_close(st);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fx_init();
    if (fx_seed_dir()) {
        write_seeds(fx_seed_dir());
        exit(0);
    }
    return 0;
}

static bool same_chain(const dcr_audit_chain *a, const dcr_audit_chain *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const dcr_audit_record *x = &a->v[i], *y = &b->v[i];
        if (x->seq != y->seq || x->record_len != y->record_len ||
            memcmp(x->record, y->record, x->record_len) != 0 || memcmp(x->prev, y->prev, 32) ||
            memcmp(x->hash, y->hash, 32) || memcmp(x->sig, y->sig, 64))
            return false;
    }
    return true;
}

static void check_verified(const dcr_audit_chain *c)
{
    dcr_error err;
    dcr_buf out = DCR_BUF_INIT;
    dcr_audit_chain again;
    if (dcr_audit_export_chain(c, &out, &err) != DCR_OK ||
        dcr_audit_parse_export((const char *)out.data, out.len, &again, &err) != DCR_OK ||
        !same_chain(c, &again))
        __builtin_trap();
    dcr_audit_chain_free(&again);
    dcr_buf_free(&out);
    /* what the client then checks against the attested instance */
    dcr_audit_instance *in = NULL;
    size_t nin = 0;
    if (dcr_audit_instances(c, &in, &nin, &err) != DCR_OK)
        __builtin_trap();
    for (size_t i = 0; i < nin; i++) {
        char kid[17];
        if (in[i].index >= c->n || c->v[in[i].index].seq != in[i].seq ||
            st_audit_key_id(in[i].audit_pub, kid, &err) != DCR_OK || strcmp(kid, in[i].key_id) != 0)
            __builtin_trap();
    }
    free(in);
    if (c->n == 0)
        return;
    const dcr_audit_record *last = &c->v[c->n - 1];
    uint8_t other[32];
    memcpy(other, last->hash, 32);
    other[7] ^= 1;
    if (dcr_audit_check_extends(c, last->seq, last->hash, &err) != DCR_OK ||
        dcr_audit_check_extends(c, last->seq, other, &err) != DCR_ECRYPTO ||
        dcr_audit_check_extends(c, last->seq + 1, last->hash, &err) != DCR_ECRYPTO)
        __builtin_trap();
}

/* Rewrites every prev and hash so the chain links (what a hostile server
 * can do without any instance's key): the verifier then gets past the hash
 * checks into the record parsing, key lookup and signatures. The formula is
 * the one in src/state/audit.c; an honest chain is unchanged by it. */
static void relink(dcr_audit_chain *c)
{
    static const char label[] = "dcr audit record v1"; /* hashed with its NUL */
    for (size_t i = 0; i < c->n; i++) {
        dcr_audit_record *a = &c->v[i];
        if (i)
            memcpy(a->prev, c->v[i - 1].hash, 32);
        else
            memcpy(a->prev, a->seq ? start_prev : (const uint8_t[32]){0}, 32);
        dcr_hash_ctx *h;
        dcr_error err;
        if (dcr_hash_init(&h, DCR_SHA256, &err) != DCR_OK ||
            dcr_hash_update(h, label, sizeof label, &err) != DCR_OK ||
            dcr_hash_update(h, a->prev, 32, &err) != DCR_OK ||
            dcr_hash_update(h, a->record, a->record_len, &err) != DCR_OK ||
            dcr_hash_final(h, a->hash, &err) != DCR_OK)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dcr_audit_chain c;
    dcr_error err;
    dcr_status s = dcr_audit_parse_export((const char *)data, size, &c, &err);
    if (s != DCR_OK) {
        if (s != DCR_EINPUT || c.n || c.v)
            __builtin_trap();
        return 0;
    }
    size_t bad = (size_t)-1;
    s = dcr_audit_verify(&c, c.n && c.v[0].seq ? start_prev : NULL, &bad, &err);
    if (s == DCR_OK) {
        if (bad != c.n)
            __builtin_trap();
        check_verified(&c);
    } else if (bad >= c.n || !err.msg[0]) {
        __builtin_trap();
    }
    dcr_audit_chain linked;
    if (dcr_audit_parse_export((const char *)data, size, &linked, &err) != DCR_OK)
        __builtin_trap();
    relink(&linked);
    if (s == DCR_OK && !same_chain(&c, &linked))
        __builtin_trap(); /* relink must not change an honest chain */
    dcr_status s2 =
        dcr_audit_verify(&linked, linked.n && linked.v[0].seq ? start_prev : NULL, &bad, &err);
    if (s2 == DCR_OK)
        check_verified(&linked);
    else if (bad >= linked.n || !err.msg[0])
        __builtin_trap();
    dcr_audit_chain_free(&linked);
    /* without a start hash a tail is refused at its first record */
    if (c.n && c.v[0].seq && (dcr_audit_verify(&c, NULL, &bad, &err) == DCR_OK || bad != 0))
        __builtin_trap();
    dcr_audit_chain_free(&c);
    return 0;
}
