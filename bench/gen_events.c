/*
 * gen_events: deterministic ad-impression CSV generator for bench/run.sh.
 *
 *   gen_events ROWS [SEED] > events.csv
 *
 * Writes the header `email,campaign,ts,amount` and ROWS rows such as
 *
 *   user0012345@example.com,campaign_17,2024-03-01 12:34:56,123.45
 *
 * - emails: 2,000,000 possible users; 30% of rows come from the 10,000
 *   "heavy" users, the rest uniformly from all of them (about 1.9M distinct
 *   users in 10M rows). About 0.5% of emails are written with mixed case
 *   and/or surrounding spaces (those are quoted), so trim+lower
 *   normalisation changes the join key.
 * - campaign: 50 campaigns, skewed towards low numbers; two of them need
 *   CSV quoting (one holds a comma, one holds double quotes), and about 2%
 *   of plain campaign fields are quoted anyway.
 * - ts: uniform over 2024 (a leap year), second resolution.
 * - amount: 0.01..999.99 with two decimals, about 1% empty (NULL).
 *
 * The same ROWS and SEED always give the same bytes (splitmix64 PRNG, no
 * locale or time dependence). 10M rows are about 620 MB.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USERS 2000000u
#define HEAVY_USERS 10000u
#define CAMPAIGNS 50u
#define DAYS 366u

#include "gen_common.h"

/* Pre-rendered CSV fields. */
static char campaign_csv[CAMPAIGNS][48];
static size_t campaign_len[CAMPAIGNS];
static char day_str[DAYS][11]; /* "2024-MM-DD" */

static void init_tables(void)
{
    for (unsigned c = 0; c < CAMPAIGNS; c++) {
        int n;
        if (c == 48)
            n = snprintf(campaign_csv[c], sizeof campaign_csv[c], "\"campaign_%02u, retargeting\"",
                         c);
        else if (c == 49)
            n = snprintf(campaign_csv[c], sizeof campaign_csv[c], "\"campaign_%02u \"\"brand\"\"\"",
                         c);
        else
            n = snprintf(campaign_csv[c], sizeof campaign_csv[c], "campaign_%02u", c);
        campaign_len[c] = (size_t)n;
    }
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned d = 0;
    for (unsigned m = 0; m < 12; m++) {
        for (unsigned dd = 1; dd <= mdays[m]; dd++, d++) {
            snprintf(day_str[d], sizeof day_str[d], "2024-%02u-%02u", m + 1, dd);
        }
    }
}

/* Writes the email field for `user`, sometimes messed up. */
static char *put_email(char *p, uint32_t user)
{
    uint32_t r = below(1000);
    if (r >= 5) { /* 99.5%: canonical form */
        p = put_str(p, "user", 4);
        p = put_fixed(p, user, 7);
        return put_str(p, "@example.com", 12);
    }
    /* 0.5%: mixed case and/or surrounding spaces; always quoted. */
    *p++ = '"';
    uint32_t lead = below(3), trail = below(3);
    if (r < 2 && lead == 0 && trail == 0)
        lead = 1;
    for (uint32_t i = 0; i < lead; i++)
        *p++ = ' ';
    p = put_str(p, (r & 1) ? "User" : "USER", 4);
    p = put_fixed(p, user, 7);
    p = put_str(p, (r >= 3) ? "@Example.COM" : "@example.com", 12);
    for (uint32_t i = 0; i < trail; i++)
        *p++ = ' ';
    *p++ = '"';
    return p;
}

int main(int argc, char **argv)
{
    unsigned long long rows;
    if (!parse_args(argc, argv, "gen_events", 20240301, &rows))
        return 2;
    init_tables();

    static const char header[] = "email,campaign,ts,amount\n";
    out_len = sizeof header - 1;
    memcpy(out_buf, header, out_len);

    for (unsigned long long i = 0; i < rows; i++) {
        if (out_len > OUT_CAP - 256)
            flush_out();
        char *p = out_buf + out_len;

        /* email */
        uint32_t user = below(10) < 3 ? below(HEAVY_USERS) : below(USERS);
        p = put_email(p, user);
        *p++ = ',';

        /* campaign: min of two uniforms skews towards low numbers */
        uint32_t c1 = below(CAMPAIGNS), c2 = below(CAMPAIGNS);
        uint32_t c = c1 < c2 ? c1 : c2;
        if (c < 48 && below(50) == 0) {
            *p++ = '"';
            p = put_str(p, campaign_csv[c], campaign_len[c]);
            *p++ = '"';
        } else {
            p = put_str(p, campaign_csv[c], campaign_len[c]);
        }
        *p++ = ',';

        /* ts */
        uint32_t secs = below(DAYS * 86400u);
        p = put_str(p, day_str[secs / 86400u], 10);
        uint32_t sod = secs % 86400u;
        *p++ = ' ';
        p = put_fixed(p, sod / 3600u, 2);
        *p++ = ':';
        p = put_fixed(p, sod / 60u % 60u, 2);
        *p++ = ':';
        p = put_fixed(p, sod % 60u, 2);
        *p++ = ',';

        /* amount: 1% NULL, else 0.01..999.99 */
        if (below(100) != 0) {
            uint32_t cents = 1 + below(99999);
            p = put_uint(p, cents / 100);
            *p++ = '.';
            p = put_fixed(p, cents % 100, 2);
        }
        *p++ = '\n';
        out_len = (size_t)(p - out_buf);
    }
    flush_out();
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("gen_events: write");
        return 1;
    }
    return 0;
}
