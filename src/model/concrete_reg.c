#include "concrete_reg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv/concrete.h"

#define MAX_SLICES 8
#define MAX_CONVS (2 * DOUBT_NETDESC_MAX_SITES)

typedef struct {
    doubt_concrete *layer;
    int channels;
    double weight_norm; /* Σ‖W_s‖² of the last apply */
} site;

typedef struct {
    doubt_net_param *weight;
    int n_slices;
    int slice_site[MAX_SLICES], slice_offset[MAX_SLICES], slice_channels[MAX_SLICES];
} conv;

struct doubt_concrete_reg {
    double lambda_w, lambda_d;
    site sites[DOUBT_NETDESC_MAX_SITES];
    int n_sites;
    conv convs[MAX_CONVS];
    int n_convs;
};

static conv *conv_of(doubt_concrete_reg *reg, doubt_net_param *weight)
{
    for (int i = 0; i < reg->n_convs; i++)
        if (reg->convs[i].weight == weight)
            return &reg->convs[i];
    if (reg->n_convs == MAX_CONVS)
        return NULL;
    conv *c = &reg->convs[reg->n_convs++];
    memset(c, 0, sizeof *c);
    c->weight = weight;
    return c;
}

doubt_status doubt_concrete_reg_create(doubt_ctx *ctx, doubt_net *net, double weight_decay,
                                       double n_images, doubt_concrete_reg **out)
{
    *out = NULL;
    doubt_concrete_reg *reg = calloc(1, sizeof *reg);
    if (!reg)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "concrete dropout: out of memory");
    reg->lambda_w = weight_decay / 2;
    reg->lambda_d = 2 / n_images;
    for (int i = 0; i < net->graph.n_nodes; i++) {
        doubt_concrete *layer = doubt_net_concrete(net, i);
        if (!layer)
            continue;
        site *s = &reg->sites[reg->n_sites];
        s->layer = layer;
        s->channels = net->shapes[i].channels;
        doubt_site_slice slices[MAX_SLICES];
        const int n = doubt_graph_site_slices(&net->graph, net->shapes, i, slices, MAX_SLICES);
        if (n > MAX_SLICES) {
            free(reg);
            return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                              "concrete dropout: %s feeds %d convolutions, at most %d",
                              net->graph.nodes[i].name, n, MAX_SLICES);
        }
        for (int k = 0; k < n; k++) {
            char name[DOUBT_PARAM_NAME_MAX + 8];
            snprintf(name, sizeof name, "%s.weight", net->graph.nodes[slices[k].conv].name);
            doubt_net_param *w = doubt_net_param_find(net, name);
            conv *c = w ? conv_of(reg, w) : NULL;
            if (!c || c->n_slices == MAX_SLICES) {
                free(reg);
                return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                                  "concrete dropout: %s: too many or unknown convolutions after "
                                  "the site", net->graph.nodes[i].name);
            }
            c->slice_site[c->n_slices] = reg->n_sites;
            c->slice_offset[c->n_slices] = slices[k].offset;
            c->slice_channels[c->n_slices++] = slices[k].channels;
        }
        reg->n_sites++;
    }
    if (!reg->n_sites) {
        free(reg);
        return DOUBT_OK;
    }
    *out = reg;
    return DOUBT_OK;
}

void doubt_concrete_reg_destroy(doubt_concrete_reg *reg)
{
    free(reg);
}

int doubt_concrete_reg_decays(const doubt_concrete_reg *reg, const char *param)
{
    for (int i = 0; reg && i < reg->n_convs; i++)
        if (!strcmp(reg->convs[i].weight->info.name, param))
            return 0;
    return 1;
}

/* λ_w‖W‖² over one convolution, each input channel weighed by its site's 1/(1 − p); adds the
 * gradient to the weights' and each site's Σ‖W_s‖². */
static doubt_status apply_conv(doubt_ctx *ctx, doubt_concrete_reg *reg, conv *c, double *value)
{
    doubt_status st = DOUBT_OK;
    const doubt_param_info *info = &c->weight->info;
    const int64_t out = info->shape[0], in = info->shape[1], taps = info->shape[2] * info->shape[3];
    float *w = malloc((size_t)info->count * sizeof *w);
    float *g = malloc((size_t)info->count * sizeof *g);
    double *coeff = malloc((size_t)in * sizeof *coeff);
    int *owner = malloc((size_t)in * sizeof *owner);
    if (!w || !g || !coeff || !owner) {
        st = doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "concrete dropout: out of memory");
        goto done;
    }
    DOUBT_TRY(doubt_tensor_read(ctx, c->weight->value, w));
    DOUBT_TRY(doubt_tensor_read(ctx, c->weight->grad, g));
    for (int64_t i = 0; i < in; i++) {
        coeff[i] = reg->lambda_w;
        owner[i] = -1;
    }
    for (int k = 0; k < c->n_slices; k++) {
        const site *s = &reg->sites[c->slice_site[k]];
        const double p = doubt_concrete_rate(s->layer);
        for (int j = 0; j < c->slice_channels[k]; j++) {
            coeff[c->slice_offset[k] + j] = reg->lambda_w / (1 - p);
            owner[c->slice_offset[k] + j] = c->slice_site[k];
        }
    }
    for (int64_t o = 0; o < out; o++)
        for (int64_t i = 0; i < in; i++) {
            double norm = 0;
            for (int64_t t = 0; t < taps; t++) {
                const int64_t at = (o * in + i) * taps + t;
                norm += (double)w[at] * w[at];
                g[at] += (float)(2 * coeff[i] * w[at]);
            }
            *value += coeff[i] * norm;
            if (owner[i] >= 0)
                reg->sites[owner[i]].weight_norm += norm;
        }
    st = doubt_tensor_write(ctx, c->weight->grad, g);
done:
    free(w);
    free(g);
    free(coeff);
    free(owner);
    return st;
}

doubt_status doubt_concrete_reg_apply(doubt_ctx *ctx, doubt_concrete_reg *reg, double *value)
{
    *value = 0;
    for (int s = 0; s < reg->n_sites; s++)
        reg->sites[s].weight_norm = 0;
    for (int i = 0; i < reg->n_convs; i++) {
        doubt_status st = apply_conv(ctx, reg, &reg->convs[i], value);
        if (st != DOUBT_OK)
            return st;
    }
    for (int k = 0; k < reg->n_sites; k++) {
        site *s = &reg->sites[k];
        const double p = doubt_concrete_rate(s->layer), q = 1 - p;
        *value += reg->lambda_d * s->channels * (p * log(p) + q * log(q));
        /* d/dp of the site's terms, times dp/dp_logit = p(1 - p) */
        const double d_p = reg->lambda_w * s->weight_norm / (q * q) +
                           reg->lambda_d * s->channels * log(p / q);
        s->layer->diff_p_logit.data[0] += (float)(d_p * p * q);
    }
    return DOUBT_OK;
}
