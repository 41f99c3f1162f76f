#!/usr/bin/env bash
# The demo (scripts/demo.sh, what `make demo` runs) through the binary under
# test, so the README's first command cannot rot unnoticed: it must finish,
# release the attribution rows, refuse the raw e-mail query by its rule,
# verify the audit log, and in the DP clean room answer with noise until the
# budget is spent. Full size under sanitizers too: on less data the
# thresholds rightly release nothing.
source "$(dirname "$0")/lib.sh"
DCR="$DCR" bash "$ROOT/scripts/demo.sh" > "$T/demo.out" 2>&1
rc=$?
out=$T/demo.out
check "the demo finishes (exit 0)" test "$rc" -eq 0
check "attribution releases rows through its template, without a suppressed count" \
  grep -qE "privacy: k = 50; [1-9][0-9]* rows released \(groups under k withheld\); protection threshold-template; template attribution" "$out"
check "nothing says how many groups were suppressed" bash -c "! grep -qi 'suppressed' '$out'"
check "own SQL without DP is refused by rule free-form-sql" grep -q "refused by rule free-form-sql" "$out"
check "the raw e-mail query is refused by rule id-column under DP" grep -q "refused by rule id-column" "$out"
check "the audit log verifies" grep -qE "dcr audit: [0-9]+ records verified" "$out"
check "the DP clean room charges epsilon per answer" \
  bash -c "[[ \$(grep -c 'epsilon 0.2857 spent' '$out') -eq 3 ]]"
check "the answer after the budget is spent is refused by rule budget (not a failure)" \
  grep -q "HTTP 422 refused: budget: refused" "$out"
check "both clean rooms stop" grep -q "Done in" "$out"
[[ $_fail -eq 0 ]] || tail -40 "$out"
finish
