/* Panel composition: nearest-neighbour scaling keeps heatmap pixels and colorbar ticks crisp
 * (no colour that is not on the colormap appears), which interpolation would not. */
#include "panel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "font.h"

int doubt_panel_scaled_width(int w, int h, int height)
{
    long long sw = ((long long)w * height * 2 + h) / (2LL * h);
    return sw < 1 ? 1 : (int)sw;
}

doubt_status doubt_panel_resize(const uint8_t *rgb, int w, int h, int nw, int nh, uint8_t **out,
                                doubt_error *err)
{
    *out = NULL;
    if (!rgb || w < 1 || h < 1 || nw < 1 || nh < 1)
        return doubt_fail(err, DOUBT_ERR_ARG, "panel: cannot resize %dx%d to %dx%d", w, h, nw, nh);
    uint8_t *o = malloc((size_t)nw * nh * 3);
    if (!o)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "panel: out of memory for %dx%d", nw, nh);
    for (int y = 0; y < nh; y++) {
        /* Source pixel whose centre is nearest: floor((y + 0.5) h / nh). */
        int sy = (int)(((long long)2 * y + 1) * h / (2LL * nh));
        for (int x = 0; x < nw; x++) {
            int sx = (int)(((long long)2 * x + 1) * w / (2LL * nw));
            memcpy(o + ((size_t)y * nw + x) * 3, rgb + ((size_t)sy * w + sx) * 3, 3);
        }
    }
    *out = o;
    return DOUBT_OK;
}

void doubt_panel_blend(uint8_t *dst, const uint8_t *src, int64_t n, float alpha)
{
    for (int64_t i = 0; i < 3 * n; i++)
        dst[i] = (uint8_t)lrintf((1.0f - alpha) * dst[i] + alpha * src[i]);
}

/* Draws the title at `scale`, cut with "..." where it is wider than `room`. */
static void draw_title(uint8_t *canvas, int cw, int ch, int x, int y, int room, int scale,
                       const char *title)
{
    static const uint8_t black[3] = {0, 0, 0};
    char buf[128];
    size_t len = strlen(title);
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, title, len);
    buf[len] = '\0';
    while (len > 3 && doubt_font_text_width(buf, scale) > room) {
        len--;
        memcpy(buf + len - 3, "...", 4);
    }
    int dy = (DOUBT_PANEL_TITLE_H - 2 * DOUBT_PANEL_TITLE_PAD - DOUBT_FONT_H * scale) / 2;
    doubt_font_draw(canvas, cw, ch, x, y + DOUBT_PANEL_TITLE_PAD + (dy > 0 ? dy : 0), buf, scale,
                    black);
}

doubt_status doubt_panel_compose(const doubt_panel_tile *tiles, int n, int height, uint8_t **rgb,
                                 int *width, int *canvas_height, doubt_error *err)
{
    *rgb = NULL;
    if (!tiles || n < 1)
        return doubt_fail(err, DOUBT_ERR_ARG, "panel: no tiles");
    for (int i = 0; i < n; i++)
        if (!tiles[i].rgb || tiles[i].width < 1 || tiles[i].height < 1)
            return doubt_fail(err, DOUBT_ERR_ARG, "panel: tile %d (%s) is empty", i,
                              tiles[i].title ? tiles[i].title : "untitled");
    if (height <= 0)
        for (int i = 0; i < n; i++)
            height = tiles[i].height > height ? tiles[i].height : height;
    /* One title size for the whole panel: mixed sizes read as a hierarchy there is not. */
    long long cw = DOUBT_PANEL_MARGIN;
    int scale = 2;
    for (int i = 0; i < n; i++) {
        int tw = doubt_panel_scaled_width(tiles[i].width, tiles[i].height, height);
        if (tiles[i].title && doubt_font_text_width(tiles[i].title, 2) > tw)
            scale = 1;
        cw += tw + DOUBT_PANEL_MARGIN;
    }
    long long chh = 2LL * DOUBT_PANEL_MARGIN + DOUBT_PANEL_TITLE_H + height;
    if (cw > 65535 || chh > 65535)
        return doubt_fail(err, DOUBT_ERR_ARG, "panel: %lldx%lld is too large for a PNG viewer", cw,
                          chh);
    uint8_t *c = malloc((size_t)cw * chh * 3);
    if (!c)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "panel: out of memory for %lldx%lld", cw, chh);
    memset(c, 255, (size_t)cw * chh * 3);
    int x = DOUBT_PANEL_MARGIN;
    const int y = DOUBT_PANEL_MARGIN + DOUBT_PANEL_TITLE_H;
    for (int i = 0; i < n; i++) {
        const doubt_panel_tile *t = &tiles[i];
        int tw = doubt_panel_scaled_width(t->width, t->height, height);
        uint8_t *scaled = NULL;
        const uint8_t *src = t->rgb;
        if (tw != t->width || height != t->height) {
            doubt_status st =
                doubt_panel_resize(t->rgb, t->width, t->height, tw, height, &scaled, err);
            if (st) {
                free(c);
                return st;
            }
            src = scaled;
        }
        for (int r = 0; r < height; r++)
            memcpy(c + (((size_t)(y + r) * cw) + x) * 3, src + (size_t)r * tw * 3, (size_t)tw * 3);
        free(scaled);
        if (t->title)
            draw_title(c, (int)cw, (int)chh, x, DOUBT_PANEL_MARGIN, tw, scale, t->title);
        x += tw + DOUBT_PANEL_MARGIN;
    }
    *rgb = c;
    *width = (int)cw;
    *canvas_height = (int)chh;
    return DOUBT_OK;
}
