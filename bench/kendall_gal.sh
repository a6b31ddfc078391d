#!/bin/sh
# Kendall & Gal 2017, Table 3, on synth: unet-small trained on 25 %, 50 % and 100 % of one
# training set with equal step budgets, each evaluated (MC dropout, T = 20) on a held-out
# in-distribution set and on both out-of-distribution kinds; prints one table per training
# size (tools/kendall_gal_table.py). Epistemic variance should fall as the data grows and
# rise out of distribution; aleatoric should stay about the same.
#
#   bench/kendall_gal.sh [WORKDIR]        (default /tmp/doubt_kendall_gal)
#
# Sizes and budgets come from the environment: COUNT (images at 100 %, default 4000), STEPS
# (per run, default 1000: the three runs take about 35 minutes on 2 idle Zen 3 cores), TEST (images per test set, default 100), THREADS (default 2),
# DEPTH (the depth parametrisation, default log: the shipped weights') and DOUBT (the binary,
# default build/apps/doubt; a copy lets the job run on while the tree is rebuilt).
# A finished run (RUN/trained) is not trained again and a killed one continues with --resume,
# so the job can be stopped and started again.
set -eu
cd "$(dirname "$0")/.."
work=${1:-/tmp/doubt_kendall_gal}
count=${COUNT:-4000}
steps=${STEPS:-1000}
test_count=${TEST:-100}
threads=${THREADS:-2}
depth=${DEPTH:-log}
doubt=${DOUBT:-build/apps/doubt}
mkdir -p "$work"

# Synth images are a pure function of (seed, index): the first N of seed 1 are a subset of
# the whole set, so the three training sets are nested.
. bench/synth_sets.sh
make_synth_sets

for percent in 25 50 100; do
    n=$((count * percent / 100))
    data="$work/train_$percent"
    if [ ! -d "$data/images" ]; then
        mkdir -p "$data"
        for part in images labels depth noise labelnoise; do
            mkdir -p "$data/$part"
            ls "$work/train/$part" | sort | head -n "$n" | while read -r f; do
                ln -s "$(cd "$work/train/$part" && pwd)/$f" "$data/$part/$f"
            done
        done
        cp "$work/train/dataset.json" "$data/dataset.json"
    fi
    run="$work/run_$percent"
    if [ ! -f "$run/trained" ]; then
        resume=""
        [ -f "$run/checkpoint.safetensors" ] && resume="--resume"
        $doubt train --data "$data" --config unet-small --depth "$depth" --out "$run" \
            --steps "$steps" \
            --batch 8 --crop 128 --lr 1e-3 --warmup 100 --seed 1 --threads "$threads" \
            --log-every 100 --checkpoint-every 250 $resume > /dev/null
        touch "$run/trained"
    fi
done

# Evaluated after all three are trained, so a rebuilt binary (DOUBT) evaluates all alike.
for percent in 25 50 100; do
    run="$work/run_$percent"
    for kind in id objects geometry; do
        [ -f "$run/eval_$kind.json" ] ||
            $doubt eval --weights "$run/weights.safetensors" --data "$work/test_$kind" \
                --samples 20 --threads "$threads" --json "$run/eval_$kind.json" > /dev/null 2>&1
    done
    echo "training set: $percent % ($((count * percent / 100)) images), $steps steps"
    echo
    tools/kendall_gal_table.py "in distribution=$run/eval_id.json" \
        "OOD objects=$run/eval_objects.json" "OOD geometry=$run/eval_geometry.json"
    echo
done
