/*
 * contract.h: the multi-party contract, dcr's policy model.
 *
 * A contract is a JSON document (docs/contract.md is the full reference)
 * that every party signs: the parties and their roles and keys, the
 * datasets with typed, role-tagged columns, the analysis rules (aggregation
 * threshold, allowed aggregates and joins, differential privacy, query
 * templates, overlap permissions, result receivers) and the TEE evidence the
 * clean room must present (with, for vTPM evidence, the PCRs that name the
 * booted image). Its identity is the SHA-256 of its exact bytes.
 *
 * dcr_contract_parse() reads the text into the typed model below and lints
 * it in the same pass, collecting every problem (not just the first) as a
 * diagnostic with a byte offset, line, column and reason, sorted by
 * position. The model is only usable when there are no diagnostics.
 *
 * References between parts of the contract are indexes into the arrays of
 * the model (party, dataset, column), resolved and checked by the parser.
 *
 * Ownership: the caller owns a dcr_contract filled by dcr_contract_parse and
 * releases it, on every path, with dcr_contract_free (likewise
 * dcr_contract_diags_free for the diagnostics).
 */
#ifndef DCR_CONTRACT_CONTRACT_H
#define DCR_CONTRACT_CONTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "base/types.h"
#include "crypto/hash.h"
#include "crypto/party_key.h"
#include "store/schema.h"

#define DCR_CONTRACT_FORMAT 1
#define DCR_CONTRACT_NAME_MAX 128  /* collaboration name */
#define DCR_CONTRACT_LIST_MAX 1024 /* parties, datasets, rules, evidence entries */
#define DCR_MEASUREMENT_LEN 48     /* SNP MEASUREMENT, TDX MRTD */
#define DCR_TDX_TCB_SVN_LEN 16
#define DCR_CONTRACT_PCRS 24 /* TPM PCR indexes 0..23 */

/* Party roles, a bit set. */
enum {
    DCR_ROLE_PROVIDER = 1u << 0,
    DCR_ROLE_ANALYST = 1u << 1,
    DCR_ROLE_RECEIVER = 1u << 2,
    DCR_ROLE_AUDITOR = 1u << 3,
};

typedef enum {
    DCR_COL_ID = 1,    /* privacy unit / join key: join only, never output */
    DCR_COL_JOIN,      /* join key: join only */
    DCR_COL_DIMENSION, /* group by, filter, output */
    DCR_COL_METRIC,    /* aggregate only, within declared bounds */
    DCR_COL_HIDDEN,    /* never referenced by a query */
} dcr_column_role;

/* Aggregate functions, a bit set. */
enum {
    DCR_AGGFN_COUNT = 1u << 0,
    DCR_AGGFN_COUNT_DISTINCT = 1u << 1,
    DCR_AGGFN_SUM = 1u << 2,
    DCR_AGGFN_AVG = 1u << 3,
    DCR_AGGFN_MIN = 1u << 4,
    DCR_AGGFN_MAX = 1u << 5,
};

typedef enum {
    DCR_EVIDENCE_SIM = 1,
    DCR_EVIDENCE_SEV_SNP,
    DCR_EVIDENCE_TDX,
    DCR_EVIDENCE_AZURE_SNP_VTPM,
    DCR_EVIDENCE_AZURE_TDX_VTPM,
} dcr_evidence_type;

typedef struct {
    char name[DCR_NAME_MAX + 1];
    unsigned roles; /* DCR_ROLE_* */
    dcr_party_pub key;
    bool has_key; /* false only while a contract has diagnostics */
} dcr_contract_party;

typedef struct {
    char name[DCR_NAME_MAX + 1];
    dcr_type type;
    dcr_column_role role;
    uint8_t normalize; /* DCR_NORM_* */
    bool not_null;
    bool has_bounds; /* metric columns always have them */
    double lo, hi;
} dcr_contract_column;

typedef struct {
    char name[DCR_NAME_MAX + 1];
    size_t owner;        /* party index */
    size_t privacy_unit; /* column index; that column has role id */
    int64_t min_units;   /* k for this dataset: max(own, rules.aggregation.min_units) */
    bool has_owner, has_privacy_unit, has_min_units; /* all true in a valid contract */
    size_t ncols;
    dcr_contract_column *cols;
} dcr_contract_dataset;

typedef struct {
    size_t dataset, column;
} dcr_colref;

typedef struct {
    dcr_colref col;
    unsigned funcs; /* DCR_AGGFN_* */
} dcr_contract_aggregate;

typedef struct {
    dcr_colref left, right;
} dcr_contract_join;

typedef struct {
    bool present, enabled;
    double epsilon_per_query, delta, budget_per_analyst;
    int64_t max_contributions_per_unit;
} dcr_contract_dp;

/* A template parameter's bound, in the parameter's type: BIGINT as i, DOUBLE
 * as d, DATE as days in i, TIMESTAMP as microseconds in i. */
typedef struct {
    bool present;
    int64_t i;
    double d;
} dcr_param_bound;

typedef struct {
    char name[DCR_NAME_MAX + 1];
    dcr_type type;
    dcr_param_bound min, max;
} dcr_contract_param;

typedef struct {
    char name[DCR_NAME_MAX + 1];
    char *sql; /* owned */
    size_t nparams;
    dcr_contract_param *params;
} dcr_contract_template;

typedef struct {
    size_t receiver; /* party index; owns the dataset */
    dcr_colref col;  /* an id or join column */
} dcr_contract_overlap;

typedef struct {
    size_t analyst; /* party index */
    size_t n;
    size_t *receivers; /* party indexes */
} dcr_contract_receivers;

typedef struct {
    uint8_t bootloader, tee, snp, microcode;
} dcr_snp_tcb;

typedef struct {
    dcr_evidence_type type;
    size_t nmeasurements;
    uint8_t (*measurements)[DCR_MEASUREMENT_LEN];
    bool has_snp_tcb; /* sev-snp, azure-snp-vtpm */
    dcr_snp_tcb snp_tcb;
    bool has_tdx_tcb; /* tdx, azure-tdx-vtpm */
    uint8_t tdx_tcb_svn[DCR_TDX_TCB_SVN_LEN];
    bool allow_debug;
    /* vTPM types only (azure-snp-vtpm, azure-tdx-vtpm): pinned SHA-256 PCR
     * values; bit i of pcr_mask set means PCR i must equal pcrs[i]. */
    uint32_t pcr_mask;
    uint8_t pcrs[DCR_CONTRACT_PCRS][DCR_SHA256_LEN];
} dcr_contract_evidence;

typedef struct {
    uint8_t hash[DCR_SHA256_LEN]; /* SHA-256 of the exact bytes */
    char name[DCR_CONTRACT_NAME_MAX + 1];
    int64_t version;
    char *purpose; /* owned */
    bool development;
    size_t nparties;
    dcr_contract_party *parties;
    size_t ndatasets;
    dcr_contract_dataset *datasets;
    int64_t min_units; /* rules.aggregation.min_units */
    bool has_min_units;
    /* Opt-ins by keys that name what the parties give up (docs/privacy.md,
     * "Modes"): free-form SQL without DP (differencing, reconstruction,
     * padding cannot be stopped by thresholds), MIN/MAX over rows without
     * DP (each releases one person's exact value). */
    bool unsafe_free_form_sql; /* rules.aggregation.unsafe_free_form_sql_open_to_differencing */
    bool unsafe_min_max;       /* rules.aggregation.unsafe_min_max_reveal_one_value */
    size_t naggregates;
    dcr_contract_aggregate *aggregates;
    size_t njoins;
    dcr_contract_join *joins;
    dcr_contract_dp dp;
    size_t ntemplates;
    dcr_contract_template *templates;
    size_t noverlap;
    dcr_contract_overlap *overlap;
    size_t nreceivers;
    dcr_contract_receivers *receivers;
    int64_t release_interval_ms; /* rules.release_interval_ms: answers leave only at a
                                    multiple of it after the query arrived; 0 = off */
    size_t nevidence;
    dcr_contract_evidence *evidence;
} dcr_contract;

typedef struct {
    size_t offset; /* byte offset into the text */
    unsigned line, column;
    size_t seq; /* order found, to keep sorting stable */
    char msg[256];
} dcr_contract_diag;

/* At most 1000 diagnostics are kept; `dropped` counts the rest. */
typedef struct {
    size_t n, cap, dropped;
    dcr_contract_diag *items;
} dcr_contract_diags;

#define DCR_CONTRACT_FILE_MAX (1u << 20)

/* Parses and lints text. DCR_OK: *out is valid and diags is empty.
 * DCR_EINPUT: diags holds every problem, sorted by position, and err->msg
 * summarises ("what:L:C: reason (and N more)"); *out must still be freed.
 * DCR_EINTERNAL: out of memory. `what` (a file name) prefixes messages. */
dcr_status dcr_contract_parse(const char *text, size_t len, const char *what, dcr_contract *out,
                              dcr_contract_diags *diags, dcr_error *err);
/* Reads path (at most DCR_CONTRACT_FILE_MAX bytes), then as above. When
 * text_out is not NULL it receives the file's bytes (caller frees). */
dcr_status dcr_contract_load(const char *path, dcr_contract *out, dcr_contract_diags *diags,
                             char **text_out, size_t *len_out, dcr_error *err);
void dcr_contract_free(dcr_contract *c);
void dcr_contract_diags_free(dcr_contract_diags *d);
/* Prints "what:LINE:COLUMN: reason" lines. */
void dcr_contract_diags_print(const dcr_contract_diags *d, const char *what, FILE *out);

/* Lookups by name; -1 when absent. */
int dcr_contract_find_party(const dcr_contract *c, const char *name);
int dcr_contract_find_dataset(const dcr_contract *c, const char *name);
/* Index of the party whose Ed25519 key is sign_pub; -1 when none. */
int dcr_contract_find_party_by_key(const dcr_contract *c, const uint8_t sign_pub[32]);

/* Names for display and messages. */
const char *dcr_column_role_name(dcr_column_role r);
const char *dcr_evidence_type_name(dcr_evidence_type t);
const char *dcr_agg_name(unsigned one_func);

/* The sealing schema of dataset `name`: names, types, normalisation and NOT
 * NULL (the privacy unit column is always NOT NULL). The caller frees it
 * with dcr_schema_free. DCR_EINPUT when there is no such dataset. */
dcr_status dcr_contract_dataset_schema(const dcr_contract *c, const char *name, dcr_schema *out,
                                       dcr_error *err);

/* The protections a contract's parties gave up or may not expect, in plain
 * words, for `contract lint` (as warnings) and `contract show`: up to max
 * static strings into out[], the count returned. */
size_t dcr_contract_warnings(const dcr_contract *c, const char **out, size_t max);

/* Writes the human summary of `dcr contract show`. dp_max_queries is how
 * many queries the DP budget allows each analyst (privacy/budget.h knows
 * the accounting, this piece does not), or -1 to leave it out. */
void dcr_contract_show(const dcr_contract *c, int64_t dp_max_queries, FILE *out);

#endif
