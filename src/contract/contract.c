/*
 * contract.c: the contract model's lifecycle, lookups and the bridge to the
 * sealed format's schema. Parsing and linting live in lint.c, the human
 * summary in show.c, signatures in signature.c.
 */
#include "contract/contract.h"

#include <stdlib.h>
#include <string.h>

#include "base/fileio.h"

void dcr_contract_free(dcr_contract *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ndatasets; i++)
        free(c->datasets[i].cols);
    free(c->datasets);
    for (size_t i = 0; i < c->ntemplates; i++) {
        free(c->templates[i].sql);
        free(c->templates[i].params);
    }
    free(c->templates);
    for (size_t i = 0; i < c->nreceivers; i++)
        free(c->receivers[i].receivers);
    free(c->receivers);
    for (size_t i = 0; i < c->nevidence; i++)
        free(c->evidence[i].measurements);
    free(c->evidence);
    free(c->parties);
    free(c->aggregates);
    free(c->joins);
    free(c->overlap);
    free(c->purpose);
    memset(c, 0, sizeof *c);
}

void dcr_contract_diags_free(dcr_contract_diags *d)
{
    if (!d)
        return;
    free(d->items);
    memset(d, 0, sizeof *d);
}

void dcr_contract_diags_print(const dcr_contract_diags *d, const char *what, FILE *out)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(out, "%s:%u:%u: %s\n", what, d->items[i].line, d->items[i].column, d->items[i].msg);
    if (d->dropped)
        fprintf(out, "%s: %zu more problems not shown\n", what, d->dropped);
}

dcr_status dcr_contract_load(const char *path, dcr_contract *out, dcr_contract_diags *diags,
                             char **text_out, size_t *len_out, dcr_error *err)
{
    memset(out, 0, sizeof *out);
    memset(diags, 0, sizeof *diags);
    char *text;
    size_t len;
    dcr_status s = dcr_read_file(path, DCR_CONTRACT_FILE_MAX, &text, &len, err);
    if (s != DCR_OK)
        return s;
    s = dcr_contract_parse(text, len, path, out, diags, err);
    if (text_out) {
        *text_out = text;
        *len_out = len;
    } else {
        free(text);
    }
    return s;
}

int dcr_contract_find_party(const dcr_contract *c, const char *name)
{
    if (!name[0])
        return -1;
    for (size_t i = 0; i < c->nparties; i++)
        if (strcmp(c->parties[i].name, name) == 0)
            return (int)i;
    return -1;
}

int dcr_contract_find_dataset(const dcr_contract *c, const char *name)
{
    if (!name[0])
        return -1;
    for (size_t i = 0; i < c->ndatasets; i++)
        if (strcmp(c->datasets[i].name, name) == 0)
            return (int)i;
    return -1;
}

int dcr_contract_find_party_by_key(const dcr_contract *c, const uint8_t sign_pub[32])
{
    for (size_t i = 0; i < c->nparties; i++)
        if (c->parties[i].has_key && memcmp(c->parties[i].key.sign_pub, sign_pub, 32) == 0)
            return (int)i;
    return -1;
}

const char *dcr_column_role_name(dcr_column_role r)
{
    switch (r) {
    case DCR_COL_ID:
        return "id";
    case DCR_COL_JOIN:
        return "join";
    case DCR_COL_DIMENSION:
        return "dimension";
    case DCR_COL_METRIC:
        return "metric";
    case DCR_COL_HIDDEN:
        return "hidden";
    }
    return "?";
}

const char *dcr_evidence_type_name(dcr_evidence_type t)
{
    switch (t) {
    case DCR_EVIDENCE_SIM:
        return "sim";
    case DCR_EVIDENCE_SEV_SNP:
        return "sev-snp";
    case DCR_EVIDENCE_TDX:
        return "tdx";
    case DCR_EVIDENCE_AZURE_SNP_VTPM:
        return "azure-snp-vtpm";
    case DCR_EVIDENCE_AZURE_TDX_VTPM:
        return "azure-tdx-vtpm";
    }
    return "?";
}

const char *dcr_agg_name(unsigned one_func)
{
    switch (one_func) {
    case DCR_AGGFN_COUNT:
        return "COUNT";
    case DCR_AGGFN_COUNT_DISTINCT:
        return "COUNT_DISTINCT";
    case DCR_AGGFN_SUM:
        return "SUM";
    case DCR_AGGFN_AVG:
        return "AVG";
    case DCR_AGGFN_MIN:
        return "MIN";
    case DCR_AGGFN_MAX:
        return "MAX";
    }
    return "?";
}

dcr_status dcr_contract_dataset_schema(const dcr_contract *c, const char *name, dcr_schema *out,
                                       dcr_error *err)
{
    memset(out, 0, sizeof *out);
    int d = dcr_contract_find_dataset(c, name);
    if (d < 0) {
        char shown[80];
        dcr_error_quote(shown, sizeof shown, name, strlen(name));
        return dcr_fail(err, DCR_EINPUT, "the contract has no dataset \"%s\"", shown);
    }
    const dcr_contract_dataset *ds = &c->datasets[d];
    if (ds->ncols == 0 || ds->ncols > DCR_COLUMNS_MAX)
        return dcr_fail(err, DCR_EINTERNAL, "dataset \"%s\" has no usable columns", ds->name);
    out->cols = calloc(ds->ncols, sizeof *out->cols);
    if (!out->cols)
        return dcr_fail(err, DCR_EINTERNAL, "out of memory");
    out->ncols = ds->ncols;
    memcpy(out->dataset, ds->name, sizeof out->dataset);
    for (size_t i = 0; i < ds->ncols; i++) {
        const dcr_contract_column *col = &ds->cols[i];
        dcr_column_def *def = &out->cols[i];
        memcpy(def->name, col->name, sizeof def->name);
        def->type = col->type;
        def->normalize = col->normalize;
        /* A row without its privacy unit cannot be counted towards k. */
        def->not_null = col->not_null || (ds->has_privacy_unit && i == ds->privacy_unit);
    }
    return DCR_OK;
}
