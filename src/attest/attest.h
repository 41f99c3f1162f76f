/*
 * attest.h: TEE evidence and its one verifier.
 *
 * Evidence is what a TEE says about itself, signed by hardware: an AMD
 * SEV-SNP attestation report, an Intel TDX quote, an Azure confidential VM's
 * HCL report plus a vTPM quote, or dcr's development-only simulator report.
 * The producers (tee.h) make it; dcr_attest_verify checks it against pinned
 * vendor roots and a policy and returns the verified claims as JSON. The
 * client, the server and the tests all call this same function.
 *
 * On disk, evidence is either raw vendor bytes (an SNP report, a TDX quote,
 * an HCL report, an Azure evidence-v1 JSON bundle) or dcr's container, which
 * adds what the raw bytes lack (certificates, the TPM quote). See
 * docs/attestation.md for the container layout. Every byte is hostile until
 * verified; parsers check every length.
 */
#ifndef DCR_ATTEST_ATTEST_H
#define DCR_ATTEST_ATTEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/buffer.h"
#include "base/error.h"

#define DCR_REPORT_DATA_LEN 64
#define DCR_EVIDENCE_MAX (1u << 20) /* no genuine evidence comes near 1 MiB */

typedef enum {
    DCR_EV_UNKNOWN = 0,
    DCR_EV_SIM = 1,
    DCR_EV_SNP = 2,
    DCR_EV_TDX = 3,
    DCR_EV_AZURE_SNP = 4,
    DCR_EV_AZURE_TDX = 5,
} dcr_attest_type;

/* The CLI names: sim, snp, tdx, azure-snp-vtpm, azure-tdx-vtpm. */
const char *dcr_attest_type_name(dcr_attest_type t);
bool dcr_attest_type_from_name(const char *name, dcr_attest_type *out);

/* Parsed evidence. Every buffer is owned; empty ones have len 0. */
typedef struct {
    dcr_attest_type type;
    dcr_buf report;    /* SNP report, TDX quote, HCL report or sim report */
    dcr_buf certs;     /* certificates that came with it: PEM, DER or an AMD cert table */
    dcr_buf tpm_quote; /* Azure: TPMS_ATTEST */
    dcr_buf tpm_sig;   /* Azure: raw RSA signature or TPMT_SIGNATURE */
    dcr_buf tpm_pcrs;  /* Azure: SHA-256 PCR values 0..n-1, 32 bytes each */
    dcr_buf td_quote;  /* Azure TDX: the TD quote IMDS made from the HCL report's TDREPORT */
} dcr_evidence;

void dcr_evidence_free(dcr_evidence *ev);

/* Recognises and splits evidence bytes: dcr's container, an Azure
 * evidence-v1 JSON bundle, or raw bytes of one type. hint (DCR_EV_UNKNOWN to
 * recognise) forces the raw type. */
dcr_status dcr_evidence_parse(const uint8_t *data, size_t len, dcr_attest_type hint,
                              dcr_evidence *ev, dcr_error *err);

/* Adds an Azure TPM quote file: bincode (u64 len + signature, u64 len +
 * TPMS_ATTEST, u64 count + 32-byte PCRs) or raw TPMS_ATTEST followed by its
 * signature. */
dcr_status dcr_evidence_set_tpm_quote(dcr_evidence *ev, const uint8_t *data, size_t len,
                                      dcr_error *err);

/* Serialises ev as dcr's container. */
dcr_status dcr_evidence_encode(const dcr_evidence *ev, dcr_buf *out, dcr_error *err);

/* Certificates and CRLs supplied from files (offline verification). */
typedef struct dcr_certset dcr_certset;
dcr_status dcr_certset_new(dcr_certset **set, dcr_error *err);
/* PEM (any number of certificates and CRLs) or one DER certificate or CRL. */
dcr_status dcr_certset_add(dcr_certset *set, const uint8_t *data, size_t len, const char *what,
                           dcr_error *err);
dcr_status dcr_certset_add_file(dcr_certset *set, const char *path, dcr_error *err);
void dcr_certset_free(dcr_certset *set);

typedef struct {
    uint8_t bytes[48];
} dcr_measurement;

/* vTPM PCRs a relying party pins (SHA-256 bank): bit i of mask set means
 * PCR i must hold values[i]. On an Azure CVM the launch measurement is the
 * paravisor's; what booted in the guest shows only in these PCRs. */
#define DCR_PCR_COUNT 24
#define DCR_PCR_DIGEST_LEN 32
typedef struct {
    uint32_t mask;
    uint8_t values[DCR_PCR_COUNT][DCR_PCR_DIGEST_LEN];
} dcr_pcr_pins;

/* Parses "N=HEX" (N 0..23, 64 hex digits) into pins; false when it is not
 * that or N is pinned already. */
bool dcr_pcr_pin_parse(const char *arg, dcr_pcr_pins *pins) __attribute__((warn_unused_result));

/* What the verifier requires beyond the vendor signatures. Zero-initialise,
 * then set what applies. */
typedef struct {
    time_t at;                           /* verification time for certificates; 0 = now */
    const uint8_t *report_data;          /* expected 64 bytes, or NULL */
    const dcr_measurement *measurements; /* accepted measurements (any one), or NULL */
    size_t n_measurements;
    const uint8_t *min_tcb; /* SNP: 8 bytes (TCB_VERSION); TDX: 16 (TEE_TCB_SVN) */
    size_t min_tcb_len;
    bool allow_debug;     /* default: refuse debuggable guests */
    bool allow_sim;       /* default: refuse simulated evidence */
    const uint8_t *nonce; /* Azure: expected TPM quote extraData, or NULL */
    size_t nonce_len;
    const dcr_certset *certs; /* extra certificates / CRLs, or NULL */
    /* vTPM evidence: PCRs the quote must cover and hold, or NULL. Pins on
     * evidence without a vTPM quote are refused, never ignored. */
    const dcr_pcr_pins *pcrs;
    /* Replaces the compiled-in roots (tests only: "wrong root"). PEM. */
    const char *roots_override_pem;
} dcr_attest_policy;

/* Verifies ev and applies pol. On success *claims is a JSON object the
 * caller json_decref's. On failure err names the check that failed, e.g.
 * "sev-snp: VCEK hwID does not match CHIP_ID" or "policy: report data
 * mismatch", with DCR_ECRYPTO for a failed check and DCR_EINPUT for
 * malformed bytes. A pinned PCR that differs is named with both values:
 * "azure-vtpm: PCR 4 mismatch: expected <hex>, got <hex>". With pins, the
 * claims also hold "tpm_pcrs_pinned": the pinned indexes, ascending. */
dcr_status dcr_attest_verify(const dcr_evidence *ev, const dcr_attest_policy *pol, json_t **claims,
                             dcr_error *err);

/* What verified claims (from dcr_attest_verify, evidence type `type`)
 * prove, in one sentence for people, into out. measurement_pinned: the
 * policy required an accepted measurement. pinned_by names where PCR pins
 * came from ("the contract", "--pcr"). On vTPM evidence without pins it
 * says plainly that only the platform is proven, not the code. */
void dcr_attest_proves(const char *type, json_t *claims, bool measurement_pinned,
                       const char *pinned_by, char *out, size_t len);

#endif
