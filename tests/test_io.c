/* io: PNG/.npy writers against independent readers (stb_image, libpng, NumPy's own files),
 * image decoding for every layout, hostile files, colormaps, heatmaps and datasets. */
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stb_image.h>
#include <stb_image_write.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/dataset.h"
#include "harness.h"
#include "io/fsutil.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/png.h"
#include "viz/colormap.h"
#include "viz/font.h"
#include "viz/heatmap.h"

/* --- helpers ------------------------------------------------------------------------------ */

static char tmp_root[256];

static const char *tmp_dir(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/doubt_io_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_root));
    return tmp_root;
}

static char *join(const char *a, const char *b)
{
    static char buf[8][1024];
    static int k;
    char *out = buf[k++ % 8];
    snprintf(out, 1024, "%s/%s", a, b);
    return out;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static uint8_t *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)size + 1);
    ck_assert_uint_eq(fread(p, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return p;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    if (d)
        closedir(d);
    return n;
}

/* Golden files under tests/data/io, whether the tests run from the repository root or from
 * tests/. */
static const char *data_path(const char *name)
{
    static char buf[4][256];
    static int k;
    char *out = buf[k++ % 4];
    snprintf(out, 256, "tests/data/io/%s", name);
    if (access(out, R_OK) != 0)
        snprintf(out, 256, "data/io/%s", name);
    return out;
}

/* A failure whose message names the file. */
#define CK_FAILS_NAMING(call, expect_st, name)                                                  \
    do {                                                                                        \
        doubt_error e_ = {{0}};                                                                 \
        doubt_error *err = &e_;                                                                 \
        doubt_status st_ = (call);                                                              \
        ck_assert_msg(st_ == (expect_st), "%s -> %s (%s), expected %s", #call,                  \
                      doubt_status_str(st_), e_.msg, doubt_status_str(expect_st));              \
        ck_assert_msg(strstr(e_.msg, (name)) != NULL, "message '%s' does not name %s", e_.msg,  \
                      (name));                                                                  \
    } while (0)

#define CK_OK(call)                                                                             \
    do {                                                                                        \
        doubt_error e_ = {{0}};                                                                 \
        doubt_error *err = &e_;                                                                 \
        doubt_status st_ = (call);                                                              \
        ck_assert_msg(st_ == DOUBT_OK, "%s -> %s: %s", #call, doubt_status_str(st_), e_.msg);   \
    } while (0)

/* CRC-32 of PNG chunks (ISO 3309 polynomial, bit by bit: an independent reference). */
static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A PNG with a valid signature and IHDR claiming w x h, 8-bit RGB, and a token IDAT. */
static void write_claiming_png(const char *path, uint32_t w, uint32_t h)
{
    uint8_t f[8 + 25 + 12 + 12 + 12];
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(f, sig, 8);
    uint8_t *c = f + 8;
    put_be32(c, 13);
    memcpy(c + 4, "IHDR", 4);
    put_be32(c + 8, w);
    put_be32(c + 12, h);
    c[16] = 8; /* bit depth */
    c[17] = 2; /* RGB */
    c[18] = c[19] = c[20] = 0;
    put_be32(c + 21, crc32_png(c + 4, 17));
    c += 25;
    put_be32(c, 0 + 0);
    memcpy(c + 4, "IDAT", 4);
    put_be32(c + 8, crc32_png(c + 4, 4));
    c += 12;
    put_be32(c, 0);
    memcpy(c + 4, "IEND", 4);
    put_be32(c + 8, crc32_png(c + 4, 4));
    c += 12;
    write_bytes(path, f, (size_t)(c - f));
}

/* tEXt chunks read back with libpng's classic API. */
static int png_text_lookup(const char *path, const char *key, char *out, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    int found = 0;
    if (setjmp(png_jmpbuf(png)) == 0) {
        png_init_io(png, f);
        png_read_info(png, info);
        png_textp t;
        int n = 0;
        png_get_text(png, info, &t, &n);
        for (int i = 0; i < n; i++)
            if (strcmp(t[i].key, key) == 0) {
                snprintf(out, size, "%s", t[i].text);
                found = 1;
            }
    }
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return found;
}

/* --- PNG writers -------------------------------------------------------------------------- */

START_TEST(png_rgb8_round_trip)
{
    const char *dir = tmp_dir();
    const int w = 37, h = 23;
    uint8_t *rgb = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h * 3; i++)
        rgb[i] = (uint8_t)(i * 7 + i / 5);
    doubt_png_text t[] = {{"doubt.map", "test map"}, {"Comment", "x:y"}};
    CK_OK(doubt_png_write_rgb8(join(dir, "a.png"), rgb, w, h, t, 2, err));
    int rw, rh, comp;
    uint8_t *back = stbi_load(join(dir, "a.png"), &rw, &rh, &comp, 0);
    ck_assert_ptr_nonnull(back);
    ck_assert_int_eq(rw, w);
    ck_assert_int_eq(rh, h);
    ck_assert_int_eq(comp, 3);
    ck_assert_mem_eq(back, rgb, (size_t)w * h * 3);
    char text[64];
    ck_assert(png_text_lookup(join(dir, "a.png"), "doubt.map", text, sizeof text));
    ck_assert_str_eq(text, "test map");
    ck_assert(png_text_lookup(join(dir, "a.png"), "Comment", text, sizeof text));
    ck_assert_str_eq(text, "x:y");
    ck_assert_int_eq(count_entries(dir), 1); /* no temporary left behind */
    stbi_image_free(back);
    free(rgb);
    th_remove_tree(dir);
}
END_TEST

START_TEST(png_gray_round_trip)
{
    const char *dir = tmp_dir();
    const int w = 19, h = 11;
    uint16_t *v16 = malloc((size_t)w * h * 2);
    uint8_t *v8 = malloc((size_t)w * h);
    for (int i = 0; i < w * h; i++) {
        v16[i] = (uint16_t)(i * 301 + (i == 5 ? 65535 : 0)); /* high and low bytes both vary */
        v8[i] = (uint8_t)(255 - i);
    }
    v16[0] = 0;
    v16[1] = 0x0102; /* catches a missing byte swap */
    CK_OK(doubt_png_write_gray16(join(dir, "d.png"), v16, w, h, NULL, 0, err));
    CK_OK(doubt_png_write_gray8(join(dir, "g.png"), v8, w, h, NULL, 0, err));
    ck_assert(stbi_is_16_bit(join(dir, "d.png")));
    int rw, rh, comp;
    uint16_t *b16 = stbi_load_16(join(dir, "d.png"), &rw, &rh, &comp, 0);
    ck_assert_ptr_nonnull(b16);
    ck_assert_int_eq(comp, 1);
    ck_assert_mem_eq(b16, v16, (size_t)w * h * 2);
    uint8_t *b8 = stbi_load(join(dir, "g.png"), &rw, &rh, &comp, 0);
    ck_assert_int_eq(comp, 1);
    ck_assert_mem_eq(b8, v8, (size_t)w * h);
    stbi_image_free(b16);
    stbi_image_free(b8);
    free(v16);
    free(v8);
    th_remove_tree(dir);
}
END_TEST

START_TEST(png_palette_round_trip)
{
    const char *dir = tmp_dir();
    const int w = 9, h = 7;
    const uint8_t pal[4][3] = {{0, 0, 0}, {255, 0, 0}, {10, 200, 30}, {1, 2, 3}};
    uint8_t idx[9 * 7];
    for (int i = 0; i < w * h; i++)
        idx[i] = (uint8_t)((i * 3 + i / 9) % 4);
    CK_OK(doubt_png_write_palette(join(dir, "s.png"), idx, w, h, pal, 4, NULL, 0, err));
    size_t n;
    uint8_t *raw = read_bytes(join(dir, "s.png"), &n);
    ck_assert_int_eq(raw[25], 3); /* IHDR colour type: palette */
    ck_assert_int_eq(raw[24], 8);
    free(raw);
    int rw, rh, comp;
    uint8_t *back = stbi_load(join(dir, "s.png"), &rw, &rh, &comp, 3);
    ck_assert_ptr_nonnull(back);
    for (int i = 0; i < w * h; i++)
        ck_assert_mem_eq(back + 3 * i, pal[idx[i]], 3);
    stbi_image_free(back);
    idx[20] = 4;
    CK_FAILS_NAMING(doubt_png_write_palette(join(dir, "t.png"), idx, w, h, pal, 4, NULL, 0, err),
                    DOUBT_ERR_ARG, "(2, 2)");
    th_remove_tree(dir);
}
END_TEST

START_TEST(writes_are_atomic)
{
    const char *dir = tmp_dir();
    uint8_t px[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    /* a folder that does not exist: error, nothing created */
    CK_FAILS_NAMING(doubt_png_write_rgb8(join(dir, "nope/a.png"), px, 2, 2, NULL, 0, err),
                    DOUBT_ERR_IO, "nope/a.png");
    int64_t shape[1] = {3};
    float f3[3] = {1, 2, 3};
    CK_FAILS_NAMING(doubt_npy_write_f32(join(dir, "nope/a.npy"), f3, 1, shape, err), DOUBT_ERR_IO,
                    "nope/a.npy");
    ck_assert_int_eq(count_entries(dir), 0);
    /* an existing file survives a failed write untouched */
    write_bytes(join(dir, "keep.png"), "old contents", 12);
    const uint8_t pal[1][3] = {{0, 0, 0}};
    CK_FAILS_NAMING(doubt_png_write_palette(join(dir, "keep.png"), px, 2, 2, pal, 1, NULL, 0, err),
                    DOUBT_ERR_ARG, "keep.png");
    size_t n;
    uint8_t *b = read_bytes(join(dir, "keep.png"), &n);
    ck_assert_uint_eq(n, 12);
    ck_assert_mem_eq(b, "old contents", 12);
    free(b);
    /* the rename fails (the name is a non-empty folder) after the data was written: the
     * temporary must be removed and the folder left as it was */
    CK_OK(doubt_mkdir_p(join(dir, "busy/inner"), err));
    CK_FAILS_NAMING(doubt_png_write_rgb8(join(dir, "busy"), px, 2, 2, NULL, 0, err), DOUBT_ERR_IO,
                    "busy");
    CK_FAILS_NAMING(doubt_npy_write_f32(join(dir, "busy"), f3, 1, shape, err), DOUBT_ERR_IO,
                    "busy");
    ck_assert_int_eq(count_entries(dir), 2); /* keep.png and busy/ only */
    ck_assert_int_eq(count_entries(join(dir, "busy")), 1);
    /* mkdir -p makes parents, accepts existing folders, refuses a file in the way */
    CK_OK(doubt_mkdir_p(join(dir, "x/y/z/"), err));
    CK_OK(doubt_mkdir_p(join(dir, "x/y"), err));
    CK_FAILS_NAMING(doubt_mkdir_p(join(dir, "keep.png/sub"), err), DOUBT_ERR_IO, "keep.png");
    th_remove_tree(dir);
}
END_TEST

/* --- .npy --------------------------------------------------------------------------------- */

START_TEST(npy_header_follows_the_spec)
{
    const char *dir = tmp_dir();
    float v[24];
    for (int i = 0; i < 24; i++)
        v[i] = (float)i * 0.25f - 1.5f;
    v[23] = 1e-30f;
    const int64_t shape[3] = {2, 3, 4};
    CK_OK(doubt_npy_write_f32(join(dir, "a.npy"), v, 3, shape, err));
    size_t n;
    uint8_t *b = read_bytes(join(dir, "a.npy"), &n);
    ck_assert_mem_eq(b, "\x93NUMPY\x01\x00", 8);
    size_t hlen = b[8] | (size_t)b[9] << 8;
    ck_assert_uint_eq((10 + hlen) % 64, 0);
    ck_assert_uint_eq(n, 10 + hlen + 24 * 4);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }";
    ck_assert_mem_eq(b + 10, dict, strlen(dict));
    for (size_t i = 10 + strlen(dict); i < 10 + hlen - 1; i++)
        ck_assert_int_eq(b[i], ' ');
    ck_assert_int_eq(b[10 + hlen - 1], '\n');
    /* little-endian IEEE floats: -1.5f = 0xBFC00000 */
    ck_assert_mem_eq(b + 10 + hlen, "\x00\x00\xc0\xbf", 4);
    /* NumPy writes the same array to the same bytes */
    size_t rn;
    uint8_t *ref = read_bytes(data_path("ref.npy"), &rn);
    ck_assert_uint_eq(rn, n);
    ck_assert_mem_eq(ref, b, n);
    free(ref);
    free(b);
    /* a 1-d shape is a Python 1-tuple "(5,)" */
    const float v1[5] = {1, -2, 0.5f, 3.25f, 65504};
    const int64_t s1[1] = {5};
    CK_OK(doubt_npy_write_f32(join(dir, "b.npy"), v1, 1, s1, err));
    b = read_bytes(join(dir, "b.npy"), &n);
    ref = read_bytes(data_path("ref1d.npy"), &rn);
    ck_assert_uint_eq(rn, n);
    ck_assert_mem_eq(ref, b, n);
    free(ref);
    free(b);
    th_remove_tree(dir);
}
END_TEST

START_TEST(npy_reads_numpy_files)
{
    float *d;
    int nd;
    int64_t sh[4];
    CK_OK(doubt_npy_read_f32(data_path("ref.npy"), &d, &nd, sh, err));
    ck_assert_int_eq(nd, 3);
    ck_assert_int_eq(sh[0], 2);
    ck_assert_int_eq(sh[1], 3);
    ck_assert_int_eq(sh[2], 4);
    ck_assert_int_eq(sh[3], 1);
    for (int i = 0; i < 23; i++)
        ck_assert(d[i] == (float)i * 0.25f - 1.5f);
    ck_assert(d[23] == 1e-30f);
    free(d);
    CK_OK(doubt_npy_read_f32(data_path("ref1d.npy"), &d, &nd, sh, err));
    ck_assert_int_eq(nd, 1);
    ck_assert_int_eq(sh[0], 5);
    ck_assert(d[0] == 1 && d[1] == -2 && d[2] == 0.5f && d[3] == 3.25f && d[4] == 65504);
    free(d);
}
END_TEST

START_TEST(npy_rejects_bad_files)
{
    const char *dir = tmp_dir();
    float *d = NULL;
    int nd;
    int64_t sh[4];
    size_t n;
    uint8_t *ref = read_bytes(data_path("ref.npy"), &n);
    write_bytes(join(dir, "trunc.npy"), ref, n - 5);
    CK_FAILS_NAMING(doubt_npy_read_f32(join(dir, "trunc.npy"), &d, &nd, sh, err), DOUBT_ERR_FORMAT,
                    "trunc.npy");
    write_bytes(join(dir, "short.npy"), ref, 7);
    CK_FAILS_NAMING(doubt_npy_read_f32(join(dir, "short.npy"), &d, &nd, sh, err), DOUBT_ERR_FORMAT,
                    "short.npy");
    uint8_t *f8 = malloc(n);
    memcpy(f8, ref, n);
    char *descr = strstr((char *)f8 + 10, "<f4");
    descr[2] = '8';
    write_bytes(join(dir, "f8.npy"), f8, n);
    CK_FAILS_NAMING(doubt_npy_read_f32(join(dir, "f8.npy"), &d, &nd, sh, err), DOUBT_ERR_FORMAT,
                    "f8.npy");
    memcpy(f8, ref, n);
    memcpy(strstr((char *)f8 + 10, "False"), "True ", 5);
    write_bytes(join(dir, "fo.npy"), f8, n);
    CK_FAILS_NAMING(doubt_npy_read_f32(join(dir, "fo.npy"), &d, &nd, sh, err), DOUBT_ERR_FORMAT,
                    "Fortran");
    write_bytes(join(dir, "junk.npy"), "hello, world, this is not numpy", 31);
    CK_FAILS_NAMING(doubt_npy_read_f32(join(dir, "junk.npy"), &d, &nd, sh, err), DOUBT_ERR_FORMAT,
                    "junk.npy");
    CK_FAILS_NAMING(doubt_npy_read_f32(join(dir, "absent.npy"), &d, &nd, sh, err), DOUBT_ERR_IO,
                    "absent.npy");
    ck_assert_ptr_null(d);
    free(f8);
    free(ref);
    th_remove_tree(dir);
}
END_TEST

/* --- image reading ------------------------------------------------------------------------ */

START_TEST(image_reads_every_layout)
{
    const char *dir = tmp_dir();
    float *x;
    int w, h;
    /* 8-bit RGB: value / 255, planar */
    const uint8_t rgb[2 * 3] = {255, 0, 51, 0, 102, 255};
    CK_OK(doubt_png_write_rgb8(join(dir, "rgb.png"), rgb, 2, 1, NULL, 0, err));
    CK_OK(doubt_image_read(join(dir, "rgb.png"), 0, &x, &w, &h, err));
    ck_assert(w == 2 && h == 1);
    const float want[6] = {1, 0, 0, 0.4f, 0.2f, 1}; /* R0 R1 G0 G1 B0 B1 */
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq_tol(x[i], want[i], 1e-7);
    free(x);
    uint8_t *b8;
    CK_OK(doubt_image_read_rgb8(join(dir, "rgb.png"), 0, &b8, &w, &h, err));
    ck_assert_mem_eq(b8, rgb, 6);
    free(b8);
    /* 16-bit gray: value / 65535, replicated */
    const uint16_t g16[3] = {0, 65535, 13107};
    CK_OK(doubt_png_write_gray16(join(dir, "g16.png"), g16, 3, 1, NULL, 0, err));
    CK_OK(doubt_image_read(join(dir, "g16.png"), 0, &x, &w, &h, err));
    for (int c = 0; c < 3; c++) {
        ck_assert(x[c * 3 + 0] == 0.0f);
        ck_assert(x[c * 3 + 1] == 1.0f);
        ck_assert_float_eq_tol(x[c * 3 + 2], 0.2f, 1e-7);
    }
    free(x);
    CK_OK(doubt_image_read_rgb8(join(dir, "g16.png"), 0, &b8, &w, &h, err));
    const uint8_t g8[9] = {0, 0, 0, 255, 255, 255, 51, 51, 51};
    ck_assert_mem_eq(b8, g8, 9);
    free(b8);
    /* gray + alpha and RGBA (written with libpng's simplified API): alpha dropped */
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = 2;
    im.height = 1;
    im.format = PNG_FORMAT_GA;
    const uint8_t ga[4] = {51, 0, 204, 255};
    ck_assert(png_image_write_to_file(&im, join(dir, "ga.png"), 0, ga, 0, NULL));
    CK_OK(doubt_image_read(join(dir, "ga.png"), 0, &x, &w, &h, err));
    for (int c = 0; c < 3; c++) {
        ck_assert_float_eq_tol(x[c * 2], 0.2f, 1e-7);
        ck_assert_float_eq_tol(x[c * 2 + 1], 0.8f, 1e-7);
    }
    free(x);
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = 1;
    im.height = 1;
    im.format = PNG_FORMAT_RGBA;
    const uint8_t rgba[4] = {255, 51, 0, 255};
    ck_assert(png_image_write_to_file(&im, join(dir, "rgba.png"), 0, rgba, 0, NULL));
    CK_OK(doubt_image_read(join(dir, "rgba.png"), 0, &x, &w, &h, err));
    ck_assert(x[0] == 1.0f && x[2] == 0.0f);
    ck_assert_float_eq_tol(x[1], 0.2f, 1e-7);
    free(x);
    /* BMP, 24-bit, 2x2, rows bottom-up and padded to 4 bytes, pixels BGR (hand-made) */
    uint8_t bmp[54 + 16] = {'B', 'M'};
    bmp[2] = sizeof bmp;
    bmp[10] = 54;
    bmp[14] = 40;
    bmp[18] = 2;
    bmp[22] = 2;
    bmp[26] = 1;
    bmp[28] = 24;
    const uint8_t bmp_px[16] = {/* bottom row: blue, white */ 255, 0, 0, 255, 255, 255, 0, 0,
                                /* top row: red, green */ 0, 0, 255, 0, 255, 0, 0, 0};
    memcpy(bmp + 54, bmp_px, 16);
    write_bytes(join(dir, "a.bmp"), bmp, sizeof bmp);
    CK_OK(doubt_image_read(join(dir, "a.bmp"), 0, &x, &w, &h, err));
    ck_assert(w == 2 && h == 2);
    /* planes R, G, B; pixels (0,0) red, (1,0) green, (0,1) blue, (1,1) white */
    const float bmp_want[12] = {1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1};
    for (int i = 0; i < 12; i++)
        ck_assert(x[i] == bmp_want[i]);
    free(x);
    /* TGA, uncompressed 8-bit gray, 2x1, top-left origin (descriptor bit 5) */
    const uint8_t tga[18 + 2] = {0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 8, 0x20, 0, 255};
    write_bytes(join(dir, "a.tga"), tga, sizeof tga);
    CK_OK(doubt_image_read(join(dir, "a.tga"), 0, &x, &w, &h, err));
    ck_assert(w == 2 && h == 1);
    ck_assert(x[0] == 0.0f && x[1] == 1.0f && x[4] == 0.0f && x[5] == 1.0f);
    free(x);
    th_remove_tree(dir);
}
END_TEST

START_TEST(image_refuses_hostile_files)
{
    const char *dir = tmp_dir();
    float *x = NULL;
    int w, h;
    /* a 60-byte PNG claiming 100000 x 100000: refused from its header, nothing allocated */
    write_claiming_png(join(dir, "bomb.png"), 100000, 100000);
    CK_FAILS_NAMING(doubt_image_read(join(dir, "bomb.png"), 0, &x, &w, &h, err), DOUBT_ERR_FORMAT,
                    "bomb.png");
    /* the configurable limit: 300 x 200 against 50000 pixels */
    write_claiming_png(join(dir, "big.png"), 300, 200);
    CK_FAILS_NAMING(doubt_image_read(join(dir, "big.png"), 50000, &x, &w, &h, err),
                    DOUBT_ERR_FORMAT, "limit of 50000");
    /* the same header under a larger limit gets as far as decoding, which fails: no data */
    CK_FAILS_NAMING(doubt_image_read(join(dir, "big.png"), 100000, &x, &w, &h, err),
                    DOUBT_ERR_FORMAT, "cannot decode");
    /* truncated and corrupted real PNGs */
    uint8_t px[64 * 64 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (uint8_t)(i * 31 % 251);
    CK_OK(doubt_png_write_rgb8(join(dir, "ok.png"), px, 64, 64, NULL, 0, err));
    size_t n;
    uint8_t *b = read_bytes(join(dir, "ok.png"), &n);
    write_bytes(join(dir, "trunc.png"), b, n / 2);
    CK_FAILS_NAMING(doubt_image_read(join(dir, "trunc.png"), 0, &x, &w, &h, err), DOUBT_ERR_FORMAT,
                    "trunc.png");
    for (size_t i = 60; i < n - 20; i++)
        b[i] ^= 0x5a;
    write_bytes(join(dir, "corrupt.png"), b, n);
    CK_FAILS_NAMING(doubt_image_read(join(dir, "corrupt.png"), 0, &x, &w, &h, err),
                    DOUBT_ERR_FORMAT, "corrupt.png");
    write_bytes(join(dir, "head.png"), b, 20);
    CK_FAILS_NAMING(doubt_image_read(join(dir, "head.png"), 0, &x, &w, &h, err), DOUBT_ERR_FORMAT,
                    "head.png");
    free(b);
    write_bytes(join(dir, "text.jpg"), "this is not a jpeg", 18);
    CK_FAILS_NAMING(doubt_image_read(join(dir, "text.jpg"), 0, &x, &w, &h, err), DOUBT_ERR_FORMAT,
                    "text.jpg");
    write_bytes(join(dir, "empty.png"), "", 0);
    CK_FAILS_NAMING(doubt_image_read(join(dir, "empty.png"), 0, &x, &w, &h, err),
                    DOUBT_ERR_FORMAT, "empty.png");
    CK_FAILS_NAMING(doubt_image_read(join(dir, "missing.png"), 0, &x, &w, &h, err), DOUBT_ERR_IO,
                    "missing.png");
    CK_OK(doubt_mkdir_p(join(dir, "folder.png"), err));
    CK_FAILS_NAMING(doubt_image_read(join(dir, "folder.png"), 0, &x, &w, &h, err), DOUBT_ERR_IO,
                    "folder.png");
    ck_assert_ptr_null(x);
    th_remove_tree(dir);
}
END_TEST

START_TEST(labels_and_depth_formats)
{
    const char *dir = tmp_dir();
    const uint8_t ids[4] = {0, 7, 255, 3};
    const uint16_t dz[4] = {0, 256, 65535, 128};
    CK_OK(doubt_png_write_gray8(join(dir, "l.png"), ids, 2, 2, NULL, 0, err));
    CK_OK(doubt_png_write_gray16(join(dir, "d.png"), dz, 2, 2, NULL, 0, err));
    const uint8_t rgb[12] = {0};
    const uint8_t pal[2][3] = {{0, 0, 0}, {1, 1, 1}};
    CK_OK(doubt_png_write_rgb8(join(dir, "rgb.png"), rgb, 2, 2, NULL, 0, err));
    CK_OK(doubt_png_write_palette(join(dir, "pal.png"), ids + 0, 1, 1, pal, 2, NULL, 0, err));
    uint8_t *l;
    float *d;
    int w, h;
    CK_OK(doubt_image_read_labels(join(dir, "l.png"), 0, &l, &w, &h, err));
    ck_assert_mem_eq(l, ids, 4);
    free(l);
    CK_OK(doubt_image_read_depth(join(dir, "d.png"), 0, 256.0f, &d, &w, &h, err));
    ck_assert(d[0] == 0.0f && d[1] == 1.0f && d[2] == 65535.0f / 256.0f && d[3] == 0.5f);
    free(d);
    CK_OK(doubt_image_read_depth(join(dir, "d.png"), 0, 1000.0f, &d, &w, &h, err));
    ck_assert_float_eq_tol(d[1], 0.256f, 1e-7);
    free(d);
    CK_FAILS_NAMING(doubt_image_read_labels(join(dir, "rgb.png"), 0, &l, &w, &h, err),
                    DOUBT_ERR_FORMAT, "8-bit RGB");
    CK_FAILS_NAMING(doubt_image_read_labels(join(dir, "pal.png"), 0, &l, &w, &h, err),
                    DOUBT_ERR_FORMAT, "palette");
    CK_FAILS_NAMING(doubt_image_read_labels(join(dir, "d.png"), 0, &l, &w, &h, err),
                    DOUBT_ERR_FORMAT, "16-bit gray");
    CK_FAILS_NAMING(doubt_image_read_depth(join(dir, "l.png"), 0, 256.0f, &d, &w, &h, err),
                    DOUBT_ERR_FORMAT, "l.png");
    CK_FAILS_NAMING(doubt_image_read_depth(join(dir, "d.png"), 0, 0.0f, &d, &w, &h, err),
                    DOUBT_ERR_ARG, "d.png");
    th_remove_tree(dir);
}
END_TEST

/* --- colormaps, font, heatmaps ------------------------------------------------------------ */

/* CIE L* of an sRGB colour (D65), the lightness a perceptual map must raise monotonically. */
static double lightness(const uint8_t c[3])
{
    double lin[3];
    for (int k = 0; k < 3; k++) {
        double v = c[k] / 255.0;
        lin[k] = v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
    }
    double y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
    return y > 216.0 / 24389 ? 116 * cbrt(y) - 16 : y * 24389.0 / 27;
}

START_TEST(colormaps_are_the_published_ones)
{
    /* end colours of the published maps (matplotlib's _cm_listed values x 255, rounded) */
    const uint8_t inferno0[3] = {0, 0, 4}, inferno255[3] = {252, 255, 164};
    const uint8_t viridis0[3] = {68, 1, 84}, viridis255[3] = {253, 231, 37};
    const uint8_t turbo0[3] = {48, 18, 59}, turbo255[3] = {122, 4, 3};
    ck_assert_mem_eq(doubt_colormap_inferno[0], inferno0, 3);
    ck_assert_mem_eq(doubt_colormap_inferno[255], inferno255, 3);
    ck_assert_mem_eq(doubt_colormap_viridis[0], viridis0, 3);
    ck_assert_mem_eq(doubt_colormap_viridis[255], viridis255, 3);
    ck_assert_mem_eq(doubt_colormap_turbo[0], turbo0, 3);
    ck_assert_mem_eq(doubt_colormap_turbo[255], turbo255, 3);
    /* Rounding to 8 bits costs viridis 0.03 L* at one step (94 -> 95); over two steps the
     * lightness of both maps rises strictly. */
    for (int i = 1; i < 256; i++) {
        ck_assert_msg(lightness(doubt_colormap_inferno[i]) > lightness(doubt_colormap_inferno[i - 1]),
                      "inferno lightness falls at %d", i);
        ck_assert_msg(lightness(doubt_colormap_viridis[i]) >
                          lightness(doubt_colormap_viridis[i - 1]) - 0.05,
                      "viridis lightness falls at %d", i);
        if (i >= 2)
            ck_assert_msg(lightness(doubt_colormap_viridis[i]) >
                              lightness(doubt_colormap_viridis[i - 2]) + 0.2,
                          "viridis lightness flat at %d", i);
    }
    ck_assert_int_eq(doubt_colormap_index(0.0f), 0);
    ck_assert_int_eq(doubt_colormap_index(-3.0f), 0);
    ck_assert_int_eq(doubt_colormap_index(NAN), 0);
    ck_assert_int_eq(doubt_colormap_index(1.0f), 255);
    ck_assert_int_eq(doubt_colormap_index(7.0f), 255);
    ck_assert_int_eq(doubt_colormap_index(0.5f), 128);
    ck_assert_int_eq(doubt_colormap_index(0.999f), 255);
    ck_assert_int_eq(doubt_colormap_index(1.0f / 256.0f - 1e-6f), 0);
    doubt_colormap cm;
    CK_OK(doubt_colormap_parse("viridis", &cm, err));
    ck_assert_int_eq(cm, DOUBT_CMAP_VIRIDIS);
    CK_FAILS_NAMING(doubt_colormap_parse("jet", &cm, err), DOUBT_ERR_ARG, "jet");
}
END_TEST

START_TEST(font_draws_glyphs)
{
    ck_assert_int_eq(doubt_font_text_width("1.5e-3", 1), 35);
    ck_assert_int_eq(doubt_font_text_width("10", 2), 22);
    ck_assert_int_eq(doubt_font_text_width("", 1), 0);
    uint8_t img[7 * 5 * 3];
    memset(img, 0, sizeof img);
    const uint8_t white[3] = {255, 255, 255};
    doubt_font_draw(img, 5, 7, 0, 0, "1", 1, white);
    /* '1': a centre column with a flag at the top left and a foot of three */
    const char *want[7] = {"..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."};
    for (int y = 0; y < 7; y++)
        for (int x = 0; x < 5; x++)
            ck_assert_int_eq(img[(y * 5 + x) * 3] == 255, want[y][x] == '#');
    /* clipping: drawn half outside, nothing written out of bounds (ASan watches) */
    doubt_font_draw(img, 5, 7, 3, 4, "88", 2, white);
    doubt_font_draw(img, 5, 7, -20, -20, "8", 1, white);
}
END_TEST

/* A log-scale map colours by log10 of the value, ticks at even steps in log10, and the
 * legend shows the invalid colour with its label under the bar. */
START_TEST(heatmap_log_scale_and_invalid_legend)
{
    const char *dir = tmp_dir();
    const int w = 16, h = 16;
    float v[16 * 16];
    for (int i = 0; i < w * h; i++)
        v[i] = 1e-4f;
    v[1] = 1.0f;    /* hi */
    v[2] = 1e-2f;   /* two of four decades: the middle entry, 128 */
    v[3] = 1e-3f;   /* one of four: entry floor(0.25 * 256) = 64 */
    v[4] = 0.0f;    /* below lo (log of 0): the bottom colour */
    v[5] = NAN;
    doubt_heatmap_opts o = doubt_heatmap_defaults();
    o.lo = 1e-4f;
    o.hi = 1.0f;
    o.log_scale = 1;
    o.invalid_label = "no depth";
    uint8_t *rgb;
    doubt_heatmap_layout L;
    CK_OK(doubt_heatmap_render(v, NULL, w, h, &o, &rgb, &L, err));
    const uint8_t(*t)[3] = doubt_colormap_inferno;
    const uint8_t grey[3] = {128, 128, 128};
#define PX(x, y) (rgb + ((size_t)(y) * L.width + (x)) * 3)
    ck_assert_mem_eq(PX(0, 0), t[0], 3);
    ck_assert_mem_eq(PX(1, 0), t[255], 3);
    ck_assert_mem_eq(PX(2, 0), t[128], 3);
    ck_assert_mem_eq(PX(3, 0), t[64], 3);
    ck_assert_mem_eq(PX(4, 0), t[0], 3);
    ck_assert_mem_eq(PX(5, 0), grey, 3);
    /* the swatch sits under the bar, and the label's ink beside it */
    ck_assert_int_gt(L.swatch_h, 0);
    ck_assert_int_gt(L.swatch_y, L.bar_bottom);
    ck_assert_mem_eq(PX(L.bar_x + 1, L.swatch_y + 1), grey, 3);
    int ink = 0;
    for (int y = L.swatch_y; y < L.swatch_y + L.swatch_h; y++)
        for (int x = L.bar_x + L.bar_w; x < L.width; x++)
            ink += PX(x, y)[0] == 0;
    ck_assert_int_gt(ink, 10);
#undef PX
    free(rgb);
    CK_OK(doubt_heatmap_write(join(dir, "log.png"), v, NULL, w, h, &o, err));
    char text[64];
    ck_assert(png_text_lookup(join(dir, "log.png"), "doubt.scale", text, sizeof text));
    ck_assert_str_eq(text, "log10");
    ck_assert(png_text_lookup(join(dir, "log.png"), "doubt.invalid_label", text, sizeof text));
    ck_assert_str_eq(text, "no depth");
    /* a log range must start above 0 */
    o.lo = 0.0f;
    doubt_error e = {{0}};
    ck_assert_int_eq(doubt_heatmap_render(v, NULL, w, h, &o, &rgb, &L, &e), DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "lo > 0"));
}
END_TEST

START_TEST(heatmap_fixed_range_and_colorbar)
{
    const char *dir = tmp_dir();
    const int w = 16, h = 16;
    float v[16 * 16];
    uint8_t valid[16 * 16];
    for (int i = 0; i < w * h; i++) {
        v[i] = (float)i / (w * h - 1) * 2.0f;
        valid[i] = 1;
    }
    v[0] = 0.0f;   /* lo */
    v[1] = 2.0f;   /* hi */
    v[2] = NAN;    /* invalid */
    v[3] = -5.0f;  /* clamped to lo */
    v[4] = 50.0f;  /* clamped to hi */
    v[5] = 1.0f;   /* middle: entry floor(0.5 * 256) = 128 */
    valid[6] = 0;  /* masked */
    doubt_heatmap_opts o = doubt_heatmap_defaults();
    o.lo = 0.0f;
    o.hi = 2.0f;
    o.cmap = DOUBT_CMAP_VIRIDIS;
    o.map_name = "depth_epistemic";
    o.units = "m2";
    uint8_t *rgb;
    doubt_heatmap_layout L;
    CK_OK(doubt_heatmap_render(v, valid, w, h, &o, &rgb, &L, err));
    ck_assert_int_ge(L.height, 64);
    ck_assert_int_gt(L.width, w + L.bar_w);
    ck_assert_int_ge(L.bar_x, w);
    ck_assert_int_ge(L.bar_bottom - L.bar_top, 40);
    ck_assert_int_ge(L.nticks, 3);
    const uint8_t(*t)[3] = doubt_colormap_viridis;
    const uint8_t grey[3] = {128, 128, 128};
#define PX(x, y) (rgb + ((size_t)(y) * L.width + (x)) * 3)
    ck_assert_mem_eq(PX(0, 0), t[0], 3);
    ck_assert_mem_eq(PX(1, 0), t[255], 3);
    ck_assert_mem_eq(PX(2, 0), grey, 3);
    ck_assert_mem_eq(PX(3, 0), t[0], 3);
    ck_assert_mem_eq(PX(4, 0), t[255], 3);
    ck_assert_mem_eq(PX(5, 0), t[128], 3);
    ck_assert_mem_eq(PX(6, 0), grey, 3);
    ck_assert_mem_eq(PX(15, 15), t[255], 3);
    /* the bar: hi on top, lo at the bottom, monotone in between (viridis lightness) */
    int bx = L.bar_x + L.bar_w / 2;
    ck_assert_mem_eq(PX(bx, L.bar_top), t[255], 3);
    ck_assert_mem_eq(PX(bx, L.bar_bottom), t[0], 3);
    for (int y = L.bar_top + 1; y <= L.bar_bottom; y++)
        ck_assert(lightness(PX(bx, y)) <= lightness(PX(bx, y - 1)));
    /* labels: black ink to the right of the bar, next to the top, middle and bottom ticks */
    int ink_rows[3] = {0, 0, 0};
    for (int y = 0; y < L.height; y++)
        for (int x = L.bar_x + L.bar_w + 1; x < L.width; x++)
            if (PX(x, y)[0] == 0 && PX(x, y)[1] == 0 && PX(x, y)[2] == 0) {
                int band = y < L.height / 3 ? 0 : y < 2 * L.height / 3 ? 1 : 2;
                ink_rows[band]++;
            }
    ck_assert(ink_rows[0] > 10 && ink_rows[1] > 10 && ink_rows[2] > 10);
    /* below the map, the canvas is background */
    ck_assert_int_eq(PX(3, 40)[0], 255);
#undef PX
    free(rgb);
    CK_OK(doubt_heatmap_write(join(dir, "h.png"), v, valid, w, h, &o, err));
    char text[64];
    ck_assert(png_text_lookup(join(dir, "h.png"), "doubt.range", text, sizeof text));
    ck_assert_str_eq(text, "0:2");
    ck_assert(png_text_lookup(join(dir, "h.png"), "doubt.colormap", text, sizeof text));
    ck_assert_str_eq(text, "viridis");
    ck_assert(png_text_lookup(join(dir, "h.png"), "doubt.map", text, sizeof text));
    ck_assert_str_eq(text, "depth_epistemic");
    /* the recorded range reads back as the same floats, in the shortest decimals */
    doubt_heatmap_opts o2 = o;
    o2.lo = 1e-5f;
    o2.hi = 0.02f;
    CK_OK(doubt_heatmap_write(join(dir, "h2.png"), v, NULL, w, h, &o2, err));
    ck_assert(png_text_lookup(join(dir, "h2.png"), "doubt.range", text, sizeof text));
    ck_assert_str_eq(text, "1e-05:0.02");
    int rw, rh, comp;
    ck_assert(stbi_info(join(dir, "h.png"), &rw, &rh, &comp));
    ck_assert(rw == L.width && rh == L.height && comp == 3);
    /* no per-image normalisation: halving every value changes the colours */
    for (int i = 0; i < w * h; i++)
        v[i] *= 0.5f;
    CK_OK(doubt_heatmap_render(v, NULL, w, h, &o, &rgb, &L, err));
    ck_assert_mem_eq(rgb + 3 * 1, doubt_colormap_viridis[128], 3);
    free(rgb);
    o.hi = o.lo;
    CK_FAILS_NAMING(doubt_heatmap_render(v, NULL, w, h, &o, &rgb, &L, err), DOUBT_ERR_ARG,
                    "depth_epistemic");
    char buf[32];
    doubt_heatmap_format_tick(1e-5, buf, sizeof buf);
    ck_assert_str_eq(buf, "1e-5");
    doubt_heatmap_format_tick(1500.0, buf, sizeof buf);
    ck_assert_str_eq(buf, "1.5e3");
    doubt_heatmap_format_tick(0.25, buf, sizeof buf);
    ck_assert_str_eq(buf, "0.25");
    th_remove_tree(dir);
}
END_TEST

/* --- datasets ----------------------------------------------------------------------------- */

/* A dataset of n images of w x h; pixel values encode (image, x, y) so crops can be located. */
static void make_dataset(const char *dir, int n, int w, int h, int with_json)
{
    doubt_error e = {{0}};
    ck_assert_int_eq(doubt_mkdir_p(join(dir, "images"), &e), 0);
    ck_assert_int_eq(doubt_mkdir_p(join(dir, "labels"), &e), 0);
    ck_assert_int_eq(doubt_mkdir_p(join(dir, "depth"), &e), 0);
    ck_assert_int_eq(doubt_mkdir_p(join(dir, "noise"), &e), 0);
    uint8_t *rgb = malloc((size_t)w * h * 3), *lab = malloc((size_t)w * h);
    uint16_t *dep = malloc((size_t)w * h * 2);
    float *noise = malloc((size_t)w * h * 4);
    for (int k = 0; k < n; k++) {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int i = y * w + x;
                rgb[3 * i] = (uint8_t)x;
                rgb[3 * i + 1] = (uint8_t)y;
                rgb[3 * i + 2] = (uint8_t)k;
                lab[i] = (uint8_t)((x + y + k) % 4);
                dep[i] = (uint16_t)(256 * (k + 1) + x);
                noise[i] = 0.01f * (float)(k + 1);
            }
        char name[64];
        snprintf(name, sizeof name, "images/s%02d.png", k);
        ck_assert_int_eq(doubt_png_write_rgb8(join(dir, name), rgb, w, h, NULL, 0, &e), 0);
        snprintf(name, sizeof name, "labels/s%02d.png", k);
        ck_assert_int_eq(doubt_png_write_gray8(join(dir, name), lab, w, h, NULL, 0, &e), 0);
        snprintf(name, sizeof name, "depth/s%02d.png", k);
        ck_assert_int_eq(doubt_png_write_gray16(join(dir, name), dep, w, h, NULL, 0, &e), 0);
        snprintf(name, sizeof name, "noise/s%02d.npy", k);
        const int64_t shape[2] = {h, w};
        ck_assert_int_eq(doubt_npy_write_f32(join(dir, name), noise, 2, shape, &e), 0);
    }
    if (with_json) {
        const char *json = "{\"classes\": [\"a\", \"b\", \"c\", \"d\"], \"depth_scale\": 256,"
                           " \"palette\": [[0,0,0],[1,2,3],[4,5,6],[7,8,9]], \"seed\": 1}";
        write_bytes(join(dir, "dataset.json"), json, strlen(json));
    }
    free(rgb);
    free(lab);
    free(dep);
    free(noise);
}

START_TEST(dataset_pairs_and_loads)
{
    const char *dir = tmp_dir();
    make_dataset(dir, 3, 8, 6, 1);
    write_bytes(join(dir, "images/.s09.png.tmp.123"), "partial", 7); /* ignored dot file */
    doubt_dataset *ds;
    CK_OK(doubt_dataset_open(dir, NULL, &ds, err));
    ck_assert_int_eq(doubt_dataset_count(ds), 3);
    ck_assert_str_eq(doubt_dataset_name(ds, 0), "s00");
    ck_assert_str_eq(doubt_dataset_name(ds, 2), "s02");
    ck_assert(doubt_dataset_has_labels(ds) && doubt_dataset_has_depth(ds) &&
              doubt_dataset_has_noise(ds));
    ck_assert_int_eq(doubt_dataset_classes(ds), 4);
    ck_assert(doubt_dataset_depth_scale(ds) == 256.0f);
    ck_assert_str_eq(doubt_dataset_class_name(ds, 1), "b");
    ck_assert_int_eq(doubt_dataset_palette(ds)[3][2], 9);
    doubt_sample s;
    CK_OK(doubt_dataset_load(ds, 2, &s, err));
    ck_assert(s.width == 8 && s.height == 6);
    /* pixel (5, 4) of image 2 */
    int i = 4 * 8 + 5;
    ck_assert(s.image[i] == 5.0f / 255.0f && s.image[48 + i] == 4.0f / 255.0f &&
              s.image[96 + i] == 2.0f / 255.0f);
    ck_assert_int_eq(s.labels[i], (5 + 4 + 2) % 4);
    ck_assert(s.depth[i] == (256.0f * 3 + 5) / 256.0f);
    ck_assert(s.noise[i] == 0.03f);
    doubt_sample_release(&s);
    doubt_sample_release(&s); /* twice is harmless */
    CK_OK(doubt_dataset_validate(ds, err));
    doubt_dataset_destroy(ds);
    doubt_dataset_destroy(NULL);
    /* single task: labels only, no json (classes unknown, default depth scale) */
    th_remove_tree(join(dir, "depth"));
    th_remove_tree(join(dir, "noise"));
    unlink(join(dir, "dataset.json"));
    doubt_dataset_opts o = {.classes = 4};
    CK_OK(doubt_dataset_open(dir, &o, &ds, err));
    ck_assert(doubt_dataset_has_labels(ds) && !doubt_dataset_has_depth(ds));
    ck_assert(doubt_dataset_depth_scale(ds) == 256.0f);
    ck_assert_ptr_null(doubt_dataset_class_name(ds, 0));
    CK_OK(doubt_dataset_validate(ds, err));
    doubt_dataset_destroy(ds);
    th_remove_tree(dir);
}
END_TEST

START_TEST(dataset_errors_name_the_file)
{
    const char *dir = tmp_dir();
    doubt_dataset *ds = NULL;
    CK_FAILS_NAMING(doubt_dataset_open(join(dir, "absent"), NULL, &ds, err), DOUBT_ERR_IO,
                    "absent");
    CK_FAILS_NAMING(doubt_dataset_open(dir, NULL, &ds, err), DOUBT_ERR_IO, "no images/");
    CK_OK(doubt_mkdir_p(join(dir, "images"), err));
    CK_FAILS_NAMING(doubt_dataset_open(dir, NULL, &ds, err), DOUBT_ERR_FORMAT, "holds no");
    th_remove_tree(join(dir, "images"));
    write_bytes(join(dir, "images"), "x", 1); /* images is a file, not a folder */
    CK_FAILS_NAMING(doubt_dataset_open(dir, NULL, &ds, err), DOUBT_ERR_IO, "not a folder");
    unlink(join(dir, "images"));

    make_dataset(dir, 3, 8, 6, 1);
    /* a missing label file */
    rename(join(dir, "labels/s01.png"), join(dir, "s01.png"));
    CK_FAILS_NAMING(doubt_dataset_open(dir, NULL, &ds, err), DOUBT_ERR_FORMAT, "labels/s01.png");
    rename(join(dir, "s01.png"), join(dir, "labels/s01.png"));
    /* a label without an image */
    CK_OK(doubt_png_write_gray8(join(dir, "labels/zz.png"), (const uint8_t *)"ab", 2, 1, NULL, 0,
                                err));
    CK_FAILS_NAMING(doubt_dataset_open(dir, NULL, &ds, err), DOUBT_ERR_FORMAT, "labels/zz.png");
    unlink(join(dir, "labels/zz.png"));
    /* a stray file among the images */
    write_bytes(join(dir, "images/notes.txt"), "hi", 2);
    CK_FAILS_NAMING(doubt_dataset_open(dir, NULL, &ds, err), DOUBT_ERR_FORMAT, "notes.txt");
    unlink(join(dir, "images/notes.txt"));
    /* two images with one NAME */
    write_bytes(join(dir, "images/s00.jpg"), "x", 1);
    CK_FAILS_NAMING(doubt_dataset_open(dir, NULL, &ds, err), DOUBT_ERR_FORMAT, "s00");
    unlink(join(dir, "images/s00.jpg"));
    /* bad dataset.json */
    write_bytes(join(dir, "dataset.json"), "{\"classes\": ", 12);
    CK_FAILS_NAMING(doubt_dataset_open(dir, NULL, &ds, err), DOUBT_ERR_FORMAT, "dataset.json");
    write_bytes(join(dir, "dataset.json"), "{\"classes\": 4}", 14);

    /* problems found on load: mismatched sizes, labels out of range, unreadable image */
    const uint8_t small[4] = {0};
    CK_OK(doubt_png_write_gray8(join(dir, "labels/s01.png"), small, 2, 2, NULL, 0, err));
    uint8_t lab[48];
    memset(lab, 1, sizeof lab);
    lab[8 * 2 + 3] = 9; /* pixel (3, 2) */
    CK_OK(doubt_png_write_gray8(join(dir, "labels/s02.png"), lab, 8, 6, NULL, 0, err));
    th_remove_tree(join(dir, "images/s00.png"));
    CK_OK(doubt_mkdir_p(join(dir, "images/s00.png"), err));
    CK_OK(doubt_dataset_open(dir, NULL, &ds, err));
    doubt_sample s;
    CK_FAILS_NAMING(doubt_dataset_load(ds, 0, &s, err), DOUBT_ERR_IO, "images/s00.png");
    CK_FAILS_NAMING(doubt_dataset_load(ds, 1, &s, err), DOUBT_ERR_FORMAT, "labels/s01.png");
    CK_FAILS_NAMING(doubt_dataset_load(ds, 2, &s, err), DOUBT_ERR_FORMAT, "labels/s02.png");
    CK_FAILS_NAMING(doubt_dataset_load(ds, 2, &s, err), DOUBT_ERR_FORMAT, "(3, 2) has class 9");
    CK_FAILS_NAMING(doubt_dataset_validate(ds, err), DOUBT_ERR_IO, "s00.png");
    ck_assert_ptr_null(s.image);
    doubt_dataset_destroy(ds);
    /* with classes given as 10, class 9 is fine */
    doubt_dataset_opts o = {.classes = 10};
    CK_OK(doubt_dataset_open(dir, &o, &ds, err));
    CK_OK(doubt_dataset_load(ds, 2, &s, err));
    doubt_sample_release(&s);
    doubt_dataset_destroy(ds);
    th_remove_tree(dir);
}
END_TEST

/* Finds where a batch row came from: sample, crop offset and flip, by exhaustive search over
 * the encoded pixels (x, y, image index in R, G, B). */
static int locate_crop(const float *row, int cw, int ch, int n, int w, int h, int *k, int *x0,
                       int *y0, int *flip)
{
    const size_t plane = (size_t)cw * ch;
    *k = (int)lroundf(row[2 * plane] * 255.0f);
    *y0 = (int)lroundf(row[plane] * 255.0f);
    int first = (int)lroundf(row[0] * 255.0f), last = (int)lroundf(row[cw - 1] * 255.0f);
    *flip = first > last;
    *x0 = *flip ? last : first;
    if (*k < 0 || *k >= n || *x0 + cw > w || *y0 + ch > h)
        return 0;
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++) {
            int sx = *x0 + (*flip ? cw - 1 - x : x);
            if (lroundf(row[y * cw + x] * 255.0f) != sx ||
                lroundf(row[plane + y * cw + x] * 255.0f) != *y0 + y ||
                lroundf(row[2 * plane + y * cw + x] * 255.0f) != *k)
                return 0;
        }
    return 1;
}

START_TEST(batches_are_deterministic_crops)
{
    const char *dir = tmp_dir();
    const int n = 5, w = 12, h = 10, cw = 6, ch = 4, B = 2;
    make_dataset(dir, n, w, h, 1);
    doubt_dataset *ds;
    CK_OK(doubt_dataset_open(dir, NULL, &ds, err));
    doubt_batch_opts bo = {.batch = B, .crop_w = cw, .crop_h = ch, .flip = 1, .seed = 42};
    doubt_batcher *b1, *b2;
    CK_OK(doubt_batcher_create(ds, &bo, &b1, err));
    CK_OK(doubt_batcher_create(ds, &bo, &b2, err));
    const size_t plane = (size_t)cw * ch;
    float *img1 = malloc(B * 3 * plane * 4), *img2 = malloc(B * 3 * plane * 4);
    float *dep = malloc(B * plane * 4), *noi = malloc(B * plane * 4);
    uint8_t *lab = malloc(B * plane);
    int seen[5] = {0}, flips = 0;
    /* steps 0..9 cover 20 samples = 4 epochs of 5; each epoch a permutation */
    for (int step = 0; step < 10; step++) {
        CK_OK(doubt_batcher_fill(b1, step, img1, lab, dep, noi, err));
        /* b2 visits steps in reverse order and must agree */
        CK_OK(doubt_batcher_fill(b2, 9 - step, img2, NULL, NULL, NULL, err));
        CK_OK(doubt_batcher_fill(b2, step, img2, NULL, NULL, NULL, err));
        ck_assert_mem_eq(img1, img2, B * 3 * plane * 4);
        for (int r = 0; r < B; r++) {
            int k, x0, y0, flip;
            ck_assert_msg(locate_crop(img1 + r * 3 * plane, cw, ch, n, w, h, &k, &x0, &y0, &flip),
                          "step %d row %d is not a crop of any sample", step, r);
            seen[k]++;
            flips += flip;
            /* labels, depth and noise crops match the image crop exactly */
            for (int y = 0; y < ch; y++)
                for (int x = 0; x < cw; x++) {
                    int sx = x0 + (flip ? cw - 1 - x : x), sy = y0 + y;
                    size_t o = r * plane + (size_t)y * cw + x;
                    ck_assert_int_eq(lab[o], (sx + sy + k) % 4);
                    ck_assert(dep[o] == (256.0f * (k + 1) + sx) / 256.0f);
                    ck_assert(noi[o] == 0.01f * (float)(k + 1));
                }
        }
        if ((step + 1) % 5 == 0 && step > 0) {
            /* after each whole number of epochs (10 samples = 2 epochs) every sample twice */
            for (int k = 0; k < n; k++)
                ck_assert_int_eq(seen[k], 2 * (step + 1) / 5);
        }
    }
    ck_assert(flips > 2 && flips < 18);
    /* another seed gives other batches */
    doubt_batcher *b3;
    bo.seed = 43;
    CK_OK(doubt_batcher_create(ds, &bo, &b3, err));
    int differ = 0;
    for (int step = 0; step < 4 && !differ; step++) {
        CK_OK(doubt_batcher_fill(b1, step, img1, NULL, NULL, NULL, err));
        CK_OK(doubt_batcher_fill(b3, step, img2, NULL, NULL, NULL, err));
        differ = memcmp(img1, img2, B * 3 * plane * 4) != 0;
    }
    ck_assert(differ);
    doubt_batcher_destroy(b3);
    /* a crop larger than the images is refused, naming the image */
    bo.crop_w = 16;
    CK_OK(doubt_batcher_create(ds, &bo, &b3, err));
    CK_FAILS_NAMING(doubt_batcher_fill(b3, 0, img1, NULL, NULL, NULL, err), DOUBT_ERR_ARG,
                    "smaller than the 16x4 crop");
    doubt_batcher_destroy(b3);
    /* full images without a crop */
    doubt_batch_opts full = {.batch = 1, .seed = 1};
    CK_OK(doubt_batcher_create(ds, &full, &b3, err));
    int bw, bh;
    doubt_batcher_size(b3, &bw, &bh);
    ck_assert(bw == w && bh == h);
    doubt_batcher_destroy(b3);
    doubt_batcher_destroy(b1);
    doubt_batcher_destroy(b2);
    doubt_batcher_destroy(NULL);
    doubt_dataset_destroy(ds);
    free(img1);
    free(img2);
    free(dep);
    free(noi);
    free(lab);
    th_remove_tree(dir);
}
END_TEST


/* ---- JPEG orientation and decode messages (issue 14.9, 14.10) ------------------------ */

/* 4 x 2 blocks of 8 x 8 pixels, each its own colour, far apart after JPEG's rounding. */
static const uint8_t block_rgb[8][3] = {{230, 20, 20},  {20, 230, 20},  {20, 20, 230},
                                        {230, 230, 20}, {20, 230, 230}, {230, 20, 230},
                                        {240, 240, 240}, {15, 15, 15}};
#define BLOCKS_W 32
#define BLOCKS_H 16

typedef struct {
    uint8_t *bytes;
    size_t n;
} byte_buf;

static void append_bytes(void *ctx, void *data, int size)
{
    byte_buf *b = ctx;
    b->bytes = realloc(b->bytes, b->n + (size_t)size);
    memcpy(b->bytes + b->n, data, (size_t)size);
    b->n += (size_t)size;
}

static byte_buf blocks_jpeg(void)
{
    uint8_t rgb[BLOCKS_W * BLOCKS_H * 3];
    for (int y = 0; y < BLOCKS_H; y++)
        for (int x = 0; x < BLOCKS_W; x++)
            memcpy(rgb + (y * BLOCKS_W + x) * 3, block_rgb[(y / 8) * 4 + x / 8], 3);
    byte_buf b = {NULL, 0};
    ck_assert(stbi_write_jpg_to_func(append_bytes, &b, BLOCKS_W, BLOCKS_H, 3, rgb, 100));
    return b;
}

/* jpeg with an EXIF APP1 segment (a one-entry IFD0: Orientation) right after SOI. */
static byte_buf with_orientation(byte_buf jpeg, int orientation, int big_endian)
{
    uint8_t app1[36] = {0xff, 0xe1, 0, 34, 'E', 'x', 'i', 'f', 0, 0};
    uint8_t *t = app1 + 10; /* the TIFF structure; offsets count from here */
    const uint8_t be[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1,
                          0, (uint8_t)orientation, 0, 0, 0, 0, 0, 0};
    const uint8_t le[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0,
                          (uint8_t)orientation, 0, 0, 0, 0, 0, 0, 0};
    memcpy(t, big_endian ? be : le, 26);
    byte_buf out = {malloc(jpeg.n + sizeof app1), jpeg.n + sizeof app1};
    memcpy(out.bytes, jpeg.bytes, 2);
    memcpy(out.bytes + 2, app1, sizeof app1);
    memcpy(out.bytes + 2 + sizeof app1, jpeg.bytes + 2, jpeg.n - 2);
    return out;
}

/* The stored pixel EXIF orientation o shows at displayed (x, y) (TIFF 6.0, tag 274). */
static void stored_of_displayed(int o, int x, int y, int *sx, int *sy)
{
    const int W = BLOCKS_W, H = BLOCKS_H;
    switch (o) {
    case 2: *sx = W - 1 - x, *sy = y; break;
    case 3: *sx = W - 1 - x, *sy = H - 1 - y; break;
    case 4: *sx = x, *sy = H - 1 - y; break;
    case 5: *sx = y, *sy = x; break;
    case 6: *sx = y, *sy = H - 1 - x; break;
    case 7: *sx = W - 1 - y, *sy = H - 1 - x; break;
    case 8: *sx = W - 1 - y, *sy = x; break;
    default: *sx = x, *sy = y;
    }
}

/* Issue 14.9: a JPEG's EXIF orientation is applied, so portrait phone photos come out
 * upright; loop index = orientation 1..8, both TIFF byte orders. */
START_TEST(jpeg_exif_orientation_is_applied)
{
    const int o = _i / 2 + 1, big_endian = _i % 2;
    const char *dir = tmp_dir();
    byte_buf plain = blocks_jpeg(), tagged = with_orientation(plain, o, big_endian);
    write_bytes(join(dir, "o.jpg"), tagged.bytes, tagged.n);
    uint8_t *rgb;
    int w, h;
    CK_OK(doubt_image_read_rgb8(join(dir, "o.jpg"), 0, &rgb, &w, &h, err));
    const int turned = o >= 5;
    ck_assert_int_eq(w, turned ? BLOCKS_H : BLOCKS_W);
    ck_assert_int_eq(h, turned ? BLOCKS_W : BLOCKS_H);
    doubt_image_info info;
    CK_OK(doubt_image_probe(join(dir, "o.jpg"), &info, err));
    ck_assert(info.width == w && info.height == h);
    /* the centre of every displayed block holds the colour of the stored block it shows */
    for (int by = 0; by < h / 8; by++)
        for (int bx = 0; bx < w / 8; bx++) {
            const int x = bx * 8 + 4, y = by * 8 + 4;
            int sx, sy;
            stored_of_displayed(o, x, y, &sx, &sy);
            const uint8_t *want = block_rgb[(sy / 8) * 4 + sx / 8], *got = rgb + (y * w + x) * 3;
            for (int c = 0; c < 3; c++)
                ck_assert_msg(abs(got[c] - want[c]) < 40,
                              "orientation %d (%s): pixel (%d, %d) channel %d is %d, want %d", o,
                              big_endian ? "MM" : "II", x, y, c, got[c], want[c]);
        }
    free(rgb);
    free(plain.bytes);
    free(tagged.bytes);
    th_remove_tree(dir);
}
END_TEST

/* Issue 14.10: a file that does not decode is described by the format it claims to be and
 * what is wrong with it, not by whichever decoder stb_image tried last. */
START_TEST(decode_errors_name_the_claimed_format)
{
    const char *dir = tmp_dir();
    float *x = NULL;
    int w, h;
    byte_buf jpeg = blocks_jpeg();
    write_bytes(join(dir, "cut.jpg"), jpeg.bytes, 200); /* inside the Huffman tables */
    CK_FAILS_NAMING(doubt_image_read(join(dir, "cut.jpg"), 0, &x, &w, &h, err), DOUBT_ERR_FORMAT,
                    "cut.jpg: JPEG file is truncated");
    {
        doubt_error e = {{0}};
        doubt_image_read(join(dir, "cut.jpg"), 0, &x, &w, &h, &e);
        ck_assert_msg(!strstr(e.msg, "png"), "a JPEG described as a PNG: %s", e.msg);
    }
    uint8_t px[16 * 16 * 3] = {0};
    CK_OK(doubt_png_write_rgb8(join(dir, "ok.png"), px, 16, 16, NULL, 0, err));
    size_t n;
    uint8_t *b = read_bytes(join(dir, "ok.png"), &n);
    write_bytes(join(dir, "cut.png"), b, n - 20);
    CK_FAILS_NAMING(doubt_image_read(join(dir, "cut.png"), 0, &x, &w, &h, err), DOUBT_ERR_FORMAT,
                    "cut.png: PNG file is truncated");
    free(b);
    write_bytes(join(dir, "text.jpg"), "this is not a jpeg", 18);
    CK_FAILS_NAMING(doubt_image_read(join(dir, "text.jpg"), 0, &x, &w, &h, err), DOUBT_ERR_FORMAT,
                    "text.jpg: not an image stb_image reads (PNG, JPEG, BMP, GIF, TGA)");
    write_bytes(join(dir, "scan.tif"), "II*\0\x08\0\0\0", 8);
    CK_FAILS_NAMING(doubt_image_read(join(dir, "scan.tif"), 0, &x, &w, &h, err), DOUBT_ERR_FORMAT,
                    "scan.tif: TIFF file, a format doubt does not read");
    ck_assert_ptr_null(x);
    free(jpeg.bytes);
    th_remove_tree(dir);
}
END_TEST


/* Found by fuzzing: stb_image 2.27 (Debian 12's) writes past its Huffman arrays when a DHT
 * segment declares more than 256 codes. Such a file is refused before stb_image sees it. */
START_TEST(jpeg_with_oversized_huffman_table_is_refused)
{
    const char *dir = tmp_dir();
    byte_buf plain = blocks_jpeg();
    const size_t codes = 300, seg = 2 + 2 + 17 + codes;
    byte_buf bad = {calloc(1, plain.n + seg), plain.n + seg};
    uint8_t *d = bad.bytes + 2;
    memcpy(bad.bytes, plain.bytes, 2);
    d[0] = 0xff, d[1] = 0xc4, d[2] = (uint8_t)((seg - 2) >> 8), d[3] = (uint8_t)(seg - 2);
    d[4] = 0x10;             /* AC table 0 */
    d[4 + 15] = 45, d[4 + 16] = 255; /* 300 codes of lengths 15 and 16 */
    memcpy(bad.bytes + 2 + seg, plain.bytes + 2, plain.n - 2);
    write_bytes(join(dir, "dht.jpg"), bad.bytes, bad.n);
    float *x = NULL;
    int w, h;
    CK_FAILS_NAMING(doubt_image_read(join(dir, "dht.jpg"), 0, &x, &w, &h, err), DOUBT_ERR_FORMAT,
                    "dht.jpg: JPEG file is corrupt: a Huffman table (DHT at byte 6) has 300 codes");
    /* the fuzzer's own find: junk after a segment, which stb_image skips, then such a table */
    CK_FAILS_NAMING(doubt_image_read(data_path("fuzz_dht_after_junk.jpg"), 0, &x, &w, &h, err),
                    DOUBT_ERR_FORMAT, "(DHT at byte 422) has 267 codes, at most 256");
    /* and its third: FF fill bytes before the start-of-image marker, which stb_image takes */
    CK_FAILS_NAMING(
        doubt_image_read(data_path("fuzz_dht_after_fill_bytes.jpg"), 0, &x, &w, &h, err),
        DOUBT_ERR_FORMAT, "JPEG file is corrupt: a Huffman table (DHT at byte 386) has 857");
    /* its fourth: a table cut short by the end of the file, whose missing counts read as 0 */
    CK_FAILS_NAMING(doubt_image_read(data_path("fuzz_dht_cut_by_eof.jpg"), 0, &x, &w, &h, err),
                    DOUBT_ERR_FORMAT, "(DHT at byte 463) has 961 codes");
    ck_assert_ptr_null(x);
    free(plain.bytes);
    free(bad.bytes);
    th_remove_tree(dir);
}
END_TEST


/* Found by fuzzing: stb_image 2.27 grows its buffer to what an IDAT chunk claims before it
 * checks the bytes exist, so a 60-byte PNG made it allocate 2 GB. Such a file is refused as
 * truncated before stb_image sees it. */
START_TEST(png_chunk_longer_than_the_file_is_refused)
{
    const char *dir = tmp_dir();
    uint8_t px[4 * 4] = {0};
    CK_OK(doubt_png_write_gray8(join(dir, "ok.png"), px, 4, 4, NULL, 0, err));
    size_t n;
    uint8_t *b = read_bytes(join(dir, "ok.png"), &n);
    /* the first chunk after IHDR (at byte 33) is IDAT: make it claim 2^31 - 1 bytes */
    ck_assert(!memcmp(b + 37, "IDAT", 4));
    b[33] = 0x7f, b[34] = 0xff, b[35] = 0xff, b[36] = 0xff;
    write_bytes(join(dir, "claims.png"), b, n);
    uint8_t *labels = NULL;
    int w, h;
    CK_FAILS_NAMING(doubt_image_read_labels(join(dir, "claims.png"), 0, &labels, &w, &h, err),
                    DOUBT_ERR_FORMAT,
                    "claims.png: PNG file is truncated: its IDAT chunk at byte 33 claims "
                    "2147483647 bytes");
    ck_assert_ptr_null(labels);
    free(b);
    th_remove_tree(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io");
    TCase *png = tcase_create("png+npy");
    tcase_add_test(png, png_rgb8_round_trip);
    tcase_add_test(png, png_gray_round_trip);
    tcase_add_test(png, png_palette_round_trip);
    tcase_add_test(png, writes_are_atomic);
    tcase_add_test(png, npy_header_follows_the_spec);
    tcase_add_test(png, npy_reads_numpy_files);
    tcase_add_test(png, npy_rejects_bad_files);
    suite_add_tcase(s, png);
    TCase *img = tcase_create("image read");
    tcase_add_test(img, image_reads_every_layout);
    tcase_add_test(img, image_refuses_hostile_files);
    tcase_add_test(img, labels_and_depth_formats);
    tcase_add_loop_test(img, jpeg_exif_orientation_is_applied, 0, 16);
    tcase_add_test(img, decode_errors_name_the_claimed_format);
    tcase_add_test(img, jpeg_with_oversized_huffman_table_is_refused);
    tcase_add_test(img, png_chunk_longer_than_the_file_is_refused);
    suite_add_tcase(s, img);
    TCase *heat = tcase_create("colormap+heatmap");
    tcase_add_test(heat, colormaps_are_the_published_ones);
    tcase_add_test(heat, font_draws_glyphs);
    tcase_add_test(heat, heatmap_fixed_range_and_colorbar);
    tcase_add_test(heat, heatmap_log_scale_and_invalid_legend);
    suite_add_tcase(s, heat);
    TCase *data = tcase_create("dataset");
    tcase_add_test(data, dataset_pairs_and_loads);
    tcase_add_test(data, dataset_errors_name_the_file);
    tcase_add_test(data, batches_are_deterministic_crops);
    suite_add_tcase(s, data);
    return th_run(s);
}
