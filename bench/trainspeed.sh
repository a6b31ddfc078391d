#!/bin/sh
# Issue 17's training step, lever by lever: `doubt bench --train` (unet, batch 8, 128x128,
# attenuated losses with T = 10, learned task weighting, Adam) for each binary given, back to
# back and interleaved, REPS rounds, then PyTorch's step once per round. JSON lines on stdout,
# each preceded by a {"rep":..,"binary":..} line. Run it on a quiet machine.
# Usage: bench/trainspeed.sh REPS DOUBT_BINARY...   (from the repository root)
#   e.g. bench/trainspeed.sh 3 /work/bin/doubt-17before /work/bin/doubt-ts-1 /work/bin/doubt-ts-4
set -eu
cd "$(dirname "$0")/.."
reps=$1
shift
threads=2
for rep in $(seq "$reps"); do
    for bin in "$@"; do
        echo "{\"rep\":$rep,\"binary\":\"$bin\"}"
        "$bin" bench --train --config unet --threads $threads --steps 10 --json
    done
    echo "{\"rep\":$rep,\"binary\":\"pytorch\"}"
    (cd bench && /usr/bin/python3 torch_train_step.py --config unet --threads $threads --steps 10)
done
