#!/bin/sh
# MC dropout, Concrete dropout, a deep ensemble and a single model, compared on one synth set
# (issue 16): every method trains unet-small from scratch with the same budget on the same
# images, then the same `doubt eval` scores it in distribution and on both OOD kinds.
#   mc        dropout 0.5 at the six sites, MC at T = 20
#   concrete  --concrete-dropout (rates learned from 0.5), MC at T = 20 at the learned rates
#   ensemble  4 members without dropout (seeds 1..4), each run once (--deterministic)
#   single    member 1 alone (--deterministic)
#
#   bench/methods.sh [WORKDIR] [train|eval|all]     (default /tmp/doubt_methods, all)
#
# Sizes come from the environment: COUNT (training images, default 4000), STEPS (per run,
# default 600), TEST (images per test set, default 100), THREADS (default 2), DOUBT (the
# binary, default build/apps/doubt). A finished run (RUN/trained) is not trained again and a
# killed one continues with --resume. eval writes WORKDIR/eval_METHOD_SET.json and
# WORKDIR/seconds_METHOD.txt (wall seconds per in-distribution image, eval's whole run) and
# prints the table (tools/methods_table.py).
set -eu
cd "$(dirname "$0")/.."
work=${1:-/tmp/doubt_methods}
phase=${2:-all}
count=${COUNT:-4000}
steps=${STEPS:-600}
test_count=${TEST:-100}
threads=${THREADS:-2}
doubt=${DOUBT:-build/apps/doubt}
mkdir -p "$work"

. bench/synth_sets.sh
make_synth_sets

no_dropout='{"arch":"unet","in_channels":3,"classes":8,"widths":[16,32,64,128,128],"dropout":0}'
train() { # RUN SEED CONFIG [options]
    run=$work/$1 seed=$2 config=$3
    shift 3
    [ -f "$run/trained" ] && return
    resume=""
    [ -f "$run/checkpoint.safetensors" ] && resume="--resume"
    $doubt train --data "$work/train" --config "$config" --depth log --out "$run" \
        --steps "$steps" --batch 8 --crop 128 --lr 1e-3 --warmup 50 --seed "$seed" \
        --threads "$threads" --log-every 100 --checkpoint-every 200 "$@" $resume > /dev/null
    touch "$run/trained"
}

if [ "$phase" != eval ]; then
    train mc 1 unet-small
    train concrete 1 unet-small --concrete-dropout
    for m in 1 2 3 4; do
        train "member$m" "$m" "$no_dropout"
    done
fi
[ "$phase" = train ] && exit 0

members="$work/member1/weights.safetensors,$work/member2/weights.safetensors"
members="$members,$work/member3/weights.safetensors,$work/member4/weights.safetensors"
for set in id objects geometry; do
    for method in mc concrete ensemble single; do
        out=$work/eval_${method}_$set.json
        [ -f "$out" ] && continue
        case $method in
        mc | concrete) args="--weights $work/$method/weights.safetensors --samples 20" ;;
        ensemble) args="--weights $members --deterministic" ;;
        single) args="--weights $work/member1/weights.safetensors --deterministic" ;;
        esac
        start=$(date +%s.%N)
        # shellcheck disable=SC2086 # args is a list of options
        $doubt eval $args --data "$work/test_$set" --threads "$threads" --json "$out" \
            > /dev/null 2>&1
        end=$(date +%s.%N)
        [ "$set" = id ] && /usr/bin/python3 -c "print(($end - $start) / $test_count)" \
            > "$work/seconds_$method.txt"
    done
done
/usr/bin/python3 tools/methods_table.py "$work"
