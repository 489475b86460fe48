#!/usr/bin/env bash
# make syscall-gate: the syscall-count gate (src/checks/syscall_gate.rs).
#
#   ci/syscall-gate.sh          run the fixed workloads under strace, compare their calls with
#                               ci/syscall-budgets.tsv; exit 1 on any increase, a missing budget, or the
#                               sink's counters disagreeing with strace.
#   ci/syscall-gate.sh --bless  write the measured counts as the new budgets (commit them on purpose).
#   ci/syscall-gate.sh --prove  build with the `syscall-regression` feature (the sink makes one more
#                               fdatasync per commit) and expect the gate to fail on exactly that: the
#                               batched and unbatched workloads' fdatasync counts rising.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-gate}"
bash ci/tools.sh strace >/dev/null || {
    echo "syscall-gate: strace is required and could not be installed (apt-get install strace)" >&2
    exit 2
}
case "$MODE" in
gate)
    cargo build --release --locked --bin syscall-gate
    target/release/syscall-gate
    ;;
--bless)
    cargo build --release --locked --bin syscall-gate
    target/release/syscall-gate --bless
    ;;
--prove)
    cargo build --release --locked --features syscall-regression --bin syscall-gate --target-dir target/prove
    set +e
    out=$(target/prove/release/syscall-gate --work target/syscall-gate-prove)
    rc=$?
    set -e
    echo "$out" | grep -E '^(FAIL|syscall gate)' | head -8
    if [ $rc = 1 ] && grep -q '^FAIL: unbatched: fdatasync rose' <<<"$out" \
        && grep -q '^FAIL: batched: fdatasync rose' <<<"$out"; then
        echo "syscall-gate-prove: the planted extra fdatasync per commit was caught"
        exit 0
    fi
    echo "syscall-gate-prove: FAILED: the gate did not catch the planted extra fdatasync (exit $rc)" >&2
    exit 1
    ;;
*)
    echo "usage: ci/syscall-gate.sh [--bless|--prove]" >&2
    exit 2
    ;;
esac
