/* Shared between the synth sources, not part of the public API. */
#ifndef DOUBT_SYNTH_INTERNAL_H
#define DOUBT_SYNTH_INTERNAL_H

#include "synth/synth.h"

/* Colour of material m at the object-local point (x, y, z). */
void doubt_synth_texture_eval(const doubt_synth_material *m, float x, float y, float z,
                              float out[3]);

#endif
