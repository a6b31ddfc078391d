/* Class colours of segmentation maps. They carry no meaning for training; they only need to
 * tell classes apart at a glance, and to stay the same from run to run.
 *
 *     uint8_t pal[12][3];
 *     doubt_palette_default(pal, 12);   // synth's colours for 8 classes, else generated hues
 *
 * The 8-class palette is in the class order of the synth renderer (synth/synth.h: background,
 * floor, wall, sphere, box, cylinder, glass, other), kept here so that whatever colours a
 * segmentation needs no renderer.
 */
#ifndef DOUBT_VIZ_PALETTE_H
#define DOUBT_VIZ_PALETTE_H

#include <stdint.h>

#define DOUBT_PALETTE_SYNTH_CLASSES 8

extern const uint8_t doubt_palette_synth[DOUBT_PALETTE_SYNTH_CLASSES][3];

/* Distinct, fairly bright hues by golden-ratio steps around the colour wheel, n of them. */
void doubt_palette_generate(uint8_t (*pal)[3], int n);

/* The colours of `classes` classes when the weights bring none: doubt_palette_synth for
 * DOUBT_PALETTE_SYNTH_CLASSES classes, else doubt_palette_generate. */
void doubt_palette_default(uint8_t (*pal)[3], int classes);

#endif
