/*
 * test_crypto.c: known-answer and misuse tests for src/crypto.
 *
 * Every primitive is checked against published vectors (FIPS 180 SHA-2,
 * RFC 5869 HKDF, McGrew-Viega GCM, RFC 8032 Ed25519, and all of RFC 9180
 * Appendix A.1.1 for HPKE), then against the ways callers get it wrong:
 * tampered ciphertexts, wrong keys, malformed key text, lax file modes.
 * Round trips alone would pass an implementation that is consistently
 * wrong, which is why the vectors come first.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/bytes.h"
#include "check.h"
#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/hpke.h"
#include "crypto/hpke_internal.h"
#include "crypto/party_key.h"
#include "crypto/sign.h"
#include "crypto/util.h"

/* Decodes a vector into out, which must be exactly strlen(hex)/2 long. */
static void unhex(uint8_t *out, size_t n, const char *hex)
{
    CHECK(strlen(hex) == 2 * n);
    CHECK(dcr_hex_decode(out, n, hex, strlen(hex)));
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* ---- util ---------------------------------------------------------- */

static void test_ct_equal(void)
{
    uint8_t a[32], b[32];
    memset(a, 0x5a, sizeof a);
    memcpy(b, a, sizeof b);
    CHECK(dcr_ct_equal(a, b, sizeof a));
    CHECK(dcr_ct_equal(a, b, 0));
    b[0] ^= 1;
    CHECK(!dcr_ct_equal(a, b, sizeof a));
    b[0] ^= 1;
    b[31] ^= 0x80;
    CHECK(!dcr_ct_equal(a, b, sizeof a));
    CHECK(dcr_ct_equal(a, b, 31));
}

static void test_random_and_wipe(void)
{
    dcr_error err = {0};
    uint8_t a[32], b[32];
    CHECK(dcr_random_bytes(a, sizeof a, &err) == DCR_OK);
    CHECK(dcr_random_bytes(b, sizeof b, &err) == DCR_OK);
    CHECK(!all_zero(a, sizeof a));
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK(dcr_random_bytes(a, 0, &err) == DCR_OK);
    dcr_wipe(a, sizeof a);
    CHECK(all_zero(a, sizeof a));
    dcr_wipe(NULL, 0);
}

/* ---- hash ---------------------------------------------------------- */

static void test_sha2_known_answers(void)
{
    dcr_error err = {0};
    uint8_t out[64], want[64];

    /* FIPS 180-2 appendix examples: "abc" */
    CHECK(dcr_sha256("abc", 3, out, &err) == DCR_OK);
    unhex(want, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_MEM(out, want, 32);

    CHECK(dcr_sha384("abc", 3, out, &err) == DCR_OK);
    unhex(want, 48,
          "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca1"
          "34c825a7");
    CHECK_MEM(out, want, 48);

    CHECK(dcr_sha512("abc", 3, out, &err) == DCR_OK);
    unhex(want, 64,
          "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23"
          "a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    CHECK_MEM(out, want, 64);

    /* The two-block message. */
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(dcr_sha256(m, strlen(m), out, &err) == DCR_OK);
    unhex(want, 32, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK_MEM(out, want, 32);

    CHECK(dcr_hash_len(DCR_SHA256) == 32);
    CHECK(dcr_hash_len(DCR_SHA384) == 48);
    CHECK(dcr_hash_len(DCR_SHA512) == 64);
}

static void test_sha2_incremental(void)
{
    dcr_error err = {0};
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    const dcr_hash_alg algs[] = {DCR_SHA256, DCR_SHA384, DCR_SHA512};
    for (size_t a = 0; a < 3; a++) {
        uint8_t one[64], inc[64];
        if (algs[a] == DCR_SHA256)
            CHECK(dcr_sha256(m, strlen(m), one, &err) == DCR_OK);
        else if (algs[a] == DCR_SHA384)
            CHECK(dcr_sha384(m, strlen(m), one, &err) == DCR_OK);
        else
            CHECK(dcr_sha512(m, strlen(m), one, &err) == DCR_OK);
        dcr_hash_ctx *ctx = NULL;
        CHECK(dcr_hash_init(&ctx, algs[a], &err) == DCR_OK);
        CHECK(ctx != NULL);
        /* Uneven pieces, including an empty one. */
        CHECK(dcr_hash_update(ctx, m, 1, &err) == DCR_OK);
        CHECK(dcr_hash_update(ctx, m + 1, 0, &err) == DCR_OK);
        CHECK(dcr_hash_update(ctx, m + 1, 20, &err) == DCR_OK);
        CHECK(dcr_hash_update(ctx, m + 21, strlen(m) - 21, &err) == DCR_OK);
        CHECK(dcr_hash_final(ctx, inc, &err) == DCR_OK);
        CHECK_MEM(one, inc, dcr_hash_len(algs[a]));
    }
    /* A context abandoned before final is released by free. */
    dcr_hash_ctx *ctx = NULL;
    CHECK(dcr_hash_init(&ctx, DCR_SHA512, &err) == DCR_OK);
    CHECK(dcr_hash_update(ctx, "x", 1, &err) == DCR_OK);
    dcr_hash_free(ctx);
    dcr_hash_free(NULL);
}

static void test_hkdf_rfc5869(void)
{
    dcr_error err = {0};
    uint8_t ikm[22], salt[13], info[10], prk[32], okm[42], want_prk[32], want_okm[42];
    memset(ikm, 0x0b, sizeof ikm);
    unhex(salt, 13, "000102030405060708090a0b0c");
    unhex(info, 10, "f0f1f2f3f4f5f6f7f8f9");

    /* Test case 1. */
    CHECK(dcr_hkdf_sha256_extract(salt, sizeof salt, ikm, sizeof ikm, prk, &err) == DCR_OK);
    unhex(want_prk, 32, "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    CHECK_MEM(prk, want_prk, 32);
    CHECK(dcr_hkdf_sha256_expand(prk, 32, info, sizeof info, okm, 42, &err) == DCR_OK);
    unhex(want_okm, 42,
          "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    CHECK_MEM(okm, want_okm, 42);

    /* Test case 3: empty salt and info, the shape HPKE's LabeledExtract
     * uses everywhere. */
    CHECK(dcr_hkdf_sha256_extract(NULL, 0, ikm, sizeof ikm, prk, &err) == DCR_OK);
    unhex(want_prk, 32, "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04");
    CHECK_MEM(prk, want_prk, 32);
    CHECK(dcr_hkdf_sha256_expand(prk, 32, NULL, 0, okm, 42, &err) == DCR_OK);
    unhex(want_okm, 42,
          "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
    CHECK_MEM(okm, want_okm, 42);

    /* Limits: more than 255*32 bytes, or a short PRK, is refused. */
    static uint8_t big[255 * 32 + 1];
    CHECK(dcr_hkdf_sha256_expand(prk, 32, NULL, 0, big, 255 * 32, &err) == DCR_OK);
    CHECK(dcr_hkdf_sha256_expand(prk, 32, NULL, 0, big, sizeof big, &err) == DCR_EINTERNAL);
    CHECK(dcr_hkdf_sha256_expand(prk, 16, NULL, 0, okm, 42, &err) == DCR_EINTERNAL);
}

/* ---- AEAD ---------------------------------------------------------- */

/* McGrew-Viega GCM test case 16: AES-256, 60-byte plaintext, 20-byte aad. */
static const char *tc16_key = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
static const char *tc16_iv = "cafebabefacedbaddecaf888";
static const char *tc16_pt = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
                             "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
static const char *tc16_aad = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
static const char *tc16_ct = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                             "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
                             "76fc6ece0f4e1768cddf8853bb2d551b";

static void test_aes256gcm_known_answer(void)
{
    dcr_error err = {0};
    uint8_t key[32], iv[12], pt[60], aad[20], want[76], ct[76], back[60];
    unhex(key, 32, tc16_key);
    unhex(iv, 12, tc16_iv);
    unhex(pt, 60, tc16_pt);
    unhex(aad, 20, tc16_aad);
    unhex(want, 76, tc16_ct);

    CHECK(dcr_aes256gcm_seal(key, iv, aad, sizeof aad, pt, sizeof pt, ct, &err) == DCR_OK);
    CHECK_MEM(ct, want, sizeof want);
    CHECK(dcr_aes256gcm_open(key, iv, aad, sizeof aad, ct, sizeof ct, back, &err) == DCR_OK);
    CHECK_MEM(back, pt, sizeof pt);

    /* In place, both directions. */
    uint8_t buf[76];
    memcpy(buf, pt, sizeof pt);
    CHECK(dcr_aes256gcm_seal(key, iv, aad, sizeof aad, buf, sizeof pt, buf, &err) == DCR_OK);
    CHECK_MEM(buf, want, sizeof want);
    CHECK(dcr_aes256gcm_open(key, iv, aad, sizeof aad, buf, sizeof buf, buf, &err) == DCR_OK);
    CHECK_MEM(buf, pt, sizeof pt);

    /* Empty plaintext and aad: just a tag. */
    uint8_t tag_only[16], nothing[1];
    CHECK(dcr_aes256gcm_seal(key, iv, NULL, 0, NULL, 0, tag_only, &err) == DCR_OK);
    CHECK(dcr_aes256gcm_open(key, iv, NULL, 0, tag_only, 16, nothing, &err) == DCR_OK);
}

static void test_aes128gcm_known_answer(void)
{
    /* McGrew-Viega test case 4: AES-128 with aad, the HPKE suite's AEAD. */
    dcr_error err = {0};
    uint8_t key[16], iv[12], pt[60], aad[20], want[76], ct[76], back[60];
    unhex(key, 16, "feffe9928665731c6d6a8f9467308308");
    unhex(iv, 12, tc16_iv);
    unhex(pt, 60, tc16_pt);
    unhex(aad, 20, tc16_aad);
    unhex(want, 76,
          "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5a"
          "ac84aa051ba30b396a0aac973d58e0915bc94fbc3221a5db94fae95ae7121a47");
    CHECK(dcr_aes128gcm_seal(key, iv, aad, sizeof aad, pt, sizeof pt, ct, &err) == DCR_OK);
    CHECK_MEM(ct, want, sizeof want);
    CHECK(dcr_aes128gcm_open(key, iv, aad, sizeof aad, ct, sizeof ct, back, &err) == DCR_OK);
    CHECK_MEM(back, pt, sizeof pt);
}

/* Opens a tampered message and checks the failure: DCR_ECRYPTO, a clear
 * message, and a plaintext buffer that holds nothing but zeros. */
static int open_fails_wiped(const uint8_t *key, const uint8_t *iv, const uint8_t *aad,
                            size_t aad_len, const uint8_t *ct, size_t ct_len)
{
    dcr_error err = {0};
    uint8_t pt[128];
    memset(pt, 0xaa, sizeof pt);
    dcr_status s = dcr_aes256gcm_open(key, iv, aad, aad_len, ct, ct_len, pt, &err);
    size_t pt_len = ct_len >= 16 ? ct_len - 16 : 0;
    return s == DCR_ECRYPTO && strstr(err.msg, "authentication failed") && all_zero(pt, pt_len);
}

static void test_aes256gcm_tamper(void)
{
    uint8_t key[32], iv[12], pt[60], aad[20], ct[76];
    unhex(key, 32, tc16_key);
    unhex(iv, 12, tc16_iv);
    unhex(pt, 60, tc16_pt);
    unhex(aad, 20, tc16_aad);
    unhex(ct, 76, tc16_ct);

    int bad = 0;
    /* Every bit of ciphertext and tag. */
    for (size_t bit = 0; bit < 8 * sizeof ct; bit++) {
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (!open_fails_wiped(key, iv, aad, sizeof aad, ct, sizeof ct))
            bad++;
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* Every bit of the aad. */
    for (size_t bit = 0; bit < 8 * sizeof aad; bit++) {
        aad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (!open_fails_wiped(key, iv, aad, sizeof aad, ct, sizeof ct))
            bad++;
        aad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    CHECK(bad == 0);

    /* Wrong key, wrong nonce, missing or extra aad, truncation. */
    uint8_t k2[32], iv2[12];
    memcpy(k2, key, 32);
    k2[5] ^= 1;
    memcpy(iv2, iv, 12);
    iv2[11] ^= 1;
    CHECK(open_fails_wiped(k2, iv, aad, sizeof aad, ct, sizeof ct));
    CHECK(open_fails_wiped(key, iv2, aad, sizeof aad, ct, sizeof ct));
    CHECK(open_fails_wiped(key, iv, NULL, 0, ct, sizeof ct));
    CHECK(open_fails_wiped(key, iv, aad, sizeof aad - 1, ct, sizeof ct));
    CHECK(open_fails_wiped(key, iv, aad, sizeof aad, ct, sizeof ct - 1));
    CHECK(open_fails_wiped(key, iv, aad, sizeof aad, ct + 1, sizeof ct - 1));
    CHECK(open_fails_wiped(key, iv, aad, sizeof aad, ct, 15));
    CHECK(open_fails_wiped(key, iv, aad, sizeof aad, ct, 0));

    /* In place: a failed open wipes the caller's (shared) buffer. */
    dcr_error err = {0};
    uint8_t buf[76];
    memcpy(buf, ct, sizeof buf);
    buf[0] ^= 1;
    CHECK(dcr_aes256gcm_open(key, iv, aad, sizeof aad, buf, sizeof buf, buf, &err) == DCR_ECRYPTO);
    CHECK(all_zero(buf, 60));
    CHECK_MSG(err, "authentication failed");
}

/* ---- Ed25519 -------------------------------------------------------- */

static void test_ed25519_rfc8032(void)
{
    static const struct {
        const char *seed, *pub, *msg, *sig;
    } v[] = {
        /* RFC 8032 7.1 TEST 1 (empty message) */
        {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
         "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
         "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
        /* RFC 8032 7.1 TEST 2 (one byte) */
        {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
         "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    };
    for (size_t i = 0; i < 2; i++) {
        dcr_error err = {0};
        uint8_t seed[32], pub[32], want_pub[32], msg[1], sig[64], want_sig[64];
        size_t msg_len = strlen(v[i].msg) / 2;
        unhex(seed, 32, v[i].seed);
        unhex(want_pub, 32, v[i].pub);
        unhex(msg, msg_len, v[i].msg);
        unhex(want_sig, 64, v[i].sig);

        CHECK(dcr_ed25519_public_from_seed(seed, pub, &err) == DCR_OK);
        CHECK_MEM(pub, want_pub, 32);
        CHECK(dcr_ed25519_sign(seed, msg, msg_len, sig, &err) == DCR_OK);
        CHECK_MEM(sig, want_sig, 64);
        CHECK(dcr_ed25519_verify(pub, msg, msg_len, sig, &err) == DCR_OK);

        /* Every bit of the signature matters. */
        int bad = 0;
        for (size_t bit = 0; bit < 512; bit++) {
            sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            if (dcr_ed25519_verify(pub, msg, msg_len, sig, &err) != DCR_ECRYPTO)
                bad++;
            sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        CHECK(bad == 0);
        CHECK_MSG(err, "signature verification failed");

        /* A different message, and a different key. */
        uint8_t other[2] = {0x72, 0x00};
        CHECK(dcr_ed25519_verify(pub, other, msg_len + 1, sig, &err) == DCR_ECRYPTO);
        if (msg_len) {
            msg[0] ^= 1;
            CHECK(dcr_ed25519_verify(pub, msg, msg_len, sig, &err) == DCR_ECRYPTO);
        }
        pub[0] ^= 1;
        CHECK(dcr_ed25519_verify(pub, msg, msg_len, sig, &err) == DCR_ECRYPTO);
    }
}

static void test_ed25519_keypair(void)
{
    dcr_error err = {0};
    uint8_t seed[32], pub[32], pub2[32], sig[64];
    const char *m = "contract v1";
    CHECK(dcr_ed25519_keypair(seed, pub, &err) == DCR_OK);
    CHECK(dcr_ed25519_public_from_seed(seed, pub2, &err) == DCR_OK);
    CHECK_MEM(pub, pub2, 32);
    CHECK(dcr_ed25519_sign(seed, m, strlen(m), sig, &err) == DCR_OK);
    CHECK(dcr_ed25519_verify(pub, m, strlen(m), sig, &err) == DCR_OK);
    CHECK(dcr_ed25519_verify(pub, m, strlen(m) - 1, sig, &err) == DCR_ECRYPTO);
}

/* ---- HPKE: RFC 9180 Appendix A.1.1 ---------------------------------- */
/* DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM, Base mode. */

static const char *a11_info = "4f6465206f6e2061204772656369616e2055726e";
static const char *a11_ikmE = "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234";
static const char *a11_pkEm = "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431";
static const char *a11_skEm = "52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736";
static const char *a11_ikmR = "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037";
static const char *a11_pkRm = "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d";
static const char *a11_skRm = "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8";
static const char *a11_enc = "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431";
static const char *a11_shared_secret =
    "fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc";
static const char *a11_key_schedule_context =
    "00725611c9d98c07c03f60095cd32d400d8347d45ed67097bbad50fc56da742d07"
    "cb6cffde367bb0565ba28bb02c90744a20f5ef37f30523526106f637abb05449";
static const char *a11_secret = "12fff91991e93b48de37e7daddb52981084bd8aa64289c3788471d9a9712f397";
static const char *a11_key = "4531685d41d65f03dc48f6b8302c05b0";
static const char *a11_base_nonce = "56d890e5accaaf011cff4b7d";
static const char *a11_exporter_secret =
    "45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8";

/* A.1.1.1: the same plaintext at six sequence numbers. */
static const char *a11_pt = "4265617574792069732074727574682c20747275746820626561757479";
static const struct {
    uint64_t seq;
    const char *aad, *nonce, *ct;
} a11_enc_vectors[] = {
    {0, "436f756e742d30", "56d890e5accaaf011cff4b7d",
     "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a"},
    {1, "436f756e742d31", "56d890e5accaaf011cff4b7c",
     "af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84"},
    {2, "436f756e742d32", "56d890e5accaaf011cff4b7f",
     "498dfcabd92e8acedc281e85af1cb4e3e31c7dc394a1ca20e173cb72516491588d96a19ad4a683518973dcc180"},
    {4, "436f756e742d34", "56d890e5accaaf011cff4b79",
     "583bd32bc67a5994bb8ceaca813d369bca7b2a42408cddef5e22f880b631215a09fc0012bc69fccaa251c0246d"},
    {255, "436f756e742d323535", "56d890e5accaaf011cff4b82",
     "7175db9717964058640a3a11fb9007941a5d1757fda1a6935c805c21af32505bf106deefec4a49ac38d71c9e0a"},
    {256, "436f756e742d323536", "56d890e5accaaf011cff4a7d",
     "957f9800542b0b8891badb026d79cc54597cb2d225b54c00c5238c25d05c30e3fbeda97d2e0e1aba483a2df9f2"},
};
#define A11_N_ENC (sizeof a11_enc_vectors / sizeof a11_enc_vectors[0])

/* A.1.1.2: exports of L = 32. */
static const struct {
    const char *context, *value;
} a11_exports[] = {
    {"", "3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee"},
    {"00", "2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5"},
    {"54657374436f6e74657874", "e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931"},
};

static void test_hpke_a11_derive_keypair(void)
{
    dcr_error err = {0};
    uint8_t ikm[32], sk[32], pk[32], want_sk[32], want_pk[32];

    unhex(ikm, 32, a11_ikmE);
    unhex(want_sk, 32, a11_skEm);
    unhex(want_pk, 32, a11_pkEm);
    CHECK(dcr_hpke_derive_keypair(ikm, 32, sk, pk, &err) == DCR_OK);
    CHECK_MEM(sk, want_sk, 32);
    CHECK_MEM(pk, want_pk, 32);

    unhex(ikm, 32, a11_ikmR);
    unhex(want_sk, 32, a11_skRm);
    unhex(want_pk, 32, a11_pkRm);
    CHECK(dcr_hpke_derive_keypair(ikm, 32, sk, pk, &err) == DCR_OK);
    CHECK_MEM(sk, want_sk, 32);
    CHECK_MEM(pk, want_pk, 32);
    CHECK(dcr_x25519_public_from_private(sk, pk, &err) == DCR_OK);
    CHECK_MEM(pk, want_pk, 32);

    /* Too little input keying material is a caller bug. */
    CHECK(dcr_hpke_derive_keypair(ikm, 16, sk, pk, &err) == DCR_EINTERNAL);
}

static void test_hpke_a11_kem_and_key_schedule(void)
{
    dcr_error err = {0};
    uint8_t sk_e[32], pk_r[32], sk_r[32], info[20];
    uint8_t ss[32], enc[32], want_ss[32], want_enc[32];
    uint8_t ksc[DCR_HPKE_KSC_LEN], want_ksc[DCR_HPKE_KSC_LEN], secret[32], want_secret[32];
    uint8_t want_key[16], want_nonce[12], want_exp[32];
    unhex(sk_e, 32, a11_skEm);
    unhex(pk_r, 32, a11_pkRm);
    unhex(sk_r, 32, a11_skRm);
    unhex(info, 20, a11_info);
    unhex(want_ss, 32, a11_shared_secret);
    unhex(want_enc, 32, a11_enc);
    unhex(want_ksc, DCR_HPKE_KSC_LEN, a11_key_schedule_context);
    unhex(want_secret, 32, a11_secret);
    unhex(want_key, 16, a11_key);
    unhex(want_nonce, 12, a11_base_nonce);
    unhex(want_exp, 32, a11_exporter_secret);

    CHECK(dcr_hpke_internal_encap(pk_r, sk_e, ss, enc, &err) == DCR_OK);
    CHECK_MEM(enc, want_enc, 32);
    CHECK_MEM(ss, want_ss, 32);
    memset(ss, 0, sizeof ss);
    CHECK(dcr_hpke_internal_decap(enc, sk_r, ss, &err) == DCR_OK);
    CHECK_MEM(ss, want_ss, 32);

    dcr_hpke_ctx ctx;
    CHECK(dcr_hpke_internal_key_schedule(&ctx, ss, info, sizeof info, ksc, secret, &err) == DCR_OK);
    CHECK_MEM(ksc, want_ksc, sizeof ksc);
    CHECK_MEM(secret, want_secret, 32);
    CHECK_MEM(ctx.key, want_key, 16);
    CHECK_MEM(ctx.base_nonce, want_nonce, 12);
    CHECK_MEM(ctx.exporter_secret, want_exp, 32);
    CHECK(ctx.seq == 0);
    dcr_hpke_ctx_wipe(&ctx);
    CHECK(all_zero((const uint8_t *)&ctx, sizeof ctx));
}

static void check_ctx_matches_a11(const dcr_hpke_ctx *ctx)
{
    uint8_t want_key[16], want_nonce[12], want_exp[32];
    unhex(want_key, 16, a11_key);
    unhex(want_nonce, 12, a11_base_nonce);
    unhex(want_exp, 32, a11_exporter_secret);
    CHECK_MEM(ctx->key, want_key, 16);
    CHECK_MEM(ctx->base_nonce, want_nonce, 12);
    CHECK_MEM(ctx->exporter_secret, want_exp, 32);
    CHECK(ctx->seq == 0);
}

static void test_hpke_a11_setup(void)
{
    dcr_error err = {0};
    uint8_t ikm_e[32], pk_r[32], sk_r[32], info[20], enc[32], want_enc[32];
    unhex(ikm_e, 32, a11_ikmE);
    unhex(pk_r, 32, a11_pkRm);
    unhex(sk_r, 32, a11_skRm);
    unhex(info, 20, a11_info);
    unhex(want_enc, 32, a11_enc);

    dcr_hpke_ctx s, r;
    CHECK(dcr_hpke_setup_sender_derand(&s, enc, pk_r, info, sizeof info, ikm_e, 32, &err) ==
          DCR_OK);
    CHECK_MEM(enc, want_enc, 32);
    check_ctx_matches_a11(&s);
    CHECK(dcr_hpke_setup_recipient(&r, enc, sk_r, info, sizeof info, &err) == DCR_OK);
    check_ctx_matches_a11(&r);
    dcr_hpke_ctx_wipe(&s);
    dcr_hpke_ctx_wipe(&r);
}

/* Walks sender and recipient through sequence numbers 0..256 the way a
 * real stream would (filler messages between the listed ones) and checks
 * every listed nonce, ciphertext and decryption. */
static void test_hpke_a11_encryptions_in_sequence(void)
{
    dcr_error err = {0};
    uint8_t ikm_e[32], pk_r[32], sk_r[32], info[20], enc[32], pt[29];
    unhex(ikm_e, 32, a11_ikmE);
    unhex(pk_r, 32, a11_pkRm);
    unhex(sk_r, 32, a11_skRm);
    unhex(info, 20, a11_info);
    unhex(pt, 29, a11_pt);

    dcr_hpke_ctx s, r;
    CHECK(dcr_hpke_setup_sender_derand(&s, enc, pk_r, info, sizeof info, ikm_e, 32, &err) ==
          DCR_OK);
    CHECK(dcr_hpke_setup_recipient(&r, enc, sk_r, info, sizeof info, &err) == DCR_OK);

    size_t next = 0, matched = 0;
    for (uint64_t seq = 0; seq <= 256; seq++) {
        CHECK(s.seq == seq && r.seq == seq);
        uint8_t ct[45], back[29], nonce[12];
        if (next < A11_N_ENC && a11_enc_vectors[next].seq == seq) {
            size_t aad_len = strlen(a11_enc_vectors[next].aad) / 2;
            uint8_t aad[16], want_nonce[12], want_ct[45];
            unhex(aad, aad_len, a11_enc_vectors[next].aad);
            unhex(want_nonce, 12, a11_enc_vectors[next].nonce);
            unhex(want_ct, 45, a11_enc_vectors[next].ct);
            dcr_hpke_internal_nonce(&s, nonce);
            CHECK_MEM(nonce, want_nonce, 12);
            CHECK(dcr_hpke_ctx_seal(&s, aad, aad_len, pt, sizeof pt, ct, &err) == DCR_OK);
            CHECK_MEM(ct, want_ct, 45);
            CHECK(dcr_hpke_ctx_open(&r, aad, aad_len, want_ct, 45, back, &err) == DCR_OK);
            CHECK_MEM(back, pt, sizeof pt);
            matched++;
            next++;
        } else {
            CHECK(dcr_hpke_ctx_seal(&s, NULL, 0, pt, sizeof pt, ct, &err) == DCR_OK);
            CHECK(dcr_hpke_ctx_open(&r, NULL, 0, ct, sizeof ct, back, &err) == DCR_OK);
            CHECK_MEM(back, pt, sizeof pt);
        }
    }
    CHECK(matched == A11_N_ENC);
    CHECK(s.seq == 257 && r.seq == 257);
    dcr_hpke_ctx_wipe(&s);
    dcr_hpke_ctx_wipe(&r);
}

/* The same vectors with seq set directly, so each one stands on its own. */
static void test_hpke_a11_encryptions_by_seq(void)
{
    dcr_error err = {0};
    uint8_t ikm_e[32], pk_r[32], sk_r[32], info[20], enc[32], pt[29];
    unhex(ikm_e, 32, a11_ikmE);
    unhex(pk_r, 32, a11_pkRm);
    unhex(sk_r, 32, a11_skRm);
    unhex(info, 20, a11_info);
    unhex(pt, 29, a11_pt);

    dcr_hpke_ctx s, r;
    CHECK(dcr_hpke_setup_sender_derand(&s, enc, pk_r, info, sizeof info, ikm_e, 32, &err) ==
          DCR_OK);
    CHECK(dcr_hpke_setup_recipient(&r, enc, sk_r, info, sizeof info, &err) == DCR_OK);
    for (size_t i = A11_N_ENC; i-- > 0;) { /* backwards: order must not matter */
        size_t aad_len = strlen(a11_enc_vectors[i].aad) / 2;
        uint8_t aad[16], want_ct[45], ct[45], back[29];
        unhex(aad, aad_len, a11_enc_vectors[i].aad);
        unhex(want_ct, 45, a11_enc_vectors[i].ct);
        s.seq = r.seq = a11_enc_vectors[i].seq;
        CHECK(dcr_hpke_ctx_seal(&s, aad, aad_len, pt, sizeof pt, ct, &err) == DCR_OK);
        CHECK_MEM(ct, want_ct, 45);
        CHECK(s.seq == a11_enc_vectors[i].seq + 1);
        CHECK(dcr_hpke_ctx_open(&r, aad, aad_len, ct, sizeof ct, back, &err) == DCR_OK);
        CHECK_MEM(back, pt, sizeof pt);
        CHECK(r.seq == a11_enc_vectors[i].seq + 1);
        /* At the wrong sequence number the same ciphertext does not open,
         * and a failed open does not advance seq. */
        r.seq = a11_enc_vectors[i].seq + 1;
        CHECK(dcr_hpke_ctx_open(&r, aad, aad_len, ct, sizeof ct, back, &err) == DCR_ECRYPTO);
        CHECK(r.seq == a11_enc_vectors[i].seq + 1);
        CHECK(all_zero(back, sizeof back));
    }
    dcr_hpke_ctx_wipe(&s);
    dcr_hpke_ctx_wipe(&r);
}

static void test_hpke_a11_exports(void)
{
    dcr_error err = {0};
    uint8_t ikm_e[32], pk_r[32], sk_r[32], info[20], enc[32];
    unhex(ikm_e, 32, a11_ikmE);
    unhex(pk_r, 32, a11_pkRm);
    unhex(sk_r, 32, a11_skRm);
    unhex(info, 20, a11_info);

    dcr_hpke_ctx s, r;
    CHECK(dcr_hpke_setup_sender_derand(&s, enc, pk_r, info, sizeof info, ikm_e, 32, &err) ==
          DCR_OK);
    CHECK(dcr_hpke_setup_recipient(&r, enc, sk_r, info, sizeof info, &err) == DCR_OK);
    for (size_t i = 0; i < 3; i++) {
        size_t ctx_len = strlen(a11_exports[i].context) / 2;
        uint8_t ec[16], want[32], out_s[32], out_r[32];
        unhex(ec, ctx_len, a11_exports[i].context);
        unhex(want, 32, a11_exports[i].value);
        CHECK(dcr_hpke_ctx_export(&s, ctx_len ? ec : NULL, ctx_len, out_s, 32, &err) == DCR_OK);
        CHECK(dcr_hpke_ctx_export(&r, ctx_len ? ec : NULL, ctx_len, out_r, 32, &err) == DCR_OK);
        CHECK_MEM(out_s, want, 32);
        CHECK_MEM(out_r, want, 32);
    }
    /* Export does not move seq, and has HKDF's length limit. */
    CHECK(s.seq == 0);
    static uint8_t big[255 * 32 + 1];
    CHECK(dcr_hpke_ctx_export(&s, NULL, 0, big, 255 * 32, &err) == DCR_OK);
    CHECK(dcr_hpke_ctx_export(&s, NULL, 0, big, sizeof big, &err) == DCR_EINTERNAL);
    dcr_hpke_ctx_wipe(&s);
    dcr_hpke_ctx_wipe(&r);
}

/* ---- HPKE: behaviour beyond the vectors ----------------------------- */

static void test_hpke_seq_limit(void)
{
    dcr_error err = {0};
    uint8_t sk[32], pk[32], enc[32], ct[16 + 1], pt[1] = {7};
    CHECK(dcr_x25519_keypair(sk, pk, &err) == DCR_OK);
    dcr_hpke_ctx s;
    CHECK(dcr_hpke_setup_sender(&s, enc, pk, NULL, 0, &err) == DCR_OK);
    s.seq = UINT64_MAX - 1;
    CHECK(dcr_hpke_ctx_seal(&s, NULL, 0, pt, 1, ct, &err) == DCR_OK);
    CHECK(s.seq == UINT64_MAX);
    CHECK(dcr_hpke_ctx_seal(&s, NULL, 0, pt, 1, ct, &err) != DCR_OK);
    CHECK_MSG(err, "message limit");
    CHECK(s.seq == UINT64_MAX); /* never wraps back to a used nonce */
    /* The nonce puts the top bytes of seq where I2OSP says they go. */
    uint8_t nonce[12];
    s.seq = 0x0102030405060708u;
    memset(s.base_nonce, 0, 12);
    dcr_hpke_internal_nonce(&s, nonce);
    static const uint8_t want[12] = {0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8};
    CHECK_MEM(nonce, want, 12);
    dcr_hpke_ctx_wipe(&s);
}

static void test_hpke_single_shot(void)
{
    dcr_error err = {0};
    uint8_t sk[32], pk[32], sk2[32], pk2[32], enc[32];
    const uint8_t info[] = "dcr test info", aad[] = "header bytes";
    const uint8_t msg[] = "a 32-byte data key goes here....";
    uint8_t ct[sizeof msg + 16], back[sizeof msg];
    CHECK(dcr_x25519_keypair(sk, pk, &err) == DCR_OK);
    CHECK(dcr_x25519_keypair(sk2, pk2, &err) == DCR_OK);
    CHECK(memcmp(pk, pk2, 32) != 0);

    CHECK(dcr_hpke_seal(pk, info, sizeof info, aad, sizeof aad, msg, sizeof msg, enc, ct, &err) ==
          DCR_OK);
    CHECK(dcr_hpke_open(sk, enc, info, sizeof info, aad, sizeof aad, ct, sizeof ct, back, &err) ==
          DCR_OK);
    CHECK_MEM(back, msg, sizeof msg);

    /* Two seals of the same message differ: fresh ephemeral key each time. */
    uint8_t enc2[32], ct2[sizeof ct];
    CHECK(dcr_hpke_seal(pk, info, sizeof info, aad, sizeof aad, msg, sizeof msg, enc2, ct2, &err) ==
          DCR_OK);
    CHECK(memcmp(enc, enc2, 32) != 0);
    CHECK(memcmp(ct, ct2, sizeof ct) != 0);

    /* Wrong recipient key. */
    memset(back, 0xaa, sizeof back);
    CHECK(dcr_hpke_open(sk2, enc, info, sizeof info, aad, sizeof aad, ct, sizeof ct, back, &err) ==
          DCR_ECRYPTO);
    CHECK(all_zero(back, sizeof back));
    CHECK_MSG(err, "authentication failed");

    /* Modified enc, every byte. */
    int bad = 0;
    for (size_t i = 0; i < 32; i++) {
        enc[i] ^= 0x01;
        if (dcr_hpke_open(sk, enc, info, sizeof info, aad, sizeof aad, ct, sizeof ct, back, &err) !=
            DCR_ECRYPTO)
            bad++;
        enc[i] ^= 0x01;
    }
    CHECK(bad == 0);

    /* Modified aad, info, ciphertext. */
    uint8_t aad2[sizeof aad], info2[sizeof info], ct3[sizeof ct];
    memcpy(aad2, aad, sizeof aad);
    aad2[0] ^= 1;
    memcpy(info2, info, sizeof info);
    info2[3] ^= 1;
    memcpy(ct3, ct, sizeof ct);
    ct3[sizeof ct - 1] ^= 0x80;
    CHECK(dcr_hpke_open(sk, enc, info, sizeof info, aad2, sizeof aad2, ct, sizeof ct, back, &err) ==
          DCR_ECRYPTO);
    CHECK(dcr_hpke_open(sk, enc, info, sizeof info, aad, sizeof aad - 1, ct, sizeof ct, back,
                        &err) == DCR_ECRYPTO);
    CHECK(dcr_hpke_open(sk, enc, info2, sizeof info2, aad, sizeof aad, ct, sizeof ct, back, &err) ==
          DCR_ECRYPTO);
    CHECK(dcr_hpke_open(sk, enc, info, sizeof info, aad, sizeof aad, ct3, sizeof ct3, back, &err) ==
          DCR_ECRYPTO);
    CHECK(dcr_hpke_open(sk, enc, info, sizeof info, aad, sizeof aad, ct, 15, back, &err) ==
          DCR_ECRYPTO);

    /* Still opens after all that: nothing above damaged the inputs. */
    CHECK(dcr_hpke_open(sk, enc, info, sizeof info, aad, sizeof aad, ct, sizeof ct, back, &err) ==
          DCR_OK);

    /* Empty everything. */
    uint8_t tag_only[16];
    CHECK(dcr_hpke_seal(pk, NULL, 0, NULL, 0, NULL, 0, enc, tag_only, &err) == DCR_OK);
    CHECK(dcr_hpke_open(sk, enc, NULL, 0, NULL, 0, tag_only, 16, back, &err) == DCR_OK);
}

static void test_hpke_low_order_points(void)
{
    /* u = 0 and u = 1 are small-order points: X25519 with them is all
     * zeros, which RFC 7748 6.1 / RFC 9180 7.1.4 say to reject. */
    dcr_error err = {0};
    uint8_t sk[32], pk[32], enc[32], ct[32], back[16];
    const uint8_t msg[16] = "sixteen bytes!!";
    uint8_t zero[32] = {0}, one[32] = {1};
    CHECK(dcr_x25519_keypair(sk, pk, &err) == DCR_OK);

    CHECK(dcr_hpke_seal(zero, NULL, 0, NULL, 0, msg, 16, enc, ct, &err) == DCR_EINPUT);
    CHECK_MSG(err, "recipient public key is invalid");
    CHECK(dcr_hpke_seal(one, NULL, 0, NULL, 0, msg, 16, enc, ct, &err) == DCR_EINPUT);

    CHECK(dcr_hpke_seal(pk, NULL, 0, NULL, 0, msg, 16, enc, ct, &err) == DCR_OK);
    CHECK(dcr_hpke_open(sk, zero, NULL, 0, NULL, 0, ct, 32, back, &err) == DCR_ECRYPTO);
    CHECK_MSG(err, "encapsulated key is invalid");
    CHECK(dcr_hpke_open(sk, one, NULL, 0, NULL, 0, ct, 32, back, &err) == DCR_ECRYPTO);

    dcr_hpke_ctx r;
    memset(&r, 0x55, sizeof r);
    CHECK(dcr_hpke_setup_recipient(&r, zero, sk, NULL, 0, &err) == DCR_ECRYPTO);
    CHECK(all_zero((const uint8_t *)&r, sizeof r)); /* a failed setup leaves no key behind */
}

/* ---- party keys ----------------------------------------------------- */

static void test_party_key_round_trip(void)
{
    dcr_error err = {0};
    dcr_party_key key, back;
    dcr_party_pub pub;
    char key_text[DCR_KEY_TEXT_LEN + 2], pub_text[DCR_PUB_TEXT_LEN + 2];
    CHECK(dcr_party_key_generate(&key, &err) == DCR_OK);

    dcr_party_pub_format(&key.pub, pub_text, sizeof pub_text);
    CHECK(strlen(pub_text) == DCR_PUB_TEXT_LEN + 1);
    CHECK(strncmp(pub_text, "dcr-pub-v1:", 11) == 0);
    CHECK(pub_text[11 + 64] == ':' && pub_text[DCR_PUB_TEXT_LEN] == '\n');
    int lower_hex = 1;
    for (size_t i = 11; i < DCR_PUB_TEXT_LEN; i++)
        if (i != 75 && !strchr("0123456789abcdef", pub_text[i]))
            lower_hex = 0;
    CHECK(lower_hex);

    dcr_party_key_format(&key, key_text, sizeof key_text);
    CHECK(strlen(key_text) == DCR_KEY_TEXT_LEN + 1);
    CHECK(strncmp(key_text, "dcr-key-v1:", 11) == 0);

    /* With and without the trailing newline. */
    CHECK(dcr_party_pub_parse(pub_text, strlen(pub_text), &pub, "x.pub", &err) == DCR_OK);
    CHECK_MEM(&pub, &key.pub, sizeof pub);
    CHECK(dcr_party_pub_parse(pub_text, strlen(pub_text) - 1, &pub, "x.pub", &err) == DCR_OK);
    CHECK_MEM(&pub, &key.pub, sizeof pub);
    CHECK(dcr_party_key_parse(key_text, strlen(key_text), &back, "x.key", &err) == DCR_OK);
    CHECK_MEM(&back, &key, sizeof key);

    /* Uppercase hex is accepted. */
    for (size_t i = 11; i < DCR_PUB_TEXT_LEN; i++)
        if (pub_text[i] >= 'a' && pub_text[i] <= 'f')
            pub_text[i] = (char)(pub_text[i] - 'a' + 'A');
    CHECK(dcr_party_pub_parse(pub_text, strlen(pub_text), &pub, "x.pub", &err) == DCR_OK);
    CHECK_MEM(&pub, &key.pub, sizeof pub);

    /* A buffer too small gets an empty string, never half a key. */
    char small[20];
    dcr_party_key_format(&key, small, sizeof small);
    CHECK(small[0] == '\0');

    dcr_party_key_wipe(&key);
    CHECK(all_zero((const uint8_t *)&key, sizeof key));
    dcr_party_key_wipe(&back);
}

/* Parses text as a .pub (or .key) line and expects DCR_EINPUT with msg. */
static int pub_parse_fails(const char *text, const char *msg)
{
    dcr_error err = {0};
    dcr_party_pub pub;
    dcr_status s = dcr_party_pub_parse(text, strlen(text), &pub, "alice.pub", &err);
    if (s != DCR_EINPUT || !strstr(err.msg, msg) || !strstr(err.msg, "alice.pub")) {
        fprintf(stderr, "  pub parse of \"%.40s...\": status %d, message \"%s\"\n", text, s,
                err.msg);
        return 0;
    }
    return 1;
}

static int key_parse_fails(const char *text, const char *msg)
{
    dcr_error err = {0};
    dcr_party_key key;
    memset(&key, 0x55, sizeof key);
    dcr_status s = dcr_party_key_parse(text, strlen(text), &key, "alice.key", &err);
    /* A failed parse leaves no key material, and never quotes the text. */
    if (s != DCR_EINPUT || !strstr(err.msg, msg) || !strstr(err.msg, "alice.key") ||
        !all_zero((const uint8_t *)&key, sizeof key) || strstr(err.msg, "0123456789abcdef")) {
        fprintf(stderr, "  key parse of \"%.40s...\": status %d, message \"%s\"\n", text, s,
                err.msg);
        return 0;
    }
    return 1;
}

static void test_party_key_parse_errors(void)
{
    char good[DCR_PUB_TEXT_LEN + 2], buf[512];
    const char *h64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    snprintf(good, sizeof good, "dcr-pub-v1:%s:%s\n", h64, h64);

    /* Bad prefix, including the other kind of file. */
    snprintf(buf, sizeof buf, "dcr-pub-v2:%s:%s\n", h64, h64);
    CHECK(pub_parse_fails(buf, "should start with \"dcr-pub-v1:\""));
    CHECK(pub_parse_fails("", "should start with"));
    CHECK(pub_parse_fails("\n", "should start with"));
    snprintf(buf, sizeof buf, "dcr-key-v1:%s:%s\n", h64, h64);
    CHECK(pub_parse_fails(buf, "this is a private key"));
    snprintf(buf, sizeof buf, " %s", good);
    CHECK(pub_parse_fails(buf, "should start with"));
    CHECK(key_parse_fails(good, "this is a public key"));
    snprintf(buf, sizeof buf, "DCR-KEY-V1:%s:%s\n", h64, h64);
    CHECK(key_parse_fails(buf, "should start with \"dcr-key-v1:\""));

    /* Wrong lengths. */
    snprintf(buf, sizeof buf, "dcr-pub-v1:%s:%.62s\n", h64, h64);
    CHECK(pub_parse_fails(buf, "is 138 characters long, expected 140"));
    snprintf(buf, sizeof buf, "dcr-pub-v1:%s:%s0\n", h64, h64);
    CHECK(pub_parse_fails(buf, "expected 140"));
    snprintf(buf, sizeof buf, "dcr-pub-v1:%s:%s\n\n", h64, h64);
    CHECK(pub_parse_fails(buf, "single line"));
    snprintf(buf, sizeof buf, "dcr-pub-v1:%s:%s\r\n", h64, h64);
    CHECK(pub_parse_fails(buf, "expected 140"));
    snprintf(buf, sizeof buf, "dcr-key-v1:%s\n", h64);
    CHECK(key_parse_fails(buf, "expected 140"));
    CHECK(pub_parse_fails("dcr-pub-v1:", "expected 140"));

    /* Separator in the wrong place. */
    snprintf(buf, sizeof buf, "dcr-pub-v1:%s;%s\n", h64, h64);
    CHECK(pub_parse_fails(buf, "expected ':'"));
    snprintf(buf, sizeof buf, "dcr-pub-v1:%s0%s\n", h64, h64);
    CHECK(pub_parse_fails(buf, "expected ':'"));

    /* Bad hex in either half. */
    snprintf(buf, sizeof buf, "dcr-pub-v1:%.63sg:%s\n", h64, h64);
    CHECK(pub_parse_fails(buf, "invalid hex in the Ed25519 public key"));
    snprintf(buf, sizeof buf, "dcr-pub-v1:%s:%.63s \n", h64, h64);
    CHECK(pub_parse_fails(buf, "invalid hex in the X25519 public key"));
    snprintf(buf, sizeof buf, "dcr-key-v1:x%.63s:%s\n", h64, h64);
    CHECK(key_parse_fails(buf, "invalid hex in the Ed25519 seed"));
    snprintf(buf, sizeof buf, "dcr-key-v1:%s:%.63s-\n", h64, h64);
    CHECK(key_parse_fails(buf, "invalid hex in the X25519 private key"));

    /* An embedded NUL is not hex either. */
    char nul[DCR_PUB_TEXT_LEN + 1];
    memcpy(nul, good, DCR_PUB_TEXT_LEN + 1);
    nul[20] = '\0';
    dcr_error err = {0};
    dcr_party_pub pub;
    CHECK(dcr_party_pub_parse(nul, DCR_PUB_TEXT_LEN + 1, &pub, "alice.pub", &err) == DCR_EINPUT);
    CHECK_MSG(err, "invalid hex");
}

/* A scratch directory for file tests; removed by the caller's cleanup. */
static char tmpdir[64];

static int write_file(const char *name, const char *text, mode_t mode, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", tmpdir, name);
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return 0;
    ssize_t w = write(fd, text, strlen(text));
    close(fd);
    return w == (ssize_t)strlen(text) && chmod(path, mode) == 0;
}

static void test_party_key_files(void)
{
    dcr_error err = {0};
    strcpy(tmpdir, "/tmp/dcr-test-crypto-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL);

    dcr_party_key key, loaded, other;
    dcr_party_pub pub;
    char key_text[DCR_KEY_TEXT_LEN + 2], pub_text[DCR_PUB_TEXT_LEN + 2];
    char kpath[128], ppath[128];
    CHECK(dcr_party_key_generate(&key, &err) == DCR_OK);
    dcr_party_key_format(&key, key_text, sizeof key_text);
    dcr_party_pub_format(&key.pub, pub_text, sizeof pub_text);

    CHECK(write_file("alice.key", key_text, 0600, kpath, sizeof kpath));
    CHECK(write_file("alice.pub", pub_text, 0644, ppath, sizeof ppath));
    CHECK(dcr_party_key_load(kpath, &loaded, &err) == DCR_OK);
    CHECK_MEM(&loaded, &key, sizeof key);
    CHECK(dcr_party_pub_load(ppath, &pub, &err) == DCR_OK);
    CHECK_MEM(&pub, &key.pub, sizeof pub);
    CHECK(chmod(kpath, 0400) == 0);
    CHECK(dcr_party_key_load(kpath, &loaded, &err) == DCR_OK);

    /* Group or other access to a private key is refused, with the fix. */
    const mode_t lax[] = {0644, 0640, 0604, 0660, 0620, 0602, 0610, 0601, 0666};
    for (size_t i = 0; i < sizeof lax / sizeof lax[0]; i++) {
        CHECK(chmod(kpath, lax[i]) == 0);
        memset(&loaded, 0x55, sizeof loaded);
        CHECK(dcr_party_key_load(kpath, &loaded, &err) == DCR_EINPUT);
        CHECK_MSG(err, "accessible by group or others");
        CHECK_MSG(err, "chmod 600");
        CHECK(all_zero((const uint8_t *)&loaded, sizeof loaded));
    }
    CHECK(chmod(kpath, 0600) == 0);

    /* A NAME.pub that belongs to another key makes NAME.key inconsistent. */
    CHECK(dcr_party_key_generate(&other, &err) == DCR_OK);
    dcr_party_pub_format(&other.pub, pub_text, sizeof pub_text);
    CHECK(write_file("alice.pub", pub_text, 0644, ppath, sizeof ppath));
    CHECK(dcr_party_key_load(kpath, &loaded, &err) == DCR_EINPUT);
    CHECK_MSG(err, "inconsistent key");
    CHECK_MSG(err, "alice.pub");
    /* Without a .pub beside it, the key loads. */
    CHECK(unlink(ppath) == 0);
    CHECK(dcr_party_key_load(kpath, &loaded, &err) == DCR_OK);

    /* Files that are not key files. */
    CHECK(write_file("bad.key", "hello\n", 0600, kpath, sizeof kpath));
    CHECK(dcr_party_key_load(kpath, &loaded, &err) == DCR_EINPUT);
    CHECK_MSG(err, "should start with");
    CHECK(dcr_party_pub_load(kpath, &pub, &err) == DCR_EINPUT);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nobody.key", tmpdir);
    CHECK(dcr_party_key_load(missing, &loaded, &err) == DCR_EINPUT);
    CHECK_MSG(err, "cannot open");
    CHECK(dcr_party_pub_load(missing, &pub, &err) == DCR_EINPUT);
    CHECK(dcr_party_key_load(tmpdir, &loaded, &err) == DCR_EINPUT);

    /* Clean up the scratch directory. */
    snprintf(kpath, sizeof kpath, "%s/alice.key", tmpdir);
    unlink(kpath);
    snprintf(kpath, sizeof kpath, "%s/bad.key", tmpdir);
    unlink(kpath);
    CHECK(rmdir(tmpdir) == 0);
    dcr_party_key_wipe(&key);
    dcr_party_key_wipe(&other);
    dcr_party_key_wipe(&loaded);
}

static void test_key_id(void)
{
    dcr_error err = {0};
    uint8_t pk[32], id[8], want[8], id2[8];
    unhex(pk, 32, a11_pkRm);
    /* SHA-256("dcr key id" || pk)[0..8], computed independently. */
    unhex(want, 8, "3dd7b4383afb3ff0");
    CHECK(dcr_hpke_key_id(pk, id, &err) == DCR_OK);
    CHECK_MEM(id, want, 8);
    pk[31] ^= 1;
    CHECK(dcr_hpke_key_id(pk, id2, &err) == DCR_OK);
    CHECK(memcmp(id, id2, 8) != 0);
}

int main(void)
{
    RUN(test_ct_equal);
    RUN(test_random_and_wipe);
    RUN(test_sha2_known_answers);
    RUN(test_sha2_incremental);
    RUN(test_hkdf_rfc5869);
    RUN(test_aes256gcm_known_answer);
    RUN(test_aes128gcm_known_answer);
    RUN(test_aes256gcm_tamper);
    RUN(test_ed25519_rfc8032);
    RUN(test_ed25519_keypair);
    RUN(test_hpke_a11_derive_keypair);
    RUN(test_hpke_a11_kem_and_key_schedule);
    RUN(test_hpke_a11_setup);
    RUN(test_hpke_a11_encryptions_in_sequence);
    RUN(test_hpke_a11_encryptions_by_seq);
    RUN(test_hpke_a11_exports);
    RUN(test_hpke_seq_limit);
    RUN(test_hpke_single_shot);
    RUN(test_hpke_low_order_points);
    RUN(test_party_key_round_trip);
    RUN(test_party_key_parse_errors);
    RUN(test_party_key_files);
    RUN(test_key_id);
    return check_summary();
}
