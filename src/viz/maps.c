#include "maps.h"

#include <math.h>
#include <string.h>

/* hi < 0 below: ln(classes), resolved by doubt_map_default_range. */
const doubt_map_info doubt_maps[DOUBT_MAP_COUNT] = {
    [DOUBT_MAP_DEPTH_COLOR] = {"depth_color", "depth_mean", "Depth (m)", DOUBT_MAP_KIND_DEPTH,
                               DOUBT_CMAP_TURBO, "m", 0.0f, 20.0f, 0, 0},
    [DOUBT_MAP_DEPTH_EPISTEMIC] = {"depth_epistemic", "depth_epistemic", "Depth epistemic (m2)",
                                   DOUBT_MAP_KIND_DEPTH_UNCERTAINTY, DOUBT_CMAP_INFERNO, "m2",
                                   0.0f, 2.0f, 1, 0},
    [DOUBT_MAP_DEPTH_ALEATORIC] = {"depth_aleatoric", "depth_aleatoric", "Depth aleatoric (m2)",
                                   DOUBT_MAP_KIND_DEPTH_UNCERTAINTY, DOUBT_CMAP_INFERNO, "m2",
                                   0.0f, 8.0f, 0, 0},
    [DOUBT_MAP_DEPTH_TOTAL] = {"depth_total", "depth_total", "Depth total (m2)",
                               DOUBT_MAP_KIND_DEPTH_UNCERTAINTY, DOUBT_CMAP_INFERNO, "m2", 0.0f,
                               10.0f, 0, 0},
    [DOUBT_MAP_SEG_ENTROPY] = {"seg_entropy", "seg_entropy", "Seg entropy (nats)",
                               DOUBT_MAP_KIND_SEG_UNCERTAINTY, DOUBT_CMAP_VIRIDIS, "nats", 0.0f,
                               -1.0f, 0, 0},
    [DOUBT_MAP_SEG_ALEATORIC] = {"seg_aleatoric", "seg_aleatoric", "Seg aleatoric (nats)",
                                 DOUBT_MAP_KIND_SEG_UNCERTAINTY, DOUBT_CMAP_VIRIDIS, "nats", 0.0f,
                                 -1.0f, 0, 0},
    [DOUBT_MAP_SEG_MUTUAL_INFO] = {"seg_mutual_info", "seg_mutual_info", "Seg mutual info (nats)",
                                   DOUBT_MAP_KIND_SEG_UNCERTAINTY, DOUBT_CMAP_VIRIDIS, "nats",
                                   0.0f, 0.25f, 1, 0},
    /* The learned logit variance spans decades (1e-4 on clean pixels of the shipped weights,
     * far more on label noise): a linear 0-4 scale showed it black everywhere. */
    [DOUBT_MAP_SEG_LOGIT_VAR] = {"seg_logit_var", "seg_logit_var", "Seg logit variance",
                                 DOUBT_MAP_KIND_SEG_UNCERTAINTY, DOUBT_CMAP_INFERNO, "logit2",
                                 1e-4f, 1.0f, 0, 1},
};

int doubt_map_find(const char *name, size_t len)
{
    for (int m = 0; m < DOUBT_MAP_COUNT; m++)
        if (strlen(doubt_maps[m].name) == len && !strncmp(doubt_maps[m].name, name, len))
            return m;
    return -1;
}

void doubt_map_default_range(doubt_map m, int classes, float *lo, float *hi)
{
    *lo = doubt_maps[m].lo;
    *hi = doubt_maps[m].hi;
    /* The entropy of C classes lies in [0, ln C]: the whole scale, the same for every image.
     * A 1-class network has no entropy; keep the range valid. */
    if (*hi < 0)
        *hi = classes > 1 ? (float)log((double)classes) : 1.0f;
}
