#!/bin/sh
# Moment propagation (`--method propagate`) against MC dropout (issue 17, part 4).
#   bench/propagate.sh [WORKDIR] [WEIGHTS]    (defaults /tmp/doubt_propagate, the shipped
#                                              weights/unet-small.safetensors)
# 1. Speed, back to back in one run: `doubt bench --predict --config unet` (256x256, random
#    weights) with --method propagate and with MC at T = 20, interleaved ROUNDS times
#    (default 3), then the same with the weights' own network.
# 2. Fidelity on doubt-synth test sets made here (TEST images each, default 50, seed 3: in
#    distribution, --ood objects, --ood geometry): Spearman of each map against MC at T = 100
#    over valid pixels (tools/propagate_compare.py; MC at T = 20 against T = 100 too, for
#    scale), and `doubt eval`'s AUSE for propagate and MC at T = 20.
# DOUBT (binary, default build/apps/doubt), THREADS (default 2). Appends the bench JSON to
# WORKDIR/bench.jsonl and writes WORKDIR/{compare,eval}_*.json.
set -eu
cd "$(dirname "$0")/.."
work=${1:-/tmp/doubt_propagate}
weights=${2:-weights/unet-small.safetensors}
doubt=${DOUBT:-build/apps/doubt}
threads=${THREADS:-2}
rounds=${ROUNDS:-3}
test_count=${TEST:-50}
mkdir -p "$work"

for r in $(seq "$rounds"); do
    for method in propagate sample; do
        $doubt bench --predict --config unet --method "$method" --samples 20 \
            --threads "$threads" --images 5 --json | tee -a "$work/bench.jsonl"
        $doubt bench --predict --weights "$weights" --method "$method" --samples 20 \
            --threads "$threads" --images 5 --json | tee -a "$work/bench.jsonl"
    done
done

. bench/synth_sets.sh
make_test_sets
for kind in id objects geometry; do
    set_dir=$work/test_$kind
    for run in propagate:--method=propagate mc100:--samples=100 mc20:--samples=20; do
        name=${run%%:*}
        opt=$(echo "${run#*:}" | tr = ' ')
        out=$work/pred_${name}_$kind
        [ -f "$out/done" ] || {
            $doubt predict --weights "$weights" $opt --npy --maps none --threads "$threads" \
                -o "$out" "$set_dir/images" > "$out.jsonl"
            touch "$out/done"
        }
        [ "$name" = mc100 ] || [ -f "$work/eval_${name}_$kind.json" ] ||
            $doubt eval --weights "$weights" --data "$set_dir" $opt --threads "$threads" \
                --json "$work/eval_${name}_$kind.json" > /dev/null
    done
    /usr/bin/python3 tools/propagate_compare.py "$work/pred_propagate_$kind" \
        "$work/pred_mc100_$kind" --json "$work/compare_$kind.json"
    /usr/bin/python3 tools/propagate_compare.py "$work/pred_mc20_$kind" \
        "$work/pred_mc100_$kind" --json "$work/compare_mc20_$kind.json"
done
