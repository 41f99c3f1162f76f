/*
 * show.c: the human summary printed by `dcr contract show`: who may do what
 * with which data, under which protection, on which TEE.
 *
 * It reads only the typed model, so it works on any contract that parsed
 * without diagnostics. Free text (purpose, SQL) passed the linter's checks
 * for control characters, so it cannot carry terminal escapes.
 */
#include <inttypes.h>
#include <string.h>

#include "base/bytes.h"
#include "contract/contract.h"
#include "base/value.h"

static void show_roles(unsigned roles, FILE *out)
{
    static const char *const names[] = {"provider", "analyst", "receiver", "auditor"};
    const char *sep = "";
    for (int i = 0; i < 4; i++)
        if (roles & (1u << i)) {
            fprintf(out, "%s%s", sep, names[i]);
            sep = ", ";
        }
}

static void show_header(const dcr_contract *c, FILE *out)
{
    char hex[2 * DCR_SHA256_LEN + 1];
    dcr_hex_encode(hex, c->hash, sizeof c->hash);
    fprintf(out, "contract:  %s, version %" PRId64 "\n", c->name, c->version);
    fprintf(out, "hash:      %s\n", hex);
    fprintf(out, "purpose:   %s\n", c->purpose ? c->purpose : "");
    if (c->development)
        fprintf(out, "mode:      DEVELOPMENT: sim evidence and debug TEEs may be accepted; "
                     "never use it with real data\n");
}

static void show_parties(const dcr_contract *c, FILE *out)
{
    fprintf(out, "\nparties (%zu), each must sign:\n", c->nparties);
    for (size_t i = 0; i < c->nparties; i++) {
        const dcr_contract_party *p = &c->parties[i];
        char key[17];
        dcr_hex_encode(key, p->key.sign_pub, 8);
        fprintf(out, "  %-20s ", p->name);
        show_roles(p->roles, out);
        fprintf(out, "  (signing key %s...)\n", key);
    }
}

static void show_columns_with_role(const dcr_contract_dataset *d, dcr_column_role role, FILE *out)
{
    bool any = false;
    for (size_t i = 0; i < d->ncols; i++) {
        const dcr_contract_column *col = &d->cols[i];
        if (col->role != role)
            continue;
        fprintf(out, "%s %s %s", any ? "," : "", col->name, dcr_type_name(col->type));
        if (col->normalize)
            fprintf(out, " (%s%s%s)", col->normalize & DCR_NORM_TRIM ? "trim" : "",
                    col->normalize == DCR_NORM_ALL ? ", " : "",
                    col->normalize & DCR_NORM_LOWER ? "lower" : "");
        if (col->has_bounds)
            fprintf(out, " clamped to [%g, %g]", col->lo, col->hi);
        any = true;
    }
    if (!any)
        fprintf(out, " -");
}

static void show_datasets(const dcr_contract *c, FILE *out)
{
    static const struct {
        dcr_column_role role;
        const char *what;
    } groups[] = {
        {DCR_COL_ID, "id (join only, never output)"},
        {DCR_COL_JOIN, "join (join only)"},
        {DCR_COL_DIMENSION, "dimension (group, filter, output)"},
        {DCR_COL_METRIC, "metric (aggregate only)"},
        {DCR_COL_HIDDEN, "hidden (never used)"},
    };
    fprintf(out, "\ndatasets (%zu):\n", c->ndatasets);
    for (size_t i = 0; i < c->ndatasets; i++) {
        const dcr_contract_dataset *d = &c->datasets[i];
        fprintf(out,
                "  %s: provided by %s, privacy unit %s, at least %" PRId64
                " distinct units per output row\n",
                d->name, c->parties[d->owner].name, d->cols[d->privacy_unit].name, d->min_units);
        for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
            fprintf(out, "    %-34s", groups[g].what);
            show_columns_with_role(d, groups[g].role, out);
            fputc('\n', out);
        }
    }
}

static void show_access(const dcr_contract *c, FILE *out)
{
    fprintf(out, "\nwho may query (every dataset, under the rules below):\n");
    bool any = false;
    for (size_t i = 0; i < c->nreceivers; i++) {
        const dcr_contract_receivers *r = &c->receivers[i];
        fprintf(out, "  %s; results go to", c->parties[r->analyst].name);
        for (size_t j = 0; j < r->n; j++)
            fprintf(out, "%s %s", j ? "," : "", c->parties[r->receivers[j]].name);
        fputc('\n', out);
        any = true;
    }
    if (!any)
        fprintf(out, "  nobody (no party has the analyst role)\n");
    for (size_t i = 0; i < c->nparties; i++)
        if (c->parties[i].roles & DCR_ROLE_AUDITOR)
            fprintf(out, "  %s may read the audit log\n", c->parties[i].name);
}

static void show_aggregation(const dcr_contract *c, FILE *out)
{
    fprintf(out,
            "\naggregation: every output row needs at least %" PRId64
            " distinct privacy units of each dataset in the query\n",
            c->min_units);
    fprintf(out, "  allowed aggregates (COUNT(*) aside):%s\n", c->naggregates ? "" : " none");
    for (size_t i = 0; i < c->naggregates; i++) {
        const dcr_contract_aggregate *a = &c->aggregates[i];
        fprintf(out, "    %s.%s:", c->datasets[a->col.dataset].name,
                c->datasets[a->col.dataset].cols[a->col.column].name);
        const char *sep = " ";
        for (unsigned f = 1; f <= DCR_AGGFN_MAX; f <<= 1)
            if (a->funcs & f) {
                fprintf(out, "%s%s", sep, dcr_agg_name(f));
                sep = ", ";
            }
        fputc('\n', out);
    }
    fprintf(out, "  allowed joins:%s\n", c->njoins ? "" : " none");
    for (size_t i = 0; i < c->njoins; i++) {
        const dcr_contract_join *j = &c->joins[i];
        fprintf(out, "    %s.%s = %s.%s\n", c->datasets[j->left.dataset].name,
                c->datasets[j->left.dataset].cols[j->left.column].name,
                c->datasets[j->right.dataset].name,
                c->datasets[j->right.dataset].cols[j->right.column].name);
    }
}

static bool lists_min_max(const dcr_contract *c)
{
    for (size_t i = 0; i < c->naggregates; i++)
        if (c->aggregates[i].funcs & (DCR_AGGFN_MIN | DCR_AGGFN_MAX))
            return true;
    return false;
}

size_t dcr_contract_warnings(const dcr_contract *c, const char **out, size_t max)
{
    size_t n = 0;
#define WARN(text)                                                                                 \
    do {                                                                                           \
        if (n < max)                                                                               \
            out[n++] = (text);                                                                     \
    } while (0)
    if (!c->dp.enabled && c->unsafe_free_form_sql)
        WARN("free-form SQL is answered without differential privacy "
             "(unsafe_free_form_sql_open_to_differencing): thresholds cannot stop an analyst "
             "who combines several answers (differencing, padding, reconstruction) from "
             "learning about one person; prefer differential privacy or templates");
    if (!c->dp.enabled && !c->unsafe_free_form_sql && c->ntemplates == 0)
        WARN("no analyst can run any aggregate query: without differential privacy only "
             "templates are answered, and the contract has none (overlap queries aside)");
    if (!c->dp.enabled && c->unsafe_min_max && lists_min_max(c))
        WARN("MIN and MAX over rows are answered (unsafe_min_max_reveal_one_value): each "
             "releases one person's exact value, however many people the group has");
    if (!c->dp.enabled && !c->unsafe_min_max && lists_min_max(c))
        WARN("rules.aggregation.aggregates lists MIN or MAX, which are refused without "
             "differential privacy unless unsafe_min_max_reveal_one_value is set");
    if (c->dp.enabled && lists_min_max(c))
        WARN("rules.aggregation.aggregates lists MIN or MAX, which differential privacy "
             "always refuses (one person's value has no bounded sensitivity)");
    /* How long an answer takes depends on the data (rows matched, groups
     * formed); only a fixed release schedule hides it. */
    if (c->release_interval_ms == 0)
        WARN("rules.release_interval_ms is 0: how long an answer takes can depend on one "
             "person's rows; set it above the slowest query's time (e.g. 1000) to release every "
             "answer on a fixed schedule");
#undef WARN
    return n;
}

static void show_mode(const dcr_contract *c, FILE *out)
{
    if (c->dp.enabled)
        fprintf(out, "\nprotection: differential privacy; analysts may write free-form SQL, and "
                     "every answer is noisy and charged to a budget\n");
    else if (c->unsafe_free_form_sql)
        fprintf(out, "\nprotection: aggregation threshold only, FREE-FORM SQL ALLOWED: the parties "
                     "accepted that several answers combined can reveal one person\n");
    else
        fprintf(out, "\nprotection: aggregation threshold; analysts may run only the templates "
                     "below (and overlap queries), never SQL of their own\n");
    const char *w[8];
    size_t n = dcr_contract_warnings(c, w, 8);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  warning: %s\n", w[i]);
}

static void show_dp(const dcr_contract *c, int64_t max_queries, FILE *out)
{
    const dcr_contract_dp *dp = &c->dp;
    if (!dp->enabled) {
        fprintf(out, "\ndifferential privacy: off (the aggregation threshold alone protects)\n");
        return;
    }
    fprintf(out,
            "\ndifferential privacy: on\n"
            "  epsilon %g and delta %g per query; budget %g per analyst\n",
            dp->epsilon_per_query, dp->delta, dp->budget_per_analyst);
    if (max_queries >= 0)
        fprintf(out, "  the budget allows %" PRId64 " queries per analyst%s\n", max_queries,
                dp->delta > 0 ? " (zCDP accounting: noise adds up more slowly than epsilon, so "
                                "many more than budget / epsilon fit)"
                              : " (budget / epsilon: pure DP adds epsilons)");
    fprintf(out, "  each privacy unit contributes to at most %" PRId64 " groups\n",
            dp->max_contributions_per_unit);
    if (dp->delta > 0)
        fprintf(out,
                "  a group is released only when its NOISY count of people clears a threshold\n"
                "  above k, set so that a group one person makes appears with probability\n"
                "  below delta; it grows with the noise (more aggregates, more contributions),\n"
                "  so an answer may report k = 194 on a contract with min_units 50\n");
}

static void show_bound(const dcr_contract_param *p, const dcr_param_bound *b, FILE *out)
{
    char text[DCR_VALUE_TEXT_MAX];
    if (!b->present) {
        fputs("-", out);
        return;
    }
    switch (p->type) {
    case DCR_TYPE_BIGINT:
        dcr_format_bigint(b->i, text);
        break;
    case DCR_TYPE_DATE:
        dcr_format_date((int32_t)b->i, text);
        break;
    case DCR_TYPE_TIMESTAMP:
        dcr_format_timestamp(b->i, text);
        break;
    default:
        dcr_format_double(b->d, text);
        break;
    }
    fputs(text, out);
}

static void show_templates(const dcr_contract *c, FILE *out)
{
    fprintf(out, "\nquery templates:%s\n", c->ntemplates ? "" : " none");
    for (size_t i = 0; i < c->ntemplates; i++) {
        const dcr_contract_template *t = &c->templates[i];
        fprintf(out, "  %s(", t->name);
        for (size_t j = 0; j < t->nparams; j++) {
            const dcr_contract_param *p = &t->params[j];
            fprintf(out, "%s%s %s", j ? ", " : "", p->name, dcr_type_name(p->type));
            if (p->min.present || p->max.present) {
                fputs(" in [", out);
                show_bound(p, &p->min, out);
                fputs(", ", out);
                show_bound(p, &p->max, out);
                fputc(']', out);
            }
        }
        fprintf(out, ")\n    %s\n", t->sql ? t->sql : "");
    }
}

static void show_overlap(const dcr_contract *c, FILE *out)
{
    fprintf(out, "\nmatched identifiers (overlap):%s\n", c->noverlap ? "" : " nobody receives any");
    for (size_t i = 0; i < c->noverlap; i++) {
        const dcr_contract_overlap *o = &c->overlap[i];
        fprintf(out, "  %s may receive which of its %s.%s values match\n",
                c->parties[o->receiver].name, c->datasets[o->col.dataset].name,
                c->datasets[o->col.dataset].cols[o->col.column].name);
    }
}

static void show_evidence(const dcr_contract *c, FILE *out)
{
    fprintf(out, "\naccepted TEE evidence:\n");
    for (size_t i = 0; i < c->nevidence; i++) {
        const dcr_contract_evidence *e = &c->evidence[i];
        fprintf(out, "  %s%s\n", dcr_evidence_type_name(e->type),
                e->type == DCR_EVIDENCE_SIM ? " (SIMULATED: no hardware protection)" : "");
        for (size_t j = 0; j < e->nmeasurements; j++) {
            char hex[2 * DCR_MEASUREMENT_LEN + 1];
            dcr_hex_encode(hex, e->measurements[j], DCR_MEASUREMENT_LEN);
            fprintf(out, "    measurement %s\n", hex);
        }
        if (e->has_snp_tcb)
            fprintf(out, "    minimum TCB: bootloader %u, tee %u, snp %u, microcode %u\n",
                    e->snp_tcb.bootloader, e->snp_tcb.tee, e->snp_tcb.snp, e->snp_tcb.microcode);
        if (e->has_tdx_tcb) {
            char hex[2 * DCR_TDX_TCB_SVN_LEN + 1];
            dcr_hex_encode(hex, e->tdx_tcb_svn, DCR_TDX_TCB_SVN_LEN);
            fprintf(out, "    minimum TEE_TCB_SVN: %s\n", hex);
        }
        for (unsigned j = 0; j < DCR_CONTRACT_PCRS; j++)
            if (e->pcr_mask & (1u << j)) {
                char hex[2 * DCR_SHA256_LEN + 1];
                dcr_hex_encode(hex, e->pcrs[j], DCR_SHA256_LEN);
                fprintf(out, "    PCR %-2u %s\n", j, hex);
            }
        if (e->type == DCR_EVIDENCE_AZURE_SNP_VTPM || e->type == DCR_EVIDENCE_AZURE_TDX_VTPM)
            fprintf(out, "    booted image: %s\n",
                    e->pcr_mask ? "pinned by the PCRs above"
                                : "NOT pinned (no pcrs: the evidence proves the platform, not the "
                                  "code)");
        if (e->type != DCR_EVIDENCE_SIM)
            fprintf(out, "    debug: %s\n", e->allow_debug ? "ALLOWED (development)" : "forbidden");
    }
}

void dcr_contract_show(const dcr_contract *c, int64_t dp_max_queries, FILE *out)
{
    show_header(c, out);
    show_parties(c, out);
    show_datasets(c, out);
    show_access(c, out);
    show_aggregation(c, out);
    show_mode(c, out);
    show_dp(c, dp_max_queries, out);
    if (c->release_interval_ms > 0)
        fprintf(out, "\nanswers (results, refusals, failures) are released every %" PRId64 " ms\n",
                c->release_interval_ms);
    else
        fputs("\nanswers are released as soon as ready (their timing can depend on the data)\n",
              out);
    show_templates(c, out);
    show_overlap(c, out);
    show_evidence(c, out);
}
