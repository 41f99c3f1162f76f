/*
 * tpm_seal.c: sealing a 32-byte state secret (the differencing defence's
 * hash key) to the state's TPM, so the host, who can read every file in
 * the state directory, cannot read the secret.
 *
 * The secret becomes a TPM "sealed data object" (KEYEDHASH, no signing or
 * decryption, fixedTPM | fixedParent) created under the owner hierarchy's
 * storage primary key. That primary is re-derived from the TPM's owner
 * seed with a fixed template on every use, so nothing else has to persist;
 * the TPM encrypts the object's private area to it. The blob on disk is the
 * marshalled TPM2B_PUBLIC then TPM2B_PRIVATE: useless without this TPM. On
 * an Azure confidential VM the vTPM lives in the paravisor, out of the
 * host's reach; elsewhere (swtpm in tests) it is as safe as that TPM.
 */
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "base/hygiene.h"
#include "state/internal.h"

#define SECRET_LEN 32

static dcr_status seal_fail(dcr_error *err, const char *what, TSS2_RC rc)
{
    return dcr_fail(err, DCR_EINPUT, "state TPM seal: %s failed: %s", what, Tss2_RC_Decode(rc));
}

/* The owner hierarchy's ECC P-256 storage primary (the TCG's "SRK"
 * template), created afresh: the same template gives the same key. */
static dcr_status storage_primary(ESYS_CONTEXT *esys, ESYS_TR *out, dcr_error *err)
{
    TPM2B_SENSITIVE_CREATE sensitive = {0};
    TPM2B_PUBLIC tmpl = {.publicArea = {
                             .type = TPM2_ALG_ECC,
                             .nameAlg = TPM2_ALG_SHA256,
                             .objectAttributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
                                                 TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                                 TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                                 TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA,
                             .parameters.eccDetail =
                                 {
                                     .symmetric = {.algorithm = TPM2_ALG_AES,
                                                   .keyBits.aes = 128,
                                                   .mode.aes = TPM2_ALG_CFB},
                                     .scheme.scheme = TPM2_ALG_NULL,
                                     .curveID = TPM2_ECC_NIST_P256,
                                     .kdf.scheme = TPM2_ALG_NULL,
                                 },
                         }};
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TSS2_RC rc =
        Esys_CreatePrimary(esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           &sensitive, &tmpl, &outside, &pcrs, out, NULL, NULL, NULL, NULL);
    return rc == TSS2_RC_SUCCESS ? DCR_OK : seal_fail(err, "creating the storage primary key", rc);
}

static dcr_status create_sealed(ESYS_CONTEXT *esys, ESYS_TR parent, const uint8_t secret[32],
                                dcr_buf *blob, dcr_error *err)
{
    TPM2B_SENSITIVE_CREATE sensitive = {.sensitive.data.size = SECRET_LEN};
    memcpy(sensitive.sensitive.data.buffer, secret, SECRET_LEN);
    TPM2B_PUBLIC tmpl = {.publicArea = {
                             .type = TPM2_ALG_KEYEDHASH,
                             .nameAlg = TPM2_ALG_SHA256,
                             .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                                 TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA,
                             .parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL,
                         }};
    TPM2B_DATA outside = {0};
    TPML_PCR_SELECTION pcrs = {0};
    TPM2B_PRIVATE *priv = NULL;
    TPM2B_PUBLIC *pub = NULL;
    TSS2_RC rc = Esys_Create(esys, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
                             &tmpl, &outside, &pcrs, &priv, &pub, NULL, NULL, NULL);
    dcr_wipe(&sensitive, sizeof sensitive);
    if (rc != TSS2_RC_SUCCESS)
        return seal_fail(err, "creating the sealed object", rc);
    uint8_t out[sizeof(TPM2B_PUBLIC) + sizeof(TPM2B_PRIVATE)];
    size_t off = 0;
    rc = Tss2_MU_TPM2B_PUBLIC_Marshal(pub, out, sizeof out, &off);
    if (rc == TSS2_RC_SUCCESS)
        rc = Tss2_MU_TPM2B_PRIVATE_Marshal(priv, out, sizeof out, &off);
    Esys_Free(priv);
    Esys_Free(pub);
    if (rc != TSS2_RC_SUCCESS)
        return seal_fail(err, "marshalling the sealed object", rc);
    return dcr_buf_append(blob, out, off, err);
}

dcr_status st_tpm_seal(dcr_state *st, const uint8_t secret[32], dcr_buf *blob, dcr_error *err)
{
    ESYS_CONTEXT *esys;
    ESYS_TR primary = ESYS_TR_NONE;
    dcr_status s = st_tpm_esys(st, &esys, err);
    if (s == DCR_OK && (s = storage_primary(esys, &primary, err)) == DCR_OK)
        s = create_sealed(esys, primary, secret, blob, err);
    if (primary != ESYS_TR_NONE)
        Esys_FlushContext(esys, primary);
    st_anchor_release(st);
    return s;
}

/* Parses the blob: exactly a TPM2B_PUBLIC of a sealed data object, then a
 * TPM2B_PRIVATE, nothing after. */
static dcr_status parse_blob(const uint8_t *blob, size_t len, TPM2B_PUBLIC *pub,
                             TPM2B_PRIVATE *priv, dcr_error *err)
{
    size_t off = 0;
    memset(pub, 0, sizeof *pub);
    memset(priv, 0, sizeof *priv);
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob, len, &off, pub) != TSS2_RC_SUCCESS ||
        Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob, len, &off, priv) != TSS2_RC_SUCCESS || off != len)
        return dcr_fail(err, DCR_EINPUT,
                        "state TPM seal: the sealed blob (%zu bytes) is not a TPM public area "
                        "followed by a private area",
                        len);
    if (pub->publicArea.type != TPM2_ALG_KEYEDHASH ||
        !(pub->publicArea.objectAttributes & TPMA_OBJECT_FIXEDTPM) ||
        (pub->publicArea.objectAttributes & (TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT)))
        return dcr_fail(err, DCR_EINPUT,
                        "state TPM seal: the sealed blob is not a fixed-TPM sealed data object");
    return DCR_OK;
}

dcr_status st_tpm_unseal(dcr_state *st, const uint8_t *blob, size_t len, uint8_t secret[32],
                         dcr_error *err)
{
    TPM2B_PUBLIC pub;
    TPM2B_PRIVATE priv;
    dcr_status s = parse_blob(blob, len, &pub, &priv, err);
    if (s != DCR_OK)
        return s;
    ESYS_CONTEXT *esys;
    ESYS_TR primary = ESYS_TR_NONE, obj = ESYS_TR_NONE;
    TPM2B_SENSITIVE_DATA *data = NULL;
    s = st_tpm_esys(st, &esys, err);
    if (s == DCR_OK)
        s = storage_primary(esys, &primary, err);
    if (s == DCR_OK) {
        TSS2_RC rc = Esys_Load(esys, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv,
                               &pub, &obj);
        if (rc != TSS2_RC_SUCCESS)
            s = seal_fail(err, "loading the sealed object (another TPM, or a cleared one?)", rc);
        else if ((rc = Esys_Unseal(esys, obj, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                   &data)) != TSS2_RC_SUCCESS)
            s = seal_fail(err, "unsealing", rc);
        else if (data->size != SECRET_LEN)
            s = dcr_fail(err, DCR_EINPUT,
                         "state TPM seal: the unsealed secret has %u bytes, not %d",
                         (unsigned)data->size, SECRET_LEN);
        else
            memcpy(secret, data->buffer, SECRET_LEN);
    }
    if (data) {
        dcr_wipe(data, sizeof *data);
        Esys_Free(data);
    }
    if (obj != ESYS_TR_NONE)
        Esys_FlushContext(esys, obj);
    if (primary != ESYS_TR_NONE)
        Esys_FlushContext(esys, primary);
    st_anchor_release(st);
    return s;
}
