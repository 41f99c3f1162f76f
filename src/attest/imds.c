/*
 * imds.c: the Azure TDX quote exchange. On an Azure TDX confidential VM the
 * guest gets a TDREPORT (MACed, verifiable only on the platform) from the
 * paravisor's HCL report; Azure's Instance Metadata Service turns it into a
 * TD quote signed by the platform's Quoting Enclave:
 *
 *   POST http://169.254.169.254/acc/tdquote
 *   Content-Type: application/json
 *   {"report": base64url(TDREPORT)}        ->  200 {"quote": base64url(quote)}
 *
 * (the exchange Azure's own guest tools and kinvolk/azure-cvm-tooling's
 * az-tdx-vtpm perform; see docs/attestation.md). tee_azure.c calls this; the
 * verifier never does. The answer is hostile: the body is size-limited while
 * it arrives, the quote must be strict base64url of a bounded length, parse
 * as a TDX quote header, and say what the TDREPORT says (azure_tdx.c). No redirects,
 * no proxies (IMDS is link-local), HTTP(S) only, short timeouts.
 */
#include <curl/curl.h>
#include <string.h>

#include "attest/attest_internal.h"
#include "base/bytes.h"

#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_BODY_MAX (4u * DCR_TD_QUOTE_MAX) /* base64 + JSON around it */
#define IMDS_TIMEOUT_MS 15000L
#define IMDS_CONNECT_MS 3000L
#define TD_QUOTE_MIN (48 + 584 + 4) /* header, TDX 1.0 body, signature length */

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Strict base64url: the URL-safe alphabet, then at most two '=' at the end
 * and only where padding belongs. */
static bool is_b64url(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && b64url_char(s[i]))
        i++;
    size_t data = i;
    while (i < n && s[i] == '=')
        i++;
    if (i != n || n - data > 2)
        return false;
    return n == data || (n % 4 == 0 && (data % 4) + (n - data) == 4);
}

dcr_status dcr_imds_parse_quote(const char *body, size_t len, dcr_buf *out, dcr_error *err)
{
    if (len == 0)
        return dcr_fail(err, DCR_EINPUT, "imds: empty answer");
    if (len > IMDS_BODY_MAX)
        return dcr_fail(err, DCR_EINPUT, "imds: answer of %zu bytes is over the %u-byte limit", len,
                        IMDS_BODY_MAX);
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return dcr_fail(err, DCR_EINPUT, "imds: answer is not a JSON object");
    }
    json_t *q = json_object_get(root, "quote");
    const char *s = json_string_value(q);
    size_t n = s ? json_string_length(q) : 0;
    dcr_status st = DCR_OK;
    dcr_buf quote = DCR_BUF_INIT;
    if (!s)
        st = dcr_fail(err, DCR_EINPUT, "imds: answer has no \"quote\" string");
    else if (n > (DCR_TD_QUOTE_MAX + 2) / 3 * 4)
        st = dcr_fail(err, DCR_EINPUT, "imds: quote of %zu characters is over the limit", n);
    else if (strlen(s) != n || !is_b64url(s, n))
        st = dcr_fail(err, DCR_EINPUT, "imds: quote is not base64url");
    else if ((st = dcr_attest_b64_decode(s, &quote, "imds quote", err)) == DCR_OK) {
        const uint8_t *b;
        size_t blen;
        if (quote.len < TD_QUOTE_MIN || quote.len > DCR_TD_QUOTE_MAX)
            st = dcr_fail(err, DCR_EINPUT, "imds: quote of %zu bytes is implausible", quote.len);
        else if ((st = dcr_tdx_quote_body(quote.data, quote.len, &b, &blen, err)) != DCR_OK)
            st = dcr_fail(err, DCR_EINPUT, "imds: answer is not a TD quote (%s)", err->msg);
        else
            st = dcr_buf_append(out, quote.data, quote.len, err);
    }
    dcr_buf_free(&quote);
    json_decref(root);
    return st;
}

typedef struct {
    dcr_buf body;
    bool too_big;
} sink;

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    sink *s = ctx;
    size_t len = size * n;
    dcr_error ignored = {0};
    if (len > IMDS_BODY_MAX - s->body.len) {
        s->too_big = true;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    return dcr_buf_append(&s->body, p, len, &ignored) == DCR_OK ? len : 0;
}

/* The request body {"report": base64url(TDREPORT)}; the caller frees it. */
static char *request_body(const uint8_t *r, dcr_error *err)
{
    unsigned char b64[(DCR_TDREPORT_LEN + 2) / 3 * 4 + 1];
    int n = EVP_EncodeBlock(b64, r, DCR_TDREPORT_LEN);
    while (n > 0 && b64[n - 1] == '=')
        n--;
    for (int i = 0; i < n; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    json_t *o = json_pack("{s:s%}", "report", (const char *)b64, (size_t)n);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        dcr_fail(err, DCR_EINTERNAL, "out of memory");
    return s;
}

static dcr_status curl_fail(CURLcode rc, const sink *s, const char *url, dcr_error *err)
{
    if (s->too_big)
        return dcr_fail(err, DCR_EINPUT, "imds: answer from %s is over the %u-byte limit", url,
                        IMDS_BODY_MAX);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return dcr_fail(err, DCR_EINPUT, "imds: %s did not answer in time", url);
    return dcr_fail(err, DCR_EINPUT, "imds: POST %s failed: %s", url, curl_easy_strerror(rc));
}

static dcr_status post(const char *url, const char *req, long timeout_ms, sink *s, dcr_error *err)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (!c || !h) {
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        return dcr_fail(err, DCR_EINTERNAL, "imds: cannot start libcurl");
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < IMDS_CONNECT_MS ? timeout_ms : IMDS_CONNECT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK)
        return curl_fail(rc, s, url, err);
    if (status != 200)
        return dcr_fail(err, DCR_EINPUT, "imds: %s answered HTTP %ld", url, status);
    return DCR_OK;
}

dcr_status dcr_imds_td_quote(const char *base_url, long timeout_ms,
                             const uint8_t tdreport[DCR_TDREPORT_LEN], dcr_buf *quote,
                             dcr_error *err)
{
    const char *base = base_url && *base_url ? base_url : IMDS_DEFAULT;
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    char url[512];
    if (blen > 256)
        return dcr_fail(err, DCR_EINPUT, "imds: base URL is too long");
    snprintf(url, sizeof url, "%.*s/acc/tdquote", (int)blen, base);
    char *req = request_body(tdreport, err);
    if (!req)
        return err->code;
    sink s = {DCR_BUF_INIT, false};
    dcr_buf q = DCR_BUF_INIT;
    dcr_status st = post(url, req, timeout_ms > 0 ? timeout_ms : IMDS_TIMEOUT_MS, &s, err);
    free(req);
    if (st == DCR_OK)
        st = dcr_imds_parse_quote((const char *)s.body.data, s.body.len, &q, err);
    const uint8_t *body;
    size_t body_len;
    if (st == DCR_OK && (st = dcr_tdx_quote_body(q.data, q.len, &body, &body_len, err)) == DCR_OK &&
        dcr_tdreport_match_quote(tdreport, body, body_len, err) != DCR_OK)
        st = dcr_fail(err, DCR_EINPUT, "imds: the quote is not about our TDREPORT (%s)", err->msg);
    if (st == DCR_OK)
        st = dcr_buf_append(quote, q.data, q.len, err);
    dcr_buf_free(&q);
    dcr_buf_free(&s.body);
    return st;
}
