#include "palette.h"

#include <math.h>
#include <string.h>

const uint8_t doubt_palette_synth[DOUBT_PALETTE_SYNTH_CLASSES][3] = {
    {0, 0, 0},     {128, 64, 128}, {70, 70, 70},   {220, 20, 60},
    {250, 170, 30}, {0, 142, 0},    {70, 180, 250}, {250, 250, 0}};

void doubt_palette_generate(uint8_t (*pal)[3], int n)
{
    for (int c = 0; c < n; c++) {
        double h = fmod(c * 0.6180339887498949, 1.0) * 6.0, s = 0.65, v = 0.95;
        int sector = (int)h;
        double f = h - sector, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
        double rgb[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
        for (int k = 0; k < 3; k++)
            pal[c][k] = (uint8_t)lround(255.0 * rgb[sector % 6][k]);
    }
}

void doubt_palette_default(uint8_t (*pal)[3], int classes)
{
    if (classes == DOUBT_PALETTE_SYNTH_CLASSES)
        memcpy(pal, doubt_palette_synth, sizeof doubt_palette_synth);
    else
        doubt_palette_generate(pal, classes);
}
