/* Moving a network's parameters to and from safetensors files (model/safetensors.h).
 *
 * Tensors are stored plain (PyTorch's OIHW and [C]) under their state_dict names; the
 * network's layers keep them in oneDNN's layouts, so load and save reorder at this edge.
 */
#ifndef DOUBT_MODEL_WEIGHTS_H
#define DOUBT_MODEL_WEIGHTS_H

#include "model/safetensors.h"
#include "model/net.h"

/* Copies every network parameter (and running statistic) from f, which must match the
 * network's description (doubt_safetensors_check); messages name f's path. */
doubt_status doubt_weights_load(doubt_ctx *ctx, doubt_net *net, const doubt_safetensors *f);

/* Reads path and loads it into net. */
doubt_status doubt_weights_load_file(doubt_ctx *ctx, doubt_net *net, const char *path);

/* Writes every parameter of net, plus `extra` tensors (optimizer state, task weights; may be
 * NULL), atomically to path. __metadata__ holds the network, "format": "doubt", the version
 * and the caller's n_meta {key, value} pairs (meta may be NULL). */
doubt_status doubt_weights_save(doubt_ctx *ctx, const doubt_net *net, const char *path,
                                const char *const *meta, int n_meta,
                                const doubt_st_write_tensor *extra, int n_extra);

#endif
