/* The maps of a `doubt predict` folder in one table: what predict writes for each image, and
 * what inspect and the HTML report look for, title and show.
 *
 *     for (int m = 0; m < DOUBT_MAP_COUNT; m++)
 *         ... doubt_maps[m].name (NAME.<name>.png), doubt_maps[m].values (NAME.<values>.npy) ...
 *
 * For input NAME predict writes NAME.seg.png (DOUBT_MAP_FILE_CLASSES), NAME.depth.png
 * (DOUBT_MAP_FILE_DEPTH) and, per map selected, the heatmap NAME.<name>.png on a fixed range;
 * with --npy also each map's float values NAME.<values>.npy and the class probabilities
 * NAME.seg_prob.npy (DOUBT_MAP_FILE_PROBS). Here in viz and not in the pipeline, because the
 * readers (inspect, the report) need it as much as the writer does, and viz must not depend
 * on the pipeline that runs the network; the colormaps it names are viz's own.
 */
#ifndef DOUBT_VIZ_MAPS_H
#define DOUBT_VIZ_MAPS_H

#include <stddef.h>

#include "viz/colormap.h"

/* The heatmaps, in the order predict writes and the viewers show them; the index is also
 * predict's --maps bit. */
typedef enum {
    DOUBT_MAP_DEPTH_COLOR = 0,
    DOUBT_MAP_DEPTH_EPISTEMIC,
    DOUBT_MAP_DEPTH_ALEATORIC,
    DOUBT_MAP_DEPTH_TOTAL,
    DOUBT_MAP_SEG_ENTROPY,
    DOUBT_MAP_SEG_ALEATORIC,   /* expected entropy mean_t H[p_t] */
    DOUBT_MAP_SEG_MUTUAL_INFO,
    DOUBT_MAP_SEG_LOGIT_VAR,
    DOUBT_MAP_COUNT
} doubt_map;

typedef enum {
    DOUBT_MAP_KIND_DEPTH,             /* the depth itself (inspect's depth tile) */
    DOUBT_MAP_KIND_DEPTH_UNCERTAINTY, /* a variance of the depth, undefined where depth is */
    DOUBT_MAP_KIND_SEG_UNCERTAINTY    /* of the segmentation, defined on every pixel */
} doubt_map_kind;

typedef struct {
    const char *name;   /* the heatmap NAME.<name>.png; predict's --maps and --range key */
    const char *values; /* its floats: NAME.<values>.npy and predict's summary key */
    const char *title;  /* inspect's panel title */
    doubt_map_kind kind;
    doubt_colormap cmap;
    const char *units;  /* beside the colorbar and in the PNG's doubt.units */
    float lo, hi;       /* the default range; see doubt_map_default_range */
    int epistemic;      /* identically zero with predict --deterministic, so not written */
    int log_scale;      /* drawn on a log10 scale */
} doubt_map_info;

extern const doubt_map_info doubt_maps[DOUBT_MAP_COUNT];

/* Predict's files beside the maps': NAME.<this>.png or .npy. */
#define DOUBT_MAP_FILE_CLASSES "seg"    /* .png: 8-bit palette PNG, the class of each pixel */
#define DOUBT_MAP_FILE_DEPTH "depth"    /* .png: 16-bit gray, depth_mean times the depth scale */
#define DOUBT_MAP_FILE_PROBS "seg_prob" /* .npy: [C, H, W] mean softmax, with --npy */

/* The index of the map named name[0 .. len), or -1. */
int doubt_map_find(const char *name, size_t len);
/* Default range of map m for a network of `classes` classes (seg_entropy: 0 to ln C). */
void doubt_map_default_range(doubt_map m, int classes, float *lo, float *hi);

#endif
