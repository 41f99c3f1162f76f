/*
 * fuzz_contract.c: the contract parser and linter (src/contract/json.c,
 * lint.c) and, for inputs that lint clean, the summary (show.c), the
 * dataset -> schema bridge and a signature check.
 *
 * Invariants checked beyond "no crash": a diagnostic always carries a
 * position inside the input and a message; a valid contract's references
 * all resolve (show and schema conversion dereference them).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "contract/contract.h"
#include "contract/signature.h"

static void check_valid(const dcr_contract *c)
{
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        dcr_contract_show(c, 1, null);
        fclose(null);
    }
    for (size_t i = 0; i < c->ndatasets; i++) {
        dcr_schema s;
        dcr_error err;
        if (dcr_contract_dataset_schema(c, c->datasets[i].name, &s, &err) != DCR_OK)
            __builtin_trap();
        if (s.ncols != c->datasets[i].ncols)
            __builtin_trap();
        dcr_schema_free(&s);
    }
    dcr_contract_sig sig = {0};
    size_t p;
    dcr_error err;
    memcpy(sig.contract_hash, c->hash, sizeof sig.contract_hash);
    if (c->nparties)
        memcpy(sig.sign_pub, c->parties[0].key.sign_pub, 32);
    if (dcr_contract_sig_verify(c, &sig, &p, &err) == DCR_OK)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dcr_contract c;
    dcr_contract_diags d;
    dcr_error err;
    dcr_status s = dcr_contract_parse((const char *)data, size, "fuzz", &c, &d, &err);
    if (s == DCR_OK) {
        if (d.n != 0)
            __builtin_trap();
        check_valid(&c);
    } else if (s == DCR_EINPUT) {
        if (d.n == 0)
            __builtin_trap();
        for (size_t i = 0; i < d.n; i++)
            if (d.items[i].offset > size || d.items[i].line == 0 || d.items[i].column == 0 ||
                !d.items[i].msg[0])
                __builtin_trap();
    } else if (s != DCR_EINTERNAL) {
        __builtin_trap();
    }
    dcr_contract_diags_free(&d);
    dcr_contract_free(&c);
    return 0;
}
