#!/usr/bin/env bash
# make icount: the instruction-count regression gate (gungraun on Callgrind).
#
#   ci/icount.sh          run benches/icount.rs, compare each bench's instructions (Ir) with
#                         ci/icount-budgets.tsv; exit 1 naming the bench and the delta when one grew more
#                         than ICOUNT_THRESHOLD_PCT (default 2) percent, when a bench has no committed
#                         budget, or when a budgeted bench produced no measurement.
#   ci/icount.sh --bless  run and write the measured counts as the new budgets (commit them on purpose).
#   ci/icount.sh --prove  build with the `icount-regression` feature (the block builder computes a CRC
#                         per record, which format 2 does not) and expect the gate to fail: proof that it can.
#
# gungraun keeps its own baselines under target/ (lost on `cargo clean`, and a missing one passes
# silently); this gate does not use them: the budgets are committed, and a missing one is an error.
# gungraun-runner must match the library's version exactly; it is installed into target/tools (inside
# the clone: nothing is cached outside it) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE="${1:-gate}"
BUDGETS=ci/icount-budgets.tsv
THRESHOLD="${ICOUNT_THRESHOLD_PCT:-2}"
VERSION=$(awk '/^name = "gungraun"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)
[ -n "$VERSION" ] || { echo "icount: gungraun not found in Cargo.lock" >&2; exit 2; }

command -v valgrind >/dev/null || { echo "icount: valgrind is required (apt-get install valgrind)" >&2; exit 2; }
export PATH="$PWD/target/tools/bin:$PATH"
if [ "$(gungraun-runner --version 2>/dev/null | awk '{print $2}')" != "$VERSION" ]; then
    echo "icount: installing gungraun-runner $VERSION into target/tools (about 3 minutes)" >&2
    cargo install gungraun-runner --version "$VERSION" --locked --root target/tools >&2
fi
export GUNGRAUN_HOME="$PWD/target/gungraun"

features=()
[ "$MODE" = "--prove" ] && features=(--features icount-regression)
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
# Fixed profile (bench = release with debug info), one bench binary, gungraun's own comparison off:
# the verdict is ours.
cargo bench --locked --bench icount "${features[@]}" -- --nocapture > "$OUT" 2>&1 || {
    cat "$OUT" >&2
    echo "icount: the benches did not run" >&2
    exit 2
}
# "icount::hot_path::NAME ID:ARGS" header lines, then "  Instructions: N|..." lines.
measured=$(awk '
    /^[a-z_]+::[a-z_]+::[a-z_]+/ { bench = $1; if (NF > 1) bench = bench " " $2 }
    /^ *Instructions:/ { split($2, a, "|"); print bench "\t" a[1] }
' "$OUT")
if [ -z "$measured" ]; then
    cat "$OUT" >&2
    echo "icount: no instruction counts in the output" >&2
    exit 2
fi

if [ "$MODE" = "--bless" ]; then
    {
        echo "# bench<TAB>instructions — committed budgets for ci/icount.sh (rewrite with make icount-bless)"
        echo "# gungraun $VERSION, $(valgrind --version), $(rustc --version)"
        echo "$measured"
    } > "$BUDGETS"
    echo "icount: wrote $(echo "$measured" | wc -l) budgets to $BUDGETS" >&2
    exit 0
fi

[ -f "$BUDGETS" ] || { echo "icount: FAIL: no committed budgets ($BUDGETS); run make icount-bless" >&2; exit 1; }
fail=0
planted_caught=0
[ -n "${ICOUNT_CSV:-}" ] && echo "bench,budget_ir,measured_ir,delta_pct" > "$ICOUNT_CSV"
while IFS=$'\t' read -r bench ir; do
    budget=$(awk -F'\t' -v b="$bench" '!/^#/ && $1 == b {print $2}' "$BUDGETS")
    if [ -z "$budget" ]; then
        echo "icount: FAIL: $bench: no committed budget (measured $ir); run make icount-bless" >&2
        fail=1
        continue
    fi
    [ -n "${ICOUNT_CSV:-}" ] && awk -v n="$bench" -v m="$ir" -v b="$budget" \
        'BEGIN { printf "%s,%d,%d,%+.2f\n", n, b, m, (m - b) * 100.0 / b }' >> "$ICOUNT_CSV"
    verdict=$(awk -v m="$ir" -v b="$budget" -v t="$THRESHOLD" 'BEGIN {
        d = (m - b) * 100.0 / b; printf "%+.2f%% (%d -> %d)", d, b, m; exit (d > t) ? 1 : 0 }') && ok=1 || ok=0
    if [ $ok = 1 ]; then
        echo "icount: ok   $bench $verdict" >&2
    else
        echo "icount: FAIL $bench grew $verdict, more than ${THRESHOLD}%" >&2
        fail=1
        case "$bench" in icount::hot_path::block_push*) planted_caught=1 ;; esac
    fi
done <<< "$measured"
while IFS=$'\t' read -r bench _; do
    case "$bench" in \#*|"") continue ;; esac
    if ! grep -qF "$bench"$'\t' <<< "$measured"; then
        echo "icount: FAIL: $bench has a budget but no measurement (bench removed or renamed?)" >&2
        fail=1
    fi
done < "$BUDGETS"

if [ "$MODE" = "--prove" ]; then
    # Any failure is not enough: the planted regression is in the block builder, so block_push itself
    # must be the bench that grew.
    if [ $planted_caught = 1 ]; then
        echo "icount: the gate caught the deliberate regression in block_push (as it must)" >&2
        exit 0
    fi
    echo "icount: FAIL: the deliberate regression in the block builder passed the gate (block_push did not grow)" >&2
    exit 1
fi
exit $fail
