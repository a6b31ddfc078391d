/* doubt eval: MC inference over a labelled dataset folder; the report as JSON on stdout (and
 * --json OUT), a readable table on stderr, optional plots. The figures come from
 * src/pipeline/eval.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "core/ctx.h"
#include "io/fsutil.h"
#include "io/json.h"
#include "pipeline/eval.h"

static void usage(FILE *to)
{
    fprintf(to,
            "usage: doubt eval --weights FILE[,FILE...] --data DIR\n"
            "                  [--samples T | --samples auto[:MAX] [--converge TOL] |\n"
            "                   --deterministic]\n"
            "                  [--seed S] [--precision P] [--threads K] [--json OUT]\n"
            "                  [--plots DIR]\n"
            "\n"
            "Runs Monte Carlo dropout inference over a dataset folder (images/ with labels/\n"
            "and/or depth/, optionally noise/ and labelnoise/ from 'doubt synth') and reports\n"
            "segmentation, depth and uncertainty-quality figures: the JSON object on stdout, a\n"
            "table on stderr.\n"
            "\n"
            "  --weights FILE  safetensors weights with a network description; a comma\n"
            "                  list FILE,FILE,... evaluates their deep ensemble (each runs\n"
            "                  T samples, all pooled; networks alike but for dropout)\n"
            "  --data DIR      dataset folder\n"
            "  --samples T     MC samples per image (default %d)\n"
            "  --samples auto[:MAX]\n"
            "                  sample each image until its estimates converge, at most MAX\n"
            "                  (default 100, 12..100000): in groups of 4 samples, each giving\n"
            "                  the image's mean depth epistemic variance and mean mutual\n"
            "                  information from its own samples; after 3 groups or more it\n"
            "                  stops when the standard error of both means is below TOL x\n"
            "                  the mean. The report gives each image's T (per_image) and\n"
            "                  their mean, min and max (samples_taken). One weights file\n"
            "  --converge TOL  the tolerance of --samples auto (default 0.05; 0 = never stop\n"
            "                  before MAX)\n"
            "  --method M      sample (default) or propagate: one moment-propagation pass\n"
            "  --deterministic one pass with dropout off, the standard-dropout prediction\n"
            "                  (epistemic figures are then 0, an ensemble's the spread\n"
            "                  across its members)\n"
            "  --seed S        dropout and pixel-subsample seed (default 0)\n"
            "  --precision P   f32 (default); bf16 (needs AVX-512 BF16 or AMX) and int8\n"
            "                  (needs VNNI) are refused where the CPU lacks them, and\n"
            "                  elsewhere too for now: only the f32 path is built\n"
            "  --threads K     threads (default: all cores)\n"
            "  --json OUT      also write the JSON report to OUT\n"
            "  --plots DIR     write reliability.png, sparsification_depth.png,\n"
            "                  sparsification_seg.png, uncertainty_error.png and\n"
            "                  uncertainty_error_seg.png there\n"
            "  --help, --version\n"
            "\n"
            "exit status: 0 ok, 1 an unreadable file or failed evaluation, 2 bad usage\n",
            DOUBT_EVAL_DEFAULT_SAMPLES);
}

static void progress(void *user, int done, int total, const char *name)
{
    (void)user;
    fprintf(stderr, "\r  %d/%d %-40.40s", done, total, name);
    if (done == total)
        fprintf(stderr, "\r%*s\r", 60, "");
}

static double get(const cJSON *root, const char *section, const char *key)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, section), key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void row(const char *label, double v, const char *note)
{
    if (isfinite(v))
        fprintf(stderr, "  %-34s %12.5g  %s\n", label, v, note ? note : "");
    else
        fprintf(stderr, "  %-34s %12s  %s\n", label, "-", note ? note : "");
}

static void table(const cJSON *r)
{
    row("samples per image, mean", get(r, "samples_taken", "mean"), NULL);
    row("samples per image, min", get(r, "samples_taken", "min"), NULL);
    row("samples per image, max", get(r, "samples_taken", "max"), NULL);
    const cJSON *seg = cJSON_GetObjectItemCaseSensitive(r, "seg");
    if (cJSON_IsObject(seg)) {
        fprintf(stderr, "segmentation\n");
        row("pixel accuracy", get(r, "seg", "pixel_acc"), NULL);
        row("mean IoU", get(r, "seg", "miou"), NULL);
        const cJSON *iou = cJSON_GetObjectItemCaseSensitive(seg, "iou");
        int c = 0;
        for (const cJSON *v = iou ? iou->child : NULL; v; v = v->next, c++) {
            char label[48];
            snprintf(label, sizeof label, "  IoU class %d", c);
            row(label, cJSON_IsNumber(v) ? v->valuedouble : NAN, NULL);
        }
        row("NLL (nats)", get(r, "seg", "nll"), NULL);
        row("Brier", get(r, "seg", "brier"), NULL);
        row("ECE (15 bins)", get(r, "seg", "ece"), NULL);
    } else
        fprintf(stderr, "segmentation: no labels/\n");
    const cJSON *depth = cJSON_GetObjectItemCaseSensitive(r, "depth");
    if (cJSON_IsObject(depth)) {
        fprintf(stderr, "depth\n");
        static const char *const keys[][2] = {{"abs_rel", "abs rel"},
                                              {"sq_rel", "sq rel"},
                                              {"rmse", "RMSE (m)"},
                                              {"rmse_log", "RMSE log"},
                                              {"log10", "log10"},
                                              {"delta1", "delta < 1.25"},
                                              {"delta2", "delta < 1.25^2"},
                                              {"delta3", "delta < 1.25^3"},
                                              {"nll", "Gaussian NLL, total"},
                                              {"nll_epistemic", "Gaussian NLL, epistemic"},
                                              {"nll_aleatoric", "Gaussian NLL, aleatoric"}};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            row(keys[i][1], get(r, "depth", keys[i][0]), NULL);
        const cJSON *iv = cJSON_GetObjectItemCaseSensitive(depth, "interval");
        static const char *const kinds[] = {"total", "epistemic", "aleatoric"};
        static const char *const ideal[] = {"(ideal 0.6827)", "(ideal 0.9545)", "(ideal 0.9973)"};
        for (int k = 0; k < 3; k++)
            for (int z = 0; z < 3; z++) {
                char label[48], key[4];
                snprintf(label, sizeof label, "|y-mu| <= %d sigma, %s", z + 1, kinds[k]);
                snprintf(key, sizeof key, "z%d", z + 1);
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(iv, kinds[k]), key);
                row(label, cJSON_IsNumber(v) ? v->valuedouble : NAN, ideal[z]);
            }
    } else
        fprintf(stderr, "depth: no depth/\n");
    fprintf(stderr, "uncertainty\n");
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(r, "uncertainty");
    for (const cJSON *v = u ? u->child : NULL; v; v = v->next)
        row(v->string, cJSON_IsNumber(v) ? v->valuedouble : NAN, NULL);
}

static int write_json(const char *path, const char *text)
{
    doubt_atomic_file af;
    doubt_error err = {{0}};
    if (doubt_atomic_open(&af, path, &err)) {
        fprintf(stderr, "doubt eval: %s\n", err.msg);
        return -1;
    }
    if (fputs(text, af.f) < 0 || fputc('\n', af.f) < 0) {
        doubt_atomic_abort(&af);
        fprintf(stderr, "doubt eval: %s: write failed\n", path);
        return -1;
    }
    if (doubt_atomic_commit(&af, &err)) {
        fprintf(stderr, "doubt eval: %s\n", err.msg);
        return -1;
    }
    return 0;
}

int doubt_cmd_eval(int argc, char **argv)
{
    const char *weights = NULL, *data = NULL, *json = NULL;
    doubt_arg_list members = {0};
    doubt_eval_opts o = doubt_eval_defaults();
    int threads = 0, converge_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return DOUBT_EXIT_OK;
        }
        if (!strcmp(a, "--version")) {
            printf("doubt %s\n", DOUBT_VERSION);
            return DOUBT_EXIT_OK;
        }
        if (!strcmp(a, "--deterministic")) {
            o.deterministic = 1;
            continue;
        }
        int takes = !strcmp(a, "--weights") || !strcmp(a, "--data") || !strcmp(a, "--samples") ||
                    !strcmp(a, "--seed") || !strcmp(a, "--threads") || !strcmp(a, "--json") ||
                    !strcmp(a, "--plots") || !strcmp(a, "--method") ||
                    !strcmp(a, "--converge") || !strcmp(a, "--precision");
        if (!takes) {
            fprintf(stderr, "doubt eval: unknown option '%s'\n", a);
            usage(stderr);
            return DOUBT_EXIT_USAGE;
        }
        if (!v) {
            fprintf(stderr, "doubt eval: %s needs a value\n", a);
            return DOUBT_EXIT_USAGE;
        }
        i++;
        if (!strcmp(a, "--weights"))
            weights = v;
        else if (!strcmp(a, "--data"))
            data = v;
        else if (!strcmp(a, "--json"))
            json = v;
        else if (!strcmp(a, "--plots"))
            o.plots = v;
        else if (!strcmp(a, "--method")) {
            if (!doubt_mc_method_parse(v, &o.method)) {
                fprintf(stderr, "doubt eval: --method '%s': sample or propagate\n", v);
                return DOUBT_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--precision")) {
            int rc = doubt_arg_precision("eval", v, &o.precision);
            if (rc)
                return rc;
        } else if (!strcmp(a, "--samples")) {
            if (!doubt_arg_samples(v, &o.samples, &o.adaptive)) {
                fprintf(stderr, "doubt eval: --samples '%s': " DOUBT_ARG_SAMPLES_FORMS "\n", v);
                return DOUBT_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--converge")) {
            if (!doubt_arg_double(v, 0, 1, &o.converge)) {
                fprintf(stderr, "doubt eval: --converge '%s': a tolerance in 0..1\n", v);
                return DOUBT_EXIT_USAGE;
            }
            converge_given = 1;
        } else if (!strcmp(a, "--seed")) {
            int64_t seed;
            if (!doubt_arg_int64(v, 0, INT64_MAX, &seed)) {
                fprintf(stderr, "doubt eval: --seed '%s': a non-negative integer\n", v);
                return DOUBT_EXIT_USAGE;
            }
            o.seed = (uint64_t)seed;
        } else if (!doubt_arg_int(v, 1, 4096, &threads)) {
            fprintf(stderr, "doubt eval: --threads '%s': an integer 1..4096\n", v);
            return DOUBT_EXIT_USAGE;
        }
    }
    if (!weights || !data) {
        fprintf(stderr, "doubt eval: --weights and --data are required\n");
        usage(stderr);
        return DOUBT_EXIT_USAGE;
    }
    if (!doubt_arg_split(weights, &members)) {
        fprintf(stderr, "doubt eval: --weights '%s': FILE or FILE,FILE,... without empty "
                        "names\n", weights);
        return DOUBT_EXIT_USAGE;
    }
    if (converge_given && !o.adaptive) {
        fprintf(stderr, "doubt eval: --converge applies to --samples auto\n");
        doubt_arg_list_free(&members);
        return DOUBT_EXIT_USAGE;
    }
    if (o.adaptive && members.count > 1 && !o.deterministic) {
        fprintf(stderr, "doubt eval: --samples auto takes one weights file: an ensemble's "
                        "members would stop at different T\n");
        doubt_arg_list_free(&members);
        return DOUBT_EXIT_USAGE;
    }
    if (isatty(STDERR_FILENO))
        o.progress = progress;

    doubt_error err = {{0}};
    doubt_safetensors **w = calloc((size_t)members.count, sizeof *w);
    doubt_ctx *ctx = NULL;
    cJSON *report = NULL;
    int status = DOUBT_EXIT_FAILURE;
    if (!w) {
        fprintf(stderr, "doubt eval: out of memory\n");
        goto done;
    }
    for (int m = 0; m < members.count; m++)
        if (doubt_safetensors_read(members.items[m], &w[m], &err)) {
            fprintf(stderr, "doubt eval: %s\n", err.msg);
            goto done;
        }
    if (doubt_ctx_create(threads, &ctx, &err) ||
        doubt_eval_run_ensemble(ctx, (const doubt_safetensors *const *)w, members.count, data,
                                &o, &report, &err)) {
        fprintf(stderr, "doubt eval: %s\n", err.msg);
        goto done;
    }
    cJSON *meta = cJSON_CreateObject();
    cJSON_AddStringToObject(meta, "version", DOUBT_VERSION);
    doubt_json_add_one_or_many(meta, "weights", members.items, members.count);
    cJSON_AddStringToObject(meta, "data", data);
    cJSON_AddItemToObject(report, "run", meta);
    char *text = cJSON_Print(report);
    if (!text) {
        fprintf(stderr, "doubt eval: out of memory\n");
        goto done;
    }
    table(report);
    printf("%s\n", text);
    status = json && write_json(json, text) ? DOUBT_EXIT_FAILURE : DOUBT_EXIT_OK;
    cJSON_free(text);
done:
    cJSON_Delete(report);
    doubt_ctx_destroy(ctx);
    for (int m = 0; w && m < members.count; m++)
        doubt_safetensors_destroy(w[m]);
    free(w);
    doubt_arg_list_free(&members);
    return status;
}
