/* doubt train: multitask training with learned uncertainty on a dataset folder.
 * Writes RUNDIR/checkpoint.safetensors (resumable), RUNDIR/weights.safetensors (the network
 * alone, for predict) and RUNDIR/log.jsonl; the same JSON lines go to stdout. With --val,
 * every K steps the weights.safetensors just written is evaluated on the validation folder
 * (pipeline/eval.h, deterministic), so the figures logged are those of that file. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "commands.h"
#include "core/clock.h"
#include "io/fsutil.h"
#include "model/train.h"
#include "model/weights.h"
#include "pipeline/eval.h"

static const char usage_text[] =
    "usage: doubt train --data DIR --out RUNDIR --steps N [options]\n"
    "\n"
    "Trains segmentation + depth with learned per-pixel uncertainty (Kendall & Gal) and\n"
    "learned task weights (Kendall, Gal & Cipolla) on DIR (images/, labels/, depth/).\n"
    "\n"
    "  --config NAME|FILE|JSON   network: unet (default), unet-small, segnet, segnet-small,\n"
    "                            a .json file or inline;\n"
    "                            no_depth_classes from DIR/dataset.json unless it names them\n"
    "  --concrete-dropout        learn each dropout site's rate (Concrete dropout, Gal, Hron &\n"
    "                            Kendall 2017), from the config's rate or 0.1; prediction\n"
    "                            drops whole channels at the learned rates\n"
    "  --depth metric|log|inverse what the depth head predicts (default: the config's, metric):\n"
    "                            the depth loss is the Gaussian NLL of y, log y or 1/y\n"
    "  --steps N                 optimisation steps (required)\n"
    "  --batch B                 images per step (default 8)\n"
    "  --crop PX                 square random crop, a multiple of 16, of 32 for segnet\n"
    "                            (default 128)\n"
    "  --lr LR                   peak learning rate (default 1e-3)\n"
    "  --optimizer adam|sgd      (default adam; sgd uses momentum 0.9)\n"
    "  --weight-decay WD         L2 on convolution weights (default 1e-5)\n"
    "  --warmup N                linear warm-up steps before cosine decay (default steps/20)\n"
    "  --loss attenuated|plain   attenuated: Gaussian heteroscedastic depth + attenuated\n"
    "                            classification; plain: L1 + cross-entropy (default attenuated)\n"
    "  --loss-samples T          Monte Carlo samples of the attenuated classification (10)\n"
    "  --weighting learned|fixed task weights (default learned): learned multiplies each\n"
    "                            task's data term by its learned precision (log terms\n"
    "                            unweighted, so the objective is bounded below); fixed\n"
    "                            multiplies each task's whole loss by --task-weights\n"
    "  --task-weights WS,WD      fixed weights of segmentation and depth (default 1,1)\n"
    "  --seed S                  (default 0): same seed and thread count, same run\n"
    "  --threads K               (default: OpenMP's)\n"
    "  --log-every K             a JSON line every K steps (default 50)\n"
    "  --checkpoint-every K      checkpoint every K steps (default 500)\n"
    "  --val DIR                 validate on DIR (labels/ and/or depth/) every --val-every\n"
    "                            steps and at the end, dropout off: a JSON line with step\n"
    "                            and val {miou, pixel_acc, abs_rel, rmse, sigma_mean},\n"
    "                            null where DIR lacks the ground truth\n"
    "  --val-every K             (default: the --checkpoint-every value); a checkpoint is\n"
    "                            written at every validation step\n"
    "  --init FILE               start from these weights (fine-tuning) instead of random ones\n"
    "  --resume                  continue from RUNDIR/checkpoint.safetensors, with the\n"
    "                            options of the run it continues (another --seed, --lr,\n"
    "                            --steps, --batch, ... is refused, naming the option)\n"
    "\n"
    "Ctrl-C writes a checkpoint and exits with status 130; --resume continues it exactly.\n";

typedef struct {
    doubt_train_config train;
    const char *out_dir;
    const char *config;
    int depth; /* --depth: a doubt_depth_param, or -1 for the config's */
    int concrete; /* --concrete-dropout */
    const char *init_weights;
    const char *val_dir;
    int threads, resume;
    int64_t log_every, checkpoint_every, warmup, val_every;
} options;

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->config = "unet";
    o->depth = -1;
    o->train.batch = 8;
    o->train.crop = 128;
    o->train.optim = (doubt_optim_desc){.kind = DOUBT_OPTIM_ADAM, .lr = 1e-3f,
                                        .weight_decay = 1e-5f};
    o->train.loss_samples = 10;
    o->train.fixed_weights[0] = o->train.fixed_weights[1] = 1;
    o->log_every = 50;
    o->checkpoint_every = 500;
    o->warmup = -1;
    o->val_every = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes_value = strcmp(a, "--resume") && strcmp(a, "--concrete-dropout") &&
                          strcmp(a, "--help") && strcmp(a, "-h");
        if (takes_value && !val)
            return doubt_usage_error("train", "missing value after", a);
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return -1;
        } else if (!strcmp(a, "--resume")) {
            o->resume = 1;
            continue;
        } else if (!strcmp(a, "--concrete-dropout")) {
            o->concrete = 1;
            continue;
        } else if (!strcmp(a, "--init"))
            o->init_weights = val;
        else if (!strcmp(a, "--val"))
            o->val_dir = val;
        else if (!strcmp(a, "--data"))
            o->train.data_dir = val;
        else if (!strcmp(a, "--out"))
            o->out_dir = val;
        else if (!strcmp(a, "--config"))
            o->config = val;
        else if (!strcmp(a, "--depth")) {
            if ((o->depth = doubt_depth_param_of(val)) < 0)
                return doubt_usage_error("train", "--depth wants metric, log or inverse", val);
        }
        else if (!strcmp(a, "--steps")) {
            if (!doubt_arg_int64(val, 1, INT64_C(1) << 40, &o->train.optim.total_steps))
                return doubt_usage_error("train", "--steps wants a positive integer", val);
        } else if (!strcmp(a, "--batch")) {
            if (!doubt_arg_int(val, 1, 4096, &o->train.batch))
                return doubt_usage_error("train", "--batch wants 1..4096", val);
        } else if (!strcmp(a, "--crop")) {
            if (!doubt_arg_int(val, 16, 8192, &o->train.crop) || o->train.crop % 16)
                return doubt_usage_error("train", "--crop wants a multiple of 16", val);
        } else if (!strcmp(a, "--lr")) {
            if (!doubt_arg_float(val, 1e-9f, 10, &o->train.optim.lr))
                return doubt_usage_error("train", "--lr wants a number in (0, 10]", val);
        } else if (!strcmp(a, "--weight-decay")) {
            if (!doubt_arg_float(val, 0, 1, &o->train.optim.weight_decay))
                return doubt_usage_error("train", "--weight-decay wants a number in [0, 1]", val);
        } else if (!strcmp(a, "--optimizer")) {
            if (strcmp(val, "adam") && strcmp(val, "sgd"))
                return doubt_usage_error("train", "--optimizer wants adam or sgd", val);
            o->train.optim.kind = strcmp(val, "adam") ? DOUBT_OPTIM_SGD : DOUBT_OPTIM_ADAM;
        } else if (!strcmp(a, "--warmup")) {
            if (!doubt_arg_int64(val, 0, INT64_C(1) << 40, &o->warmup))
                return doubt_usage_error("train", "--warmup wants an integer >= 0", val);
        } else if (!strcmp(a, "--loss")) {
            if (strcmp(val, "attenuated") && strcmp(val, "plain"))
                return doubt_usage_error("train", "--loss wants attenuated or plain", val);
            o->train.loss = strcmp(val, "plain") ? DOUBT_LOSS_ATTENUATED : DOUBT_LOSS_PLAIN;
        } else if (!strcmp(a, "--loss-samples")) {
            if (!doubt_arg_int(val, 1, 1000, &o->train.loss_samples))
                return doubt_usage_error("train", "--loss-samples wants 1..1000", val);
        } else if (!strcmp(a, "--weighting")) {
            if (strcmp(val, "learned") && strcmp(val, "fixed"))
                return doubt_usage_error("train", "--weighting wants learned or fixed", val);
            o->train.weighting = strcmp(val, "fixed") ? DOUBT_WEIGHTING_LEARNED
                                                      : DOUBT_WEIGHTING_FIXED;
        } else if (!strcmp(a, "--task-weights")) {
            float *w = o->train.fixed_weights;
            char tail;
            if (sscanf(val, "%f,%f%c", &w[0], &w[1], &tail) != 2 || !(w[0] >= 0 && w[1] >= 0))
                return doubt_usage_error("train",
                                         "--task-weights wants two numbers >= 0 like 1,0.5", val);
        } else if (!strcmp(a, "--seed")) {
            int64_t seed;
            if (!doubt_arg_int64(val, 0, INT64_MAX, &seed))
                return doubt_usage_error("train", "--seed wants an integer >= 0", val);
            o->train.seed = (uint64_t)seed;
        } else if (!strcmp(a, "--threads")) {
            if (!doubt_arg_int(val, 1, 1024, &o->threads))
                return doubt_usage_error("train", "--threads wants 1..1024", val);
        } else if (!strcmp(a, "--log-every")) {
            if (!doubt_arg_int64(val, 1, INT64_MAX, &o->log_every))
                return doubt_usage_error("train", "--log-every wants a positive integer", val);
        } else if (!strcmp(a, "--checkpoint-every")) {
            if (!doubt_arg_int64(val, 1, INT64_MAX, &o->checkpoint_every))
                return doubt_usage_error("train",
                                         "--checkpoint-every wants a positive integer", val);
        } else if (!strcmp(a, "--val-every")) {
            if (!doubt_arg_int64(val, 1, INT64_MAX, &o->val_every))
                return doubt_usage_error("train", "--val-every wants a positive integer", val);
        } else
            return doubt_usage_error("train", "unknown option", a);
        i++;
    }
    if (!o->train.data_dir || !o->out_dir || !o->train.optim.total_steps)
        return doubt_usage_error("train", "--data, --out and --steps are required", NULL);
    if (o->resume && o->init_weights)
        return doubt_usage_error(
            "train", "--init starts a new run; --resume continues one: choose one", NULL);
    if (o->val_every > 0 && !o->val_dir)
        return doubt_usage_error("train", "--val-every needs --val DIR", NULL);
    if (o->val_every < 0)
        o->val_every = o->checkpoint_every;
    o->train.optim.warmup_steps = o->warmup >= 0 ? o->warmup : o->train.optim.total_steps / 20;
    return 0;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void json_float(FILE *f, const char *key, float v)
{
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.6g", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

static void log_line(FILE *log, const doubt_train_stats *s, double images_per_s)
{
    FILE *outs[2] = {stdout, log};
    for (int i = 0; i < 2; i++) {
        if (!outs[i])
            continue;
        fprintf(outs[i], "{\"step\":%" PRId64, s->step + 1);
        json_float(outs[i], "loss", s->loss);
        json_float(outs[i], "loss_seg", s->loss_seg);
        json_float(outs[i], "loss_depth", s->loss_depth);
        json_float(outs[i], "task_sigma_seg", s->task_sigma[0]);
        json_float(outs[i], "task_sigma_depth", s->task_sigma[1]);
        json_float(outs[i], "lr", s->lr);
        json_float(outs[i], "images_per_s", (float)images_per_s);
        for (int k = 0; k < s->n_rates; k++)
            fprintf(outs[i], "%s%.6g%s", k ? "," : ",\"dropout_p\":[", (double)s->rates[k],
                    k + 1 == s->n_rates ? "]" : "");
        fprintf(outs[i], "}\n");
        fflush(outs[i]);
    }
}

static int save_all(doubt_ctx *ctx, doubt_trainer *tr, const char *checkpoint,
                    const char *weights)
{
    if (doubt_trainer_save(ctx, tr, checkpoint) != DOUBT_OK ||
        doubt_weights_save(ctx, tr->net, weights, NULL, 0, NULL, 0) != DOUBT_OK) {
        fprintf(stderr, "doubt train: %s\n", doubt_ctx_error(ctx));
        return 0;
    }
    return 1;
}

/* Pixels kept for eval's ranking figures, which validation does not log: a small cap keeps
 * their sorting cheap. */
#define VAL_SAMPLE_CAP 200000

/* Evaluates the weights file (just written for this step) on the validation folder and logs
 * one line. Returns 0 on failure, with the message on stderr. */
static int validate(doubt_ctx *ctx, const options *o, const char *weights, int64_t step, FILE *log)
{
    doubt_error err = {{0}};
    doubt_safetensors *w = NULL;
    cJSON *report = NULL, *line = NULL;
    doubt_eval_opts eo = doubt_eval_defaults();
    eo.deterministic = 1;
    eo.seed = o->train.seed;
    eo.sample_cap = VAL_SAMPLE_CAP;
    int ok = doubt_safetensors_read(weights, &w, &err) == DOUBT_OK &&
             doubt_eval_run(ctx, w, o->val_dir, &eo, &report, &err) == DOUBT_OK;
    if (!ok)
        fprintf(stderr, "doubt train: validation on %s at step %" PRId64 " failed: %s\n",
                o->val_dir, step, err.msg);
    else {
        const doubt_eval_headline h = doubt_eval_headline_of(report);
        line = cJSON_CreateObject();
        cJSON *val = line && cJSON_AddNumberToObject(line, "step", (double)step)
                         ? cJSON_AddObjectToObject(line, "val")
                         : NULL;
        /* cJSON prints non-finite numbers as null: a figure the folder cannot give */
        ok = val && cJSON_AddNumberToObject(val, "miou", h.miou) &&
             cJSON_AddNumberToObject(val, "pixel_acc", h.pixel_acc) &&
             cJSON_AddNumberToObject(val, "abs_rel", h.abs_rel) &&
             cJSON_AddNumberToObject(val, "rmse", h.rmse) &&
             cJSON_AddNumberToObject(val, "sigma_mean", h.sigma_mean);
        char *text = ok ? cJSON_PrintUnformatted(line) : NULL;
        if (!text) {
            fprintf(stderr, "doubt train: out of memory for the validation line\n");
            ok = 0;
        } else {
            FILE *outs[2] = {stdout, log};
            for (int i = 0; i < 2; i++) {
                fprintf(outs[i], "%s\n", text);
                fflush(outs[i]);
            }
            cJSON_free(text);
        }
    }
    cJSON_Delete(line);
    cJSON_Delete(report);
    doubt_safetensors_destroy(w);
    return ok;
}

int doubt_cmd_train(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? DOUBT_EXIT_OK : rc;
    doubt_error err = {{0}};
    if (doubt_netdesc_from_config(o.config, &o.train.net, &err) != DOUBT_OK)
        return doubt_usage_error("train", err.msg, NULL);
    if (o.depth >= 0)
        o.train.net.depth = (doubt_depth_param)o.depth;
    if (o.concrete)
        doubt_netdesc_set_concrete(&o.train.net);
    /* before anything is trained or written, so a mistyped folder costs nothing */
    if (o.val_dir && doubt_eval_check_data(o.val_dir, o.train.net.classes, &err) != DOUBT_OK) {
        fprintf(stderr, "doubt train: --val %s: %s\n", o.val_dir, err.msg);
        return DOUBT_EXIT_FAILURE;
    }
    if (doubt_mkdir_p(o.out_dir, &err) != DOUBT_OK) {
        fprintf(stderr, "doubt train: %s\n", err.msg);
        return DOUBT_EXIT_FAILURE;
    }
    char checkpoint[4096], weights[4096], log_path[4096];
    snprintf(checkpoint, sizeof checkpoint, "%s/checkpoint.safetensors", o.out_dir);
    snprintf(weights, sizeof weights, "%s/weights.safetensors", o.out_dir);
    snprintf(log_path, sizeof log_path, "%s/log.jsonl", o.out_dir);

    doubt_ctx *ctx = NULL;
    doubt_trainer *tr = NULL;
    FILE *log = NULL;
    int status = DOUBT_EXIT_FAILURE;
    if (doubt_ctx_create(o.threads, &ctx, &err) != DOUBT_OK) {
        fprintf(stderr, "doubt train: %s\n", err.msg);
        return DOUBT_EXIT_FAILURE;
    }
    /* a run starts from its checkpoint (--resume), from given weights (--init) or afresh */
    if (doubt_trainer_create(ctx, &o.train, &tr) != DOUBT_OK ||
        (o.resume        ? doubt_trainer_load(ctx, tr, checkpoint)
         : o.init_weights ? doubt_weights_load_file(ctx, tr->net, o.init_weights)
                          : doubt_trainer_init(ctx, tr)) != DOUBT_OK) {
        fprintf(stderr, "doubt train: %s\n", doubt_ctx_error(ctx));
        goto done;
    }
    log = fopen(log_path, o.resume ? "a" : "w");
    if (!log) {
        fprintf(stderr, "doubt train: %s: %s\n", log_path, strerror(errno));
        goto done;
    }
    signal(SIGINT, on_interrupt);
    signal(SIGTERM, on_interrupt);
    const int progress = isatty(STDERR_FILENO);
    fprintf(stderr, "doubt train: %s, %d threads, %s from step %" PRId64 " to %" PRId64 "\n",
            o.config, ctx->threads, o.train.data_dir, tr->optim->step, o.train.optim.total_steps);
    double window_start = doubt_clock_seconds();
    int64_t window_steps = 0, saved_step = -1;
    status = DOUBT_EXIT_OK;
    while (tr->optim->step < o.train.optim.total_steps && !interrupted) {
        doubt_train_stats stats;
        if (doubt_trainer_step(ctx, tr, &stats) != DOUBT_OK) {
            fprintf(stderr, "doubt train: %s\n", doubt_ctx_error(ctx));
            status = DOUBT_EXIT_FAILURE;
            break;
        }
        window_steps++;
        const int64_t done_steps = tr->optim->step;
        if (done_steps % o.log_every == 0 || done_steps == o.train.optim.total_steps) {
            double t = doubt_clock_seconds();
            log_line(log, &stats, (double)window_steps * o.train.batch / (t - window_start));
            window_start = t;
            window_steps = 0;
        }
        if (progress)
            fprintf(stderr, "\rstep %" PRId64 "/%" PRId64 "  loss %.4f  ", done_steps,
                    o.train.optim.total_steps, stats.loss);
        const int val_now =
            o.val_dir && (done_steps % o.val_every == 0 || done_steps == o.train.optim.total_steps);
        if (done_steps % o.checkpoint_every == 0 || val_now) {
            if (!save_all(ctx, tr, checkpoint, weights)) {
                status = DOUBT_EXIT_FAILURE;
                break;
            }
            saved_step = done_steps;
        }
        if (val_now) {
            const double t = doubt_clock_seconds();
            if (!validate(ctx, &o, weights, done_steps, log)) {
                status = DOUBT_EXIT_FAILURE;
                break;
            }
            window_start += doubt_clock_seconds() - t; /* images/s counts training time only */
        }
    }
    if (progress)
        fputc('\n', stderr);
    /* the last good weights, also after a failed step (the optimizer never applied it) */
    if (saved_step != tr->optim->step && !save_all(ctx, tr, checkpoint, weights))
        status = DOUBT_EXIT_FAILURE;
    else if (interrupted) {
        fprintf(stderr, "doubt train: interrupted at step %" PRId64 "; checkpoint in %s, "
                        "continue with --resume\n", tr->optim->step, checkpoint);
        status = 130;
    }
done:
    if (log)
        fclose(log);
    doubt_trainer_destroy(tr);
    doubt_ctx_destroy(ctx);
    return status;
}
