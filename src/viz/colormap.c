#include "colormap.h"

#include <string.h>

const uint8_t (*doubt_colormap_table(doubt_colormap cm))[3]
{
    switch (cm) {
    case DOUBT_CMAP_VIRIDIS: return doubt_colormap_viridis;
    case DOUBT_CMAP_TURBO: return doubt_colormap_turbo;
    case DOUBT_CMAP_INFERNO: break;
    }
    return doubt_colormap_inferno;
}

const char *doubt_colormap_name(doubt_colormap cm)
{
    switch (cm) {
    case DOUBT_CMAP_VIRIDIS: return "viridis";
    case DOUBT_CMAP_TURBO: return "turbo";
    case DOUBT_CMAP_INFERNO: break;
    }
    return "inferno";
}

doubt_status doubt_colormap_parse(const char *name, doubt_colormap *cm, doubt_error *err)
{
    static const doubt_colormap all[] = {DOUBT_CMAP_INFERNO, DOUBT_CMAP_VIRIDIS, DOUBT_CMAP_TURBO};
    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, doubt_colormap_name(all[i])) == 0) {
            *cm = all[i];
            return DOUBT_OK;
        }
    return doubt_fail(err, DOUBT_ERR_ARG, "colormap '%s': unknown (inferno, viridis or turbo)",
                      name ? name : "");
}

int doubt_colormap_index(float t)
{
    if (!(t > 0.0f)) /* also NaN */
        return 0;
    if (t >= 1.0f)
        return 255;
    int i = (int)(t * 256.0f);
    return i > 255 ? 255 : i;
}

void doubt_colormap_lookup(doubt_colormap cm, float t, uint8_t rgb[3])
{
    const uint8_t *c = doubt_colormap_table(cm)[doubt_colormap_index(t)];
    rgb[0] = c[0];
    rgb[1] = c[1];
    rgb[2] = c[2];
}
