/* The architectures a description names, as functions that build their graph (graph.h).
 *
 * unet (DESIGN.md, "The default network"): encoder blocks enc.i of two conv → bn+ReLU, a max
 * pool before each but the first, bilinear ×2 upsampling and concat [upsampled, skip] in the
 * decoder blocks dec.j; tensors enc.{i}.conv1.weight, enc.{i}.bn1.*, ...
 *
 * segnet (Bayesian SegNet, Kendall, Badrinarayanan & Cipolla 2015): encoder stage i is
 * convs[i] × (3×3 conv → bn+ReLU) at widths[i], then a 2×2 max pool keeping its indices;
 * decoder stage j at level i = L−1−j unpools with stage i's indices, then convs[i] × (conv →
 * bn+ReLU) at widths[i], the last one to widths[i−1] (widths[0] for i = 0); tensors
 * enc.{i}.{k}.conv.weight, enc.{i}.{k}.bn.*, dec.{j}.{k}.conv.weight, dec.{j}.{k}.bn.*.
 *
 * Both: dropout on the outputs of the deepest three encoder stages (unet: blocks; segnet:
 * their pooled outputs) and of the first three decoder stages, dropout sites numbered in that
 * order; head: 1×1 conv with bias to classes + 3 channels (netdesc.h says what they mean).
 */
#ifndef DOUBT_MODEL_ARCH_H
#define DOUBT_MODEL_ARCH_H

#include "model/graph.h"

/* How many dropout sites the description's architecture has (unet: min(3, L) in the encoder
 * and min(3, L-1) in the decoder; segnet: min(3, L) in each), numbered 0.. in node order. */
int doubt_arch_dropout_sites(const doubt_netdesc *d);

/* Builds and checks (doubt_graph_check, which fills shapes unless it is NULL) the graph of a
 * valid description. */
doubt_status doubt_arch_graph(const doubt_netdesc *d, doubt_graph *g, doubt_node_shape *shapes,
                              doubt_error *err);

/* The graph's grid (input sides are multiples of it) of a valid description; 0 when out of
 * memory. */
int doubt_arch_grid(const doubt_netdesc *d);

/* doubt_graph_flops of a valid description's graph; 0 and 0 when out of memory. */
void doubt_arch_flops(const doubt_netdesc *d, int height, int width, double *total,
                      double *deterministic);

#endif
