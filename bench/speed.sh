#!/bin/sh
# Issue 17's speed figures in one run, back to back (bench/README.md): the FMA peak, then
# ROUNDS (default 3) interleaved rounds of MC inference (`unet`, 256x256, T = 20) with the
# BEFORE binary, the NOW binary (also with --batch 2 and with --method propagate) and
# PyTorch's peer, then bench/trainspeed.sh with both binaries and PyTorch's training step.
#   bench/speed.sh BEFORE NOW [OUT]    (from the repository root, on a quiet machine;
#                                       OUT default bench/speed/run.jsonl)
# TRAIN=0 leaves out the training rounds.
set -eu
cd "$(dirname "$0")/.."
before=$1 now=$2
out=${3:-bench/speed/run.jsonl}
rounds=${ROUNDS:-3}
tmp=$(mktemp -d)
mkdir -p "$(dirname "$out")"
echo "{\"run\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"host_cpus\":$(nproc)}" >> "$out"
"$now" bench --peak --threads 2 --json | tee -a "$out"
/usr/bin/python3 bench/torch_random_unet.py "$tmp/unet.safetensors"
mc() { # LABEL BINARY [options]
    label=$1 bin=$2
    shift 2
    echo "{\"round\":$r,\"what\":\"$label\"}" >> "$out"
    "$bin" bench --predict --config unet --threads 2 --images 5 --json "$@" | tee -a "$out"
}
for r in $(seq "$rounds"); do
    mc mc-old "$before"
    mc mc-new "$now"
    mc mc-new-batch2 "$now" --batch 2
    mc propagate "$now" --method propagate
    echo "{\"round\":$r,\"what\":\"torch-mc\"}" >> "$out"
    (cd bench && /usr/bin/python3 torch_mc_predict.py --weights "$tmp/unet.safetensors" \
        --threads 2 --stack 1) | tee -a "$out"
done
if [ "${TRAIN:-1}" != 0 ]; then
    bench/trainspeed.sh "$rounds" "$before" "$now" | tee -a "$out"
fi
rm -rf "$tmp"
