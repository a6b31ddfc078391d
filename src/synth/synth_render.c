/* Ray casting of a doubt_synth_scene and the injection of its known noise.
 *
 * Primary rays are d = forward + a·right + b·up with unit forward/right/up, so the ray
 * parameter t of a hit is its z-depth exactly; intersections are solved in double precision
 * against unnormalised directions. One bounce: shadow rays to the light, and a see-through
 * ray behind glass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "synth/synth.h"
#include "synth/synth_internal.h"

typedef struct {
    double x, y, z;
} v3;

static inline v3 v3_make(double x, double y, double z) { return (v3){x, y, z}; }
static inline v3 v3_from(const float *f) { return (v3){f[0], f[1], f[2]}; }
static inline v3 add(v3 a, v3 b) { return v3_make(a.x + b.x, a.y + b.y, a.z + b.z); }
static inline v3 sub(v3 a, v3 b) { return v3_make(a.x - b.x, a.y - b.y, a.z - b.z); }
static inline v3 scale(v3 a, double s) { return v3_make(a.x * s, a.y * s, a.z * s); }
static inline double dot(v3 a, v3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
static inline v3 cross(v3 a, v3 b)
{
    return v3_make(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x);
}
static inline v3 normalize(v3 a)
{
    double n = sqrt(dot(a, a));
    return n > 0 ? scale(a, 1 / n) : a;
}
/* Rotation about y by angle (c = cos, s = sin), and its inverse. */
static inline v3 rot_y(v3 a, double c, double s) { return v3_make(c * a.x + s * a.z, a.y, -s * a.x + c * a.z); }
static inline v3 rot_x(v3 a, double c, double s) { return v3_make(a.x, c * a.y - s * a.z, s * a.y + c * a.z); }

enum { HIT_NONE = -3, HIT_FLOOR = -2, HIT_WALL = -1 };

typedef struct {
    double t;
    int what; /* object index, or HIT_* */
    v3 n;     /* unnormalised surface normal */
} hit;

/* A scene plus what every ray would otherwise recompute: the objects' cos/sin of yaw and
 * tilt, and bounding spheres that let most rays skip an object after a few flops. */
typedef struct {
    const doubt_synth_scene *sc;
    uint8_t written[DOUBT_SYNTH_MAX_OBJECTS]; /* the class each object is labelled as */
    double trig[DOUBT_SYNTH_MAX_OBJECTS][4];
    v3 bound_center[DOUBT_SYNTH_MAX_OBJECTS];
    double bound_r2[DOUBT_SYNTH_MAX_OBJECTS];
} world;

const char *const doubt_synth_class_names[DOUBT_SYNTH_CLASSES] = {
    "background", "floor", "wall", "sphere", "box", "cylinder", "glass", "other"};

float doubt_synth_depth_a(float noise_level) { return 0.005f * noise_level; }
float doubt_synth_label_flip(float noise_level) { return fminf(0.5f, 0.25f * noise_level); }
/* 0.5 at the default level: a look-alike's label is then a fair coin between box and cylinder,
 * whatever its shape, so no network can do better than the truth map says. */
float doubt_synth_lookalike_flip(float noise_level) { return fminf(0.5f, 0.5f * noise_level); }

/* Smallest positive t accepted: keeps shadow and glass rays off their own surface. */
#define T_EPS 1e-6

/* ---- intersections: each returns the nearest t in (tmin, tmax) or leaves h alone ---- */

static inline void take(hit *h, double t, int what, v3 n)
{
    h->t = t;
    h->what = what;
    h->n = n;
}

static void hit_sphere(const doubt_synth_object *ob, int id, v3 o, v3 d, double tmin, hit *h)
{
    v3 oc = sub(o, v3_from(ob->center));
    double r = ob->size[0];
    double a = dot(d, d), b = dot(oc, d), c = dot(oc, oc) - r * r;
    double disc = b * b - a * c;
    if (disc < 0)
        return;
    /* the stable quadratic: no cancellation between -b and the root */
    double q = -(b + copysign(sqrt(disc), b));
    double t0 = q / a, t1 = q != 0 ? c / q : t0;
    if (t0 > t1) {
        double s = t0;
        t0 = t1;
        t1 = s;
    }
    double t = t0 > tmin ? t0 : t1;
    if (t > tmin && t < h->t)
        take(h, t, id, sub(add(o, scale(d, t)), v3_from(ob->center)));
}

static void hit_box(const doubt_synth_object *ob, const double *trig, int id, v3 o, v3 d, double tmin,
                    hit *h)
{
    double c = trig[0], s = trig[1];
    v3 lo = rot_y(sub(o, v3_from(ob->center)), c, -s), ld = rot_y(d, c, -s);
    double oo[3] = {lo.x, lo.y, lo.z}, dd[3] = {ld.x, ld.y, ld.z};
    double tn = -INFINITY, tf = INFINITY;
    int an = 0, af = 0;
    for (int k = 0; k < 3; k++) {
        double e = ob->size[k];
        if (fabs(dd[k]) < 1e-300) {
            if (oo[k] < -e || oo[k] > e)
                return;
            continue;
        }
        double t0 = (-e - oo[k]) / dd[k], t1 = (e - oo[k]) / dd[k];
        if (t0 > t1) {
            double w = t0;
            t0 = t1;
            t1 = w;
        }
        if (t0 > tn) {
            tn = t0;
            an = k;
        }
        if (t1 < tf) {
            tf = t1;
            af = k;
        }
    }
    if (tn > tf)
        return;
    int inside = tn <= tmin; /* then the ray leaves through the far face */
    double t = inside ? tf : tn;
    int axis = inside ? af : an;
    if (t <= tmin || t >= h->t)
        return;
    double nl[3] = {0, 0, 0};
    nl[axis] = (dd[axis] > 0) == inside ? 1 : -1;
    take(h, t, id, rot_y(v3_make(nl[0], nl[1], nl[2]), c, s));
}

/* Caps of cylinders and cones: the disk of radius r at height y (object-local). */
static void hit_disk(double r, double y, int id, v3 lo, v3 ld, double tmin, hit *h)
{
    if (fabs(ld.y) < 1e-300)
        return;
    double t = (y - lo.y) / ld.y;
    if (t <= tmin || t >= h->t)
        return;
    double x = lo.x + t * ld.x, z = lo.z + t * ld.z;
    if (x * x + z * z <= r * r)
        take(h, t, id, v3_make(0, ld.y > 0 ? -1 : 1, 0));
}

static void hit_cylinder(const doubt_synth_object *ob, int id, v3 o, v3 d, double tmin, hit *h)
{
    v3 lo = sub(o, v3_from(ob->center));
    double r = ob->size[0], height = ob->size[1];
    double a = d.x * d.x + d.z * d.z, b = lo.x * d.x + lo.z * d.z;
    double c = lo.x * lo.x + lo.z * lo.z - r * r, disc = b * b - a * c;
    if (a > 0 && disc >= 0) {
        double sq = sqrt(disc);
        for (int k = 0; k < 2; k++) {
            double t = (-b + (k ? sq : -sq)) / a;
            double y = lo.y + t * d.y;
            if (t > tmin && t < h->t && y >= 0 && y <= height) {
                take(h, t, id, v3_make(lo.x + t * d.x, 0, lo.z + t * d.z));
                break;
            }
        }
    }
    hit_disk(r, height, id, lo, d, tmin, h);
    hit_disk(r, 0, id, lo, d, tmin, h);
}

/* x² + z² = k²(height - y)², 0 <= y <= height, with k = r / height. */
static void hit_cone(const doubt_synth_object *ob, int id, v3 o, v3 d, double tmin, hit *h)
{
    v3 lo = sub(o, v3_from(ob->center));
    double r = ob->size[0], height = ob->size[1], k2 = (r / height) * (r / height);
    double hh = height - lo.y;
    double a = d.x * d.x + d.z * d.z - k2 * d.y * d.y;
    double b = lo.x * d.x + lo.z * d.z + k2 * hh * d.y;
    double c = lo.x * lo.x + lo.z * lo.z - k2 * hh * hh;
    double ts[2];
    int nt = 0;
    if (fabs(a) < 1e-12) {
        if (fabs(b) > 1e-300)
            ts[nt++] = -c / (2 * b);
    } else {
        double disc = b * b - a * c;
        if (disc >= 0) {
            double sq = sqrt(disc);
            double t0 = (-b - sq) / a, t1 = (-b + sq) / a;
            ts[nt++] = fmin(t0, t1);
            ts[nt++] = fmax(t0, t1);
        }
    }
    for (int i = 0; i < nt; i++) {
        double t = ts[i], y = lo.y + t * d.y;
        if (t > tmin && t < h->t && y >= 0 && y <= height) {
            v3 p = add(lo, scale(d, t));
            take(h, t, id, v3_make(p.x, k2 * (height - p.y), p.z));
            break;
        }
    }
    hit_disk(r, 0, id, lo, d, tmin, h);
}

/* Sphere tracing of the exact torus distance inside its bounding sphere. */
static void hit_torus(const doubt_synth_object *ob, const double *trig, int id, v3 o, v3 d, double tmin,
                      hit *h)
{
    double R = ob->size[0], r = ob->size[1];
    double cy = trig[0], sy = trig[1], ct = trig[2], st = trig[3];
    v3 lo = rot_x(rot_y(sub(o, v3_from(ob->center)), cy, -sy), ct, -st);
    v3 ld = rot_x(rot_y(d, cy, -sy), ct, -st);
    double len = sqrt(dot(ld, ld));
    v3 u = scale(ld, 1 / len);
    /* bounding sphere, in units of unit-direction distance s = t·len */
    double b = dot(lo, u), c = dot(lo, lo) - (R + r) * (R + r), disc = b * b - c;
    if (disc < 0)
        return;
    double sq = sqrt(disc);
    double s = fmax(-b - sq, tmin * len), s1 = fmin(-b + sq, h->t * len);
    for (int it = 0; it < 160 && s < s1; it++) {
        v3 p = add(lo, scale(u, s));
        double q = sqrt(p.x * p.x + p.z * p.z) - R;
        double dist = sqrt(q * q + p.y * p.y) - r;
        if (dist < 1e-6) {
            if (s / len <= tmin)
                return;
            double rho = sqrt(p.x * p.x + p.z * p.z);
            v3 ring = rho > 0 ? v3_make(p.x * R / rho, 0, p.z * R / rho) : v3_make(R, 0, 0);
            v3 nl = sub(p, ring);
            take(h, s / len, id, rot_y(rot_x(nl, ct, st), cy, sy));
            return;
        }
        s += dist;
    }
}

static void hit_object(const world *wd, int id, v3 o, v3 d, double tmin, hit *h)
{
    const doubt_synth_object *ob = &wd->sc->objects[id];
    const double *trig = wd->trig[id];
    v3 oc = sub(o, wd->bound_center[id]);
    double b = dot(oc, d), c = dot(oc, oc) - wd->bound_r2[id];
    /* from outside the bounding sphere, a ray pointing away or passing by cannot hit */
    if (c > 0 && (b > 0 || b * b < dot(d, d) * c))
        return;
    switch (ob->shape) {
    case DOUBT_SHAPE_SPHERE: hit_sphere(ob, id, o, d, tmin, h); break;
    case DOUBT_SHAPE_BOX: hit_box(ob, trig, id, o, d, tmin, h); break;
    case DOUBT_SHAPE_CYLINDER: hit_cylinder(ob, id, o, d, tmin, h); break;
    case DOUBT_SHAPE_CONE: hit_cone(ob, id, o, d, tmin, h); break;
    case DOUBT_SHAPE_TORUS: hit_torus(ob, trig, id, o, d, tmin, h); break;
    }
}

static void hit_walls(const doubt_synth_scene *sc, v3 o, v3 d, double tmin, hit *h)
{
    for (int w = 0; w < 4; w++) {
        if (!(sc->walls & (1 << w)))
            continue;
        int along_x = w < 2; /* walls 0, 1 are planes x = ±half_x */
        double pos = (w & 1) ? (along_x ? sc->half_x : sc->half_z) : -(along_x ? sc->half_x : sc->half_z);
        double oc = along_x ? o.x : o.z, dc = along_x ? d.x : d.z;
        if (fabs(dc) < 1e-300)
            continue;
        double t = (pos - oc) / dc;
        if (t <= tmin || t >= h->t)
            continue;
        double y = o.y + t * d.y, side = along_x ? o.z + t * d.z : o.x + t * d.x;
        double lim = along_x ? sc->half_z : sc->half_x;
        if (y < 0 || y > sc->wall_height || fabs(side) > lim)
            continue;
        take(h, t, HIT_WALL, along_x ? v3_make(dc > 0 ? -1 : 1, 0, 0) : v3_make(0, 0, dc > 0 ? -1 : 1));
    }
}

/* Nearest surface along o + t·d, t in (tmin, tmax); object `skip` is ignored. */
static hit trace(const world *wd, v3 o, v3 d, double tmin, double tmax, int skip)
{
    const doubt_synth_scene *sc = wd->sc;
    hit h = {tmax, HIT_NONE, {0, 1, 0}};
    if (d.y < 0 && o.y > 0) {
        double t = -o.y / d.y;
        double x = o.x + t * d.x, z = o.z + t * d.z;
        if (t > tmin && t < h.t && fabs(x) <= sc->half_x && fabs(z) <= sc->half_z)
            take(&h, t, HIT_FLOOR, v3_make(0, 1, 0));
    }
    hit_walls(sc, o, d, tmin, &h);
    for (int i = 0; i < sc->nobjects; i++)
        if (i != skip)
            hit_object(wd, i, o, d, tmin, &h);
    return h;
}

static int class_of(const doubt_synth_scene *sc, int what)
{
    if (what == HIT_FLOOR)
        return DOUBT_SYNTH_FLOOR;
    if (what == HIT_WALL)
        return DOUBT_SYNTH_WALL;
    if (what < 0)
        return DOUBT_SYNTH_SKY;
    const doubt_synth_object *ob = &sc->objects[what];
    if (ob->glass)
        return DOUBT_SYNTH_GLASS;
    switch (ob->shape) {
    case DOUBT_SHAPE_SPHERE: return DOUBT_SYNTH_SPHERE;
    case DOUBT_SHAPE_BOX: return DOUBT_SYNTH_BOX;
    case DOUBT_SHAPE_CYLINDER: return DOUBT_SYNTH_CYLINDER;
    default: return DOUBT_SYNTH_OTHER;
    }
}

/* ---- shading ---- */

static v3 sky(const doubt_synth_scene *sc, v3 d)
{
    double up = d.y / sqrt(dot(d, d));
    v3 hz = v3_from(sc->sky_horizon), zn = v3_from(sc->sky_zenith);
    if (up < 0) /* below the horizon beyond the floor: a darker haze */
        return scale(hz, 0.8 + 0.2 * (1 + up));
    double w = fmin(1, up * 2.5);
    return add(scale(hz, 1 - w), scale(zn, w));
}

/* Fraction of the light reaching p (1 lit, 0 shadowed; glass lets some through). */
static double visibility(const world *wd, v3 p, v3 to_light, double dist, int self)
{
    const doubt_synth_scene *sc = wd->sc;
    double vis = 1;
    v3 o = p;
    double tmax = dist;
    /* a convex surface facing the light cannot shadow itself, so its own test is skipped;
     * a torus can (one side of the ring on the other) */
    int skip = self >= 0 && sc->objects[self].shape == DOUBT_SHAPE_TORUS ? -1 : self;
    /* at most a few glass layers, each dimming the light */
    for (int layer = 0; layer < 3; layer++) {
        hit h = trace(wd, o, to_light, 1e-4, tmax, skip);
        if (h.what == HIT_NONE)
            return vis;
        if (h.what < 0 || !sc->objects[h.what].glass)
            return 0;
        vis *= 0.6;
        o = add(o, scale(to_light, h.t));
        tmax -= h.t;
        skip = h.what;
    }
    return vis;
}

/* Direct light at p with normal n seen from direction d: diffuse factor and specular. */
static void light_at(const world *wd, v3 p, v3 n, v3 d, int self, int squarings,
                     double *diffuse, double *spec)
{
    const doubt_synth_scene *sc = wd->sc;
    v3 L;
    double dist, atten = 1;
    if (sc->light_directional) {
        L = normalize(v3_from(sc->light_dir));
        dist = 1e4;
    } else {
        L = sub(v3_from(sc->light_pos), p);
        dist = sqrt(dot(L, L));
        L = scale(L, 1 / dist);
        atten = 1 / (1 + dist * dist / 64); /* gentle falloff: a room stays lit */
    }
    double ndl = dot(n, L);
    *diffuse = *spec = 0;
    if (ndl <= 0)
        return;
    /* offset along the normal so the shadow ray leaves the surface cleanly */
    double vis = visibility(wd, add(p, scale(n, 1e-4)), L, dist, self);
    if (vis <= 0)
        return;
    *diffuse = ndl * vis * atten;
    v3 hv = normalize(sub(L, normalize(d)));
    double nh = dot(n, hv);
    if (nh > 0) { /* nh^(2^squarings): a Phong lobe without pow() */
        for (int k = 0; k < squarings; k++)
            nh *= nh;
        *spec = nh * vis * atten;
    }
}

/* Opaque surface colour (no glass handling). */
static v3 shade_opaque(const world *wd, v3 o, v3 d, const hit *h)
{
    const doubt_synth_scene *sc = wd->sc;
    if (h->what == HIT_NONE)
        return sky(sc, d);
    v3 p = add(o, scale(d, h->t));
    v3 n = normalize(h->n);
    if (dot(n, d) > 0)
        n = scale(n, -1);
    const doubt_synth_material *m;
    v3 local = p;
    if (h->what == HIT_FLOOR)
        m = &sc->floor_mat;
    else if (h->what == HIT_WALL)
        m = &sc->wall_mat;
    else {
        m = &sc->objects[h->what].mat;
        local = sub(p, v3_from(sc->objects[h->what].center));
    }
    float tex[3];
    doubt_synth_texture_eval(m, (float)local.x, (float)local.y, (float)local.z, tex);
    double diffuse, spec;
    light_at(wd, p, n, d, h->what, 5, &diffuse, &spec);
    v3 lc = v3_from(sc->light_color);
    v3 c;
    c.x = tex[0] * (sc->ambient + lc.x * diffuse) + lc.x * spec * m->shine;
    c.y = tex[1] * (sc->ambient + lc.y * diffuse) + lc.y * spec * m->shine;
    c.z = tex[2] * (sc->ambient + lc.z * diffuse) + lc.z * spec * m->shine;
    return c;
}

/* Glass: what lies behind, tinted, plus a Fresnel-like rim and a sharp highlight. */
static v3 shade_glass(const world *wd, v3 o, v3 d, const hit *h)
{
    const doubt_synth_scene *sc = wd->sc;
    const doubt_synth_object *ob = &sc->objects[h->what];
    v3 p = add(o, scale(d, h->t));
    v3 n = normalize(h->n);
    if (dot(n, d) > 0)
        n = scale(n, -1);
    hit behind = trace(wd, p, d, T_EPS, INFINITY, h->what);
    v3 back = shade_opaque(wd, p, d, &behind);
    double diffuse, spec;
    light_at(wd, p, n, d, h->what, 6, &diffuse, &spec);
    double facing = fabs(dot(n, normalize(d)));
    double rim = pow(1 - facing, 3);
    v3 tint = v3_from(ob->mat.color_a), lc = v3_from(sc->light_color);
    v3 c = add(scale(back, 0.6), scale(tint, 0.25 * (sc->ambient + diffuse)));
    c = add(c, scale(v3_from(sc->sky_zenith), 0.5 * rim));
    return add(c, scale(lc, 1.2 * spec));
}

/* ---- the image ---- */

doubt_status doubt_synth_image_create(int width, int height, doubt_synth_image **out,
                                      doubt_error *err)
{
    *out = NULL;
    if (width < 1 || height < 1 || (int64_t)width * height > ((int64_t)1 << 28))
        return doubt_fail(err, DOUBT_ERR_ARG, "synth image: bad size %dx%d", width, height);
    size_t n = (size_t)width * height;
    doubt_synth_image *img = calloc(1, sizeof *img);
    if (!img)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "synth image %dx%d: out of memory", width, height);
    img->width = width;
    img->height = height;
    img->rgb = malloc(3 * n);
    img->label = malloc(n);
    img->label_true = malloc(n);
    img->labelnoise = malloc(n);
    img->depth = malloc(n * sizeof(float));
    img->depth_true = malloc(n * sizeof(float));
    img->sigma = malloc(n * sizeof(float));
    img->scratch = malloc(2 * 3 * n * sizeof(float));
    if (!img->rgb || !img->label || !img->label_true || !img->labelnoise || !img->depth ||
        !img->depth_true || !img->sigma || !img->scratch) {
        doubt_synth_image_destroy(img);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "synth image %dx%d: out of memory", width, height);
    }
    *out = img;
    return DOUBT_OK;
}

void doubt_synth_image_destroy(doubt_synth_image *img)
{
    if (!img)
        return;
    free(img->rgb);
    free(img->label);
    free(img->label_true);
    free(img->labelnoise);
    free(img->depth);
    free(img->depth_true);
    free(img->sigma);
    free(img->scratch);
    free(img);
}

/* Random-number layers: each noise draws from its own stream so they never correlate. */
enum { RNG_DEPTH = 101, RNG_GLASS, RNG_FLIP, RNG_FLIP_WHICH, RNG_PIXEL, RNG_LOOKALIKE };

static doubt_rng_key key_of(const doubt_synth_scene *sc, uint32_t layer)
{
    return (doubt_rng_key){sc->seed, sc->index, layer};
}

static void world_init(world *wd, const doubt_synth_scene *sc)
{
    memset(wd, 0, sizeof *wd);
    wd->sc = sc;
    doubt_rng_key kl = key_of(sc, RNG_LOOKALIKE);
    for (int i = 0; i < sc->nobjects; i++) {
        const doubt_synth_object *ob = &sc->objects[i];
        int cls = class_of(sc, i);
        /* one draw per object: a look-alike is mislabelled as a whole or not at all */
        if (ob->lookalike && doubt_rng_uniform(kl, (uint64_t)i) < sc->lookalike_flip)
            cls = cls == DOUBT_SYNTH_BOX ? DOUBT_SYNTH_CYLINDER : DOUBT_SYNTH_BOX;
        wd->written[i] = (uint8_t)cls;
        wd->trig[i][0] = cos(ob->yaw);
        wd->trig[i][1] = sin(ob->yaw);
        wd->trig[i][2] = cos(ob->tilt);
        wd->trig[i][3] = sin(ob->tilt);
        v3 c = v3_from(ob->center);
        double r, half;
        switch (ob->shape) {
        case DOUBT_SHAPE_SPHERE: r = ob->size[0]; break;
        case DOUBT_SHAPE_BOX: r = sqrt(dot(v3_from(ob->size), v3_from(ob->size))); break;
        case DOUBT_SHAPE_TORUS: r = ob->size[0] + ob->size[1]; break;
        default: /* cylinder, cone: centred on the axis half-way up */
            half = 0.5 * ob->size[1];
            c.y += half;
            r = sqrt(ob->size[0] * ob->size[0] + half * half);
        }
        r = r * (1 + 1e-6) + 1e-6; /* never clip a surface by rounding */
        wd->bound_center[i] = c;
        wd->bound_r2[i] = r * r;
    }
}

static void render_exact(const doubt_synth_scene *sc, doubt_synth_image *img)
{
    int w = img->width, hgt = img->height;
    double cy = cos(sc->cam_yaw), sy = sin(sc->cam_yaw);
    double cp = cos(sc->cam_pitch), sp = sin(sc->cam_pitch);
    v3 fwd = v3_make(sy * cp, sp, cy * cp), right = v3_make(cy, 0, -sy);
    v3 up = cross(fwd, right);
    double f = 0.5 * hgt / tan(0.5 * sc->fov_y);
    v3 o = v3_from(sc->cam_pos);
    world wd;
    world_init(&wd, sc);
    for (int v = 0; v < hgt; v++) {
        double b = -(v + 0.5 - 0.5 * hgt) / f;
        for (int u = 0; u < w; u++) {
            double a = (u + 0.5 - 0.5 * w) / f;
            v3 d = add(fwd, add(scale(right, a), scale(up, b)));
            hit h = trace(&wd, o, d, T_EPS, INFINITY, -1);
            size_t i = (size_t)v * w + u;
            int cls = class_of(sc, h.what);
            v3 c = cls == DOUBT_SYNTH_GLASS ? shade_glass(&wd, o, d, &h) : shade_opaque(&wd, o, d, &h);
            img->label_true[i] = (uint8_t)cls;
            /* the object-level label; noisy_labels adds the boundary flips and the truth, and
             * finds the look-alike pixels by the 1 left in labelnoise */
            img->label[i] = h.what >= 0 ? wd.written[h.what] : (uint8_t)cls;
            img->labelnoise[i] = h.what >= 0 && sc->objects[h.what].lookalike;
            /* d·fwd = 1, so t is the z-depth */
            img->depth_true[i] = h.what == HIT_NONE ? 0.0f : (float)h.t;
            /* gamma 2 (sqrt) is close to sRGB and cheap */
            img->scratch[3 * i + 0] = (float)sqrt(fmin(1, fmax(0, c.x)));
            img->scratch[3 * i + 1] = (float)sqrt(fmin(1, fmax(0, c.y)));
            img->scratch[3 * i + 2] = (float)sqrt(fmin(1, fmax(0, c.z)));
        }
    }
}

/* Log-normal depth noise of mean z and standard deviation s (synth.h): never <= 0, so
 * nothing needs clamping however large s is. */
static void noisy_depth(const doubt_synth_scene *sc, doubt_synth_image *img, float *row)
{
    int w = img->width;
    doubt_rng_key kd = key_of(sc, RNG_DEPTH), kg = key_of(sc, RNG_GLASS);
    for (int v = 0; v < img->height; v++) {
        size_t i0 = (size_t)v * w;
        doubt_rng_normal_fill(kd, i0, w, row);
        for (int u = 0; u < w; u++) {
            size_t i = i0 + u;
            float z = img->depth_true[i], s = sc->depth_a * z * z;
            if (z <= 0) {
                img->depth[i] = img->sigma[i] = 0;
                continue;
            }
            if (img->label_true[i] == DOUBT_SYNTH_GLASS) {
                if (sc->glass_missing > 0 && doubt_rng_uniform(kg, i) < sc->glass_missing) {
                    img->depth[i] = img->sigma[i] = 0;
                    continue;
                }
                s = sc->glass_sigma_scale * s + sc->glass_sigma_min;
            }
            float r = s / z, sl = sqrtf(log1pf(r * r)); /* the std of log depth */
            img->sigma[i] = s;
            img->depth[i] = s > 0 ? z * expf(sl * row[u] - 0.5f * sl * sl) : z;
        }
    }
}

/* Boundary flips on top of the object-level labels render_exact wrote, and the truth of
 * both (synth.h). A flip takes a neighbour's true class, which always differs from the
 * pixel's, so a flip is always an error and the two errors combine as independent events. */
static void noisy_labels(const doubt_synth_scene *sc, doubt_synth_image *img)
{
    int w = img->width, hgt = img->height;
    doubt_rng_key kf = key_of(sc, RNG_FLIP), kw = key_of(sc, RNG_FLIP_WHICH);
    float f = sc->label_flip, q = sc->lookalike_flip;
    for (int v = 0; v < hgt; v++)
        for (int u = 0; u < w; u++) {
            size_t i = (size_t)v * w + u;
            uint8_t self = img->label_true[i], other[4];
            int n = 0;
            if (u > 0 && img->label_true[i - 1] != self) other[n++] = img->label_true[i - 1];
            if (u + 1 < w && img->label_true[i + 1] != self) other[n++] = img->label_true[i + 1];
            if (v > 0 && img->label_true[i - w] != self) other[n++] = img->label_true[i - w];
            if (v + 1 < hgt && img->label_true[i + w] != self) other[n++] = img->label_true[i + w];
            if (n && f > 0 && doubt_rng_uniform(kf, i) < f)
                img->label[i] = other[doubt_rng_bits(kw, i) % (uint32_t)n];
            float p = 1 - (1 - (n ? f : 0)) * (1 - (img->labelnoise[i] ? q : 0));
            img->labelnoise[i] = (uint8_t)floorf(255 * p + 0.5f);
        }
}

static void rect_pixels(const float *fr, int w, int h, int *x0, int *y0, int *x1, int *y1)
{
    *x0 = (int)floorf(fr[0] * w);
    *y0 = (int)floorf(fr[1] * h);
    *x1 = (int)floorf(fr[2] * w);
    *y1 = (int)floorf(fr[3] * h);
    *x0 = *x0 < 0 ? 0 : *x0;
    *y0 = *y0 < 0 ? 0 : *y0;
    *x1 = *x1 > w ? w : *x1;
    *y1 = *y1 > h ? h : *y1;
}

/* Separable box blur of scratch inside the blur rectangle, reading outside it as needed. */
static void blur_region(const doubt_synth_scene *sc, doubt_synth_image *img)
{
    int w = img->width, h = img->height, r = sc->blur_radius, x0, y0, x1, y1;
    rect_pixels(sc->blur_rect, w, h, &x0, &y0, &x1, &y1);
    if (r < 1 || x1 <= x0 || y1 <= y0)
        return;
    float *src = img->scratch, *tmp = img->scratch + 3 * (size_t)w * h;
    /* horizontal pass over the rows the vertical pass will read */
    int ya = y0 - r < 0 ? 0 : y0 - r, yb = y1 + r > h ? h : y1 + r;
    for (int y = ya; y < yb; y++)
        for (int x = x0; x < x1; x++)
            for (int c = 0; c < 3; c++) {
                float s = 0;
                int n = 0;
                for (int k = x - r; k <= x + r; k++)
                    if (k >= 0 && k < w) {
                        s += src[3 * ((size_t)y * w + k) + c];
                        n++;
                    }
                tmp[3 * ((size_t)y * w + x) + c] = s / n;
            }
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            for (int c = 0; c < 3; c++) {
                float s = 0;
                int n = 0;
                for (int k = y - r; k <= y + r; k++)
                    if (k >= ya && k < yb) {
                        s += tmp[3 * ((size_t)k * w + x) + c];
                        n++;
                    }
                src[3 * ((size_t)y * w + x) + c] = s / n;
            }
}

static void quantise(const doubt_synth_scene *sc, doubt_synth_image *img, float *row)
{
    int w = img->width, h = img->height, x0, y0, x1, y1;
    rect_pixels(sc->noise_rect, w, h, &x0, &y0, &x1, &y1);
    doubt_rng_key kp = key_of(sc, RNG_PIXEL);
    for (int v = 0; v < h; v++) {
        int noisy = v >= y0 && v < y1 && x1 > x0 && sc->region_sigma > 0;
        if (noisy) /* only the rectangle's pixels draw numbers: Box-Muller is not cheap */
            doubt_rng_normal_fill(kp, 3 * ((uint64_t)v * w + x0), 3 * (int64_t)(x1 - x0), row);
        for (int u = 0; u < w; u++)
            for (int c = 0; c < 3; c++) {
                size_t i = 3 * ((size_t)v * w + u) + c;
                float x = img->scratch[i] * 255;
                if (noisy && u >= x0 && u < x1)
                    x += sc->region_sigma * row[3 * (u - x0) + c];
                x = floorf(x + 0.5f);
                img->rgb[i] = (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : x);
            }
    }
}

doubt_status doubt_synth_render(const doubt_synth_scene *scene, doubt_synth_image *img,
                                doubt_error *err)
{
    if (!scene || !img)
        return doubt_fail(err, DOUBT_ERR_ARG, "synth render: NULL scene or image");
    if (scene->nobjects < 0 || scene->nobjects > DOUBT_SYNTH_MAX_OBJECTS)
        return doubt_fail(err, DOUBT_ERR_ARG, "synth render: %d objects (at most %d)",
                          scene->nobjects, DOUBT_SYNTH_MAX_OBJECTS);
    if (!(scene->fov_y > 0 && scene->fov_y < 3.1f))
        return doubt_fail(err, DOUBT_ERR_ARG, "synth render: field of view %g rad", scene->fov_y);
    if (!(scene->label_flip >= 0 && scene->label_flip <= 1) ||
        !(scene->lookalike_flip >= 0 && scene->lookalike_flip <= 1))
        return doubt_fail(err, DOUBT_ERR_ARG, "synth render: flip probabilities %g, %g (want 0..1)",
                          scene->label_flip, scene->lookalike_flip);
    for (int k = 0; k < scene->nobjects; k++) {
        const doubt_synth_object *ob = &scene->objects[k];
        if (ob->lookalike && (ob->glass || (ob->shape != DOUBT_SHAPE_BOX &&
                                            ob->shape != DOUBT_SHAPE_CYLINDER)))
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "synth render: object %d: a look-alike is a box or a cylinder, "
                              "not glass",
                              k);
    }
    /* the row of random numbers lives in the second half of scratch */
    float *row = img->scratch + 3 * (size_t)img->width * img->height;
    render_exact(scene, img);
    noisy_depth(scene, img, row);
    noisy_labels(scene, img);
    blur_region(scene, img);
    quantise(scene, img, row);
    return DOUBT_OK;
}
