/* doubt: the public API in one header.
 *
 *   doubt_error err;
 *   doubt_ctx *ctx;
 *   if (doubt_ctx_create(0, &ctx, &err) != DOUBT_OK) { fprintf(stderr, "%s\n", err.msg); ... }
 *   doubt_safetensors *w;  doubt_safetensors_read("weights/unet-small.safetensors", &w, &err);
 *   doubt_mc *mc;          doubt_mc_create(ctx, w, &(doubt_mc_desc){.samples = 20}, &mc);
 *                          // or a deep ensemble of several weights files, pooled:
 *                          // doubt_mc_create_ensemble(ctx, (const doubt_safetensors *[]){w, v},
 *                          //                          2, &desc, &mc);
 *                          // or one moment-propagation pass instead of samples:
 *                          // &(doubt_mc_desc){.method = DOUBT_MC_PROPAGATE}
 *   const doubt_mc_maps *maps;
 *   doubt_mc_run(ctx, mc, image, width, height, &maps);   // image: [3, H, W] in [0, 1]
 *   ... maps->depth_epistemic, maps->seg_mutual_info ...
 *   doubt_mc_destroy(mc); doubt_safetensors_destroy(w); doubt_ctx_destroy(ctx);
 *
 * Every function that can fail returns doubt_status and leaves a message in the context
 * (doubt_ctx_error) or the doubt_error it was given. Activations are NCHW float32; see each
 * module's header for ownership and layouts.
 */
#ifndef DOUBT_H
#define DOUBT_H

#include "core/arena.h"
#include "core/ctx.h"
#include "core/isa.h"
#include "core/peak.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/tensor.h"

#include "conv/add.h"
#include "conv/bnorm.h"
#include "conv/concat.h"
#include "conv/concrete.h"
#include "conv/conv.h"
#include "conv/dropout.h"
#include "conv/layer.h"
#include "conv/pool.h"
#include "conv/relu.h"
#include "conv/unpool.h"
#include "conv/upsample.h"

#include "losses/losses.h"

#include "io/image.h"
#include "io/npy.h"
#include "io/png.h"

#include "data/dataset.h"

#include "viz/colormap.h"
#include "viz/heatmap.h"

#include "model/arch.h"
#include "model/concrete_reg.h"
#include "model/converge.h"
#include "model/graph.h"
#include "model/mc.h"
#include "model/net.h"
#include "model/netdesc.h"
#include "model/optim.h"
#include "model/propagate.h"
#include "model/safetensors.h"
#include "model/train.h"
#include "model/weights.h"

#include "metrics/metrics.h"
#include "metrics/uq.h"

#endif
