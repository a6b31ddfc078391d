#!/bin/sh
# The network-graph change, measured: `unet` MC inference and training with the binary built
# before it (OLD) and the current one, back to back and interleaved, REPS times, and what the
# deterministic caching saves (the current binary with --uncached). JSON lines on stdout.
# Usage: bench/graph.sh OLD_DOUBT [REPS]   (from the repository root, after tools/setup.sh)
set -eu
cd "$(dirname "$0")/.."
old=$1
reps=${2:-3}
new=build/apps/doubt
threads=2
for rep in $(seq "$reps"); do
    for bin in "$old" "$new"; do
        echo "{\"rep\":$rep,\"binary\":\"$bin\"}"
        "$bin" bench --predict --config unet --threads $threads --images 5 --json
        "$bin" bench --train --config unet --threads $threads --steps 10 --json
    done
    "$new" bench --predict --config unet --threads $threads --images 5 --uncached --json
    "$new" bench --predict --config segnet-small --threads $threads --images 5 --json
    "$new" bench --predict --config segnet-small --threads $threads --images 5 --uncached --json
done
