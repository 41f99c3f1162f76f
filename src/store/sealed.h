/*
 * sealed.h: the sealed dataset file format, version 1 (docs/format.md is the
 * normative description; keep the two in step).
 *
 *   file   = preamble header_body chunk*
 *   chunk  = u32 ct_len, ct (AES-256-GCM, STREAM nonces, AAD = header hash)
 *
 * The header core (everything before the recipient list) is authenticated by
 * every chunk and by every wrapped key: its SHA-256 is their associated data.
 * Chunk nonces are nonce_prefix(7) || chunk counter (u32 big-endian) ||
 * last-chunk flag (1 byte), so reordering, dropping, duplicating, truncating
 * and splicing chunks between files all fail authentication.
 *
 * The recipient list holds the 32-byte data key HPKE-wrapped to each
 * recipient's X25519 key. Keys and plaintext are wiped when freed.
 */
#ifndef DCR_STORE_SEALED_H
#define DCR_STORE_SEALED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buffer.h"
#include "base/error.h"
#include "crypto/party_key.h"
#include "store/column.h"
#include "store/schema.h"

#define DCR_SEALED_MAGIC "DCRSEAL\0"
#define DCR_SEALED_VERSION 1
#define DCR_SEALED_PREAMBLE_LEN 16
#define DCR_SEALED_HEADER_MAX (1u << 20)
#define DCR_SEALED_CONTEXT_MAX 64
#define DCR_SEALED_RECIPIENTS_MAX 16
#define DCR_SEALED_CHUNK_ROWS_LIMIT (1u << 24)
#define DCR_SEALED_CHUNK_BYTES_LIMIT (256u << 20)
#define DCR_DATA_KEY_LEN 32
#define DCR_KEY_ID_LEN 8
#define DCR_WRAPPED_KEY_LEN (DCR_DATA_KEY_LEN + 16)

typedef struct {
    uint8_t key_id[DCR_KEY_ID_LEN];
    uint8_t enc[32];
    uint8_t wrapped[DCR_WRAPPED_KEY_LEN];
} dcr_sealed_recipient;

/* Preamble flag: every chunk's directory and columns are sealed apart
 * (docs/format.md, "Segmented chunks"), so a reader decrypts only the
 * columns it uses. Writers set it; files without it still read. */
#define DCR_SEALED_FLAG_SEGMENTED 1u

typedef struct {
    dcr_schema schema; /* owned */
    bool segmented;    /* DCR_SEALED_FLAG_SEGMENTED */
    uint8_t nonce_prefix[7];
    uint32_t chunk_rows_max;
    uint32_t chunk_bytes_max; /* bound on a chunk's plaintext and its decoded columns */
    uint8_t context[DCR_SEALED_CONTEXT_MAX];
    size_t context_len;
    dcr_sealed_recipient recipients[DCR_SEALED_RECIPIENTS_MAX];
    size_t nrecipients;
    uint8_t core_hash[32]; /* SHA-256 of preamble + header core: the AAD */
    size_t header_len;     /* preamble + body, i.e. offset of the first chunk */
} dcr_sealed_header;

void dcr_sealed_header_free(dcr_sealed_header *h);

/* Writer side: fills h from the schema (copied) and parameters, makes a fresh
 * random data key and nonce prefix, wraps the key to every recipient, and
 * serializes the header into out. data_key receives the key: the caller
 * wipes it. */
dcr_status dcr_sealed_header_create(dcr_sealed_header *h, const dcr_schema *schema,
                                    const uint8_t *context, size_t context_len,
                                    uint32_t chunk_rows_max, uint32_t chunk_bytes_max,
                                    const dcr_party_pub *recipients, size_t nrecipients,
                                    uint8_t data_key[DCR_DATA_KEY_LEN], dcr_buf *out,
                                    dcr_error *err);

/* Checks the 16-byte preamble (magic, version, flags) and tells how many
 * bytes the whole header takes. */
dcr_status dcr_sealed_preamble_parse(const uint8_t *buf, size_t len, size_t *header_len,
                                     dcr_error *err);

/* Reader side: parses a header from the start of a file (buf holds at least
 * the preamble; *need tells how many bytes the whole header takes, and the
 * call fails with DCR_EINPUT if len < *need). Validates every field. */
dcr_status dcr_sealed_header_parse(const uint8_t *buf, size_t len, dcr_sealed_header *h,
                                   size_t *need, dcr_error *err);

/* Finds the recipient entry for key and unwraps the data key. Fails with
 * DCR_ECRYPTO when no entry is for this key or the unwrap fails. */
dcr_status dcr_sealed_unwrap_key(const dcr_sealed_header *h, const dcr_party_key *key,
                                 uint8_t data_key[DCR_DATA_KEY_LEN], dcr_error *err);

/* Wraps data_key (of the file whose header is h) to another X25519 key:
 * what a provider does to grant its dataset to a new clean-room instance
 * without re-sealing it. */
dcr_status dcr_sealed_wrap_key(const dcr_sealed_header *h, const uint8_t data_key[DCR_DATA_KEY_LEN],
                               const uint8_t hpke_pub[32], dcr_sealed_recipient *out,
                               dcr_error *err);

/* The nonce of chunk `index` (a file without DCR_SEALED_FLAG_SEGMENTED). */
void dcr_sealed_nonce(const dcr_sealed_header *h, uint32_t index, bool last, uint8_t nonce[12]);
/* The nonce of segment `segment` of chunk `index` in a segmented file: 0 is
 * the directory, 1 + c column c. */
void dcr_sealed_segment_nonce(const dcr_sealed_header *h, uint32_t index, bool last,
                              uint16_t segment, uint8_t nonce[12]);
/* What sealing adds to a chunk's payload: one tag, or one per segment. */
static inline size_t dcr_chunk_overhead(const dcr_sealed_header *h)
{
    return 16 * (h->segmented ? h->schema.ncols + 1 : 1);
}

/* A decoded chunk: nrows and one column per schema column. */
typedef struct {
    size_t nrows;
    size_t ncols;
    dcr_column *cols; /* owned */
} dcr_chunk;

dcr_status dcr_chunk_init(dcr_chunk *c, const dcr_schema *schema, dcr_error *err);
void dcr_chunk_free(dcr_chunk *c);

/* Turns a chunk into its payload (the plaintext of one sealed chunk): each
 * column encoded, then compressed as `mode` says, zstd at `level` (stored
 * raw when that is not smaller). Lives in a worker thread; owns a zstd
 * context. */
typedef struct dcr_chunk_encoder dcr_chunk_encoder;
typedef enum {
    DCR_COMPRESS_FAST,  /* lengths-encoded TEXT with LZ4, the rest with zstd (the default) */
    DCR_COMPRESS_SMALL, /* every column with zstd: smaller files, slower scans */
} dcr_compress_mode;
dcr_status dcr_chunk_encoder_new(dcr_chunk_encoder **enc, int level, dcr_compress_mode mode,
                                 dcr_error *err);
void dcr_chunk_encoder_free(dcr_chunk_encoder *enc);
/* Replaces payload's contents with the encoded chunk. Fails if it would
 * exceed h->chunk_bytes_max or h->chunk_rows_max. */
dcr_status dcr_chunk_encode(dcr_chunk_encoder *enc, const dcr_sealed_header *h,
                            const dcr_chunk *chunk, dcr_buf *payload, dcr_error *err);

/* Encrypts a payload as chunk `index` and appends "u32 ct_len || ct" to out. */
dcr_status dcr_chunk_encrypt(const dcr_sealed_header *h, const uint8_t key[DCR_DATA_KEY_LEN],
                             uint32_t index, bool last, const uint8_t *payload, size_t len,
                             dcr_buf *out, dcr_error *err);

/* A segmented chunk's directory segment: its first ciphertext bytes. */
static inline size_t dcr_chunk_dir_ct_len(const dcr_sealed_header *h)
{
    return 6 + 10 * h->schema.ncols + 16;
}

/* What a reader wants of each column of a chunk: see dcr_chunk_decode. */
enum { DCR_CHUNK_SKIP = 0, DCR_CHUNK_DECODE = 1, DCR_CHUNK_DEFER = 2 };

/* Decrypts ct (one chunk's ciphertext, without its length prefix) into
 * plain (the payload), a buffer the caller wipes and frees. */
dcr_status dcr_chunk_decrypt(const dcr_sealed_header *h, const uint8_t key[DCR_DATA_KEY_LEN],
                             uint32_t index, bool last, const uint8_t *ct, size_t ct_len,
                             dcr_buf *plain, dcr_error *err);
/* The same, but in a segmented file only the directory and the columns
 * with want[i] != DCR_CHUNK_SKIP are decrypted and authenticated; the
 * other columns' bytes in plain are left unwritten, for a decode with the
 * same want[] that skips them. want NULL = every column. */
/* For a scan that reads a segmented chunk in two steps: given its first
 * dcr_chunk_dir_ct_len bytes at ct (of ct_len in all), decrypts the
 * directory (into plain) and sets *prefix to how many leading bytes hold
 * it and every column with want[i] != DCR_CHUNK_SKIP; the chunk's other
 * bytes need not be read before dcr_chunk_decrypt_columns. */
dcr_status dcr_chunk_wanted_prefix(const dcr_sealed_header *h, const uint8_t key[DCR_DATA_KEY_LEN],
                                   uint32_t index, bool last, const uint8_t *ct, size_t ct_len,
                                   const uint8_t *want, size_t *prefix, dcr_buf *plain,
                                   dcr_error *err);
dcr_status dcr_chunk_decrypt_columns(const dcr_sealed_header *h,
                                     const uint8_t key[DCR_DATA_KEY_LEN], uint32_t index, bool last,
                                     const uint8_t *ct, size_t ct_len, const uint8_t *want,
                                     dcr_buf *plain, dcr_error *err);

/* Parses a decrypted chunk payload into chunk, validating everything (the
 * payload may come from a malicious provider who knows its data key). If
 * want is not NULL, column i is decoded as want[i] says (the skipped ones
 * are left empty): DCR_CHUNK_SKIP, DCR_CHUNK_DECODE, or DCR_CHUNK_DEFER,
 * which leaves a dictionary-encoded TEXT column deferred (store/column.h).
 * scratch holds decompressed bytes; the caller wipes and frees it. */
dcr_status dcr_chunk_decode(const dcr_sealed_header *h, const uint8_t *plain, size_t len,
                            const uint8_t *want, dcr_chunk *chunk, dcr_buf *scratch,
                            dcr_error *err);

/* Per-column sizes of a decrypted payload, for `dcr inspect --key`. */
typedef struct {
    uint32_t raw_len, stored_len;
    uint8_t encoding, codec;
} dcr_chunk_column_info;
dcr_status dcr_chunk_describe(const dcr_sealed_header *h, const uint8_t *plain, size_t len,
                              uint32_t *nrows, dcr_chunk_column_info *info, dcr_error *err);

#endif
