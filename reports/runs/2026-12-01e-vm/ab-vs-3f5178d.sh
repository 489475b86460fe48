#!/bin/bash
# A/B: old (3f5178d) vs new binary, interleaved, same config.
OLD=/work/wt-old/target/release/ingest-lab; NEW=/work/main/target/release/ingest-lab
D=/work/main/target/ab; mkdir -p $D
for rep in 1 2 3 4; do
  for v in old new; do
    B=$OLD; [ $v = new ] && B=$NEW
    for w in "--window static --linger-ms 5" "--window aimd --linger-ms 0" "--window smart --linger-ms 0"; do
      rm -rf $D/s; sync; sleep 0.2
      $B run --dir $D/s --load bursty --rate 291529 --max-items 16384 --max-bytes 1048576 $w --duration 3 --json 2>/dev/null \
        | python3 -c "import json,sys; r=json.load(sys.stdin); print('$v', '$w'.split()[1], round(r['latency_us']['p99']), round(r['fdatasync_us']['p99']), round(r['fdatasync_us']['p50']), r['fdatasyncs'])"
    done
  done
done
rm -rf $D
