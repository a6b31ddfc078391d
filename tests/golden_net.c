#include "golden_net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "model/weights.h"

doubt_safetensors *gn_open(const char *path)
{
    doubt_safetensors *f = NULL;
    doubt_error err = {{0}};
    ck_assert_msg(doubt_safetensors_read(path, &f, &err) == DOUBT_OK, "%s", err.msg);
    return f;
}

const doubt_st_tensor *gn_golden(const doubt_safetensors *g, const char *name)
{
    const doubt_st_tensor *t = doubt_safetensors_find(g, name);
    ck_assert_msg(t && t->data, "golden %s missing", name);
    return t;
}

double gn_rel_err(const float *a, const float *b, int64_t n)
{
    double *bd = malloc((size_t)n * sizeof *bd);
    for (int64_t i = 0; i < n; i++)
        bd[i] = b[i];
    const double e = th_rel_err(a, bd, n);
    free(bd);
    return e;
}

doubt_net *gn_net(doubt_ctx *ctx, const doubt_safetensors *w, const doubt_st_tensor *input,
                  doubt_mode mode)
{
    doubt_net *net = NULL;
    TH_OK(ctx, doubt_net_create(ctx, &w->network, (int)input->shape[0], (int)input->shape[2],
                                (int)input->shape[3], mode, &net));
    TH_OK(ctx, doubt_weights_load(ctx, net, w));
    return net;
}

void gn_check_training(doubt_ctx *ctx, const char *weights, const char *goldens,
                       const char *label)
{
    doubt_safetensors *w = gn_open(weights), *g = gn_open(goldens);
    const doubt_st_tensor *input = gn_golden(g, "golden.input");
    doubt_net *net = gn_net(ctx, w, input, DOUBT_MODE_TRAIN);
    TH_OK(ctx, doubt_net_forward(ctx, net, input->data, 0, 0));
    const doubt_st_tensor *out = gn_golden(g, "golden.output");
    const double err = gn_rel_err(doubt_net_output(net), out->data, out->count);
    printf("  %s train-mode output vs PyTorch: rel err %.2e\n", label, err);
    ck_assert_double_lt(err, 1e-4);

    const doubt_st_tensor *r = gn_golden(g, "golden.grad_output");
    memcpy(doubt_net_diff_output(net), r->data, (size_t)r->count * sizeof(float));
    TH_OK(ctx, doubt_net_backward(ctx, net));
    double worst_grad = 0, worst_stat = 0;
    char name[128];
    for (int i = 0; i < net->n_params; i++) {
        doubt_net_param *p = &net->params[i];
        float *got = malloc((size_t)p->info.count * sizeof *got);
        if (p->grad) {
            snprintf(name, sizeof name, "golden.grad.%s", p->info.name);
            TH_OK(ctx, doubt_tensor_read(ctx, p->grad, got));
        } else {
            snprintf(name, sizeof name, "golden.after.%s", p->info.name);
            TH_OK(ctx, doubt_tensor_read(ctx, p->value, got));
        }
        const doubt_st_tensor *want = gn_golden(g, name);
        const double e = gn_rel_err(got, want->data, want->count);
        ck_assert_msg(e < (p->grad ? 1e-3 : 1e-4), "%s: rel err %g", name, e);
        if (p->grad)
            worst_grad = fmax(worst_grad, e);
        else
            worst_stat = fmax(worst_stat, e);
        free(got);
    }
    printf("  %s gradients vs PyTorch: worst rel err %.2e; running stats %.2e\n", label,
           worst_grad, worst_stat);
    doubt_net_destroy(net);
    doubt_safetensors_destroy(w);
    doubt_safetensors_destroy(g);
}
