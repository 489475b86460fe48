# ingest-lab: two commands do all the set-up on a fresh machine.
#   make bench   build, run every bench and check, write reports/runs/<date>-<host>/ and reports/latest/
#   make test    fmt check, clippy, unit + integration tests, a short `check all --quick`
# QUICK=1: no micro benches, every check in its short mode. RUN_DIR overrides the run folder.

SHELL := /bin/bash
RUN_DIR ?= reports/runs/$(shell date -u +%Y-%m-%d)-$(shell hostname -s)

.PHONY: bench bench-peers test build report report-check tools icount icount-bless icount-prove \
	crash-sim crash-sim-prove syscall-gate syscall-gate-bless syscall-gate-prove

bench:
	bash ci/bench.sh "$(RUN_DIR)" $(if $(QUICK),--quick,)

# PostgreSQL group commit (pgbench) and SQLite WAL (rusqlite) beside our pipeline, measured in one go on
# the same filesystem, into the latest run folder (PEERS_DIR overrides); the report is re-rendered.
# PostgreSQL is installed from the distribution when missing, and skipped with a message when it cannot be.
PEERS_DIR ?= reports/latest
bench-peers:
	bash ci/tools.sh rust
	bash ci/tools.sh postgresql || echo "bench-peers: PostgreSQL unavailable: it will be skipped" >&2
	cargo build --release --locked --features peers
	python3 ci/peers.py "$(PEERS_DIR)" $(if $(QUICK),--quick,)
	python3 ci/results.py "$(PEERS_DIR)"
	target/release/ingest-lab report "$(PEERS_DIR)"

test:
	bash ci/test.sh

build:
	bash ci/tools.sh rust
	cargo build --release --locked

report: build
	target/release/ingest-lab report reports/latest

# Open the latest report in headless Chromium (installed from the distribution when missing), screenshot
# it to target/report-check/, and fail on a blank or broken page.
report-check: report
	bash ci/tools.sh chromium
	python3 ci/report-check.py reports/latest target/report-check

tools:
	bash ci/tools.sh rust fio strace

# Instruction-count gate (gungraun/Callgrind) against the budgets committed in ci/icount-budgets.tsv.
icount:
	bash ci/icount.sh

# Rewrite the committed budgets from this machine's counts (do it on purpose, and commit the file).
icount-bless:
	bash ci/icount.sh --bless

# Prove the gate can fail: a build with a deliberate regression must be rejected.
icount-prove:
	bash ci/icount.sh --prove

# Syscall-count gate: write/fdatasync/fsync/open/rename calls of fixed workloads (unbatched, batched,
# ingest with invalid records, redrive), counted by strace, against the budgets committed in
# ci/syscall-budgets.tsv; any increase fails. Callgrind cannot see a syscall's cost; this can.
syscall-gate:
	bash ci/syscall-gate.sh

# Rewrite the committed syscall budgets from this machine's counts (on purpose; commit the file).
syscall-gate-bless:
	bash ci/syscall-gate.sh --bless

# Prove the gate can fail: a build whose sink makes one more fdatasync per commit must be rejected.
syscall-gate-prove:
	bash ci/syscall-gate.sh --prove

# The crash-and-fault simulation of the ingest path (see src/crashsim/): seeds 0..SEEDS, every durable
# operation of each workload crashed or failed (up to POINTS per seed). `make test` runs it until
# 30,000 crash points (CI's time budget); this runs longer. A violation prints the seed and operation
# that reproduce it: target/release/crash-sim --seed S --op N.
SEEDS ?= 10000
POINTS ?= 64
crash-sim:
	bash ci/tools.sh rust
	cargo build --release --locked --bin crash-sim
	target/release/crash-sim --seeds 0..$(SEEDS) --points $(POINTS)

# Prove the simulation catches a planted durability bug (the crash-sim-bug feature: a new segment's
# directory entry is never fsynced): it must report acknowledged records lost.
crash-sim-prove:
	bash ci/crash-sim.sh --prove
