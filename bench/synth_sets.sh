# Sourced by bench/kendall_gal.sh, bench/methods.sh and bench/propagate.sh: make_test_sets makes,
# unless they exist, the test sets $work/test_{id,objects,geometry} ($test_count images each,
# seed 3; the last two out of distribution); make_synth_sets also the training set
# $work/train ($count images, seed 1); both with $doubt and $threads threads.
make_test_sets() {
    for kind in id objects geometry; do
        [ -f "$work/test_$kind/dataset.json" ] && continue
        case $kind in
        id) $doubt synth "$work/test_$kind" --count "$test_count" --seed 3 --threads "$threads" ;;
        *) $doubt synth "$work/test_$kind" --count "$test_count" --seed 3 --ood "$kind" \
               --threads "$threads" ;;
        esac
    done
}

make_synth_sets() {
    [ -f "$work/train/dataset.json" ] ||
        $doubt synth "$work/train" --count "$count" --seed 1 --threads "$threads"
    make_test_sets
}
