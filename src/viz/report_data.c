#include "report_data.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fsutil.h"

uint16_t doubt_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint16_t sign = (uint16_t)(x >> 16 & 0x8000u);
    const uint32_t absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u)
        return sign | 0x7e00u; /* NaN */
    if (absx >= 0x477ff000u)
        return sign | 0x7c00u; /* rounds past 65504 (or is infinite) */
    const int e = (int)(absx >> 23) - 127;
    uint32_t mant = (absx & 0x7fffffu) | 0x800000u; /* 24 bits with the implicit one */
    int shift;                                       /* bits of mant to drop */
    uint32_t base;                                   /* exponent field of the result */
    if (e < -25)
        return sign; /* below half the smallest subnormal: zero */
    if (e < -14) {
        shift = 13 + (-14 - e); /* subnormal: value = m * 2^-24 */
        base = 0;
    } else {
        shift = 13;
        base = (uint32_t)(e + 15) << 10;
        mant &= 0x7fffffu; /* the implicit one is in the exponent field */
    }
    uint32_t q = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rest > half || (rest == half && (q & 1u)))
        q++; /* a carry into the exponent field is the right answer too */
    return (uint16_t)(sign | (base + q));
}

size_t doubt_base64_encode(const uint8_t *in, size_t n, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        const uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = a[v >> 18];
        out[o++] = a[v >> 12 & 63];
        out[o++] = a[v >> 6 & 63];
        out[o++] = a[v & 63];
    }
    if (i < n) {
        const uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = a[v >> 18];
        out[o++] = a[v >> 12 & 63];
        out[o++] = i + 1 < n ? a[v >> 6 & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

doubt_status doubt_report_data_write(const char *path, int side, const char *name, int tile,
                                     int width, doubt_report_rect r,
                                     const doubt_report_plane *planes, int nplanes,
                                     doubt_error *err)
{
    if (r.w <= 0 || r.h <= 0 || r.x < 0 || r.y < 0 || r.x + r.w > width || nplanes < 0 ||
        (nplanes && !planes))
        return doubt_fail(err, DOUBT_ERR_ARG, "report data %s: bad tile %dx%d at (%d, %d) of "
                          "width %d, or no planes", path, r.w, r.h, r.x, r.y, width);
    const size_t n = (size_t)r.w * r.h;
    uint8_t *bytes = malloc(2 * n);
    char *b64 = malloc(4 * ((2 * n + 2) / 3) + 1);
    char *quoted = NULL;
    cJSON *s = cJSON_CreateString(name);
    if (s)
        quoted = cJSON_PrintUnformatted(s); /* the name as a JSON (hence JS) string */
    cJSON_Delete(s);
    doubt_status st = DOUBT_OK;
    if (!bytes || !b64 || !quoted) {
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "report data %s: out of memory", path);
        goto done;
    }
    doubt_atomic_file af;
    if ((st = doubt_atomic_open(&af, path, err)))
        goto done;
    /* "</" cannot end anything: this is a script file, not an inline <script>. */
    fprintf(af.f, "doubtData(%d,%s,%d,{\"x\":%d,\"y\":%d,\"w\":%d,\"h\":%d,\"maps\":{", side,
            quoted, tile, r.x, r.y, r.w, r.h);
    for (int k = 0; k < nplanes; k++) {
        const doubt_report_plane *p = &planes[k];
        size_t nb = 0;
        for (int y = r.y; y < r.y + r.h; y++) {
            const size_t row = (size_t)y * width + r.x;
            if (p->type == DOUBT_REPORT_U8) {
                memcpy(bytes + nb, p->u8 + row, (size_t)r.w);
                nb += (size_t)r.w;
                continue;
            }
            for (int x = 0; x < r.w; x++) {
                const uint16_t h = doubt_f32_to_f16(p->f32[row + x]);
                bytes[nb++] = (uint8_t)(h & 0xff);
                bytes[nb++] = (uint8_t)(h >> 8);
            }
        }
        doubt_base64_encode(bytes, nb, b64);
        fprintf(af.f, "%s\"%s\":\"%s\"", k ? "," : "", p->key, b64);
    }
    fputs("}});\n", af.f);
    if (ferror(af.f)) {
        doubt_atomic_abort(&af);
        st = doubt_fail(err, DOUBT_ERR_IO, "%s: write failed", path);
    } else
        st = doubt_atomic_commit(&af, err);
done:
    free(bytes);
    free(b64);
    cJSON_free(quoted);
    return st;
}
