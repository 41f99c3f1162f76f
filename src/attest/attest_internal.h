/*
 * attest_internal.h: what the per-type verifiers in src/attest share: X.509
 * chain checks against the pinned roots, raw ECDSA/RSA checks, the policy
 * checks, and the per-type entry points verify.c dispatches to. Not for use
 * outside src/attest (and its tests).
 */
#ifndef DCR_ATTEST_INTERNAL_H
#define DCR_ATTEST_INTERNAL_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "attest/attest.h"

struct dcr_certset {
    STACK_OF(X509) * certs;
    STACK_OF(X509_CRL) * crls;
};

/* Pinned vendor certificates (roots.c), NULL-terminated PEM lists. */
const char *const *dcr_pinned_amd_roots(void);
const char *const *dcr_pinned_amd_intermediates(void);
const char *const *dcr_pinned_intel_roots(void);

/* Appends every certificate (and CRL, when crls is not NULL) in data: PEM
 * with any number of objects, or one DER certificate / CRL. */
dcr_status dcr_x509_load(const uint8_t *data, size_t len, STACK_OF(X509) * certs,
                         STACK_OF(X509_CRL) * crls, const char *what, dcr_error *err);

/* Verifies leaf up to one of the trust anchors at time at (0 = now).
 * untrusted may hold intermediates (self-signed certificates in it are
 * ignored: a root is never taken from evidence). With CRLs, the leaf's
 * issuer's CRL must be present and must not list it. On failure the message
 * is "<prefix>: <chain_name> chain does not lead to <anchor_name> (<why>)". */
dcr_status dcr_x509_verify_chain(X509 *leaf, STACK_OF(X509) * untrusted,
                                 const char *const *anchors_pem, STACK_OF(X509_CRL) * crls,
                                 time_t at, const char *prefix, const char *chain_name,
                                 const char *anchor_name, dcr_error *err);

/* Builds a stack of the certificates in a NULL-terminated PEM list. */
dcr_status dcr_x509_from_pem_list(const char *const *pems, STACK_OF(X509) * out, dcr_error *err);

/* ECDSA over msg with the named curve key; r and s are big-endian of
 * scalar_len bytes each. Returns DCR_OK or DCR_ECRYPTO (no message set). */
dcr_status dcr_ecdsa_verify_rs(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg, size_t len,
                               const uint8_t *r, const uint8_t *s, size_t scalar_len);
/* Makes a P-256 public key from raw x||y (64 bytes). */
EVP_PKEY *dcr_p256_from_xy(const uint8_t xy[64]);

/* Hex of data as a new JSON string. */
json_t *dcr_json_hex(const uint8_t *data, size_t len);

/* Policy checks shared by every type; each names itself on failure. */
dcr_status dcr_policy_report_data(const dcr_attest_policy *pol, const uint8_t rd[64],
                                  dcr_error *err);
dcr_status dcr_policy_measurement(const dcr_attest_policy *pol, const uint8_t m[48],
                                  dcr_error *err);
/* min_tcb component-wise: every byte of have must be >= the policy's. */
dcr_status dcr_policy_min_tcb(const dcr_attest_policy *pol, const uint8_t *have, size_t len,
                              const char *what, dcr_error *err);

/* PCR pinning (pcr.c) for evidence with a TPM quote, after the per-type
 * verifier has checked the quote's signature and that the SHA-256 digest
 * of the values in pcrs (PCR 0..n-1, 32 bytes each) is the quote's
 * pcrDigest. selected: the SHA-256 PCRs the quote selects (bit i = PCR i).
 * Refuses pins without PCR values, pinned PCRs the quote does not select,
 * and a pinned PCR whose value differs (naming it and both values). prefix
 * starts each message ("azure-vtpm"). On success claims get
 * "tpm_pcrs_pinned". No pins (NULL or an empty mask): DCR_OK. */
dcr_status dcr_pcr_check_pins(const dcr_pcr_pins *pins, uint32_t selected, const dcr_buf *pcrs,
                              const char *prefix, json_t *claims, dcr_error *err)
    __attribute__((warn_unused_result));

/* Per-type verifiers: add their claims to the claims object. SNP's cert
 * bytes are the evidence's own (PEM, DER or an AMD certificate table). */
dcr_status dcr_snp_verify(const uint8_t *report, size_t len, const dcr_buf *ev_certs,
                          const dcr_attest_policy *pol, json_t *claims, dcr_error *err);
dcr_status dcr_tdx_verify(const uint8_t *quote, size_t len, const dcr_attest_policy *pol,
                          json_t *claims, dcr_error *err);
/* The TD report body of a TDX quote (584 bytes for TDX 1.0, 648 for 1.5)
 * after checking the header and length only: nothing is verified. */
dcr_status dcr_tdx_quote_body(const uint8_t *q, size_t len, const uint8_t **body, size_t *body_len,
                              dcr_error *err);
dcr_status dcr_azure_verify(const dcr_evidence *ev, const dcr_attest_policy *pol, json_t *claims,
                            dcr_error *err);
dcr_status dcr_sim_verify(const uint8_t *report, size_t len, const dcr_attest_policy *pol,
                          json_t *claims, dcr_error *err);

/* ---- Azure TDX (azure_tdx.c, imds.c) ---- */

#define DCR_TDREPORT_LEN 1024
#define DCR_TD_QUOTE_MAX (64u * 1024) /* a quote with its PCK chain is ~5 KiB */

/* Checks that every TD report field a TDX quote body carries (TEE_TCB_SVN,
 * MRSEAM, MRSIGNERSEAM, SEAM attributes, TD attributes, XFAM, MRTD,
 * MRCONFIGID, MROWNER, MROWNERCONFIG, RTMR0-3, REPORTDATA; on TDX 1.5 also
 * TEE_TCB_SVN2 and MRSERVICETD) equals the TDREPORT's. The message names
 * the first field that differs. */
dcr_status dcr_tdreport_match_quote(const uint8_t tdreport[DCR_TDREPORT_LEN], const uint8_t *body,
                                    size_t body_len, dcr_error *err);

/* Parses Azure IMDS's answer to POST /acc/tdquote: a JSON object whose
 * "quote" is base64url (padding optional) of a TDX quote. Checks the
 * alphabet, the decoded length (header + body at least, DCR_TD_QUOTE_MAX at
 * most) and that it is a TDX quote header. Appends the quote to out. */
dcr_status dcr_imds_parse_quote(const char *body, size_t len, dcr_buf *out, dcr_error *err);

/* Asks IMDS at base_url (NULL = http://169.254.169.254) to turn a TDREPORT
 * into a TD quote, with timeout_ms for the whole exchange (0 = default).
 * The response is hostile: size-limited, parsed by dcr_imds_parse_quote,
 * and its REPORTDATA must be the TDREPORT's. */
dcr_status dcr_imds_td_quote(const char *base_url, long timeout_ms,
                             const uint8_t tdreport[DCR_TDREPORT_LEN], dcr_buf *quote,
                             dcr_error *err);

/* Appends the bytes of base64 or base64url text s (padding optional). */
dcr_status dcr_attest_b64_decode(const char *s, dcr_buf *out, const char *what, dcr_error *err);

/* Sizes the recogniser needs. */
#define DCR_SNP_REPORT_LEN 1184
#define DCR_SIM_MAGIC "DCRSIM01"
#define DCR_CONTAINER_MAGIC "DCREVID1"
#define DCR_HCL_MAGIC "HCLA"

/* ---- Hardware producers (tee_hw.c, tee_configfs.c, tee_sevguest.c) ---- */

/* An AMD certificate table (SEV-SNP extended report; configfs-tsm auxblob
 * for sev_guest): 24-byte entries {GUID, u32 offset, u32 length} ended by an
 * all-zero entry, offsets relative to the table's start. Parsed strictly
 * (every bound, no overlaps, no duplicates); the VCEK, VLEK, ASK and ARK
 * certificates are appended to pem as PEM, other GUIDs are bounds-checked
 * and skipped. An empty table (len 0, or only the terminator) yields no
 * certificates. *found counts the certificates appended (may be NULL). */
dcr_status dcr_snp_cert_table_to_pem(const uint8_t *table, size_t len, dcr_buf *pem, size_t *found,
                                     dcr_error *err);

/* configfs-tsm (Documentation/ABI/testing/configfs-tsm-report). */
typedef enum { DCR_TSM_CREATED, DCR_TSM_WROTE, DCR_TSM_REMOVING } dcr_tsm_event;
typedef struct {
    const char *root;      /* report root; NULL = /sys/kernel/config/tsm/report */
    const char *privlevel; /* "0".."3" written to privlevel, or NULL to leave it */
    /* Test seam. A plain directory is not configfs: mkdir makes no
     * attributes and writing inblob makes no outblob. Tests stand in for the
     * kernel here: called after our mkdir (create the attributes), after
     * each attribute we write (attr names it: regenerate outblob, bump
     * generation) and before our rmdir (remove the attribute files). NULL
     * in production, where the kernel does all three. */
    void (*fake_kernel)(dcr_tsm_event ev, const char *dir, const char *attr, void *ctx);
    void *fake_ctx;
} dcr_tsm_opts;

/* The provider of the report root (e.g. "sev_guest"), by creating an entry,
 * reading its provider attribute and removing it. */
dcr_status dcr_tsm_provider(const dcr_tsm_opts *o, char *out, size_t out_len, dcr_error *err);
/* Evidence of type want (DCR_EV_SNP: provider sev_guest, the report in
 * outblob and certificates from auxblob; DCR_EV_TDX: provider tdx_guest,
 * the quote in outblob) whose report data is rd. Retries once when another
 * writer raced us (generation moved); removes its entry on every path. */
dcr_status dcr_tsm_get_evidence(const dcr_tsm_opts *o, dcr_attest_type want, const uint8_t rd[64],
                                dcr_evidence *ev, dcr_error *err);

/* /dev/sev-guest (linux/sev-guest.h). */
typedef struct {
    const char *dev;       /* NULL = /dev/sev-guest */
    const char *privlevel; /* "0".."3", or NULL for VMPL 0 */
    /* Test seam: stands in for ioctl(2) so the certificate buffer
     * negotiation runs without the device. NULL = ioctl(2). */
    int (*ioctl_fn)(int fd, unsigned long req, void *arg);
} dcr_sevguest_opts;

dcr_status dcr_sevguest_get_evidence(const dcr_sevguest_opts *o, const uint8_t rd[64],
                                     dcr_evidence *ev, dcr_error *err);
/* Parses the firmware's MSG_REPORT_RSP (status, report size, 24 reserved
 * bytes, the report) into report, checking the status, every length and,
 * when rd is not NULL, that the report carries rd. */
dcr_status dcr_sevguest_parse_report_resp(const uint8_t *resp, size_t len, const uint8_t rd[64],
                                          dcr_buf *report, dcr_error *err);

/* Checks that an SNP report or TDX quote from the kernel is what we asked
 * for: the right shape and our 64 bytes of report data. what names the
 * interface in messages. */
dcr_status dcr_hw_check_binding(dcr_attest_type t, const uint8_t *d, size_t len,
                                const uint8_t rd[64], const char *what, dcr_error *err);

#endif
