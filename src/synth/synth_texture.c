/* Solid procedural textures for the synth renderer: checker, value noise, stripes, the
 * OOD-only polka dots and gradients, and the clay of look-alike objects. All are pure
 * functions of the point and the material. */
#include <math.h>

#include "synth/synth_internal.h"

/* A 32-bit integer mix (after the murmur3 finaliser) of a lattice point and a seed. */
static uint32_t lattice_hash(int32_t x, int32_t y, int32_t z, uint32_t seed)
{
    uint32_t h = seed ^ ((uint32_t)x * 0x8da6b343u) ^ ((uint32_t)y * 0xd8163841u) ^
                 ((uint32_t)z * 0xcb1ab31fu);
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

static float lattice_value(int32_t x, int32_t y, int32_t z, uint32_t seed)
{
    return (lattice_hash(x, y, z, seed) >> 8) * (1.0f / 16777216.0f);
}

static float smooth(float t) { return t * t * (3 - 2 * t); }

/* Trilinear value noise in [0, 1) with smoothstep weights. */
static float value_noise(float x, float y, float z, uint32_t seed)
{
    float fx = floorf(x), fy = floorf(y), fz = floorf(z);
    int32_t ix = (int32_t)fx, iy = (int32_t)fy, iz = (int32_t)fz;
    float tx = smooth(x - fx), ty = smooth(y - fy), tz = smooth(z - fz);
    float c[2][2];
    for (int dz = 0; dz < 2; dz++)
        for (int dy = 0; dy < 2; dy++) {
            float a = lattice_value(ix, iy + dy, iz + dz, seed);
            float b = lattice_value(ix + 1, iy + dy, iz + dz, seed);
            c[dz][dy] = a + (b - a) * tx;
        }
    float e0 = c[0][0] + (c[0][1] - c[0][0]) * ty, e1 = c[1][0] + (c[1][1] - c[1][0]) * ty;
    return e0 + (e1 - e0) * tz;
}

void doubt_synth_texture_eval(const doubt_synth_material *m, float x, float y, float z,
                              float out[3])
{
    float s = m->scale, t = 0;
    /* a tiny offset keeps checker and dot cells from splitting exactly on planes like y = 0 */
    float px = x * s + 0.013f, py = y * s + 0.017f, pz = z * s + 0.011f;
    switch (m->texture) {
    case DOUBT_TEX_FLAT: t = 0; break;
    case DOUBT_TEX_CHECKER:
        t = (float)(((int32_t)floorf(px) + (int32_t)floorf(py) + (int32_t)floorf(pz)) & 1);
        break;
    case DOUBT_TEX_NOISE:
        t = 0.65f * value_noise(px, py, pz, m->hash) +
            0.35f * value_noise(2.7f * px, 2.7f * py, 2.7f * pz, m->hash ^ 0x9e3779b9u);
        t = fminf(1, fmaxf(0, 1.6f * (t - 0.5f) + 0.5f));
        break;
    case DOUBT_TEX_STRIPES: {
        float q = px * m->dir[0] + py * m->dir[1] + pz * m->dir[2];
        t = smooth(fminf(1, fmaxf(0, 2.5f * sinf(6.2831853f * q) + 0.5f)));
        break;
    }
    case DOUBT_TEX_DOTS: {
        float qx = px - floorf(px) - 0.5f, qy = py - floorf(py) - 0.5f, qz = pz - floorf(pz) - 0.5f;
        t = qx * qx + qy * qy + qz * qz < 0.3f * 0.3f ? 1.0f : 0.0f;
        break;
    }
    case DOUBT_TEX_CLAY: {
        /* horizontal coils like a hand-built pot, whatever the shape, plus a fine grain */
        float ring = smooth(0.5f + 0.5f * sinf(6.2831853f * py));
        t = 0.75f * ring + 0.25f * value_noise(3 * px, 3 * py, 3 * pz, m->hash);
        break;
    }
    case DOUBT_TEX_GRADIENT: {
        float q = x * m->dir[0] + y * m->dir[1] + z * m->dir[2];
        t = fminf(1, fmaxf(0, 0.5f + q * s));
        break;
    }
    }
    for (int c = 0; c < 3; c++)
        out[c] = m->color_a[c] + (m->color_b[c] - m->color_a[c]) * t;
}
