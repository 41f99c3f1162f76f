/*
 * sim.c: the development-only simulated TEE: producer and verifier.
 *
 * It gives the whole attestation flow something to run on a laptop, and it
 * is deliberately worthless as security: the "platform key" is an Ed25519
 * key derived from a public, fixed seed, so anyone can forge this evidence.
 * The marker "simulated, insecure" sits inside the signed bytes and in the
 * claims, and the verifier refuses sim evidence unless the policy allows it.
 *
 * Layout (248 bytes):
 *   0   magic "DCRSIM01"
 *   8   marker, "simulated, insecure" NUL-padded to 32 bytes
 *   40  REPORT_DATA[64]
 *   104 measurement[48] = SHA-384 of the dcr executable that made it
 *   152 platform public key[32]
 *   184 Ed25519 signature[64] over bytes 0..183
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "attest/attest_internal.h"
#include "attest/tee.h"
#include "base/fileio.h"
#include "crypto/hash.h"
#include "crypto/sign.h"
#include "base/hygiene.h"

enum {
    SIM_MARKER = 8,
    SIM_REPORT_DATA = 40,
    SIM_MEASUREMENT = 104,
    SIM_PUBKEY = 152,
    SIM_SIGNATURE = 184,
    SIM_LEN = 248,
};

#define SIM_MARKER_TEXT "simulated, insecure"
#define SIM_SEED_LABEL "dcr simulated platform key v1 (public seed: this key protects nothing)"

static dcr_status sim_seed(uint8_t seed[DCR_ED25519_SEED_LEN], dcr_error *err)
{
    return dcr_sha256(SIM_SEED_LABEL, strlen(SIM_SEED_LABEL), seed, err);
}

/* SHA-384 of the running executable. */
static dcr_status hash_self(uint8_t out[48], dcr_error *err)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dcr_fail(err, DCR_EINTERNAL, "sim: cannot open /proc/self/exe");
    dcr_hash_ctx *h;
    dcr_status st = dcr_hash_init(&h, DCR_SHA384, err);
    if (st != DCR_OK) {
        close(fd);
        return st;
    }
    uint8_t buf[65536];
    for (;;) {
        size_t got;
        if ((st = dcr_read_full(fd, buf, sizeof buf, &got, "/proc/self/exe", err)) ||
            (st = dcr_hash_update(h, buf, got, err)) || got < sizeof buf)
            break;
    }
    close(fd);
    if (st == DCR_OK)
        return dcr_hash_final(h, out, err);
    dcr_hash_free(h);
    return st;
}

dcr_status dcr_sim_make_report(const uint8_t report_data[64], const uint8_t measurement[48],
                               dcr_buf *out, dcr_error *err)
{
    uint8_t r[SIM_LEN] = {0}, seed[DCR_ED25519_SEED_LEN];
    memcpy(r, DCR_SIM_MAGIC, 8);
    memcpy(r + SIM_MARKER, SIM_MARKER_TEXT, strlen(SIM_MARKER_TEXT));
    memcpy(r + SIM_REPORT_DATA, report_data, 64);
    memcpy(r + SIM_MEASUREMENT, measurement, 48);
    dcr_status st;
    if ((st = sim_seed(seed, err)) ||
        (st = dcr_ed25519_public_from_seed(seed, r + SIM_PUBKEY, err)) ||
        (st = dcr_ed25519_sign(seed, r, SIM_SIGNATURE, r + SIM_SIGNATURE, err)) ||
        (st = dcr_buf_append(out, r, sizeof r, err)))
        return st;
    return DCR_OK;
}

static bool sim_probe(const dcr_tee_options *opt, char *why, size_t why_len)
{
    (void)opt;
    snprintf(why, why_len,
             "always available; development only: its evidence is marked "
             "\"simulated, insecure\" and anyone can forge it");
    return true;
}

static dcr_status sim_get_evidence(const dcr_tee_options *opt, const uint8_t report_data[64],
                                   dcr_evidence *ev, dcr_error *err)
{
    (void)opt;
    uint8_t m[48];
    dcr_status st = hash_self(m, err);
    if (st != DCR_OK)
        return st;
    ev->type = DCR_EV_SIM;
    return dcr_sim_make_report(report_data, m, &ev->report, err);
}

const dcr_tee_backend dcr_tee_sim = {"sim", sim_probe, sim_get_evidence};

dcr_status dcr_sim_verify(const uint8_t *r, size_t len, const dcr_attest_policy *pol,
                          json_t *claims, dcr_error *err)
{
    if (len != SIM_LEN || memcmp(r, DCR_SIM_MAGIC, 8) != 0)
        return dcr_fail(err, DCR_EINPUT, "sim: not a %d-byte simulated report", SIM_LEN);
    uint8_t marker[32] = {0}, seed[DCR_ED25519_SEED_LEN], pub[DCR_ED25519_PUBLIC_LEN];
    memcpy(marker, SIM_MARKER_TEXT, strlen(SIM_MARKER_TEXT));
    if (memcmp(r + SIM_MARKER, marker, 32) != 0)
        return dcr_fail(err, DCR_EINPUT, "sim: the \"%s\" marker is missing", SIM_MARKER_TEXT);
    dcr_status st;
    if ((st = sim_seed(seed, err)) || (st = dcr_ed25519_public_from_seed(seed, pub, err)))
        return st;
    dcr_wipe(seed, sizeof seed);
    if (memcmp(pub, r + SIM_PUBKEY, 32) != 0)
        return dcr_fail(err, DCR_ECRYPTO, "sim: platform key is not the simulated platform key");
    dcr_error e2 = {0};
    if (dcr_ed25519_verify(pub, r, SIM_SIGNATURE, r + SIM_SIGNATURE, &e2) != DCR_OK)
        return dcr_fail(err, DCR_ECRYPTO,
                        "sim: signature does not verify with the simulated platform key");
    if (!pol->allow_sim)
        return dcr_fail(err, DCR_ECRYPTO,
                        "policy: simulated, insecure evidence is not accepted here");
    if ((st = dcr_policy_report_data(pol, r + SIM_REPORT_DATA, err)) ||
        (st = dcr_policy_measurement(pol, r + SIM_MEASUREMENT, err)))
        return st;
    json_object_set_new(claims, "insecure", json_true());
    json_object_set_new(claims, "marker", json_string(SIM_MARKER_TEXT));
    json_object_set_new(claims, "measurement", dcr_json_hex(r + SIM_MEASUREMENT, 48));
    json_object_set_new(claims, "report_data", dcr_json_hex(r + SIM_REPORT_DATA, 64));
    return DCR_OK;
}
