/* doubt: the public API in one header.
 *
 *   doubt_error err;
 *   doubt_ctx *ctx;
 *   if (doubt_ctx_create(0, &ctx, &err) != DOUBT_OK) { fprintf(stderr, "%s\n", err.msg); ... }
 *   ... build layers or a network against ctx, run them ...
 *   doubt_ctx_destroy(ctx);
 *
 * Every function that can fail returns doubt_status and leaves a message in the context
 * (doubt_ctx_error) or the doubt_error it was given. Activations are NCHW float32; see each
 * module's header for ownership and layouts.
 */
#ifndef DOUBT_H
#define DOUBT_H

#include "core/arena.h"
#include "core/ctx.h"
#include "core/rng.h"
#include "core/status.h"
#include "core/tensor.h"

#include "conv/bnorm.h"
#include "conv/concat.h"
#include "conv/conv.h"
#include "conv/dropout.h"
#include "conv/layer.h"
#include "conv/pool.h"
#include "conv/relu.h"
#include "conv/upsample.h"

#endif
