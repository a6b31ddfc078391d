#include "plot.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "font.h"
#include "io/png.h"

enum { MAX_LEGEND = 8, MAX_TEXT = 96, MAX_TICKS = 24 };

typedef enum { ENTRY_LINE, ENTRY_BAR, ENTRY_NOTE } entry_kind;

typedef struct {
    entry_kind kind;
    doubt_plot_style style;
    char text[MAX_TEXT];
} legend_entry;

struct doubt_plot {
    doubt_plot_desc d;
    int w, h, s;        /* canvas size, scale */
    int ax, ay, aw, ah; /* plot area */
    uint8_t *rgb;
    uint8_t *tmp; /* h x glyph height scratch for rotated text */
    legend_entry legend[MAX_LEGEND];
    int nlegend;
    int rendered;
    long dash_phase; /* carried along a polyline so dashes do not restart at every vertex */
};

static const uint8_t white[3] = {255, 255, 255};
static const uint8_t black[3] = {0, 0, 0};
static const uint8_t grid[3] = {228, 228, 228};
static const uint8_t legend_border[3] = {160, 160, 160};

/* Tableau's first colours: distinguishable, and the blue/orange pair survives colour blindness */
static const uint8_t palette[][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {110, 110, 110}};

doubt_plot_desc doubt_plot_defaults(void)
{
    doubt_plot_desc d;
    memset(&d, 0, sizeof d);
    d.width = 640;
    d.height = 480;
    d.x1 = d.y1 = 1.0;
    d.legend = DOUBT_PLOT_LEGEND_TOP_LEFT;
    return d;
}

doubt_plot_style doubt_plot_style_of(doubt_plot_color c)
{
    doubt_plot_style st;
    memset(&st, 0, sizeof st);
    memcpy(st.color, palette[c], 3);
    st.thickness = 1;
    return st;
}

/* ---- pixels ------------------------------------------------------------------------------ */

static void put(doubt_plot *p, int x, int y, const uint8_t c[3])
{
    if (x < 0 || y < 0 || x >= p->w || y >= p->h)
        return;
    memcpy(p->rgb + ((size_t)y * (size_t)p->w + (size_t)x) * 3, c, 3);
}

/* Series stay inside the frame. */
static void put_clipped(doubt_plot *p, int x, int y, const uint8_t c[3])
{
    if (x < p->ax || y < p->ay || x >= p->ax + p->aw || y >= p->ay + p->ah)
        return;
    put(p, x, y, c);
}

static void fill_rect(doubt_plot *p, int x0, int y0, int x1, int y1, const uint8_t c[3], int clip)
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            clip ? put_clipped(p, x, y, c) : put(p, x, y, c);
}

static void hline(doubt_plot *p, int x0, int x1, int y, const uint8_t c[3])
{
    fill_rect(p, x0, y, x1, y, c, 0);
}

static void vline(doubt_plot *p, int x, int y0, int y1, const uint8_t c[3])
{
    fill_rect(p, x, y0, x, y1, c, 0);
}

static double map_x(const doubt_plot *p, double x)
{
    return p->ax + (x - p->d.x0) / (p->d.x1 - p->d.x0) * (p->aw - 1);
}

static double map_y(const doubt_plot *p, double y)
{
    return p->ay + p->ah - 1 - (y - p->d.y0) / (p->d.y1 - p->d.y0) * (p->ah - 1);
}

/* ---- text -------------------------------------------------------------------------------- */

/* The font draws lowercase as capitals except 'e', which it keeps for exponents: labels are
 * words, so they go fully upper-case. */
static void upper(char *dst, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < MAX_TEXT; i++)
        dst[i] = (char)toupper((unsigned char)src[i]);
    dst[i] = '\0';
}

static void text(doubt_plot *p, int x, int y, const char *s, int scale)
{
    char buf[MAX_TEXT];
    upper(buf, s);
    doubt_font_draw(p->rgb, p->w, p->h, x, y, buf, scale, black);
}

static int text_w(const char *s, int scale)
{
    char buf[MAX_TEXT];
    upper(buf, s);
    return doubt_font_text_width(buf, scale);
}

/* The largest scale <= want at which s fits in room pixels (at least 1: then it is clipped). */
static int fit_scale(const char *s, int want, int room)
{
    while (want > 1 && text_w(s, want) > room)
        want--;
    return want;
}

/* Text turned 90 degrees counter-clockwise (read bottom to top), centred on (cx, cy). */
static void text_vertical(doubt_plot *p, int cx, int cy, const char *s, int scale)
{
    char buf[MAX_TEXT];
    upper(buf, s);
    const int tw = doubt_font_text_width(buf, scale), th = DOUBT_FONT_H * scale;
    memset(p->tmp, 255, (size_t)p->h * (size_t)th * 3);
    doubt_font_draw(p->tmp, p->h, th, 0, 0, buf, scale, black);
    const int x0 = cx - th / 2, y0 = cy + tw / 2;
    for (int ty = 0; ty < th; ty++)
        for (int tx = 0; tx < tw && tx < p->h; tx++)
            if (p->tmp[((size_t)ty * (size_t)p->h + (size_t)tx) * 3] == 0)
                put(p, x0 + ty, y0 - tx, black);
}

/* ---- axes -------------------------------------------------------------------------------- */

/* A 1-2-5 step giving about six ticks over the range. */
static double nice_step(double range)
{
    const double raw = range / 6.0;
    const double mag = pow(10.0, floor(log10(raw)));
    const double r = raw / mag;
    return (r < 1.5 ? 1.0 : r < 3.0 ? 2.0 : r < 7.0 ? 5.0 : 10.0) * mag;
}

static int ticks(double lo, double hi, double *t, int *decimals)
{
    const double step = nice_step(hi - lo);
    *decimals = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    int n = 0;
    for (double k = ceil(lo / step - 1e-9); n < MAX_TICKS; k++) {
        const double v = k * step;
        if (v > hi + 1e-9 * step)
            break;
        t[n++] = fabs(v) < 1e-12 * step ? 0.0 : v;
    }
    return n;
}

static void draw_frame(doubt_plot *p)
{
    hline(p, p->ax, p->ax + p->aw - 1, p->ay, black);
    hline(p, p->ax, p->ax + p->aw - 1, p->ay + p->ah - 1, black);
    vline(p, p->ax, p->ay, p->ay + p->ah - 1, black);
    vline(p, p->ax + p->aw - 1, p->ay, p->ay + p->ah - 1, black);
}

static void draw_axes(doubt_plot *p)
{
    const int s = p->s, tick = 3 * s, bottom = p->ay + p->ah - 1;
    double t[MAX_TICKS];
    int dec;
    char lab[32];

    int n = ticks(p->d.x0, p->d.x1, t, &dec);
    for (int k = 0; k < n; k++) {
        const int x = (int)lround(map_x(p, t[k]));
        vline(p, x, p->ay + 1, bottom - 1, grid);
        vline(p, x, bottom + 1, bottom + tick, black);
        snprintf(lab, sizeof lab, "%.*f", dec, t[k]);
        text(p, x - text_w(lab, s) / 2, bottom + tick + 2 * s, lab, s);
    }
    n = ticks(p->d.y0, p->d.y1, t, &dec);
    for (int k = 0; k < n; k++) {
        const int y = (int)lround(map_y(p, t[k]));
        hline(p, p->ax + 1, p->ax + p->aw - 2, y, grid);
        hline(p, p->ax - tick, p->ax - 1, y, black);
        snprintf(lab, sizeof lab, "%.*f", dec, t[k]);
        text(p, p->ax - tick - 2 * s - text_w(lab, s), y - DOUBT_FONT_H * s / 2, lab, s);
    }
    /* labels too long for their side shrink rather than run off the canvas */
    if (p->d.xlabel) {
        const int ls = fit_scale(p->d.xlabel, s, p->aw);
        text(p, p->ax + p->aw / 2 - text_w(p->d.xlabel, ls) / 2,
             bottom + tick + 2 * s + DOUBT_FONT_H * s + 5 * s, p->d.xlabel, ls);
    }
    if (p->d.ylabel)
        text_vertical(p, 4 * s + DOUBT_FONT_H * s / 2, p->ay + p->ah / 2, p->d.ylabel,
                      fit_scale(p->d.ylabel, s, p->ah));
    if (p->d.title) {
        const int ts = fit_scale(p->d.title, s + 1, p->w - 8 * s);
        text(p, p->w / 2 - text_w(p->d.title, ts) / 2, 8 * s + (s + 1 - ts) * DOUBT_FONT_H / 2,
             p->d.title, ts);
    }
    draw_frame(p);
}

doubt_status doubt_plot_create(const doubt_plot_desc *desc, doubt_plot **out, doubt_error *err)
{
    *out = NULL;
    if (!desc || desc->width < 160 || desc->height < 120 || desc->width > 8192 ||
        desc->height > 8192 || !(desc->x0 < desc->x1) || !(desc->y0 < desc->y1) ||
        !isfinite(desc->x1 - desc->x0) || !isfinite(desc->y1 - desc->y0))
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "plot: need 160x120 .. 8192x8192 and finite ranges x0 < x1, y0 < y1");
    doubt_plot *p = calloc(1, sizeof *p);
    if (!p)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "plot: no memory");
    p->d = *desc;
    p->w = desc->width;
    p->h = desc->height;
    int s = p->w / 320 < p->h / 240 ? p->w / 320 : p->h / 240;
    p->s = s = s < 1 ? 1 : s;
    p->ax = 50 * s;
    p->ay = 26 * s;
    p->aw = p->w - p->ax - 15 * s;
    p->ah = p->h - p->ay - 36 * s;
    p->rgb = malloc((size_t)p->w * (size_t)p->h * 3);
    p->tmp = malloc((size_t)p->h * DOUBT_FONT_H * (size_t)s * 3);
    if (!p->rgb || !p->tmp) {
        doubt_plot_destroy(p);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "plot: no memory for a %dx%d canvas", desc->width,
                          desc->height);
    }
    memset(p->rgb, 255, (size_t)p->w * (size_t)p->h * 3);
    draw_axes(p);
    /* the strings belong to the caller and were only needed for drawing */
    p->d.title = p->d.xlabel = p->d.ylabel = NULL;
    *out = p;
    return DOUBT_OK;
}

void doubt_plot_destroy(doubt_plot *p)
{
    if (!p)
        return;
    free(p->rgb);
    free(p->tmp);
    free(p);
}

void doubt_plot_area(const doubt_plot *p, int *x, int *y, int *w, int *h)
{
    *x = p->ax;
    *y = p->ay;
    *w = p->aw;
    *h = p->ah;
}

/* ---- series ------------------------------------------------------------------------------ */

static void add_legend(doubt_plot *p, entry_kind kind, doubt_plot_style style, const char *label)
{
    if (!label || p->nlegend == MAX_LEGEND)
        return;
    legend_entry *e = &p->legend[p->nlegend++];
    e->kind = kind;
    e->style = style;
    upper(e->text, label);
}

static void brush(doubt_plot *p, int x, int y, const doubt_plot_style *st)
{
    const int size = (st->thickness < 1 ? 1 : st->thickness) * p->s + 1;
    const int lo = -(size - 1) / 2;
    for (int dy = lo; dy < lo + size; dy++)
        for (int dx = lo; dx < lo + size; dx++)
            put_clipped(p, x + dx, y + dy, st->color);
}

/* Liang-Barsky: clips the segment to a box a little larger than the plot area, so a point far
 * outside the range costs no more than one across the canvas. */
static int clip_segment(const doubt_plot *p, double *x0, double *y0, double *x1, double *y1)
{
    const double m = 8.0 * p->s;
    const double lo_x = p->ax - m, hi_x = p->ax + p->aw + m;
    const double lo_y = p->ay - m, hi_y = p->ay + p->ah + m;
    const double dx = *x1 - *x0, dy = *y1 - *y0;
    const double pp[4] = {-dx, dx, -dy, dy};
    const double qq[4] = {*x0 - lo_x, hi_x - *x0, *y0 - lo_y, hi_y - *y0};
    double t0 = 0.0, t1 = 1.0;
    for (int k = 0; k < 4; k++) {
        if (pp[k] == 0.0) {
            if (qq[k] < 0.0)
                return 0;
            continue;
        }
        const double t = qq[k] / pp[k];
        if (pp[k] < 0.0) {
            if (t > t1)
                return 0;
            if (t > t0)
                t0 = t;
        } else {
            if (t < t0)
                return 0;
            if (t < t1)
                t1 = t;
        }
    }
    const double ox = *x0, oy = *y0;
    *x0 = ox + t0 * dx;
    *y0 = oy + t0 * dy;
    *x1 = ox + t1 * dx;
    *y1 = oy + t1 * dy;
    return 1;
}

static void segment(doubt_plot *p, double fx0, double fy0, double fx1, double fy1,
                    const doubt_plot_style *st)
{
    if (!clip_segment(p, &fx0, &fy0, &fx1, &fy1))
        return;
    int x0 = (int)lround(fx0), y0 = (int)lround(fy0);
    const int x1 = (int)lround(fx1), y1 = (int)lround(fy1);
    const int dx = abs(x1 - x0), dy = -abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    const long on = 5L * p->s, period = 8L * p->s;
    int e = dx + dy;
    for (;;) {
        if (!st->dashed || p->dash_phase % period < on)
            brush(p, x0, y0, st);
        p->dash_phase++;
        if (x0 == x1 && y0 == y1)
            return;
        const int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

static void dot(doubt_plot *p, double fx, double fy, const uint8_t c[3])
{
    const int r = 3 * p->s;
    if (!(fabs(fx) < 1e6 && fabs(fy) < 1e6))
        return;
    const int cx = (int)lround(fx), cy = (int)lround(fy);
    for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++)
            if (dx * dx + dy * dy <= r * r)
                put_clipped(p, cx + dx, cy + dy, c);
}

void doubt_plot_line(doubt_plot *p, const double *x, const double *y, int n, doubt_plot_style style,
                     const char *label)
{
    p->dash_phase = 0;
    for (int i = 0; i + 1 < n; i++)
        if (isfinite(x[i]) && isfinite(y[i]) && isfinite(x[i + 1]) && isfinite(y[i + 1]))
            segment(p, map_x(p, x[i]), map_y(p, y[i]), map_x(p, x[i + 1]), map_y(p, y[i + 1]),
                    &style);
    if (n == 1 && isfinite(x[0]) && isfinite(y[0]))
        brush(p, (int)lround(map_x(p, x[0])), (int)lround(map_y(p, y[0])), &style);
    if (style.markers)
        for (int i = 0; i < n; i++)
            if (isfinite(x[i]) && isfinite(y[i]))
                dot(p, map_x(p, x[i]), map_y(p, y[i]), style.color);
    add_legend(p, ENTRY_LINE, style, label);
}

static double clamp_px(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

void doubt_plot_bars(doubt_plot *p, const double *x_lo, const double *x_hi, const double *y, int n,
                     const uint8_t fill[3], const char *label)
{
    const double base = p->d.y0 < 0.0 && p->d.y1 > 0.0 ? 0.0 : p->d.y0;
    const uint8_t edge[3] = {(uint8_t)(fill[0] * 3 / 5), (uint8_t)(fill[1] * 3 / 5),
                             (uint8_t)(fill[2] * 3 / 5)};
    /* pixel coordinates clamped to the area before rounding: no overflow on wild values */
    const double lo_x = p->ax - 1.0, hi_x = p->ax + p->aw, lo_y = p->ay - 1.0, hi_y = p->ay + p->ah;
    for (int i = 0; i < n; i++) {
        if (!isfinite(x_lo[i]) || !isfinite(x_hi[i]) || !isfinite(y[i]))
            continue;
        const int xa = (int)lround(clamp_px(map_x(p, x_lo[i]), lo_x, hi_x));
        const int xb = (int)lround(clamp_px(map_x(p, x_hi[i]), lo_x, hi_x));
        const int ya = (int)lround(clamp_px(map_y(p, y[i]), lo_y, hi_y));
        const int yb = (int)lround(clamp_px(map_y(p, base), lo_y, hi_y));
        const int l = xa < xb ? xa : xb, r = xa < xb ? xb : xa;
        const int t = ya < yb ? ya : yb, b = ya < yb ? yb : ya;
        fill_rect(p, l, t, r, b, edge, 1);
        fill_rect(p, l + 1, t + 1, r - 1, b - 1, fill, 1);
    }
    doubt_plot_style st = doubt_plot_style_of(DOUBT_PLOT_GRAY);
    memcpy(st.color, fill, 3);
    add_legend(p, ENTRY_BAR, st, label);
}

void doubt_plot_note(doubt_plot *p, const char *note)
{
    add_legend(p, ENTRY_NOTE, doubt_plot_style_of(DOUBT_PLOT_GRAY), note);
}

/* ---- legend, render, save ---------------------------------------------------------------------
 */

static void draw_legend(doubt_plot *p)
{
    if (p->nlegend == 0)
        return;
    /* the legend's own scale: one step smaller when it would not fit in the plot area */
    int s = p->s, tw = 0, pad, row, swatch, gap;
    for (;;) {
        pad = 4 * s, row = 11 * s, swatch = 18 * s, gap = 4 * s, tw = 0;
        for (int k = 0; k < p->nlegend; k++) {
            int w = doubt_font_text_width(p->legend[k].text, s);
            if (p->legend[k].kind != ENTRY_NOTE)
                w += swatch + gap;
            tw = w > tw ? w : tw;
        }
        if (s == 1 || tw + 2 * pad <= p->aw - 16 * p->s)
            break;
        s--;
    }
    const int bw = tw + 2 * pad, bh = p->nlegend * row - (row - DOUBT_FONT_H * s) + 2 * pad;
    const int bx =
        p->d.legend == DOUBT_PLOT_LEGEND_TOP_RIGHT ? p->ax + p->aw - 8 * s - bw : p->ax + 8 * s;
    const int by = p->ay + 8 * s;
    fill_rect(p, bx, by, bx + bw - 1, by + bh - 1, legend_border, 0);
    fill_rect(p, bx + 1, by + 1, bx + bw - 2, by + bh - 2, white, 0);
    for (int k = 0; k < p->nlegend; k++) {
        const legend_entry *e = &p->legend[k];
        const int x = bx + pad, y = by + pad + k * row, mid = y + DOUBT_FONT_H * s / 2;
        int tx = x + swatch + gap;
        if (e->kind == ENTRY_LINE) {
            doubt_plot_style st = e->style;
            p->dash_phase = 0;
            segment(p, x, mid, x + swatch - 1, mid, &st);
            if (st.markers)
                dot(p, x + swatch / 2, mid, st.color);
        } else if (e->kind == ENTRY_BAR) {
            fill_rect(p, x + 2 * s, y, x + swatch - 1 - 2 * s, y + DOUBT_FONT_H * s - 1,
                      e->style.color, 0);
        } else {
            tx = x;
        }
        doubt_font_draw(p->rgb, p->w, p->h, tx, y, e->text, s, black);
    }
}

const uint8_t *doubt_plot_render(doubt_plot *p, int *width, int *height)
{
    if (!p->rendered) {
        draw_legend(p);
        draw_frame(p); /* series may have been drawn over it */
        p->rendered = 1;
    }
    if (width)
        *width = p->w;
    if (height)
        *height = p->h;
    return p->rgb;
}

doubt_status doubt_plot_save(doubt_plot *p, const char *path, doubt_error *err)
{
    int w, h;
    const uint8_t *rgb = doubt_plot_render(p, &w, &h);
    doubt_png_text t[] = {{"Software", "doubt " DOUBT_VERSION}};
    return doubt_png_write_rgb8(path, rgb, w, h, t, 1, err);
}

/* ---- figures ------------------------------------------------------------------------------ */

/* The smallest 1, 1.2, 1.5, 2, 2.5 or 5 times a power of ten that is >= v: a round top for an axis.
 */
static double nice_ceil(double v)
{
    if (!(v > 0.0) || !isfinite(v))
        return 1.0;
    const double mag = pow(10.0, floor(log10(v)));
    static const double steps[] = {1.0, 1.2, 1.5, 2.0, 2.5, 5.0, 10.0};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++)
        if (steps[k] * mag >= v * (1.0 - 1e-12))
            return steps[k] * mag;
    return 10.0 * mag;
}

doubt_status doubt_plot_reliability(const char *path, const doubt_seg_result *r, const char *title,
                                    doubt_error *err)
{
    doubt_plot_desc d = doubt_plot_defaults();
    d.title = title ? title : "Reliability diagram";
    d.xlabel = "Confidence (max class probability)";
    d.ylabel = "Accuracy";
    doubt_plot *p;
    doubt_status st = doubt_plot_create(&d, &p, err);
    if (st)
        return st;
    double lo[DOUBT_ECE_BINS], hi[DOUBT_ECE_BINS], mid[DOUBT_ECE_BINS];
    for (int b = 0; b < DOUBT_ECE_BINS; b++) {
        lo[b] = (double)b / DOUBT_ECE_BINS;
        hi[b] = (double)(b + 1) / DOUBT_ECE_BINS;
        mid[b] = 0.5 * (lo[b] + hi[b]);
    }
    doubt_plot_bars(p, lo, hi, r->bin_acc, DOUBT_ECE_BINS, palette[DOUBT_PLOT_BLUE],
                    "Accuracy per bin");
    doubt_plot_style conf = doubt_plot_style_of(DOUBT_PLOT_ORANGE);
    conf.markers = 1;
    conf.thickness = 0;
    /* dots only: a line would join bins across empty ones */
    for (int b = 0; b < DOUBT_ECE_BINS; b++)
        if (isfinite(r->bin_conf[b]))
            dot(p, map_x(p, mid[b]), map_y(p, r->bin_conf[b]), conf.color);
    add_legend(p, ENTRY_LINE, conf, "Mean confidence");
    doubt_plot_style diag = doubt_plot_style_of(DOUBT_PLOT_GRAY);
    diag.dashed = 1;
    const double dx[2] = {0.0, 1.0};
    doubt_plot_line(p, dx, dx, 2, diag, "Perfect calibration");
    char note[MAX_TEXT];
    snprintf(note, sizeof note, "ECE %.4f over %lld pixels", r->ece, (long long)r->prob_pixels);
    doubt_plot_note(p, note);
    st = doubt_plot_save(p, path, err);
    doubt_plot_destroy(p);
    return st;
}

doubt_status doubt_plot_sparsification(const char *path, const doubt_sparsification *sp,
                                       const char *metric, const char *title, doubt_error *err)
{
    double top = 0.0;
    for (int k = 0; k < DOUBT_SPARSE_STEPS; k++) {
        top = sp->model[k] > top ? sp->model[k] : top;
        top = sp->oracle[k] > top ? sp->oracle[k] : top;
    }
    char ylabel[MAX_TEXT], note[MAX_TEXT];
    snprintf(ylabel, sizeof ylabel, "%s (normalised)", metric ? metric : "Error");
    doubt_plot_desc d = doubt_plot_defaults();
    d.title = title ? title : "Sparsification";
    d.xlabel = "Fraction of pixels removed";
    d.ylabel = ylabel;
    d.y1 = nice_ceil(top * 1.05);
    d.legend = DOUBT_PLOT_LEGEND_TOP_RIGHT;
    doubt_plot *p;
    doubt_status st = doubt_plot_create(&d, &p, err);
    if (st)
        return st;
    doubt_plot_style model = doubt_plot_style_of(DOUBT_PLOT_BLUE);
    doubt_plot_style oracle = doubt_plot_style_of(DOUBT_PLOT_ORANGE);
    oracle.dashed = 1;
    doubt_plot_line(p, sp->fraction, sp->model, DOUBT_SPARSE_STEPS, model,
                    "Removing most uncertain first");
    doubt_plot_line(p, sp->fraction, sp->oracle, DOUBT_SPARSE_STEPS, oracle,
                    "Oracle: largest error first");
    snprintf(note, sizeof note, "AUSE %.4f", sp->ause);
    doubt_plot_note(p, note);
    st = doubt_plot_save(p, path, err);
    doubt_plot_destroy(p);
    return st;
}

typedef struct {
    float u, e;
    int64_t i;
} ue_pair;

static int by_u(const void *pa, const void *pb)
{
    const ue_pair *a = pa, *b = pb;
    if (a->u != b->u)
        return a->u < b->u ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

doubt_status doubt_plot_uncertainty_error(const char *path, const float *uncertainty,
                                          const float *e, int64_t n, const char *xlabel,
                                          const char *ylabel, const char *title, doubt_error *err)
{
    if (n < DOUBT_PLOT_UE_BINS || !uncertainty || !e)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "uncertainty-vs-error plot %s: need at least %d pixels, got %lld", path,
                          DOUBT_PLOT_UE_BINS, (long long)n);
    ue_pair *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "uncertainty-vs-error plot: no memory");
    for (int64_t i = 0; i < n; i++)
        v[i] = (ue_pair){uncertainty[i], e[i], i};
    qsort(v, (size_t)n, sizeof *v, by_u);
    double bx[DOUBT_PLOT_UE_BINS], by[DOUBT_PLOT_UE_BINS], total = 0.0, xmax = 0.0, ymax = 0.0;
    for (int b = 0; b < DOUBT_PLOT_UE_BINS; b++) {
        const int64_t lo = b * n / DOUBT_PLOT_UE_BINS, hi = (b + 1) * n / DOUBT_PLOT_UE_BINS;
        double su = 0.0, se = 0.0;
        for (int64_t j = lo; j < hi; j++) {
            su += v[j].u;
            se += v[j].e;
        }
        total += se;
        bx[b] = su / (double)(hi - lo);
        by[b] = se / (double)(hi - lo);
        xmax = bx[b] > xmax ? bx[b] : xmax;
        ymax = by[b] > ymax ? by[b] : ymax;
    }
    free(v);
    const double mean = total / (double)n;
    doubt_plot_desc d = doubt_plot_defaults();
    d.title = title ? title : "Error against uncertainty";
    d.xlabel = xlabel ? xlabel : "Uncertainty (bin mean)";
    d.ylabel = ylabel ? ylabel : "Mean error";
    d.x1 = nice_ceil(xmax * 1.05);
    d.y1 = nice_ceil(ymax * 1.1);
    doubt_plot *p;
    doubt_status st = doubt_plot_create(&d, &p, err);
    if (st)
        return st;
    doubt_plot_style line = doubt_plot_style_of(DOUBT_PLOT_BLUE);
    line.markers = 1;
    doubt_plot_style avg = doubt_plot_style_of(DOUBT_PLOT_GRAY);
    avg.dashed = 1;
    const double ax[2] = {d.x0, d.x1}, ay[2] = {mean, mean};
    doubt_plot_line(p, ax, ay, 2, avg, "Mean error, all pixels");
    char label[MAX_TEXT];
    snprintf(label, sizeof label, "Mean error in %d equal-count bins", DOUBT_PLOT_UE_BINS);
    doubt_plot_line(p, bx, by, DOUBT_PLOT_UE_BINS, line, label);
    st = doubt_plot_save(p, path, err);
    doubt_plot_destroy(p);
    return st;
}
