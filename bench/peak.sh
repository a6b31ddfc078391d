#!/bin/sh
# The machine's FMA peak and how much of it doubt's convolutions reach, in one run: what the
# CPU and oneDNN support (doubt bench --peak), then MC inference (unet, 256x256, T = 20) and
# a training step (unet, batch 8, 128x128), each measuring the peak again after its warm-up
# and reporting "share_of_peak". Appends the JSON lines to bench/peak_results.jsonl.
# Usage: bench/peak.sh [THREADS] (from the repository root, after tools/setup.sh; on a quiet
# machine: the peak and the networks share its cores).
set -eu
cd "$(dirname "$0")/.."
threads=${1:-2}
out=bench/peak_results.jsonl
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "{\"run\":\"$stamp\",\"host_cpus\":$(nproc),\"threads\":$threads}" >> "$out"
build/apps/doubt bench --peak --threads $threads --json | tee -a "$out"
build/apps/doubt bench --predict --config unet --threads $threads --images 5 --json | tee -a "$out"
build/apps/doubt bench --train --config unet --threads $threads --steps 10 --json | tee -a "$out"
