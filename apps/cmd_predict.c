/* doubt predict: image files and folders in, per image a segmentation, a depth map and their
 * uncertainty maps out, with one JSON summary line per image on stdout (pipeline/predict.h). */
#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "io/fsutil.h"
#include "pipeline/inputs.h"
#include "pipeline/predict.h"

#ifndef DOUBT_SOURCE_ROOT
#define DOUBT_SOURCE_ROOT "."
#endif
#define DEFAULT_WEIGHTS DOUBT_SOURCE_ROOT "/weights/unet-small.safetensors"

static const char usage_text[] =
    "usage: doubt predict [--weights FILE[,FILE...]] INPUT... -o OUTDIR [options]\n"
    "\n"
    "Runs Monte Carlo dropout inference on every image in INPUT (files, or folders searched\n"
    "recursively; png, jpg, jpeg, bmp, tga; other files are skipped with a note) and writes\n"
    "per image NAME (the file name without its extension) into OUTDIR:\n"
    "  NAME.seg.png              classes as a palette PNG (index = class)\n"
    "  NAME.depth.png            16-bit depth, metres x depth scale, 0 = no depth\n"
    "  NAME.MAP.png              heatmaps on fixed ranges, with a colorbar:\n"
    "      depth_color       turbo,   m,      0:20\n"
    "      depth_epistemic   inferno, m^2,    0:2      (MC variance of the depth)\n"
    "      depth_aleatoric   inferno, m^2,    0:8      (mean learned variance)\n"
    "      depth_total       inferno, m^2,    0:10     (their sum)\n"
    "      seg_entropy       viridis, nats,   0:ln C   (predictive entropy)\n"
    "      seg_mutual_info   viridis, nats,   0:0.25   (epistemic part of the entropy)\n"
    "      seg_logit_var     inferno, logit^2, 0:4     (mean learned logit variance)\n"
    "  NAME.*.npy                with --npy: depth_mean, depth_epistemic, depth_aleatoric,\n"
    "                            seg_prob [C,H,W], seg_entropy, seg_mutual_info (float32)\n"
    "and one JSON line per image on stdout: size, mean/p50/p90/p99 of each map and the\n"
    "fraction of pixels above 3/4 of its heatmap range, class fractions, time, T, seed,\n"
    "the weights' SHA-256 and the version.\n"
    "\n"
    "Several weights files, comma-separated, are a deep ensemble: each member runs its T\n"
    "samples and the maps pool all of them, so the epistemic maps add the members'\n"
    "disagreement to their MC dropout spread (with --deterministic: one pass per member,\n"
    "the classic deep ensemble). Members must be the same network but for dropout rates;\n"
    "the JSON then lists every member's file and SHA-256 as arrays.\n";

/* the options, apart: C99 compilers need support string literals only up to 4095 bytes */
static const char options_text[] =
    "  --weights FILE[,FILE...]\n"
    "                        safetensors weights; several are a deep ensemble (above)\n"
    "                        (default: $DOUBT_WEIGHTS, else\n"
    "                        " DEFAULT_WEIGHTS ")\n"
    "  -o, --out OUTDIR      output folder (created if missing)\n"
    "  --samples T           Monte Carlo samples (default 20)\n"
    "  --samples auto[:MAX]  sample each image until its estimates converge, at most MAX\n"
    "                        (default 100, 12..100000): in groups of 4 samples, each giving\n"
    "                        the image's mean depth epistemic variance and mean mutual\n"
    "                        information from its own samples; after 3 groups or more it\n"
    "                        stops when the standard error of both means is below TOL x\n"
    "                        the mean. The maps are those of --samples T for the T taken\n"
    "                        (the JSON's \"samples\"). One weights file, no --tile\n"
    "  --converge TOL        the tolerance of --samples auto (default 0.05; 0 = never stop\n"
    "                        before MAX)\n"
    "  --method M            sample (default: T dropout samples) or propagate (one pass that\n"
    "                        carries each activation's mean and variance instead: faster,\n"
    "                        approximate; see README)\n"
    "  --batch K             samples stacked per pass (default 1; 2 is faster, more memory)\n"
    "  --deterministic       one pass with dropout off (no epistemic maps; an ensemble's\n"
    "                        are then the spread across its members)\n"
    "  --tile PX             run images larger than PX x PX in overlapping PX x PX tiles:\n"
    "                        network memory stays that of one tile (default: whole image)\n"
    "  --tile-margin PX      context each tile keeps around the part it contributes\n"
    "                        (default 96, about the network's reach; tiles need\n"
    "                        PX >= 2 x margin + 16)\n"
    "  --seed S              dropout seed, 0 .. 2^53-1 (default 0)\n"
    "  --precision P         f32 (default); bf16 (needs AVX-512 BF16 or AMX) and int8\n"
    "                        (needs VNNI) are refused where the CPU lacks them, and\n"
    "                        elsewhere too for now: only the f32 path is built\n"
    "  --maps LIST           heatmaps to write: comma list of the names above, all or none\n"
    "                        (default all)\n"
    "  --range NAME=LO:HI    fixed range of a heatmap (repeatable)\n"
    "  --npy                 also write the float maps as .npy\n"
    "  --depth-scale S       NAME.depth.png value per metre (default 256, KITTI)\n"
    "  --skip-existing       skip images whose requested outputs all exist (resume)\n"
    "  --shard i/n           process only the images whose index in the sorted list is\n"
    "                        i modulo n (0 <= i < n)\n"
    "  --threads K           (default: OpenMP's)\n"
    "  --help, --version\n"
    "\n"
    "Same weights, seed and options give identical files on any thread count.\n"
    "exit status: 0 ok, 1 some input failed (the others were processed), 2 bad usage.\n"
    "An OUTDIR that refuses writes (full disk, size limit, read-only, no permission) is\n"
    "found before any inference, or stops the run at the first failed write (exit 1):\n"
    "every file already in OUTDIR is complete, and --skip-existing finishes the job.\n";

typedef struct {
    doubt_arg_list weights; /* count 0: not given */
    const char *out_dir;
    const char **inputs;
    int ninputs;
    int skip_existing, threads;
    int shard_i, shard_n;
    doubt_predict_opts p;
} options;

/* Returns -1 when --help/--version was answered, else an exit status (0: go on). */
static int parse_args(int argc, char **argv, options *o)
{
    static const char *const flags[] = {"--npy", "--deterministic", "--skip-existing", "--help",
                                        "-h", "--version"};
    doubt_error err = {{0}};
    o->p = doubt_predict_defaults();
    o->threads = 0;
    o->shard_n = 1;
    int converge_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            o->inputs[o->ninputs++] = a;
            continue;
        }
        int flag = 0;
        for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++)
            flag |= !strcmp(a, flags[k]);
        const char *val = !flag && i + 1 < argc ? argv[++i] : NULL;
        if (!flag && !val)
            return doubt_usage_error("predict", "missing value after", a);
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            fputs("\n", stdout);
            fputs(options_text, stdout);
            return -1;
        } else if (!strcmp(a, "--version")) {
            printf("doubt %s\n", DOUBT_VERSION);
            return -1;
        } else if (!strcmp(a, "--npy"))
            o->p.npy = 1;
        else if (!strcmp(a, "--deterministic"))
            o->p.deterministic = 1;
        else if (!strcmp(a, "--skip-existing"))
            o->skip_existing = 1;
        else if (!strcmp(a, "--weights")) {
            if (o->weights.count)
                doubt_arg_list_free(&o->weights); /* the last one counts */
            o->weights.count = 0;
            if (!doubt_arg_split(val, &o->weights))
                return doubt_usage_error("predict", "--weights wants FILE or FILE,FILE,...",
                                         val);
        } else if (!strcmp(a, "-o") || !strcmp(a, "--out"))
            o->out_dir = val;
        else if (!strcmp(a, "--method")) {
            if (!doubt_mc_method_parse(val, &o->p.method))
                return doubt_usage_error("predict", "--method wants sample or propagate", val);
        } else if (!strcmp(a, "--samples")) {
            if (!doubt_arg_samples(val, &o->p.samples, &o->p.adaptive))
                return doubt_usage_error("predict", "--samples wants " DOUBT_ARG_SAMPLES_FORMS,
                                         val);
        } else if (!strcmp(a, "--converge")) {
            if (!doubt_arg_double(val, 0, 1, &o->p.converge))
                return doubt_usage_error("predict", "--converge wants a tolerance in 0..1", val);
            converge_given = 1;
        } else if (!strcmp(a, "--batch")) {
            if (!doubt_arg_int(val, 0, 100000, &o->p.chunk))
                return doubt_usage_error("predict",
                                         "--batch wants 0 (automatic) or a positive count", val);
        } else if (!strcmp(a, "--tile")) {
            if (!doubt_arg_int(val, 16, 1 << 20, &o->p.tile))
                return doubt_usage_error("predict", "--tile wants 16 .. 2^20 pixels", val);
        } else if (!strcmp(a, "--tile-margin")) {
            if (!doubt_arg_int(val, 1, 1 << 20, &o->p.tile_margin))
                return doubt_usage_error("predict", "--tile-margin wants 1 .. 2^20 pixels", val);
        } else if (!strcmp(a, "--seed")) {
            /* JSON numbers are doubles: larger seeds would not be recorded exactly. */
            int64_t seed;
            if (!doubt_arg_int64(val, 0, (INT64_C(1) << 53) - 1, &seed))
                return doubt_usage_error("predict", "--seed wants an integer in 0 .. 2^53-1", val);
            o->p.seed = (uint64_t)seed;
        } else if (!strcmp(a, "--precision")) {
            int rc = doubt_arg_precision("predict", val, &o->p.precision);
            if (rc)
                return rc;
        } else if (!strcmp(a, "--threads")) {
            if (!doubt_arg_int(val, 1, 1024, &o->threads))
                return doubt_usage_error("predict", "--threads wants 1..1024", val);
        } else if (!strcmp(a, "--depth-scale")) {
            /* the smallest float above 0: "positive" as an inclusive lower bound */
            if (!doubt_arg_float(val, FLT_TRUE_MIN, 1e9f, &o->p.depth_scale))
                return doubt_usage_error("predict", "--depth-scale wants a positive number", val);
        } else if (!strcmp(a, "--maps")) {
            if (doubt_predict_parse_maps(val, &o->p.maps, &err))
                return doubt_usage_error("predict", err.msg, NULL);
        } else if (!strcmp(a, "--range")) {
            if (doubt_predict_parse_range(val, &o->p, &err))
                return doubt_usage_error("predict", err.msg, NULL);
        } else if (!strcmp(a, "--shard")) {
            int si, sn, used = 0;
            if (sscanf(val, "%d/%d%n", &si, &sn, &used) != 2 || val[used] || sn < 1 || si < 0 ||
                si >= sn)
                return doubt_usage_error("predict", "--shard wants i/n with 0 <= i < n", val);
            o->shard_i = si;
            o->shard_n = sn;
        } else
            return doubt_usage_error("predict", "unknown option", a);
    }
    if (!o->ninputs)
        return doubt_usage_error("predict", "no INPUT given", NULL);
    if (converge_given && !o->p.adaptive)
        return doubt_usage_error("predict", "--converge applies to --samples auto", NULL);
    if (o->p.adaptive && o->p.tile)
        return doubt_usage_error("predict",
                                 "--samples auto does not tile: tiles would stop at different T",
                                 NULL);
    if (o->p.adaptive && !o->p.deterministic && o->weights.count > 1)
        return doubt_usage_error("predict",
                                 "--samples auto takes one weights file: an ensemble's members "
                                 "would stop at different T",
                                 NULL);
    if (o->p.tile_margin && !o->p.tile)
        return doubt_usage_error("predict", "--tile-margin applies to tiles: add --tile PX", NULL);
    if (!o->out_dir)
        return doubt_usage_error("predict", "no output folder (-o OUTDIR)", NULL);
    return 0;
}

/* A progress line only for a person watching: it would clutter a log file. */
static int progress_on;

static void clear_progress(void)
{
    if (progress_on)
        fputs("\r\033[K", stderr);
}

/* Without --weights: $DOUBT_WEIGHTS (a list as --weights takes), else the shipped file; 0
 * with a message naming the file when one is absent. */
static int default_weights(doubt_arg_list *weights)
{
    const char *env = getenv("DOUBT_WEIGHTS");
    const char *source = env && *env ? env : DEFAULT_WEIGHTS;
    const char *from = env && *env ? "from $DOUBT_WEIGHTS: " : "the default: ";
    if (!doubt_arg_split(source, weights)) {
        fprintf(stderr, "doubt predict: no weights: %s'%s' has an empty file name\n", from,
                source);
        return 0;
    }
    for (int m = 0; m < weights->count; m++) {
        struct stat sb;
        if (stat(weights->items[m], &sb)) {
            fprintf(stderr, "doubt predict: no weights at %s (%s%s); give --weights FILE\n",
                    weights->items[m], from, strerror(errno));
            doubt_arg_list_free(weights);
            weights->count = 0;
            return 0;
        }
    }
    return 1;
}

static int run(options *o)
{
    const doubt_arg_list *weights = &o->weights;
    doubt_error err = {{0}};
    doubt_predict_list list;
    if (doubt_predict_list_inputs(o->inputs, o->ninputs, &list, &err)) {
        fprintf(stderr, "doubt predict: %s\n", err.msg);
        return DOUBT_EXIT_FAILURE;
    }
    int status = DOUBT_EXIT_OK, todo = 0, failed = 0;
    /* Inputs without an index (missing paths, non-images) concern every shard; a file with
     * an index is reported only by the shard it belongs to. */
    for (int i = 0; i < list.count; i++) {
        const doubt_predict_input *in = &list.items[i];
        const int mine = in->index < 0 || in->index % o->shard_n == o->shard_i;
        if (!mine)
            continue;
        if (in->kind == DOUBT_PREDICT_NOT_IMAGE)
            fprintf(stderr, "doubt predict: skipping %s\n", in->note);
        else if (in->kind == DOUBT_PREDICT_BAD) {
            fprintf(stderr, "doubt predict: %s\n", in->note);
            status = DOUBT_EXIT_FAILURE;
            failed++;
        } else
            todo++;
    }
    doubt_ctx *ctx = NULL;
    doubt_predictor *p = NULL;
    /* a folder that refuses writes is found before any image costs inference */
    if (doubt_mkdir_p(o->out_dir, &err) || doubt_check_writable(o->out_dir, &err) ||
        doubt_ctx_create(o->threads, &ctx, &err) ||
        doubt_predict_create_ensemble(ctx, weights->items, weights->count, &o->p, &p, &err)) {
        fprintf(stderr, "doubt predict: %s\n", err.msg);
        doubt_ctx_destroy(ctx);
        doubt_predict_list_free(&list);
        return DOUBT_EXIT_FAILURE;
    }
    progress_on = isatty(STDERR_FILENO);
    int done = 0, skipped = 0, seen = 0;
    for (int i = 0; i < list.count; i++) {
        const doubt_predict_input *in = &list.items[i];
        if (in->kind != DOUBT_PREDICT_IMAGE || in->index % o->shard_n != o->shard_i)
            continue;
        if (progress_on)
            fprintf(stderr, "\r\033[K[%d/%d] %s", ++seen, todo, in->path);
        if (o->skip_existing && doubt_predict_done(p, o->out_dir, in->name)) {
            clear_progress();
            fprintf(stderr, "doubt predict: skipping %s: outputs for %s exist\n", in->path,
                    in->name);
            skipped++;
            continue;
        }
        char *json = NULL;
        const doubt_status st = doubt_predict_image(p, in->path, in->name, o->out_dir, &json, &err);
        if (st) {
            clear_progress();
            fprintf(stderr, "doubt predict: %s\n", err.msg);
            status = DOUBT_EXIT_FAILURE;
            failed++;
            if (st == DOUBT_ERR_STORAGE) {
                /* a full disk or a size limit fails every later image too: stop now */
                fprintf(stderr, "doubt predict: stopping: output folder %s refuses writes; "
                                "every output already there is complete\n", o->out_dir);
                break;
            }
            continue;
        }
        printf("%s\n", json);
        fflush(stdout);
        free(json);
        done++;
    }
    clear_progress();
    if (progress_on || failed)
        fprintf(stderr, "doubt predict: %d done, %d skipped, %d failed\n", done, skipped, failed);
    doubt_predict_destroy(p);
    doubt_ctx_destroy(ctx);
    doubt_predict_list_free(&list);
    return status;
}

int doubt_cmd_predict(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    o.inputs = calloc((size_t)argc, sizeof *o.inputs);
    if (!o.inputs) {
        fprintf(stderr, "doubt predict: out of memory\n");
        return DOUBT_EXIT_FAILURE;
    }
    int status = parse_args(argc, argv, &o);
    if (status == 0)
        status = o.weights.count || default_weights(&o.weights) ? run(&o) : DOUBT_EXIT_FAILURE;
    if (o.weights.count)
        doubt_arg_list_free(&o.weights);
    free(o.inputs);
    return status < 0 ? DOUBT_EXIT_OK : status;
}
