/* Procedural scene renderer behind `doubt synth`: a small ray caster that makes images with
 * exact per-pixel class and depth, then injects known noise and reports its truth: the σ of
 * the depth noise and the probability that each written label is wrong.
 *
 *     doubt_synth_params p = {.seed = 1, .width = 128, .height = 128, .noise_level = 1};
 *     doubt_synth_image *img;
 *     doubt_synth_image_create(p.width, p.height, &img, &err);
 *     for (uint64_t i = 0; i < n; i++) {
 *         doubt_synth_scene scene;
 *         doubt_synth_scene_sample(&p, i, &scene);   // a pure function of (seed, i)
 *         doubt_synth_render(&scene, img, &err);     // fills every buffer of img
 *     }
 *     doubt_synth_image_destroy(img);
 *
 * A test can instead fill a doubt_synth_scene by hand (doubt_synth_scene_init gives an empty
 * room with no noise) and render that.
 *
 * World: metres, y up, the floor is the plane y = 0. The camera is a pinhole with square
 * pixels; pixel (u, v) (u right, v down) looks through its centre (u + 0.5, v + 0.5).
 * Depth is the distance along the camera's optical axis (KITTI-style z-depth, not the ray
 * length). Sky has depth 0 (invalid). Buffers are row-major, RGB interleaved.
 *
 * Depth noise is log-normal and mean-unbiased: depth = z·exp(s·ε - s²/2), ε ~ N(0, 1), with
 * s² = log(1 + (σ/z)²), so the written depth has mean z and standard deviation σ exactly and
 * is never <= 0. σ = depth_a·z² on opaque surfaces, glass_sigma_scale·depth_a·z² +
 * glass_sigma_min on glass; the σ map holds it in metres.
 *
 * Label noise has two sources, drawn independently:
 * - boundary flips: a pixel whose true class differs from one of its 4 neighbours' takes,
 *   with probability label_flip, the true class of one such neighbour (uniformly);
 * - look-alike objects: a box or cylinder with the matte clay look (DOUBT_TEX_CLAY) is
 *   labelled, over its whole area, as the other class of the pair with probability
 *   lookalike_flip, drawn once per object. Its true class (label_true) is its shape's.
 * So P(label != label_true) = 1 - (1 - label_flip·boundary)·(1 - lookalike_flip·lookalike)
 * at each pixel (boundary, lookalike in {0, 1}), and labelnoise holds round(255·P).
 */
#ifndef DOUBT_SYNTH_H
#define DOUBT_SYNTH_H

#include <stdint.h>

#include "core/status.h"

#define DOUBT_SYNTH_VERSION "doubt-synth 2"
#define DOUBT_SYNTH_MAX_OBJECTS 16

enum {
    DOUBT_SYNTH_SKY = 0,
    DOUBT_SYNTH_FLOOR,
    DOUBT_SYNTH_WALL,
    DOUBT_SYNTH_SPHERE,
    DOUBT_SYNTH_BOX,
    DOUBT_SYNTH_CYLINDER,
    DOUBT_SYNTH_GLASS,
    DOUBT_SYNTH_OTHER,
    DOUBT_SYNTH_CLASSES
};

extern const char *const doubt_synth_class_names[DOUBT_SYNTH_CLASSES];

typedef enum {
    DOUBT_SHAPE_SPHERE,   /* centre, size[0] = radius */
    DOUBT_SHAPE_BOX,      /* centre, size = half extents along its own axes, turned by yaw */
    DOUBT_SHAPE_CYLINDER, /* vertical, capped: centre of the base disk, size = {radius, height} */
    DOUBT_SHAPE_CONE,     /* vertical, apex up: centre of the base disk, size = {radius, height} */
    DOUBT_SHAPE_TORUS     /* centre, size = {ring radius, tube radius}, axis tilted by tilt, yaw */
} doubt_synth_shape;

typedef enum {
    DOUBT_TEX_FLAT,
    DOUBT_TEX_CHECKER,  /* 3-D checker of cell 1/scale */
    DOUBT_TEX_NOISE,    /* two octaves of value noise */
    DOUBT_TEX_STRIPES,  /* soft stripes along a direction */
    DOUBT_TEX_DOTS,     /* polka dots: only in --ood objects scenes */
    DOUBT_TEX_GRADIENT, /* vertical colour ramp: only in --ood objects scenes */
    DOUBT_TEX_CLAY      /* coil rings along the object's y and a fine grain: look-alikes only */
} doubt_synth_texture;

/* Textures are solid (a function of the 3-D point relative to the object), so they need no
 * surface parametrisation and look the same on every shape. */
typedef struct {
    doubt_synth_texture texture;
    float color_a[3], color_b[3]; /* linear RGB in [0, 1] */
    float scale;                  /* features per metre */
    float dir[3];                 /* stripe direction (unit) */
    uint32_t hash;                /* value-noise lattice seed */
    float shine;                  /* specular weight */
} doubt_synth_material;

typedef struct {
    doubt_synth_shape shape;
    float center[3];
    float size[3];
    float yaw, tilt; /* radians: turn about y; torus axis tilt away from y */
    int glass;       /* class 6 and a transparent-looking shade, noisy or missing depth */
    int lookalike;   /* a box or cylinder whose label may be the other (see the top); not glass */
    doubt_synth_material mat;
} doubt_synth_object;

typedef struct {
    /* camera */
    float cam_pos[3];
    float cam_yaw, cam_pitch; /* radians; yaw 0 looks along +z, pitch > 0 looks up */
    float fov_y;              /* vertical field of view, radians */
    /* room: floor |x| <= half_x, |z| <= half_z; walls on the four sides of that square */
    float half_x, half_z, wall_height;
    int walls; /* bit 0: x = -half_x, 1: x = +half_x, 2: z = -half_z, 3: z = +half_z */
    doubt_synth_material floor_mat, wall_mat;
    float sky_horizon[3], sky_zenith[3];
    /* light: a point light at light_pos, or a directional light coming from light_dir */
    int light_directional;
    float light_pos[3], light_dir[3], light_color[3], ambient;
    doubt_synth_object objects[DOUBT_SYNTH_MAX_OBJECTS];
    int nobjects;
    /* noise, all keyed by (seed, index) so an image is a pure function of its scene */
    uint64_t seed, index;
    float depth_a;            /* σ = depth_a · z² on opaque surfaces */
    float glass_sigma_scale;  /* σ on glass = glass_sigma_scale · depth_a · z² + glass_sigma_min */
    float glass_sigma_min;
    float glass_missing;      /* probability that a glass pixel has no depth */
    float label_flip;         /* probability that a boundary pixel takes a neighbour's class */
    float lookalike_flip;     /* probability that a look-alike is labelled as the other class */
    float region_sigma;       /* Gaussian pixel noise inside noise_rect, in 0..255 units */
    float noise_rect[4];      /* x0, y0, x1, y1 as fractions of the image; empty if x1 <= x0 */
    float blur_rect[4];       /* same, box-blurred with radius blur_radius pixels */
    int blur_radius;
} doubt_synth_scene;

/* Out-of-distribution kinds, as bits (ALL = OBJECTS | GEOMETRY):
 * - OBJECTS: unseen shapes (tori, cones: class 7), textures (dots, gradients), neon colours
 *   and coloured or dim light, in training rooms seen from the training rig;
 * - GEOMETRY: depth statistics no training scene has: a camera from doubt_synth_ood_cameras
 *   in a room from doubt_synth_ood_rooms, with training shapes, textures and classes. */
enum {
    DOUBT_SYNTH_OOD_NONE = 0,
    DOUBT_SYNTH_OOD_OBJECTS = 1,
    DOUBT_SYNTH_OOD_GEOMETRY = 2,
    DOUBT_SYNTH_OOD_ALL = 3
};

/* Camera rigs of the training scenes. */
typedef enum {
    DOUBT_SYNTH_RIG_FIXED, /* one mounted sensor: 1.5 m high, 60° fov, pitch -0.15 ± 0.03 rad */
    DOUBT_SYNTH_RIG_RANDOM /* 0.6-2.6 m, 45-70°, pitch -0.5 to 0.1 rad (doubt-synth 1's draw) */
} doubt_synth_rig;

/* Ranges a camera is drawn from, each uniformly (a value when lo == hi). The pitch is also
 * at most fov/2 - 0.25 rad, so that the floor is always in view. */
typedef struct {
    const char *name;
    float height[2]; /* metres above the floor */
    float fov_y[2];  /* vertical field of view, degrees */
    float pitch[2];  /* radians, > 0 looks up */
} doubt_synth_camera_range;

/* Indexed by doubt_synth_rig. Together they span height 0.6-2.6 m, fov 45-70°, pitch -0.5 to
 * 0.1 rad; training rooms have half extents of 3 to 25 m (walled rooms 3-8 by 3-10, open
 * floors 12-25), and no surface is farther than about 31 m from the camera. */
extern const doubt_synth_camera_range doubt_synth_rigs[2];

/* Geometry-OOD cameras, each value outside both rigs: "low" (a floor robot looking up with a
 * wide lens) and "high" (a ceiling camera looking steeply down with a narrow lens). */
extern const doubt_synth_camera_range doubt_synth_ood_cameras[2];

/* Geometry-OOD rooms, walled on four sides: every half_x is outside the training 3-25 m. */
typedef struct {
    const char *name;
    float half_x[2], half_z[2]; /* metres */
} doubt_synth_room_range;
extern const doubt_synth_room_range doubt_synth_ood_rooms[3]; /* corridor, closet, hall */

typedef struct {
    uint64_t seed;
    int width, height;
    int ood;              /* DOUBT_SYNTH_OOD_* bits; 0 = a training scene */
    float noise_level;    /* scales every injected noise; 0 = clean, 1 = default */
    doubt_synth_rig rig;  /* the training camera (ignored by the geometry kind) */
} doubt_synth_params;

/* Fraction of the objects (but the OOD tori and cones) that are look-alikes; glass objects
 * are drawn among the others. */
#define DOUBT_SYNTH_LOOKALIKE_FRACTION 0.2f

/* One rendered image. All buffers are owned by the image and overwritten by each render. */
typedef struct {
    int width, height;
    uint8_t *rgb;        /* [H][W][3], with image noise and blur */
    uint8_t *label;      /* [H][W] class ids after label noise (what is written) */
    uint8_t *label_true; /* [H][W] exact class of the surface seen through each pixel centre */
    uint8_t *labelnoise; /* [H][W] round(255 · P(label != label_true)), see the top */
    float *depth;        /* [H][W] noisy z-depth in metres, 0 = invalid (sky, missing glass) */
    float *depth_true;   /* [H][W] exact z-depth, 0 for sky */
    float *sigma;        /* [H][W] true std of depth around depth_true, 0 where depth is 0 */
    float *scratch;      /* [H][W][3] linear colour before quantisation, used by blur */
} doubt_synth_image;

/* The noise settings of a noise level: the depth-noise coefficient a (σ = a·z²), the
 * boundary flip probability and the look-alike flip probability. */
float doubt_synth_depth_a(float noise_level);
float doubt_synth_label_flip(float noise_level);
float doubt_synth_lookalike_flip(float noise_level);

/* An empty scene: camera at 1.5 m looking along +z, fov 60°, floor and four walls 10 m out,
 * white point light, no objects and no noise. */
void doubt_synth_scene_init(doubt_synth_scene *scene);

/* The scene of image `index`: a pure function of (params->seed, index, ood, noise_level, rig,
 * aspect ratio). The geometry kind draws its room and camera from a stream of its own, so its
 * scene i keeps the materials, sky, light colour and object draws of training scene i, and
 * no OOD code path moves a training draw. */
void doubt_synth_scene_sample(const doubt_synth_params *params, uint64_t index,
                              doubt_synth_scene *scene);

doubt_status doubt_synth_image_create(int width, int height, doubt_synth_image **out,
                                      doubt_error *err);
void doubt_synth_image_destroy(doubt_synth_image *img);

/* Renders scene into img (whose size is the output size). Fails only on a bad argument: a
 * flip probability outside [0, 1], a look-alike that is glass or not a box or cylinder. */
doubt_status doubt_synth_render(const doubt_synth_scene *scene, doubt_synth_image *img,
                                doubt_error *err);

#endif
