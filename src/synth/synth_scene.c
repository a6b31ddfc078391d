/* Random scenes for `doubt synth`: a room (or an open floor under the sky), a camera inside
 * it, a light, and objects placed where the camera can see them. Every draw comes from
 * Philox keyed by (seed, image index), in a fixed order, so a scene is a pure function of
 * its index whatever thread samples it. */
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "synth/synth.h"

#define PI 3.14159265358979f

typedef struct {
    doubt_rng_key key;
    uint64_t n;
} sampler;

/* Layers of the scene draws: the training scene, and the room and camera of the geometry
 * OOD kind, which replace the training ones without moving any training draw. The per-pixel
 * noise of synth_render.c uses layers above 100. */
enum { RNG_SCENE = 1, RNG_GEOMETRY };

const doubt_synth_camera_range doubt_synth_rigs[2] = {
    /* a typical indoor robot or car rig: fixed mount, a little pitch from the suspension */
    {"fixed", {1.5f, 1.5f}, {60, 60}, {-0.18f, -0.12f}},
    {"random", {0.6f, 2.6f}, {45, 70}, {-0.5f, 0.1f}},
};

const doubt_synth_camera_range doubt_synth_ood_cameras[2] = {
    {"low", {0.2f, 0.45f}, {80, 100}, {0.12f, 0.3f}},
    {"high", {3.2f, 5}, {28, 40}, {-1.1f, -0.6f}},
};

/* Deeper than any training scene, whose farthest surface is about 31 m away: the corridor
 * and the hall (far wall 48-79 m away); shallower: the closet (far wall 1.9-4.5 m away, where
 * a training room's is 4.5 m or more). All narrower or wider than a training room. */
const doubt_synth_room_range doubt_synth_ood_rooms[3] = {
    {"corridor", {1.2f, 2}, {25, 40}},
    {"closet", {1.2f, 2.5f}, {1.2f, 2.5f}},
    {"hall", {28, 40}, {28, 40}},
};

static float uni(sampler *s) { return doubt_rng_uniform(s->key, s->n++); }
static float range(sampler *s, float lo, float hi) { return lo + (hi - lo) * uni(s); }
static int pick(sampler *s, int n)
{
    int k = (int)(uni(s) * n);
    return k < n ? k : n - 1;
}

static void hsv(float h, float s, float v, float out[3])
{
    h = (h - floorf(h)) * 6;
    int k = (int)h;
    float f = h - k, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    const float table[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
    memcpy(out, table[k % 6], sizeof table[0]);
}

/* Training colours are muted (saturation <= 0.7); --ood colours are neon, never seen in
 * training. */
static void random_color(sampler *s, int ood, float out[3])
{
    if (ood)
        hsv(uni(s), range(s, 0.9f, 1), range(s, 0.85f, 1), out);
    else
        hsv(uni(s), range(s, 0.1f, 0.7f), range(s, 0.3f, 0.9f), out);
}

static void random_material(sampler *s, int ood, int surface, doubt_synth_material *m)
{
    memset(m, 0, sizeof *m);
    /* floors are never flat: a plain floor gives the network no perspective cue */
    static const doubt_synth_texture floor_tex[] = {DOUBT_TEX_CHECKER, DOUBT_TEX_NOISE,
                                                    DOUBT_TEX_STRIPES};
    static const doubt_synth_texture any_tex[] = {DOUBT_TEX_FLAT, DOUBT_TEX_CHECKER,
                                                  DOUBT_TEX_NOISE, DOUBT_TEX_STRIPES};
    int novel = ood && uni(s) < 0.6f;
    if (novel)
        m->texture = uni(s) < 0.5f ? DOUBT_TEX_DOTS : DOUBT_TEX_GRADIENT;
    else if (surface == DOUBT_SYNTH_FLOOR)
        m->texture = floor_tex[pick(s, 3)];
    else
        m->texture = any_tex[pick(s, 4)];
    random_color(s, ood && uni(s) < 0.7f, m->color_a);
    float b[3];
    if (uni(s) < 0.5f) { /* a darker or lighter shade of the same colour */
        float k = range(s, 0.35f, 0.7f);
        for (int c = 0; c < 3; c++)
            b[c] = m->color_a[c] * k;
    } else
        random_color(s, ood, b);
    memcpy(m->color_b, b, sizeof b);
    if (surface == DOUBT_SYNTH_FLOOR || surface == DOUBT_SYNTH_WALL)
        m->scale = range(s, 0.5f, 2);
    else
        m->scale = range(s, 2, 7);
    if (m->texture == DOUBT_TEX_GRADIENT)
        m->scale = range(s, 0.4f, 1.2f);
    float th = range(s, 0, PI), ph = range(s, 0, 2 * PI);
    m->dir[0] = sinf(th) * cosf(ph);
    m->dir[1] = cosf(th);
    m->dir[2] = sinf(th) * sinf(ph);
    m->hash = doubt_rng_bits(s->key, s->n++);
    m->shine = surface == DOUBT_SYNTH_FLOOR || surface == DOUBT_SYNTH_WALL ? range(s, 0, 0.15f)
                                                                           : range(s, 0, 0.5f);
}

/* Radius of the object's footprint on the floor, for spacing objects apart. */
static float footprint(const doubt_synth_object *ob)
{
    switch (ob->shape) {
    case DOUBT_SHAPE_BOX: return sqrtf(ob->size[0] * ob->size[0] + ob->size[2] * ob->size[2]);
    case DOUBT_SHAPE_TORUS: return ob->size[0] + ob->size[1];
    default: return ob->size[0];
    }
}

static void random_shape(sampler *s, doubt_synth_shape shape, doubt_synth_object *ob)
{
    memset(ob, 0, sizeof *ob);
    ob->shape = shape;
    switch (shape) {
    case DOUBT_SHAPE_SPHERE:
        ob->size[0] = range(s, 0.25f, 0.9f);
        ob->center[1] = ob->size[0] + (uni(s) < 0.2f ? range(s, 0.3f, 1.2f) : 0);
        break;
    case DOUBT_SHAPE_BOX:
        for (int k = 0; k < 3; k++)
            ob->size[k] = range(s, 0.2f, 0.8f);
        ob->center[1] = ob->size[1];
        ob->yaw = uni(s) < 0.7f ? range(s, 0, PI / 2) : 0;
        break;
    case DOUBT_SHAPE_CYLINDER:
        ob->size[0] = range(s, 0.15f, 0.6f);
        ob->size[1] = range(s, 0.4f, 2.2f);
        break;
    case DOUBT_SHAPE_CONE:
        ob->size[0] = range(s, 0.25f, 0.7f);
        ob->size[1] = range(s, 0.6f, 1.8f);
        break;
    case DOUBT_SHAPE_TORUS:
        ob->size[0] = range(s, 0.35f, 0.8f);
        ob->size[1] = ob->size[0] * range(s, 0.2f, 0.4f);
        ob->tilt = uni(s) < 0.4f ? 0 : range(s, 0.3f, PI / 2);
        ob->yaw = range(s, 0, PI);
        /* rest the lowest point of the tube on the floor */
        ob->center[1] = ob->size[0] * sinf(ob->tilt) + ob->size[1];
        break;
    }
}

void doubt_synth_scene_init(doubt_synth_scene *sc)
{
    memset(sc, 0, sizeof *sc);
    sc->cam_pos[1] = 1.5f;
    sc->fov_y = PI / 3;
    sc->half_x = sc->half_z = 10;
    sc->wall_height = 3;
    sc->walls = 15;
    sc->floor_mat = (doubt_synth_material){.texture = DOUBT_TEX_CHECKER,
                                           .color_a = {0.7f, 0.7f, 0.7f},
                                           .color_b = {0.3f, 0.3f, 0.3f},
                                           .scale = 1};
    sc->wall_mat = (doubt_synth_material){.texture = DOUBT_TEX_FLAT,
                                          .color_a = {0.8f, 0.75f, 0.7f},
                                          .color_b = {0.8f, 0.75f, 0.7f},
                                          .scale = 1};
    memcpy(sc->sky_horizon, (float[3]){0.8f, 0.85f, 0.9f}, sizeof sc->sky_horizon);
    memcpy(sc->sky_zenith, (float[3]){0.3f, 0.5f, 0.85f}, sizeof sc->sky_zenith);
    memcpy(sc->light_pos, (float[3]){2, 4, 2}, sizeof sc->light_pos);
    memcpy(sc->light_dir, (float[3]){0, 1, 0}, sizeof sc->light_dir);
    memcpy(sc->light_color, (float[3]){1, 1, 1}, sizeof sc->light_color);
    sc->ambient = 0.2f;
    sc->glass_sigma_scale = 1;
}

/* Puts ob on the floor at distance d and bearing a (radians from the camera's yaw), inside
 * the room and clear of the camera and the objects placed so far. 0 if it does not fit. */
static int place(doubt_synth_scene *sc, doubt_synth_object *ob, float d, float a)
{
    float fp = footprint(ob), margin = 0.05f;
    float x = sc->cam_pos[0] + d * sinf(sc->cam_yaw + a);
    float z = sc->cam_pos[2] + d * cosf(sc->cam_yaw + a);
    float lx = sc->half_x - fp - margin, lz = sc->half_z - fp - margin;
    if (lx <= 0 || lz <= 0)
        return 0;
    x = fminf(lx, fmaxf(-lx, x));
    z = fminf(lz, fmaxf(-lz, z));
    float dx = x - sc->cam_pos[0], dz = z - sc->cam_pos[2];
    if (sqrtf(dx * dx + dz * dz) < fp + 1) /* an object at the lens hides the scene */
        return 0;
    for (int i = 0; i < sc->nobjects; i++) {
        const doubt_synth_object *o = &sc->objects[i];
        float ex = x - o->center[0], ez = z - o->center[2];
        if (sqrtf(ex * ex + ez * ez) < fp + footprint(o) + margin)
            return 0;
    }
    ob->center[0] = x;
    ob->center[2] = z;
    return 1;
}

/* The matte clay of look-alike objects: one family of terracotta shades, no highlight, and
 * a texture no other object has, so a network can see where the label is a coin toss. */
static void clay_material(sampler *s, doubt_synth_material *m)
{
    memset(m, 0, sizeof *m);
    m->texture = DOUBT_TEX_CLAY;
    hsv(range(s, 0.03f, 0.06f), range(s, 0.55f, 0.65f), range(s, 0.65f, 0.8f), m->color_a);
    for (int c = 0; c < 3; c++)
        m->color_b[c] = 0.55f * m->color_a[c];
    m->scale = 4; /* rings 25 cm apart */
    m->hash = doubt_rng_bits(s->key, s->n++);
}

/* Camera of a training scene from its rig: near one end, looking into the room. Both rigs
 * make the same number of draws, so the rest of a scene does not depend on the rig. */
static void rig_camera(sampler *s, const doubt_synth_camera_range *r, int open,
                       doubt_synth_scene *sc)
{
    sc->fov_y = range(s, r->fov_y[0], r->fov_y[1]) * PI / 180;
    float half_v = sc->fov_y / 2;
    sc->cam_pos[0] = range(s, -0.5f, 0.5f) * sc->half_x;
    sc->cam_pos[1] = range(s, r->height[0], r->height[1]);
    sc->cam_pos[2] = open ? range(s, -6, 0) : -sc->half_z + range(s, 0.4f, 0.5f * sc->half_z);
    sc->cam_yaw = range(s, -0.5f, 0.5f);
    sc->cam_pitch = range(s, r->pitch[0], fminf(r->pitch[1], half_v - 0.25f));
}

/* Room and camera of the geometry OOD kind, from their own stream: a corridor, closet or
 * hall seen from a camera at a height, pitch and field of view no training rig has. */
static void ood_geometry(const doubt_synth_params *p, uint64_t index, doubt_synth_scene *sc)
{
    sampler s = {{p->seed, index, RNG_GEOMETRY}, 0};
    int layout = pick(&s, 3);
    const doubt_synth_room_range *room = &doubt_synth_ood_rooms[layout];
    const doubt_synth_camera_range *cam = &doubt_synth_ood_cameras[pick(&s, 2)];
    sc->half_x = range(&s, room->half_x[0], room->half_x[1]);
    sc->half_z = range(&s, room->half_z[0], room->half_z[1]);
    sc->walls = 15;
    sc->fov_y = range(&s, cam->fov_y[0], cam->fov_y[1]) * PI / 180;
    sc->cam_pos[0] = range(&s, -0.4f, 0.4f) * sc->half_x;
    sc->cam_pos[1] = range(&s, cam->height[0], cam->height[1]);
    sc->cam_pos[2] = -sc->half_z + range(&s, 0.2f, 0.4f) * fminf(sc->half_z, 5);
    /* down the corridor, not into its side wall */
    sc->cam_yaw = range(&s, -0.5f, 0.5f) * (layout == 0 ? 0.2f : 1);
    sc->cam_pitch = range(&s, cam->pitch[0], fminf(cam->pitch[1], sc->fov_y / 2 - 0.25f));
    /* walls above the camera, so a high camera still looks into a room */
    sc->wall_height = sc->cam_pos[1] + range(&s, 0.5f, 3);
}

void doubt_synth_scene_sample(const doubt_synth_params *p, uint64_t index, doubt_synth_scene *sc)
{
    sampler s = {{p->seed, index, RNG_SCENE}, 0};
    int ood = (p->ood & DOUBT_SYNTH_OOD_OBJECTS) != 0;
    float level = p->noise_level;
    doubt_synth_scene_init(sc);
    sc->seed = p->seed;
    sc->index = index;

    /* room: 70% a walled room, 30% an open floor under the sky with a wall or two */
    int open = uni(&s) < 0.3f;
    if (open) {
        sc->half_x = sc->half_z = range(&s, 12, 25);
        sc->walls = 0;
        for (int w = 0; w < 4; w++)
            if (uni(&s) < 0.3f)
                sc->walls |= 1 << w;
        sc->wall_height = range(&s, 1.5f, 4);
    } else {
        sc->half_x = range(&s, 3, 8);
        sc->half_z = range(&s, 3, 10);
        sc->walls = uni(&s) < 0.2f ? 15 & ~(1 << pick(&s, 4)) : 15;
        sc->wall_height = range(&s, 2.5f, 5);
    }
    random_material(&s, ood, DOUBT_SYNTH_FLOOR, &sc->floor_mat);
    random_material(&s, ood, DOUBT_SYNTH_WALL, &sc->wall_mat);
    float sky_tint = range(&s, -0.1f, 0.1f);
    if (ood && uni(&s) < 0.5f) { /* a dusk sky */
        hsv(range(&s, 0.0f, 0.1f), 0.5f, 0.95f, sc->sky_horizon);
        hsv(range(&s, 0.7f, 0.8f), 0.6f, 0.5f, sc->sky_zenith);
    } else {
        hsv(0.58f + sky_tint, 0.12f, 0.92f, sc->sky_horizon);
        hsv(0.6f + sky_tint, range(&s, 0.4f, 0.7f), range(&s, 0.7f, 0.9f), sc->sky_zenith);
    }

    float aspect = (float)p->width / (float)p->height;
    int rig = p->rig == DOUBT_SYNTH_RIG_RANDOM ? DOUBT_SYNTH_RIG_RANDOM : DOUBT_SYNTH_RIG_FIXED;
    rig_camera(&s, &doubt_synth_rigs[rig], open, sc);
    if (p->ood & DOUBT_SYNTH_OOD_GEOMETRY)
        ood_geometry(p, index, sc);
    float half_v = sc->fov_y / 2, half_h = atanf(tanf(half_v) * aspect);

    /* light */
    sc->light_directional = uni(&s) < 0.4f;
    if (sc->light_directional) {
        float el = range(&s, 25, 70) * PI / 180, az = range(&s, 0, 2 * PI);
        sc->light_dir[0] = cosf(el) * sinf(az);
        sc->light_dir[1] = sinf(el);
        sc->light_dir[2] = cosf(el) * cosf(az);
    } else {
        sc->light_pos[0] = range(&s, -0.8f, 0.8f) * fminf(sc->half_x, 6);
        sc->light_pos[1] = range(&s, 2.5f, 5);
        /* inside the room: a lamp behind a wall would leave it in the dark */
        sc->light_pos[2] = fminf(sc->half_z - 0.3f, sc->cam_pos[2] + range(&s, 0, 6));
    }
    float intensity = range(&s, 0.85f, 1.15f) * (sc->light_directional ? 1.0f : 1.3f);
    hsv(range(&s, 0.05f, 0.6f), range(&s, 0, 0.12f), intensity, sc->light_color);
    sc->ambient = range(&s, 0.15f, 0.3f);
    if (ood) { /* coloured light, low light, or both */
        int mode = pick(&s, 3);
        if (mode != 1)
            hsv(uni(&s), range(&s, 0.6f, 0.9f), intensity, sc->light_color);
        if (mode != 0) {
            for (int c = 0; c < 3; c++)
                sc->light_color[c] *= range(&s, 0.25f, 0.4f);
            sc->ambient = range(&s, 0.03f, 0.08f);
        }
    }

    /* objects start about where the lower image edge meets the floor, but no farther than
     * 4 m (a camera looking at the horizon would otherwise see only tiny distant objects) */
    float below = half_v - sc->cam_pitch;
    float near = fminf(4, fmaxf(1.5f, sc->cam_pos[1] / tanf(below)));
    /* OOD shapes first, near the middle of the view, so every OOD image shows one */
    int nood = ood ? 1 + pick(&s, 2) : 0, nplain = 2 + pick(&s, 6);
    for (int k = 0; k < nood + nplain && sc->nobjects < DOUBT_SYNTH_MAX_OBJECTS; k++) {
        doubt_synth_object *ob = &sc->objects[sc->nobjects];
        int is_ood = k < nood;
        int lookalike = !is_ood && uni(&s) < DOUBT_SYNTH_LOOKALIKE_FRACTION;
        doubt_synth_shape shape;
        if (is_ood)
            shape = uni(&s) < 0.5f ? DOUBT_SHAPE_TORUS : DOUBT_SHAPE_CONE;
        else if (lookalike)
            shape = uni(&s) < 0.5f ? DOUBT_SHAPE_BOX : DOUBT_SHAPE_CYLINDER;
        else
            shape = (doubt_synth_shape)pick(&s, 3);
        random_shape(&s, shape, ob);
        ob->lookalike = lookalike;
        ob->glass = !is_ood && !lookalike && uni(&s) < 0.15f;
        if (lookalike)
            clay_material(&s, &ob->mat);
        else
            random_material(&s, ood, DOUBT_SYNTH_OTHER, &ob->mat);
        if (ob->glass) {
            hsv(range(&s, 0.45f, 0.65f), range(&s, 0.15f, 0.4f), 0.95f, ob->mat.color_a);
            memcpy(ob->mat.color_b, ob->mat.color_a, sizeof ob->mat.color_b);
            ob->mat.texture = DOUBT_TEX_FLAT;
        }
        /* up to eight tries to find a free spot in view */
        for (int tries = 0; tries < 8; tries++) {
            float d = is_ood ? near + range(&s, 0.5f, 3) : near + range(&s, 0, 7);
            float a = range(&s, -0.8f, 0.8f) * half_h * (is_ood ? 0.5f : 1);
            if (place(sc, ob, d, a)) {
                sc->nobjects++;
                break;
            }
        }
    }

    /* injected noise, all proportional to the level */
    sc->depth_a = doubt_synth_depth_a(level);
    sc->glass_sigma_scale = 10;
    sc->glass_sigma_min = 0.05f * level;
    sc->glass_missing = fminf(0.9f, 0.4f * level);
    sc->label_flip = doubt_synth_label_flip(level);
    sc->lookalike_flip = doubt_synth_lookalike_flip(level);
    if (level > 0 && uni(&s) < 0.5f) {
        float w = range(&s, 0.2f, 0.5f), h = range(&s, 0.2f, 0.5f);
        float x = range(&s, 0, 1 - w), y = range(&s, 0, 1 - h);
        sc->noise_rect[0] = x;
        sc->noise_rect[1] = y;
        sc->noise_rect[2] = x + w;
        sc->noise_rect[3] = y + h;
        sc->region_sigma = 15 * level;
    }
    if (level > 0 && uni(&s) < 0.5f) {
        float w = range(&s, 0.2f, 0.5f), h = range(&s, 0.2f, 0.5f);
        float x = range(&s, 0, 1 - w), y = range(&s, 0, 1 - h);
        sc->blur_rect[0] = x;
        sc->blur_rect[1] = y;
        sc->blur_rect[2] = x + w;
        sc->blur_rect[3] = y + h;
        sc->blur_radius = 1 + pick(&s, 3);
    }
}
