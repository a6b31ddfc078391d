#include "heatmap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "font.h"

#ifndef DOUBT_VERSION
#define DOUBT_VERSION "unknown"
#endif

enum {
    MIN_CANVAS_H = 64, /* a 16x16 map still gets a readable colorbar */
    MIN_CANVAS_H_LEGEND = 80, /* ... and room for the invalid swatch under it */
    GAP = 6,           /* between the map and the colorbar, holding the ticks */
    BAR_W = 12,
    TICK_LEN = 3,
    LABEL_GAP = 3,
    MARGIN = 2,
    MAX_EXTRA_TEXTS = 16,
};

static const uint8_t background[3] = {255, 255, 255};
static const uint8_t ink[3] = {0, 0, 0};

doubt_heatmap_opts doubt_heatmap_defaults(void)
{
    doubt_heatmap_opts o;
    memset(&o, 0, sizeof o);
    o.lo = 0.0f;
    o.hi = 1.0f;
    o.cmap = DOUBT_CMAP_INFERNO;
    o.invalid[0] = o.invalid[1] = o.invalid[2] = 128;
    return o;
}

void doubt_heatmap_format_tick(double v, char *buf, int size)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%.3g", v);
    if (strcmp(tmp, "-0") == 0)
        snprintf(tmp, sizeof tmp, "0");
    char *e = strchr(tmp, 'e');
    if (e) {
        /* "1.5e+03" -> "1.5e3", "1e-05" -> "1e-5": narrower labels on a narrow bar */
        char *src = e + 1, *dst = e + 1;
        if (*src == '+')
            src++;
        else if (*src == '-')
            *dst++ = *src++;
        while (*src == '0' && src[1])
            src++;
        memmove(dst, src, strlen(src) + 1);
    }
    snprintf(buf, (size_t)size, "%s", tmp);
}

static void put(uint8_t *rgb, int w, int x, int y, const uint8_t c[3])
{
    uint8_t *p = rgb + ((size_t)y * (size_t)w + (size_t)x) * 3;
    p[0] = c[0];
    p[1] = c[1];
    p[2] = c[2];
}

/* Where v falls on the range, 0 at lo and 1 at hi (outside [0, 1] beyond the ends). */
static float range_position(const doubt_heatmap_opts *o, float v)
{
    if (!o->log_scale)
        return (v - o->lo) / (o->hi - o->lo);
    if (!(v > o->lo))
        return 0.0f;
    return (float)(log10((double)v / o->lo) / log10((double)o->hi / o->lo));
}

/* The value at position f of the range: the inverse of range_position, for tick labels. */
static double range_value(const doubt_heatmap_opts *o, double f)
{
    if (!o->log_scale)
        return (double)o->lo + f * ((double)o->hi - o->lo);
    return o->lo * pow((double)o->hi / o->lo, f);
}

void doubt_heatmap_colorize(const float *v, const uint8_t *valid, int64_t n,
                            const doubt_heatmap_opts *o, uint8_t *rgb)
{
    const uint8_t (*table)[3] = doubt_colormap_table(o->cmap);
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *c;
        if (isnan(v[i]) || (valid && !valid[i]))
            c = o->invalid;
        else
            c = table[doubt_colormap_index(range_position(o, v[i]))];
        rgb[3 * i] = c[0];
        rgb[3 * i + 1] = c[1];
        rgb[3 * i + 2] = c[2];
    }
}

static doubt_status check_opts(const float *v, int width, int height, const doubt_heatmap_opts *o,
                               doubt_error *err)
{
    const char *name = o && o->map_name ? o->map_name : "heatmap";
    if (!o || !v)
        return doubt_fail(err, DOUBT_ERR_ARG, "%s: no values or options", name);
    if (width <= 0 || height <= 0 || width > 100000 || height > 100000)
        return doubt_fail(err, DOUBT_ERR_ARG, "%s: bad size %dx%d", name, width, height);
    if (!isfinite(o->lo) || !isfinite(o->hi) || !(o->lo < o->hi))
        return doubt_fail(err, DOUBT_ERR_ARG, "%s: range [%g, %g] must be finite with lo < hi",
                          name, (double)o->lo, (double)o->hi);
    if (o->log_scale && !(o->lo > 0))
        return doubt_fail(err, DOUBT_ERR_ARG, "%s: a log-scale range needs lo > 0, has [%g, %g]",
                          name, (double)o->lo, (double)o->hi);
    if (o->ntexts < 0 || o->ntexts > MAX_EXTRA_TEXTS || (o->ntexts > 0 && !o->texts))
        return doubt_fail(err, DOUBT_ERR_ARG, "%s: 0..%d extra texts allowed", name,
                          MAX_EXTRA_TEXTS);
    return DOUBT_OK;
}

doubt_status doubt_heatmap_render(const float *v, const uint8_t *valid, int width, int height,
                                  const doubt_heatmap_opts *o, uint8_t **rgb,
                                  doubt_heatmap_layout *layout, doubt_error *err)
{
    doubt_status st = check_opts(v, width, height, o, err);
    if (st)
        return st;
    *rgb = NULL;
    doubt_heatmap_layout L;
    memset(&L, 0, sizeof L);
    const int has_legend = o->invalid_label && o->invalid_label[0];
    const int min_h = has_legend ? MIN_CANVAS_H_LEGEND : MIN_CANVAS_H;
    L.height = height > min_h ? height : min_h;
    /* Large maps get larger glyphs so the labels stay readable when the image is shrunk. */
    int scale = L.height >= 512 ? L.height / 256 : 1;
    int glyph_h = DOUBT_FONT_H * scale;
    int has_units = o->units && o->units[0];
    /* Room above the bar for the units and for half a label at the top tick; below it for
     * half a label at the bottom tick and the swatch. */
    L.bar_top = MARGIN + glyph_h / 2 + (has_units ? glyph_h + 3 : 0);
    L.bar_bottom = L.height - 1 - MARGIN - glyph_h / 2;
    if (has_legend) {
        L.swatch_h = glyph_h;
        L.swatch_y = L.height - MARGIN * scale - L.swatch_h;
        L.bar_bottom = L.swatch_y - LABEL_GAP * scale - glyph_h / 2 - 1;
    }
    int bar_len = L.bar_bottom - L.bar_top + 1;
    L.nticks = bar_len >= 24 * glyph_h / DOUBT_FONT_H ? 5 : 3;
    L.bar_x = width + GAP * scale;
    L.bar_w = BAR_W * scale;

    char labels[5][32];
    int label_w = has_units ? doubt_font_text_width(o->units, scale) : 0;
    for (int k = 0; k < L.nticks; k++) {
        double f = (double)k / (L.nticks - 1);
        doubt_heatmap_format_tick(range_value(o, f), labels[k], (int)sizeof labels[k]);
        int lw = doubt_font_text_width(labels[k], scale);
        label_w = lw > label_w ? lw : label_w;
    }
    int label_x = L.bar_x + L.bar_w + LABEL_GAP * scale;
    L.width = label_x + label_w + MARGIN * scale;
    if (has_legend) {
        int legend_w = label_x + doubt_font_text_width(o->invalid_label, scale) + MARGIN * scale;
        L.width = legend_w > L.width ? legend_w : L.width;
    }

    size_t n = (size_t)L.width * (size_t)L.height * 3;
    uint8_t *out = malloc(n);
    if (!out)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory for a %dx%d canvas",
                          o->map_name ? o->map_name : "heatmap", L.width, L.height);
    for (size_t i = 0; i < n; i += 3)
        memcpy(out + i, background, 3);

    /* the map, row by row into the wider canvas */
    for (int y = 0; y < height; y++)
        doubt_heatmap_colorize(v + (size_t)y * width, valid ? valid + (size_t)y * width : NULL,
                               width, o, out + (size_t)y * L.width * 3);

    /* the bar: entry 255 on the top row, entry 0 on the bottom row, linear in between */
    const uint8_t (*table)[3] = doubt_colormap_table(o->cmap);
    for (int y = L.bar_top; y <= L.bar_bottom; y++) {
        int idx = (int)lround(255.0 * (L.bar_bottom - y) / (bar_len - 1));
        for (int x = L.bar_x; x < L.bar_x + L.bar_w; x++)
            put(out, L.width, x, y, table[idx]);
    }
    /* ticks on the map side of the bar (on the label side a tick reads as a minus sign),
     * labels on the other side, each centred on its tick */
    for (int k = 0; k < L.nticks; k++) {
        int ty = L.bar_bottom - (int)lround((double)k * (bar_len - 1) / (L.nticks - 1));
        for (int t = 0; t < scale; t++)
            for (int x = 1; x <= TICK_LEN * scale; x++) {
                int yy = ty + t - scale / 2;
                if (yy >= 0 && yy < L.height)
                    put(out, L.width, L.bar_x - x, yy, ink);
            }
        doubt_font_draw(out, L.width, L.height, label_x, ty - glyph_h / 2, labels[k], scale, ink);
    }
    if (has_units)
        doubt_font_draw(out, L.width, L.height, L.bar_x, MARGIN, o->units, scale, ink);
    if (has_legend) {
        for (int y = L.swatch_y; y < L.swatch_y + L.swatch_h; y++)
            for (int x = L.bar_x; x < L.bar_x + L.bar_w; x++)
                put(out, L.width, x, y, o->invalid);
        doubt_font_draw(out, L.width, L.height, label_x, L.swatch_y, o->invalid_label, scale,
                        ink);
    }

    *rgb = out;
    if (layout)
        *layout = L;
    return DOUBT_OK;
}

/* The shortest decimal that reads back as the same float ("0.02", not "0.0199999996"). */
static void format_exact(float v, char out[24])
{
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(out, 24, "%.*g", digits, (double)v);
        if (strtof(out, NULL) == v)
            return;
    }
}

doubt_status doubt_heatmap_write(const char *path, const float *v, const uint8_t *valid,
                                 int width, int height, const doubt_heatmap_opts *o,
                                 doubt_error *err)
{
    uint8_t *rgb;
    doubt_heatmap_layout L;
    doubt_status st = doubt_heatmap_render(v, valid, width, height, o, &rgb, &L, err);
    if (st)
        return st;
    char lo[24], hi[24], range[64];
    format_exact(o->lo, lo);
    format_exact(o->hi, hi);
    snprintf(range, sizeof range, "%s:%s", lo, hi);
    char invalid[16];
    snprintf(invalid, sizeof invalid, "%d,%d,%d", o->invalid[0], o->invalid[1], o->invalid[2]);
    doubt_png_text t[8 + MAX_EXTRA_TEXTS];
    int nt = 0;
    t[nt++] = (doubt_png_text){"doubt.range", range};
    t[nt++] = (doubt_png_text){"doubt.scale", o->log_scale ? "log10" : "linear"};
    t[nt++] = (doubt_png_text){"doubt.colormap", doubt_colormap_name(o->cmap)};
    t[nt++] = (doubt_png_text){"doubt.invalid_rgb", invalid};
    if (o->map_name)
        t[nt++] = (doubt_png_text){"doubt.map", o->map_name};
    if (o->units)
        t[nt++] = (doubt_png_text){"doubt.units", o->units};
    if (o->invalid_label)
        t[nt++] = (doubt_png_text){"doubt.invalid_label", o->invalid_label};
    t[nt++] = (doubt_png_text){"Software", "doubt " DOUBT_VERSION};
    for (int i = 0; i < o->ntexts; i++)
        t[nt++] = o->texts[i];
    st = doubt_png_write_rgb8(path, rgb, L.width, L.height, t, nt, err);
    free(rgb);
    return st;
}
