#!/usr/bin/env bash
# A/B: check aimd with main's controller (b346f39) and with the patched one, interleaved, twice each.
set -u
cd /work/main
E=target/exp-aimd
rm -rf $E; mkdir -p $E
for k in 1 2; do
  for v in main patched; do
    out=$E/$v-$k; mkdir -p $out
    cp reports/runs/2026-12-06b-vm/window.json $out/
    if [ $v = main ]; then BIN=target/release/ingest-lab; else BIN=WORKTREE/target/release/ingest-lab; fi
    echo "== $v $k $(date -u +%H:%M:%S)"
    $BIN check aimd --dir target/exp-aimd/sink --out $out > $out/out.txt 2>&1
    echo "rc=$? $(grep -E '^check aimd' $out/out.txt)"
  done
done
