/*
 * gen_purchases: deterministic purchase CSV generator for bench/query.sh.
 *
 *   gen_purchases ROWS [SEED] > purchases.csv
 *
 * Writes the header `email,amount,ts` and ROWS rows such as
 *
 *   user1234567@example.com,59.90,2024-07-14 09:12:33
 *
 * - emails: users 1,200,000 .. 3,199,999 uniformly, in the same
 *   `userNNNNNNN@example.com` form as gen_events. gen_events draws its
 *   impression users from 0 .. 1,999,999 (about 1.9M of them appear in 10M
 *   impressions), so about 40% of the users in [1.2M, 3.2M) are in the
 *   impression range and roughly 38% of distinct purchasers appear in the
 *   10M impressions (none of gen_events' 10,000 heavy users, ids < 10,000,
 *   buy, which keeps the join's fan-out realistic: ~3.5 impressions per
 *   matched purchase). About 0.5% of emails are written in mixed case with
 *   surrounding spaces (quoted), so the join only matches after the trim +
 *   lower normalisation that dcr seal applies.
 * - amount: 1.00..499.99 with two decimals, about 0.5% empty (NULL).
 * - ts: uniform over 2024, second resolution.
 *
 * The same ROWS and SEED always give the same bytes (splitmix64 PRNG).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USER_BASE 1200000u
#define USERS 2000000u
#define DAYS 366u

#include "gen_common.h"

static char day_str[DAYS][11];

static void init_tables(void)
{
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned d = 0;
    for (unsigned m = 0; m < 12; m++)
        for (unsigned dd = 1; dd <= mdays[m]; dd++, d++)
            snprintf(day_str[d], sizeof day_str[d], "2024-%02u-%02u", m + 1, dd);
}

static char *put_email(char *p, uint32_t user)
{
    uint32_t r = below(1000);
    if (r >= 5) {
        p = put_str(p, "user", 4);
        p = put_fixed(p, user, 7);
        return put_str(p, "@example.com", 12);
    }
    *p++ = '"';
    uint32_t lead = below(3), trail = below(3);
    if (lead == 0 && trail == 0)
        trail = 1;
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
    if (!parse_args(argc, argv, "gen_purchases", 20240714, &rows))
        return 2;
    init_tables();

    static const char header[] = "email,amount,ts\n";
    out_len = sizeof header - 1;
    memcpy(out_buf, header, out_len);

    for (unsigned long long i = 0; i < rows; i++) {
        if (out_len > OUT_CAP - 256)
            flush_out();
        char *p = out_buf + out_len;

        p = put_email(p, USER_BASE + below(USERS));
        *p++ = ',';

        if (below(200) != 0) {
            uint32_t cents = 100 + below(49900);
            p = put_uint(p, cents / 100);
            *p++ = '.';
            p = put_fixed(p, cents % 100, 2);
        }
        *p++ = ',';

        uint32_t secs = below(DAYS * 86400u);
        p = put_str(p, day_str[secs / 86400u], 10);
        uint32_t sod = secs % 86400u;
        *p++ = ' ';
        p = put_fixed(p, sod / 3600u, 2);
        *p++ = ':';
        p = put_fixed(p, sod / 60u % 60u, 2);
        *p++ = ':';
        p = put_fixed(p, sod % 60u, 2);
        *p++ = '\n';
        out_len = (size_t)(p - out_buf);
    }
    flush_out();
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("gen_purchases: write");
        return 1;
    }
    return 0;
}
