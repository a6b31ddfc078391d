#!/bin/sh
# Runs doubt's benchmarks and PyTorch's equivalents back to back, in one run on this machine,
# and appends their JSON lines to bench/results.jsonl. Usage: bench/run.sh [WEIGHTS]
# (from the repository root, after tools/setup.sh; needs Debian's python3-torch).
set -eu
cd "$(dirname "$0")/.."
weights=${1:-weights/unet-small.safetensors}
threads=2
out=bench/results.jsonl
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "{\"run\":\"$stamp\",\"host_cpus\":$(nproc),\"weights\":\"$weights\"}" >> "$out"
for net in unet unet-small; do
    build/apps/doubt bench --train --config $net --threads $threads --steps 10 --json | tee -a "$out"
    (cd bench && /usr/bin/python3 torch_train_step.py --config $net --threads $threads --steps 10) | tee -a "$out"
done
# MC inference of the default `unet` at 256x256, T = 20 (random weights: speed does not
# depend on their values), then the shipped weights' own network.
tmp=$(mktemp -d)
build/apps/doubt bench --predict --config unet --threads $threads --images 5 --json | tee -a "$out"
/usr/bin/python3 bench/torch_random_unet.py "$tmp/unet.safetensors"
for stack in 1 5; do
    (cd bench && /usr/bin/python3 torch_mc_predict.py --weights "$tmp/unet.safetensors" --threads $threads --stack $stack) | tee -a "$out"
done
rm -rf "$tmp"
