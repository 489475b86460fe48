#!/usr/bin/env bash
# make bench: build, micro benches (criterion), every check (physical vs fio, window sweep, before/after,
# strace agreement, SIGSTOP), then the HTML report. Writes RUN_DIR and refreshes reports/latest.
# Usage: ci/bench.sh RUN_DIR [--quick]
set -euo pipefail
SECONDS=0 # the phases' clock (bash would take an exported SECONDS from the environment)
cd "$(dirname "$0")/.."
RUN_DIR=${1:?usage: ci/bench.sh RUN_DIR [--quick]}
QUICK=${2:-}

bash ci/tools.sh rust fio strace valgrind
SINK=target/ingest-lab/sink
mkdir -p "$SINK" "$RUN_DIR"
free_mb=$(( $(stat -f --format='%a*%S' "$SINK") / 1048576 ))
if [ "$free_mb" -lt 1024 ]; then
    echo "ci/bench.sh: only ${free_mb} MiB free under $SINK: make bench needs 1 GiB (runs cap their own disk use)" >&2
    exit 2
fi
fstype=$(stat -f --format=%T "$SINK")
case "$fstype" in tmpfs|ramfs) echo "WARNING: $SINK is on $fstype: fdatasync there is free; figures will prove nothing" >&2 ;; esac

cargo build --release --locked
BIN=target/release/ingest-lab
cmd="make bench${QUICK:+ QUICK=1}"
"$BIN" provenance --command "$cmd" --dir "$SINK" > "$RUN_DIR/provenance.json"
fio --version > "$RUN_DIR/fio-version.txt"


# A gate that fails makes `make bench` fail (at the end, after the report is written) and is listed in
# the run folder's gates.txt, one "gate pass|FAIL|skipped (why)" line each: a gate whose tool this machine
# cannot install is skipped, said so, and does not fail the command (it did not regress; it did not run).
# The micro benches gate says only that they ran (a build error or a panic fails it); their speed is
# not judged here.
gates="$RUN_DIR/gates.txt"
: > "$gates"
gate_failed=0
gate() { # gate NAME STATUS
    if [ "$2" = 0 ]; then echo "$1 pass" >> "$gates"; else echo "$1 FAIL" >> "$gates"; gate_failed=1; fi
}

touch "$RUN_DIR/.started"
# Where the time goes: one "phase seconds" line each in timings.txt (results.md sums them against the
# 15-minute budget of `make bench`).
timings="$RUN_DIR/timings.txt"
: > "$timings"
phase_started=0
phase() { # phase NAME: the time since the last phase ended (bash's SECONDS counts from the start)
    echo "$1 $(( SECONDS - phase_started ))" >> "$timings"
    phase_started=$SECONDS
}
phase setup
if [ -z "$QUICK" ]; then
    echo "== criterion micro benches" >&2
    set +e
    cargo bench --locked --bench micro > "$RUN_DIR/micro.log" 2>&1
    gate micro-benches $?
    set -e
    grep -E '^(sink|queue|window|codec|pipeline)/|time:|thrpt:' "$RUN_DIR/micro.log" >&2 || true
    phase micro-benches
fi

echo "== allocations per item (steady state, NullSink)" >&2
set +e
ALLOC_CSV="$RUN_DIR/alloc.csv" cargo test --release --locked --test steady_state_allocates_nothing_per_item -- --nocapture \
    > "$RUN_DIR/alloc.log" 2>&1
gate allocations $?
set -e
grep -E '^allocations' "$RUN_DIR/alloc.log" >&2 || true
phase allocations

echo "== instruction counts vs committed budgets (gungraun)" >&2
set +e
ICOUNT_CSV="$RUN_DIR/icount.csv" bash ci/icount.sh 2> "$RUN_DIR/icount.log"
gate icount $?
set -e
phase icount

echo "== syscall counts vs committed budgets (strace)" >&2
set +e
bash ci/syscall-gate.sh > "$RUN_DIR/syscall-gate.log" 2>&1
gate syscalls $?
set -e
grep -E '^(FAIL|note|syscall gate)' "$RUN_DIR/syscall-gate.log" >&2 || true
phase syscall-gate

echo "== checks" >&2
set +e
"$BIN" check all ${QUICK:+--quick} --json --dir "$SINK" --out "$RUN_DIR" > "$RUN_DIR/checks.json"
rc=$?
set -e
rm -rf "$SINK"
phase checks

crit=()
[ -d target/criterion ] && [ -z "$QUICK" ] && crit=(--criterion target/criterion --criterion-since "$RUN_DIR/.started")
python3 ci/results.py "$RUN_DIR"
"$BIN" report "$RUN_DIR" "${crit[@]}"

echo "== the report in a real browser (headless Chromium)" >&2
if bash ci/tools.sh chromium; then
    set +e
    python3 ci/report-check.py "$RUN_DIR" target/report-check > "$RUN_DIR/report-check.log" 2>&1
    gate report-in-browser $?
    set -e
    cat "$RUN_DIR/report-check.log" >&2
else
    echo "chromium could not be installed: the report was not opened in a browser" >&2
    echo "report-in-browser skipped (chromium could not be installed)" >> "$gates"
fi
phase report
echo "total $SECONDS" >> "$timings"
# results.md again, now that every gate and phase is written (the browser check needs the report first).
python3 ci/results.py "$RUN_DIR"
rm -f "$RUN_DIR/.started"
# reports/latest is a link to the newest run folder (a copy would duplicate every file in git).
rm -rf reports/latest
ln -s "runs/$(basename "$RUN_DIR")" reports/latest
echo "gates: $(tr '\n' ' ' < "$gates")" >&2
echo "run folder: $RUN_DIR   report: reports/latest/index.html   checks exit code: $rc" >&2
[ "$rc" = 0 ] || exit "$rc"
exit $gate_failed
