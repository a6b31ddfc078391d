/* doubt predict: SHA-256 against FIPS 180-4 vectors, input listing, the one-image pipeline
 * (files, depth PNG round trip, palette indices, JSON statistics recomputed here), and the
 * command itself (bad inputs, exit status, --skip-existing, --shard, thread counts), run as
 * the doubt binary of the same build. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/isa.h"
#include "core/peak.h"
#include "harness.h"
#include "io/fsutil.h"
#include "io/image.h"
#include "io/npy.h"
#include "io/png.h"
#include "io/sha256.h"
#include "model/safetensors.h"
#include "pipeline/inputs.h"
#include "pipeline/predict.h"
#include "viz/inspect.h"

#define WEIGHTS "tests/golden/model/unet_tiny.safetensors"
/* unet_tiny perturbed, dropout 0.25: a second ensemble member (tools/ensemble_golden.py) */
#define MEMBER_B "tests/golden/model/unet_tiny_b.safetensors"

/* ---- helpers --------------------------------------------------------------------------- */

static void path_in(char *out, const char *dir, const char *name)
{
    ck_assert_int_lt(snprintf(out, DOUBT_PATH_MAX, "%s/%s", dir, name), DOUBT_PATH_MAX);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static char *read_text(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    if (size)
        *size = (size_t)n;
    return s;
}

static int file_exists(const char *dir, const char *name)
{
    char path[DOUBT_PATH_MAX];
    path_in(path, dir, name);
    struct stat sb;
    return !stat(path, &sb);
}

/* A smooth colourful test photo, so the network sees some structure. */
static void write_photo(const char *path, int w, int h, int seed)
{
    uint8_t *rgb = malloc((size_t)3 * w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                rgb[(y * w + x) * 3 + c] =
                    (uint8_t)((x * 37 + y * 11 * (c + 1) + seed * 53 + c * 80) % 256);
    doubt_error err;
    ck_assert_msg(!doubt_png_write_rgb8(path, rgb, w, h, NULL, 0, &err), "%s", err.msg);
    free(rgb);
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/doubt_predict_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return strdup(tmpl);
}

/* A folder of three good images (one in a subfolder, one gray), three bad ones named .png
 * and a text file:
 *   a.png 16x12, c.png 13x11 (gray), sub/b.png 13x11, bad/corrupt.png, bad/trunc.png,
 *   bad/x.png, notes.txt */
static char *make_inputs(void)
{
    char *dir = make_tmpdir(), p[DOUBT_PATH_MAX];
    doubt_error err;
    path_in(p, dir, "a.png");
    write_photo(p, 16, 12, 1);
    path_in(p, dir, "sub");
    ck_assert(!doubt_mkdir_p(p, &err));
    path_in(p, dir, "sub/b.png");
    write_photo(p, 13, 11, 2);
    uint8_t gray[13 * 11];
    for (int i = 0; i < 13 * 11; i++)
        gray[i] = (uint8_t)(i * 7);
    path_in(p, dir, "c.png");
    ck_assert(!doubt_png_write_gray8(p, gray, 13, 11, NULL, 0, &err));
    path_in(p, dir, "bad");
    ck_assert(!doubt_mkdir_p(p, &err));
    /* corrupt: a valid signature and IHDR start, then garbage */
    size_t n;
    path_in(p, dir, "a.png");
    char *good = read_text(p, &n);
    char *corrupt = malloc(n);
    memcpy(corrupt, good, n);
    for (size_t i = 40; i < n; i++)
        corrupt[i] = (char)(i * 131 + 7);
    path_in(p, dir, "bad/corrupt.png");
    write_bytes(p, corrupt, n);
    path_in(p, dir, "bad/trunc.png");
    write_bytes(p, good, n / 2);
    path_in(p, dir, "bad/x.png");
    write_bytes(p, "this is not a picture\n", 22);
    path_in(p, dir, "notes.txt");
    write_bytes(p, "hello\n", 6);
    free(good);
    free(corrupt);
    return dir;
}

typedef struct {
    int status;
    char *out, *err;
} run_result;

static run_result run_doubt(const char *const *args)
{
    run_result r;
    r.status = th_run_doubt(args, &r.out, &r.err);
    return r;
}

static void free_result(run_result *r)
{
    free(r->out);
    free(r->err);
}

/* The "name" of every JSON line, joined with spaces in output order. */
static void json_names(const char *out, char *names, size_t cap)
{
    names[0] = '\0';
    const char *line = out;
    while (*line) {
        const char *nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);
        cJSON *o = cJSON_ParseWithLength(line, (size_t)(nl - line));
        ck_assert_msg(o != NULL, "not JSON: %.*s", (int)(nl - line), line);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
        ck_assert(cJSON_IsString(name));
        size_t at = strlen(names);
        snprintf(names + at, cap - at, "%s%s", at ? " " : "", name->valuestring);
        cJSON_Delete(o);
        line = nl + 1;
    }
}

/* ---- SHA-256 --------------------------------------------------------------------------- */

static void sha_of(const void *data, size_t n, char hex[65])
{
    doubt_sha256 h;
    uint8_t d[32];
    doubt_sha256_init(&h);
    doubt_sha256_update(&h, data, n);
    doubt_sha256_final(&h, d);
    doubt_sha256_hex(d, hex);
}

START_TEST(sha256_fips_vectors)
{
    char hex[65];
    sha_of("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha_of("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ck_assert_uint_eq(strlen(m448) * 8, 448);
    sha_of(m448, strlen(m448), hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* 896-bit vector: the padding spills into a second block */
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    sha_of(m896, strlen(m896), hex);
    ck_assert_str_eq(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}
END_TEST

START_TEST(sha256_streaming_and_file)
{
    /* One million 'a' fed in uneven pieces (FIPS 180-4 example), and as a file. */
    const size_t n = 1000000;
    char *a = malloc(n);
    memset(a, 'a', n);
    doubt_sha256 h;
    uint8_t d[32];
    char hex[65];
    doubt_sha256_init(&h);
    for (size_t at = 0, step = 1; at < n; at += step, step = step % 97 + 1)
        doubt_sha256_update(&h, a + at, at + step > n ? n - at : step);
    doubt_sha256_final(&h, d);
    doubt_sha256_hex(d, hex);
    const char *want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    ck_assert_str_eq(hex, want);
    char *dir = make_tmpdir(), p[DOUBT_PATH_MAX];
    path_in(p, dir, "a");
    write_bytes(p, a, n);
    doubt_error err;
    ck_assert_msg(!doubt_sha256_file(p, hex, &err), "%s", err.msg);
    ck_assert_str_eq(hex, want);
    path_in(p, dir, "missing");
    ck_assert_int_eq(doubt_sha256_file(p, hex, &err), DOUBT_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, p));
    th_remove_tree(dir);
    free(dir);
    free(a);
}
END_TEST

/* ---- options and inputs ---------------------------------------------------------------- */

START_TEST(parse_maps_and_ranges)
{
    doubt_error err;
    unsigned maps = 0;
    ck_assert(!doubt_predict_parse_maps("depth_epistemic,seg_entropy", &maps, &err));
    ck_assert_uint_eq(maps, 1u << DOUBT_MAP_DEPTH_EPISTEMIC | 1u << DOUBT_MAP_SEG_ENTROPY);
    ck_assert(!doubt_predict_parse_maps("none", &maps, &err));
    ck_assert_uint_eq(maps, 0);
    ck_assert(!doubt_predict_parse_maps("all", &maps, &err));
    ck_assert_uint_eq(maps, DOUBT_PREDICT_ALL_MAPS);
    ck_assert_int_eq(doubt_predict_parse_maps("depth_epistemic,bogus", &maps, &err),
                     DOUBT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(err.msg, "bogus"));

    doubt_predict_opts o = doubt_predict_defaults();
    ck_assert(!doubt_predict_parse_range("seg_mutual_info=0.1:2.5", &o, &err));
    ck_assert_float_eq(o.lo[DOUBT_MAP_SEG_MUTUAL_INFO], 0.1f);
    ck_assert_float_eq(o.hi[DOUBT_MAP_SEG_MUTUAL_INFO], 2.5f);
    const char *bad[] = {"seg_mutual_info=2:1", "nope=0:1", "depth_total", "depth_total=0:",
                         "depth_total=0:1x", "depth_total=nan:1", "depth_total=1:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(doubt_predict_parse_range(bad[i], &o, &err) == DOUBT_ERR_ARG, "%s", bad[i]);

    float lo, hi;
    doubt_map_default_range(DOUBT_MAP_SEG_ENTROPY, 8, &lo, &hi);
    ck_assert_float_eq(lo, 0);
    ck_assert_double_eq_tol(hi, log(8.0), 1e-6);
}
END_TEST

START_TEST(inputs_sorted_indexed_and_named)
{
    char *dir = make_inputs(), p[DOUBT_PATH_MAX], q[DOUBT_PATH_MAX], r[DOUBT_PATH_MAX];
    doubt_error err;
    /* a second a.png in another folder, a writer's temporary, and a missing path */
    path_in(p, dir, "z");
    ck_assert(!doubt_mkdir_p(p, &err));
    path_in(p, dir, "z/a.png");
    write_photo(p, 8, 8, 3);
    path_in(p, dir, ".a.png.tmp.123");
    write_bytes(p, "x", 1);
    path_in(q, dir, "a.png");
    path_in(r, dir, "missing.png");
    const char *inputs[] = {dir, q, r};
    doubt_predict_list l;
    ck_assert_msg(!doubt_predict_list_inputs(inputs, 3, &l, &err), "%s", err.msg);
    /* a.png listed once though reached twice; sorted bytewise by path */
    const char *want[] = {"a.png",         "bad/corrupt.png", "bad/trunc.png", "bad/x.png",
                          "c.png",         "missing.png",     "notes.txt",     "sub/b.png",
                          "z/a.png"};
    const int kind[] = {DOUBT_PREDICT_IMAGE, DOUBT_PREDICT_IMAGE,     DOUBT_PREDICT_IMAGE,
                        DOUBT_PREDICT_IMAGE, DOUBT_PREDICT_IMAGE,     DOUBT_PREDICT_BAD,
                        DOUBT_PREDICT_NOT_IMAGE, DOUBT_PREDICT_IMAGE, DOUBT_PREDICT_BAD};
    const int index[] = {0, 1, 2, 3, 4, -1, -1, 5, 6};
    ck_assert_int_eq(l.count, 9);
    ck_assert_int_eq(l.images, 7);
    for (int i = 0; i < l.count; i++) {
        path_in(p, dir, want[i]);
        ck_assert_str_eq(l.items[i].path, p);
        ck_assert_int_eq(l.items[i].kind, kind[i]);
        ck_assert_int_eq(l.items[i].index, index[i]);
    }
    ck_assert_str_eq(l.items[0].name, "a");
    ck_assert_str_eq(l.items[7].name, "b");
    ck_assert_ptr_null(l.items[0].note);
    /* the second a.png names both files; the missing one names itself */
    ck_assert_ptr_nonnull(strstr(l.items[8].note, l.items[8].path));
    ck_assert_ptr_nonnull(strstr(l.items[8].note, l.items[0].path));
    ck_assert_ptr_nonnull(strstr(l.items[5].note, r));
    ck_assert_ptr_nonnull(strstr(l.items[6].note, "notes.txt"));
    doubt_predict_list_free(&l);
    doubt_predict_list_free(&l); /* harmless twice */
    th_remove_tree(dir);
    free(dir);
}
END_TEST

/* ---- the pipeline ---------------------------------------------------------------------- */

/* Palette indices of an 8-bit palette PNG, with libpng's classic API (no expansion). */
static uint8_t *read_palette_png(const char *path, int *w, int *h, int *ncolors)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(png && info);
    if (setjmp(png_jmpbuf(png)))
        ck_abort_msg("%s: libpng failed", path);
    png_init_io(png, f);
    png_read_info(png, info);
    ck_assert_int_eq(png_get_color_type(png, info), PNG_COLOR_TYPE_PALETTE);
    ck_assert_int_eq(png_get_bit_depth(png, info), 8);
    png_colorp pal;
    png_get_PLTE(png, info, &pal, ncolors);
    *w = (int)png_get_image_width(png, info);
    *h = (int)png_get_image_height(png, info);
    uint8_t *idx = malloc((size_t)*w * *h);
    for (int y = 0; y < *h; y++)
        png_read_row(png, idx + (size_t)y * *w, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return idx;
}

static float *read_npy(const char *dir, const char *name, int nd, int64_t d0, int64_t d1,
                       int64_t d2)
{
    char p[DOUBT_PATH_MAX];
    path_in(p, dir, name);
    float *v;
    int got;
    int64_t sh[4];
    doubt_error err;
    ck_assert_msg(!doubt_npy_read_f32(p, &v, &got, sh, &err), "%s", err.msg);
    ck_assert_int_eq(got, nd);
    ck_assert(sh[0] == d0 && sh[1] == d1 && (nd < 3 || sh[2] == d2));
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.percentile's default: linear between order statistics. */
static double naive_percentile(const float *v, size_t n, double q)
{
    double *s = malloc(n * sizeof *s);
    for (size_t i = 0; i < n; i++)
        s[i] = v[i];
    qsort(s, n, sizeof *s, cmp_double);
    double pos = q * (double)(n - 1), lo = floor(pos), hi = ceil(pos);
    double r = s[(size_t)lo] + (pos - lo) * (s[(size_t)hi] - s[(size_t)lo]);
    free(s);
    return r;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(x), "key %s missing or not a number", key);
    return x->valuedouble;
}

/* Statistics over the defined (non-NaN) values of v, whose fraction is "defined". */
static void check_stats(const cJSON *maps, const char *key, const float *all, size_t total,
                        double threshold)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(maps, key);
    ck_assert_msg(cJSON_IsObject(s), "maps.%s missing", key);
    float *v = malloc(total * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < total; i++)
        if (!isnan(all[i]))
            v[n++] = all[i];
    ck_assert_double_eq_tol(num(s, "defined"), (double)n / (double)total, 1e-12);
    double mean = 0;
    size_t above = 0;
    for (size_t i = 0; i < n; i++) {
        mean += v[i] / (double)n;
        above += v[i] > threshold;
    }
    /* relative: the tiny network's seg_logit_var sits near exp(80), where JSON's 15
     * printed digits are far coarser than 1e-6 */
    const double tol = 1e-5 * (1 + fabs(mean));
    ck_assert_double_eq_tol(num(s, "mean"), mean, tol);
    const double q[3] = {0.5, 0.9, 0.99};
    const char *keys[3] = {"p50", "p90", "p99"};
    for (int k = 0; k < 3; k++) {
        const double want = naive_percentile(v, n, q[k]);
        ck_assert_double_eq_tol(num(s, keys[k]), want, 1e-6 * (1 + fabs(want)));
    }
    ck_assert_double_eq_tol(num(s, "threshold"), threshold, 1e-6);
    ck_assert_double_eq_tol(num(s, "above"), (double)above / (double)n, 1e-12);
    free(v);
}

/* The map table (viz/maps.h), by which inspect and the report find and show a prediction,
 * names exactly the files predict wrote for NAME into out (every map, with --npy): each file
 * is the classes, the depth, the probabilities or one map's heatmap or values, each of those
 * is there, and the summary line json has one statistics object per map. */
static void check_map_table_names_every_file(const char *out, const char *name, const char *json)
{
    char want[3 + 2 * DOUBT_MAP_COUNT][64];
    int nwant = 0;
    snprintf(want[nwant++], sizeof want[0], "%s.%s.png", name, DOUBT_MAP_FILE_CLASSES);
    snprintf(want[nwant++], sizeof want[0], "%s.%s.png", name, DOUBT_MAP_FILE_DEPTH);
    snprintf(want[nwant++], sizeof want[0], "%s.%s.npy", name, DOUBT_MAP_FILE_PROBS);
    for (int m = 0; m < DOUBT_MAP_COUNT; m++) {
        snprintf(want[nwant++], sizeof want[0], "%s.%s.png", name, doubt_maps[m].name);
        snprintf(want[nwant++], sizeof want[0], "%s.%s.npy", name, doubt_maps[m].values);
    }
    for (int k = 0; k < nwant; k++)
        ck_assert_msg(file_exists(out, want[k]), "%s, named by the map table, not written",
                      want[k]);
    DIR *d = opendir(out);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        int named = 0;
        for (int k = 0; k < nwant; k++)
            named |= !strcmp(e->d_name, want[k]);
        ck_assert_msg(named, "predict wrote %s, which the map table does not name", e->d_name);
    }
    closedir(d);
    cJSON *o = cJSON_Parse(json);
    const cJSON *maps = cJSON_GetObjectItemCaseSensitive(o, "maps");
    ck_assert_int_eq(cJSON_GetArraySize(maps), DOUBT_MAP_COUNT);
    for (int m = 0; m < DOUBT_MAP_COUNT; m++)
        ck_assert_msg(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(maps, doubt_maps[m].values)),
                      "maps.%s missing from the summary", doubt_maps[m].values);
    cJSON_Delete(o);
    /* and inspect, which lists a folder by the table's files, finds the one prediction */
    char **names;
    int count;
    doubt_error err;
    ck_assert_msg(!doubt_inspect_list(out, &names, &count, &err), "%s", err.msg);
    ck_assert_int_eq(count, 1);
    ck_assert_str_eq(names[0], name);
    doubt_inspect_list_free(names, count);
}

START_TEST(pipeline_writes_every_output)
{
    char *in = make_inputs(), *out = make_tmpdir(), p[DOUBT_PATH_MAX];
    doubt_ctx *ctx = th_ctx(2);
    doubt_error err;
    doubt_predict_opts o = doubt_predict_defaults();
    o.samples = 5;
    o.seed = 7;
    o.npy = 1;
    ck_assert(!doubt_predict_parse_range("depth_total=0:0.01", &o, &err));
    doubt_predictor *pr;
    ck_assert_msg(!doubt_predict_create(ctx, WEIGHTS, &o, &pr, &err), "%s", err.msg);
    const int C = doubt_predict_classes(pr);
    ck_assert_int_eq(C, 3);
    char sha[65];
    ck_assert(!doubt_sha256_file(WEIGHTS, sha, &err));
    ck_assert_str_eq(doubt_predict_weights_sha256(pr), sha);

    path_in(p, in, "sub/b.png");
    ck_assert(!doubt_predict_done(pr, out, "b"));
    char *json;
    ck_assert_msg(!doubt_predict_image(pr, p, "b", out, &json, &err), "%s", err.msg);
    ck_assert(doubt_predict_done(pr, out, "b"));
    const char *files[] = {"b.seg.png",          "b.depth.png",           "b.depth_color.png",
                           "b.depth_epistemic.png", "b.depth_aleatoric.png", "b.depth_total.png",
                           "b.seg_entropy.png",  "b.seg_mutual_info.png", "b.seg_logit_var.png",
                           "b.seg_aleatoric.png", "b.depth_mean.npy", "b.depth_epistemic.npy",
                           "b.depth_aleatoric.npy", "b.depth_total.npy", "b.seg_prob.npy",
                           "b.seg_entropy.npy", "b.seg_aleatoric.npy", "b.seg_mutual_info.npy",
                           "b.seg_logit_var.npy"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        ck_assert_msg(file_exists(out, files[i]), "%s not written", files[i]);
    check_map_table_names_every_file(out, "b", json);

    const int W = 13, H = 11;
    const size_t n = (size_t)W * H;
    float *depth = read_npy(out, "b.depth_mean.npy", 2, H, W, 0);
    float *epi = read_npy(out, "b.depth_epistemic.npy", 2, H, W, 0);
    float *ale = read_npy(out, "b.depth_aleatoric.npy", 2, H, W, 0);
    float *prob = read_npy(out, "b.seg_prob.npy", 3, C, H, W);
    float *ent = read_npy(out, "b.seg_entropy.npy", 2, H, W, 0);
    float *mi = read_npy(out, "b.seg_mutual_info.npy", 2, H, W, 0);
    float *total_npy = read_npy(out, "b.depth_total.npy", 2, H, W, 0);
    float *seg_ale = read_npy(out, "b.seg_aleatoric.npy", 2, H, W, 0);
    float *lvar = read_npy(out, "b.seg_logit_var.npy", 2, H, W, 0);

    /* depth.png: the stated rounding rule exactly, and back to metres within 1/S */
    path_in(p, out, "b.depth.png");
    float *back;
    int bw, bh;
    ck_assert(!doubt_image_read_depth(p, 0, 256, &back, &bw, &bh, &err));
    ck_assert(bw == W && bh == H);
    int positive = 0;
    for (size_t i = 0; i < n; i++) {
        double v = depth[i] * 256.0;
        double want = depth[i] > 0 ? fmin(fmax(round(v), 1), 65535) : 0;
        ck_assert_double_eq(back[i] * 256.0, want);
        if (depth[i] > 0 && depth[i] < 255) {
            ck_assert_double_le(fabs(back[i] - depth[i]), 1.0 / 256);
            positive++;
        }
    }
    ck_assert_int_gt(positive, 0);

    /* seg.png: the palette index is the argmax of the mean softmax */
    int sw, sh, ncolors;
    path_in(p, out, "b.seg.png");
    uint8_t *cls = read_palette_png(p, &sw, &sh, &ncolors);
    ck_assert(sw == W && sh == H && ncolors == C);
    double frac[3] = {0};
    for (size_t i = 0; i < n; i++) {
        int best = 0;
        for (int c = 1; c < C; c++)
            if (prob[c * n + i] > prob[best * n + i])
                best = c;
        ck_assert_int_eq(cls[i], best);
        frac[best] += 1.0 / (double)n;
    }

    /* the JSON line: keys, and statistics recomputed from the .npy maps */
    cJSON *o_json = cJSON_Parse(json);
    ck_assert_ptr_nonnull(o_json);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o_json, "name")->valuestring, "b");
    path_in(p, in, "sub/b.png");
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o_json, "input")->valuestring, p);
    ck_assert_double_eq(num(o_json, "width"), W);
    ck_assert_double_eq(num(o_json, "height"), H);
    ck_assert_double_eq(num(o_json, "samples"), 5);
    ck_assert_double_eq(num(o_json, "seed"), 7);
    ck_assert_double_ge(num(o_json, "time_s"), 0);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o_json, "weights_sha256")->valuestring,
                     sha);
    ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(o_json, "version")->valuestring,
                     DOUBT_VERSION);
    const cJSON *hist = cJSON_GetObjectItemCaseSensitive(o_json, "class_fraction");
    ck_assert_int_eq(cJSON_GetArraySize(hist), C);
    for (int c = 0; c < C; c++)
        ck_assert_double_eq_tol(cJSON_GetArrayItem(hist, c)->valuedouble, frac[c], 1e-12);
    const cJSON *maps = cJSON_GetObjectItemCaseSensitive(o_json, "maps");
    float *total = malloc(n * sizeof *total);
    for (size_t i = 0; i < n; i++)
        total[i] = epi[i] + ale[i];
    check_stats(maps, "depth_mean", depth, n, 15.0);
    check_stats(maps, "depth_epistemic", epi, n, 1.5); /* 3/4 of 0:2 */
    check_stats(maps, "depth_aleatoric", ale, n, 6.0); /* 3/4 of 0:8 */
    check_stats(maps, "depth_total", total, n, 0.0075); /* the --range given above */
    for (size_t i = 0; i < n; i++)
        ck_assert_float_eq_tol(total_npy[i], total[i], 1e-6f * (1 + total[i]));
    check_stats(maps, "seg_entropy", ent, n, 0.75 * log(3.0));
    check_stats(maps, "seg_aleatoric", seg_ale, n, 0.75 * log(3.0));
    check_stats(maps, "seg_mutual_info", mi, n, 0.1875); /* 3/4 of 0:0.25 */
    check_stats(maps, "seg_logit_var", lvar, n, 0.1); /* 3/4 up 1e-4..1 on a log scale */
    cJSON_Delete(o_json);
    free(json);

    /* the gray image goes through too; bad files fail naming themselves */
    path_in(p, in, "c.png");
    ck_assert_msg(!doubt_predict_image(pr, p, "c", out, &json, &err), "%s", err.msg);
    free(json);
    const char *bad[] = {"bad/corrupt.png", "bad/trunc.png", "bad/x.png", "nothere.png"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path_in(p, in, bad[i]);
        json = (char *)1;
        ck_assert_msg(doubt_predict_image(pr, p, "bad", out, &json, &err) != DOUBT_OK, "%s",
                      bad[i]);
        ck_assert_ptr_null(json);
        ck_assert_msg(strstr(err.msg, p) != NULL, "message '%s' does not name %s", err.msg, p);
    }
    ck_assert(!file_exists(out, "bad.seg.png"));
    doubt_predict_destroy(pr);

    /* too large: refused by the pixel limit before decoding */
    o.max_pixels = 100;
    ck_assert(!doubt_predict_create(ctx, WEIGHTS, &o, &pr, &err));
    path_in(p, in, "a.png");
    ck_assert_int_eq(doubt_predict_image(pr, p, "a", out, &json, &err), DOUBT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, "limit"));
    ck_assert_ptr_nonnull(strstr(err.msg, p));
    doubt_predict_destroy(pr);
    doubt_predict_destroy(NULL);

    free(depth), free(epi), free(ale), free(prob), free(ent), free(mi), free(total);
    free(total_npy), free(seg_ale), free(lvar);
    free(back), free(cls);
    doubt_ctx_destroy(ctx);
    th_remove_tree(in);
    th_remove_tree(out);
    free(in), free(out);
}
END_TEST

START_TEST(deterministic_and_selected_maps)
{
    char *in = make_inputs(), *out = make_tmpdir(), p[DOUBT_PATH_MAX];
    doubt_ctx *ctx = th_ctx(1);
    doubt_error err;
    doubt_predict_opts o = doubt_predict_defaults();
    o.deterministic = 1;
    o.npy = 1;
    ck_assert(!doubt_predict_parse_maps("depth_epistemic,seg_entropy", &o.maps, &err));
    doubt_predictor *pr;
    ck_assert_msg(!doubt_predict_create(ctx, WEIGHTS, &o, &pr, &err), "%s", err.msg);
    path_in(p, in, "a.png");
    char *json;
    ck_assert_msg(!doubt_predict_image(pr, p, "a", out, &json, &err), "%s", err.msg);
    const char *yes[] = {"a.seg.png", "a.depth.png", "a.seg_entropy.png", "a.depth_mean.npy",
                         "a.seg_prob.npy", "a.depth_aleatoric.npy", "a.seg_entropy.npy"};
    const char *no[] = {"a.depth_epistemic.png", "a.depth_color.png", "a.depth_total.png",
                        "a.depth_epistemic.npy", "a.seg_mutual_info.npy"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        ck_assert_msg(file_exists(out, yes[i]), "%s missing", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        ck_assert_msg(!file_exists(out, no[i]), "%s written", no[i]);
    ck_assert(doubt_predict_done(pr, out, "a"));
    cJSON *j = cJSON_Parse(json);
    const cJSON *maps = cJSON_GetObjectItemCaseSensitive(j, "maps");
    ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(maps, "depth_epistemic"));
    ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(maps, "depth_aleatoric"));
    ck_assert_double_eq(num(j, "samples"), 1);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "deterministic")));
    cJSON_Delete(j);
    free(json);
    doubt_predict_destroy(pr);
    doubt_ctx_destroy(ctx);
    th_remove_tree(in);
    th_remove_tree(out);
    free(in), free(out);
}
END_TEST

/* A copy of the tiny weights with an extra __metadata__ entry (key NULL: none) and, when
 * no_depth >= 0, that class listed in no_depth_classes. */
static void weights_copy(const char *path, const char *key, const char *value, int no_depth)
{
    doubt_safetensors *f;
    doubt_error err;
    ck_assert(!doubt_safetensors_read(WEIGHTS, &f, &err));
    doubt_netdesc net = f->network;
    if (no_depth >= 0) {
        net.no_depth_count = 1;
        net.no_depth_classes[0] = (uint8_t)no_depth;
    }
    doubt_st_write_tensor *t = calloc((size_t)f->n_tensors, sizeof *t);
    int n = 0;
    for (int i = 0; i < f->n_tensors; i++)
        if (f->tensors[i].data)
            t[n++] = (doubt_st_write_tensor){f->tensors[i].name, f->tensors[i].ndim,
                                             f->tensors[i].shape, f->tensors[i].data};
    const char *meta[] = {key, value};
    ck_assert_msg(!doubt_safetensors_write(path, &net, meta, key ? 1 : 0, t, n, &err), "%s",
                  err.msg);
    free(t);
    doubt_safetensors_destroy(f);
}

START_TEST(palette_from_weights_metadata)
{
    char *in = make_inputs(), *out = make_tmpdir(), w[DOUBT_PATH_MAX], p[DOUBT_PATH_MAX];
    doubt_ctx *ctx = th_ctx(1);
    doubt_error err;
    doubt_predict_opts o = doubt_predict_defaults();
    o.samples = 2;
    o.maps = 0;
    path_in(w, out, "w.safetensors");
    weights_copy(w, "palette", "[[1,2,3],[40,50,60],[255,0,128]]", -1);
    doubt_predictor *pr;
    ck_assert_msg(!doubt_predict_create(ctx, w, &o, &pr, &err), "%s", err.msg);
    path_in(p, in, "a.png");
    char *json;
    ck_assert_msg(!doubt_predict_image(pr, p, "a", out, &json, &err), "%s", err.msg);
    free(json);
    doubt_predict_destroy(pr);
    path_in(p, out, "a.seg.png");
    FILE *f = fopen(p, "rb");
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png)))
        ck_abort_msg("%s: libpng failed", p);
    png_init_io(png, f);
    png_read_info(png, info);
    png_colorp pal;
    int ncolors;
    png_get_PLTE(png, info, &pal, &ncolors);
    const uint8_t want[3][3] = {{1, 2, 3}, {40, 50, 60}, {255, 0, 128}};
    ck_assert_int_eq(ncolors, 3);
    for (int c = 0; c < 3; c++)
        ck_assert(pal[c].red == want[c][0] && pal[c].green == want[c][1] &&
                  pal[c].blue == want[c][2]);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    /* a palette of the wrong length is an error naming the weights file */
    weights_copy(w, "palette", "[[1,2,3],[4,5,6]]", -1);
    ck_assert_int_eq(doubt_predict_create(ctx, w, &o, &pr, &err), DOUBT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(err.msg, w));
    doubt_ctx_destroy(ctx);
    th_remove_tree(in);
    th_remove_tree(out);
    free(in), free(out);
}
END_TEST

/* The PNG text chunk `key`, or NULL (caller frees). */
static char *png_text_of(const char *path, const char *key)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png)))
        ck_abort_msg("%s: libpng failed", path);
    png_init_io(png, f);
    png_read_info(png, info);
    png_textp text;
    int n = 0;
    char *found = NULL;
    png_get_text(png, info, &text, &n);
    for (int i = 0; i < n && !found; i++)
        if (!strcmp(text[i].key, key))
            found = strdup(text[i].text);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return found;
}

/* A class the network predicts on some pixels of image `name` but not all, from seg.png. */
static int class_on_part_of(const char *dir, const char *name, int classes)
{
    char p[DOUBT_PATH_MAX], file[64];
    snprintf(file, sizeof file, "%s.seg.png", name);
    path_in(p, dir, file);
    int w, h, nc;
    uint8_t *cls = read_palette_png(p, &w, &h, &nc);
    int found = -1;
    for (int c = 0; c < classes && found < 0; c++) {
        int k = 0;
        for (int i = 0; i < w * h; i++)
            k += cls[i] == c;
        if (k > 0 && k < w * h)
            found = c;
    }
    free(cls);
    ck_assert_msg(found >= 0, "the tiny network predicts one class everywhere on %s", name);
    return found;
}

/* A no-depth class (sky) leaves every depth map undefined where it is predicted, and only
 * there: NaN in the .npy files, 0 in depth.png, the invalid grey in the heatmaps (with the
 * "no depth" legend), statistics over the rest. */
START_TEST(depth_undefined_where_no_depth_class_predicted)
{
    char *in = make_inputs(), *plain = make_tmpdir(), *out = make_tmpdir(), w[DOUBT_PATH_MAX];
    char p[DOUBT_PATH_MAX];
    doubt_ctx *ctx = th_ctx(1);
    doubt_error err;
    doubt_predict_opts o = doubt_predict_defaults();
    o.samples = 3;
    o.npy = 1;
    path_in(p, in, "sub/b.png");
    char *json;
    doubt_predictor *pr;
    ck_assert_msg(!doubt_predict_create(ctx, WEIGHTS, &o, &pr, &err), "%s", err.msg);
    ck_assert_msg(!doubt_predict_image(pr, p, "b", plain, &json, &err), "%s", err.msg);
    free(json);
    doubt_predict_destroy(pr);
    const int sky = class_on_part_of(plain, "b", 3);

    path_in(w, out, "w.safetensors");
    weights_copy(w, NULL, NULL, sky);
    ck_assert_msg(!doubt_predict_create(ctx, w, &o, &pr, &err), "%s", err.msg);
    ck_assert_msg(!doubt_predict_image(pr, p, "b", out, &json, &err), "%s", err.msg);
    doubt_predict_destroy(pr);

    const int W = 13, H = 11;
    const size_t n = (size_t)W * H;
    char seg[DOUBT_PATH_MAX];
    int sw, sh, nc;
    path_in(seg, out, "b.seg.png");
    uint8_t *cls = read_palette_png(seg, &sw, &sh, &nc);
    const char *depth_maps[] = {"b.depth_mean.npy", "b.depth_epistemic.npy",
                                "b.depth_aleatoric.npy", "b.depth_total.npy"};
    size_t defined = 0;
    for (int k = 0; k < 4; k++) {
        float *masked = read_npy(out, depth_maps[k], 2, H, W, 0);
        float *raw = read_npy(plain, depth_maps[k], 2, H, W, 0);
        for (size_t i = 0; i < n; i++) {
            if (cls[i] == sky)
                ck_assert_msg(isnan(masked[i]), "%s: pixel %zu of class %d not NaN",
                              depth_maps[k], i, sky);
            else
                ck_assert_float_eq(masked[i], raw[i]);
            defined += k == 0 && cls[i] != sky;
        }
        free(masked);
        free(raw);
    }
    ck_assert(defined > 0 && defined < n);

    float *back;
    int bw, bh;
    path_in(p, out, "b.depth.png");
    ck_assert(!doubt_image_read_depth(p, 0, 256, &back, &bw, &bh, &err));
    for (size_t i = 0; i < n; i++)
        if (cls[i] == sky)
            ck_assert_float_eq(back[i], 0);
    free(back);

    const char *heat[] = {"b.depth_color.png", "b.depth_epistemic.png", "b.depth_aleatoric.png",
                          "b.depth_total.png"};
    for (int k = 0; k < 4; k++) {
        path_in(p, out, heat[k]);
        uint8_t *rgb;
        int hw, hh;
        ck_assert(!doubt_image_read_rgb8(p, 0, &rgb, &hw, &hh, &err));
        for (size_t i = 0; i < n; i++) {
            const uint8_t *c = rgb + 3 * ((i / W) * (size_t)hw + i % W);
            if (cls[i] == sky)
                ck_assert_msg(c[0] == 128 && c[1] == 128 && c[2] == 128,
                              "%s: undefined pixel %zu is %d,%d,%d, not the invalid grey",
                              heat[k], i, c[0], c[1], c[2]);
        }
        free(rgb);
        char *label = png_text_of(p, "doubt.invalid_label");
        ck_assert_msg(label && !strcmp(label, "no depth"), "%s: no 'no depth' legend", heat[k]);
        free(label);
    }
    /* the segmentation maps are defined everywhere and carry no legend */
    path_in(p, out, "b.seg_entropy.png");
    ck_assert_ptr_null(png_text_of(p, "doubt.invalid_label"));

    cJSON *j = cJSON_Parse(json);
    const cJSON *maps = cJSON_GetObjectItemCaseSensitive(j, "maps");
    const char *keys[] = {"depth_mean", "depth_epistemic", "depth_aleatoric", "depth_total"};
    for (int k = 0; k < 4; k++)
        ck_assert_double_eq_tol(
            num(cJSON_GetObjectItemCaseSensitive(maps, keys[k]), "defined"),
            (double)defined / (double)n, 1e-12);
    ck_assert_double_eq(num(cJSON_GetObjectItemCaseSensitive(maps, "seg_entropy"), "defined"), 1);
    cJSON_Delete(j);
    free(json);
    free(cls);
    doubt_ctx_destroy(ctx);
    th_remove_tree(in);
    th_remove_tree(plain);
    th_remove_tree(out);
    free(in), free(plain), free(out);
}
END_TEST

/* ---- the command ----------------------------------------------------------------------- */

START_TEST(command_continues_past_bad_inputs)
{
    char *in = make_inputs(), *out = make_tmpdir(), p[DOUBT_PATH_MAX];
    run_result r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, in, "-o", out,
                                              "--samples", "4", NULL});
    ck_assert_msg(r.status == 1, "exit %d, stderr: %s", r.status, r.err);
    char names[256];
    json_names(r.out, names, sizeof names);
    ck_assert_str_eq(names, "a c b"); /* sorted by path: a.png, c.png, sub/b.png */
    const char *bad[] = {"bad/corrupt.png", "bad/trunc.png", "bad/x.png", "notes.txt"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path_in(p, in, bad[i]);
        ck_assert_msg(strstr(r.err, p) != NULL, "stderr does not name %s: %s", p, r.err);
    }
    ck_assert_ptr_nonnull(strstr(r.err, "skipping"));
    ck_assert(file_exists(out, "a.seg_logit_var.png") && file_exists(out, "b.depth.png") &&
              file_exists(out, "c.seg.png"));
    free_result(&r);

    /* --skip-existing: a planted a.seg.png stays; c loses a heatmap and is redone */
    path_in(p, out, "a.seg.png");
    write_bytes(p, "planted", 7);
    path_in(p, out, "c.depth_total.png");
    ck_assert_int_eq(unlink(p), 0);
    r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, in, "-o", out, "--samples",
                                   "4", "--skip-existing", NULL});
    ck_assert_int_eq(r.status, 1);
    json_names(r.out, names, sizeof names);
    ck_assert_str_eq(names, "c");
    ck_assert_ptr_nonnull(strstr(r.err, "skipping"));
    path_in(p, out, "a.seg.png");
    char *planted = read_text(p, NULL);
    ck_assert_str_eq(planted, "planted");
    free(planted);
    ck_assert(file_exists(out, "c.depth_total.png"));
    free_result(&r);

    /* only good inputs: exit 0 */
    path_in(p, in, "a.png");
    r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, p, "-o", out, "--samples",
                                   "2", NULL});
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    free_result(&r);
    th_remove_tree(in);
    th_remove_tree(out);
    free(in), free(out);
}
END_TEST

START_TEST(command_shards_partition)
{
    char *in = make_inputs(), *out = make_tmpdir(), p[DOUBT_PATH_MAX];
    /* index order: a 0, bad/corrupt 1, bad/trunc 2, bad/x 3, c 4, sub/b 5 */
    char names[2][256];
    for (int s = 0; s < 2; s++) {
        char shard[8];
        snprintf(shard, sizeof shard, "%d/2", s);
        run_result r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, in, "-o", out,
                                                  "--samples", "3", "--shard", shard, NULL});
        ck_assert_int_eq(r.status, 1); /* each shard holds a bad file */
        json_names(r.out, names[s], sizeof names[s]);
        path_in(p, in, "bad/trunc.png"); /* index 2: shard 0's */
        ck_assert_int_eq(strstr(r.err, p) != NULL, s == 0);
        path_in(p, in, "bad/x.png"); /* index 3: shard 1's */
        ck_assert_int_eq(strstr(r.err, p) != NULL, s == 1);
        free_result(&r);
    }
    ck_assert_str_eq(names[0], "a c");
    ck_assert_str_eq(names[1], "b");
    th_remove_tree(in);
    th_remove_tree(out);
    free(in), free(out);
}
END_TEST

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = read_text(a, &na), *y = read_text(b, &nb);
    int same = na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

/* The main outputs of image NAME are byte-identical in folders a and b. */
static void assert_same_outputs(const char *a, const char *b, const char *name, const char *why)
{
    static const char *const suffixes[] = {".seg.png", ".depth.png", ".depth_epistemic.png",
                                           ".seg_mutual_info.png", ".seg_prob.npy",
                                           ".depth_epistemic.npy", ".depth_aleatoric.npy"};
    char file[DOUBT_PATH_MAX], p[DOUBT_PATH_MAX], q[DOUBT_PATH_MAX];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(file, sizeof file, "%s%s", name, suffixes[i]);
        path_in(p, a, file);
        path_in(q, b, file);
        ck_assert_msg(same_file(p, q), "%s differs %s", file, why);
    }
}

/* --samples auto[:MAX]: each image's JSON gives the T it took and the cap and tolerance; its
 * float maps are byte for byte those of --samples T with that T; bad forms and the options
 * it does not combine with are usage errors that say why. */
START_TEST(command_samples_auto)
{
    char *in = make_inputs(), *adaptive = make_tmpdir(), *fixed = make_tmpdir();
    char p[DOUBT_PATH_MAX];
    path_in(p, in, "a.png");
    static const struct {
        const char *value, *message;
    } bad[] = {
        {"auto:", "--samples wants T (1..100000), auto or auto:MAX (MAX 12..100000): auto:"},
        {"auto:0", "--samples wants T (1..100000), auto or auto:MAX (MAX 12..100000): auto:0"},
        {"auto:11", "--samples wants T (1..100000), auto or auto:MAX (MAX 12..100000): auto:11"},
        {"autox", "--samples wants T (1..100000), auto or auto:MAX (MAX 12..100000): autox"},
        {"auto:40x", "--samples wants T (1..100000), auto or auto:MAX (MAX 12..100000): auto:40x"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        th_assert_usage_error(
            (const char *[]){"predict", p, "-o", adaptive, "--samples", bad[i].value, NULL},
            bad[i].message);
    th_assert_usage_error((const char *[]){"predict", p, "-o", adaptive, "--converge", "0.1", NULL},
                          "--converge applies to --samples auto");
    th_assert_usage_error((const char *[]){"predict", p, "-o", adaptive, "--samples", "auto",
                                           "--converge", "2", NULL},
                          "--converge wants a tolerance in 0..1: 2");
    th_assert_usage_error((const char *[]){"predict", p, "-o", adaptive, "--samples", "auto",
                                           "--tile", "64", NULL},
                          "--samples auto does not tile: tiles would stop at different T");
    th_assert_usage_error((const char *[]){"predict", "--weights", WEIGHTS "," MEMBER_B, p, "-o",
                                           adaptive, "--samples", "auto", NULL},
                          "--samples auto takes one weights file: an ensemble's members would "
                          "stop at different T");

    run_result r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, p, "-o", adaptive,
                                              "--npy", "--samples", "auto:40", "--converge",
                                              "0.3", "--batch", "3", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    cJSON *j = cJSON_Parse(r.out);
    const int taken = (int)num(j, "samples");
    const cJSON *automatic = cJSON_GetObjectItemCaseSensitive(j, "samples_auto");
    ck_assert_double_eq(num(automatic, "max"), 40);
    ck_assert_double_eq(num(automatic, "converge"), 0.3);
    printf("  predict --samples auto:40 --converge 0.3 on a.png: T %d\n", taken);
    ck_assert_msg(taken < 40 && taken >= 12 && taken % 4 == 0, "T %d", taken);
    cJSON_Delete(j);
    free_result(&r);
    char t_text[16];
    snprintf(t_text, sizeof t_text, "%d", taken);
    r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, p, "-o", fixed, "--npy",
                                   "--samples", t_text, NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    j = cJSON_Parse(r.out);
    ck_assert_double_eq(num(j, "samples"), taken);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "samples_auto")));
    cJSON_Delete(j);
    free_result(&r);
    static const char *const npy[] = {"depth_mean", "depth_epistemic", "depth_aleatoric",
                                      "seg_prob", "seg_entropy", "seg_mutual_info"};
    char file[DOUBT_PATH_MAX], a[DOUBT_PATH_MAX], b[DOUBT_PATH_MAX];
    for (size_t i = 0; i < sizeof npy / sizeof npy[0]; i++) {
        snprintf(file, sizeof file, "a.%s.npy", npy[i]);
        path_in(a, adaptive, file);
        path_in(b, fixed, file);
        ck_assert_msg(same_file(a, b), "%s differs between auto and --samples %d", file, taken);
    }
    /* plain auto is capped at 100 with a tolerance of 0.05; with --deterministic it is the
     * one pass */
    r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, p, "-o", adaptive,
                                   "--samples", "auto", "--maps", "none", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    j = cJSON_Parse(r.out);
    automatic = cJSON_GetObjectItemCaseSensitive(j, "samples_auto");
    ck_assert_double_eq(num(automatic, "max"), 100);
    ck_assert_double_eq(num(automatic, "converge"), 0.05);
    cJSON_Delete(j);
    free_result(&r);
    r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, p, "-o", adaptive,
                                   "--samples", "auto", "--deterministic", "--maps", "none",
                                   NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    j = cJSON_Parse(r.out);
    ck_assert_double_eq(num(j, "samples"), 1);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "samples_auto")));
    cJSON_Delete(j);
    free_result(&r);
    th_remove_tree(in);
    th_remove_tree(adaptive);
    th_remove_tree(fixed);
    free(in), free(adaptive), free(fixed);
}
END_TEST

START_TEST(command_identical_on_any_thread_count)
{
    char *in = make_inputs(), *out1 = make_tmpdir(), *out3 = make_tmpdir();
    char p[DOUBT_PATH_MAX];
    path_in(p, in, "sub/b.png");
    run_result r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, p, "-o", out1,
                                              "--npy", "--threads", "1", "--seed", "3", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    free_result(&r);
    r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, p, "-o", out3, "--npy",
                                   "--threads", "3", "--seed", "3", "--batch", "3", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    free_result(&r);
    assert_same_outputs(out1, out3, "b", "between 1 and 3 threads");
    th_remove_tree(in);
    th_remove_tree(out1);
    th_remove_tree(out3);
    free(in), free(out1), free(out3);
}
END_TEST

/* --tile with a margin beyond the tiny network's receptive field changes no byte; the JSON
 * records the tiling; a tile too small for its margin is refused naming both. */
START_TEST(command_tiles_match_untiled)
{
    char *in = make_tmpdir(), *whole = make_tmpdir(), *tiled = make_tmpdir();
    char p[DOUBT_PATH_MAX];
    path_in(p, in, "big.png");
    write_photo(p, 150, 90, 4); /* padded to 152 x 92: 6 x 3 tiles of 72 */
    run_result r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, p, "-o", whole,
                                              "--npy", "--samples", "4", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\"tile\":null"));
    free_result(&r);
    r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, p, "-o", tiled, "--npy",
                                   "--samples", "4", "--tile", "72", "--tile-margin", "28", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\"tile\":72,\"tile_margin\":28"));
    free_result(&r);
    assert_same_outputs(whole, tiled, "big", "between tiled and untiled");
    path_in(p, in, "big.png");
    r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, p, "-o", tiled, "--tile",
                                   "64", NULL});
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "tile 64 too small for margin 96"), "%s", r.err);
    free_result(&r);
    r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, p, "-o", tiled,
                                   "--tile-margin", "8", NULL});
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--tile-margin"));
    free_result(&r);
    th_remove_tree(in);
    th_remove_tree(whole);
    th_remove_tree(tiled);
    free(in), free(whole), free(tiled);
}
END_TEST

START_TEST(command_usage_and_weights_errors)
{
    char *in = make_inputs(), *out = make_tmpdir(), p[DOUBT_PATH_MAX];
    path_in(p, in, "a.png");
    const char *const *usage[] = {
        (const char *[]){"predict", p, NULL},
        (const char *[]){"predict", p, "-o", out, "--shard", "2/2", NULL},
        (const char *[]){"predict", p, "-o", out, "--range", "seg_entropy=1:0", NULL},
        (const char *[]){"predict", p, "-o", out, "--maps", "depth,bogus", NULL},
        (const char *[]){"predict", p, "-o", out, "--samples", "0", NULL},
        (const char *[]){"predict", p, "-o", out, "--frobnicate", NULL},
        (const char *[]){"predict", "-o", out, NULL},
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        run_result r = run_doubt(usage[i]);
        ck_assert_msg(r.status == 2, "case %zu: exit %d", i, r.status);
        free_result(&r);
    }
    /* numbers are whole strings in range; the message names the option and echoes the value */
    static const struct {
        const char *option, *value, *message;
    } numbers[] = {
        {"--samples", "abc",
         "--samples wants T (1..100000), auto or auto:MAX (MAX 12..100000): abc"},
        {"--samples", "100001",
         "--samples wants T (1..100000), auto or auto:MAX (MAX 12..100000): 100001"},
        {"--samples", "3x",
         "--samples wants T (1..100000), auto or auto:MAX (MAX 12..100000): 3x"},
        {"--seed", "9007199254740992", "--seed wants an integer in 0 .. 2^53-1: 9007199254740992"},
        {"--threads", "99999999999999999999", "--threads wants 1..1024: 99999999999999999999"},
        {"--depth-scale", "0", "--depth-scale wants a positive number: 0"},
        {"--depth-scale", "nan", "--depth-scale wants a positive number: nan"},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        th_assert_usage_error(
            (const char *[]){"predict", p, "-o", out, numbers[i].option, numbers[i].value, NULL},
            numbers[i].message);
    th_assert_usage_error((const char *[]){"predict", p, "-o", out, "--samples", NULL},
                          "missing value after: --samples");
    run_result r = run_doubt(
        (const char *[]){"predict", "--weights", "/nonexistent/w.safetensors", p, "-o", out, NULL});
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/w.safetensors"));
    free_result(&r);
    /* no --weights: $DOUBT_WEIGHTS, named in the error when it is absent */
    setenv("DOUBT_WEIGHTS", "/nonexistent/env.safetensors", 1);
    r = run_doubt((const char *[]){"predict", p, "-o", out, NULL});
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/env.safetensors"));
    free_result(&r);
    setenv("DOUBT_WEIGHTS", WEIGHTS, 1);
    r = run_doubt((const char *[]){"predict", p, "-o", out, "--samples", "2", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    free_result(&r);
    unsetenv("DOUBT_WEIGHTS");
    r = run_doubt((const char *[]){"predict", "--help", NULL});
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "--skip-existing"));
    free_result(&r);
    th_remove_tree(in);
    th_remove_tree(out);
    free(in), free(out);
}
END_TEST

/* --precision on predict, eval and bench --predict: an unknown name is a usage error; bf16
 * and int8 fail (exit 1) with what they need and what this CPU has where oneDNN's ISA lacks
 * them, or saying only f32 is built where it has them (so this holds on any machine); f32
 * runs. bench reports the FMA peak, the ISAs and the share of peak. */
START_TEST(command_precision_and_peak)
{
    char *in = make_inputs(), *out = make_tmpdir(), p[DOUBT_PATH_MAX];
    path_in(p, in, "a.png");
    th_assert_usage_error((const char *[]){"predict", p, "-o", out, "--precision", "fp16", NULL},
                          "--precision wants f32, bf16 or int8: fp16");
    th_assert_usage_error((const char *[]){"bench", "--train", "--precision", "f32", NULL},
                          "--precision applies to --predict");
    const char *reduced[] = {"bf16", "int8"};
    for (int i = 0; i < 2; i++) {
        doubt_precision prec;
        ck_assert(doubt_precision_parse(reduced[i], &prec));
        const int has = doubt_precision_supported(prec, doubt_dnnl_isa());
        const char *const *runs[] = {
            (const char *[]){"predict", "--weights", WEIGHTS, p, "-o", out, "--precision",
                             reduced[i], NULL},
            (const char *[]){"eval", "--weights", WEIGHTS, "--data", in, "--precision",
                             reduced[i], NULL},
            (const char *[]){"bench", "--predict", "--size", "32", "--samples", "2", "--images",
                             "1", "--precision", reduced[i], NULL},
        };
        for (int k = 0; k < 3; k++) {
            run_result r = run_doubt(runs[k]);
            char expected[256];
            if (has)
                snprintf(expected, sizeof expected, "precision %s: this CPU has %s, but",
                         reduced[i], doubt_precision_needs(prec));
            else
                snprintf(expected, sizeof expected,
                         "doubt %s: --precision %s needs %s; this CPU has %s (oneDNN: %s)\n",
                         runs[k][0], reduced[i], doubt_precision_needs(prec), doubt_cpu_widest(),
                         doubt_dnnl_isa_name(doubt_dnnl_isa()));
            ck_assert_msg(r.status == 1 && strstr(r.err, expected), "%s %s: exit %d, %s",
                          runs[k][0], reduced[i], r.status, r.err);
            free_result(&r);
        }
    }
    run_result r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, p, "-o", out,
                                              "--samples", "2", "--precision", "f32", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    free_result(&r);
    r = run_doubt((const char *[]){"bench", "--peak", "--json", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    cJSON *peak = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(peak);
    ck_assert_double_gt(cJSON_GetObjectItem(peak, "peak_gflops")->valuedouble, 0);
    ck_assert_str_eq(cJSON_GetObjectItem(peak, "peak_isa")->valuestring,
                     doubt_fma_isa_name(doubt_fma_isa_best()));
    ck_assert_str_eq(cJSON_GetObjectItem(peak, "onednn_isa")->valuestring,
                     doubt_dnnl_isa_name(doubt_dnnl_isa()));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(peak, "isa_allows"), "f32")));
    cJSON_Delete(peak);
    free_result(&r);
    r = run_doubt((const char *[]){"bench", "--predict", "--size", "32", "--samples", "2",
                                   "--images", "1", "--json", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    cJSON *run = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(run);
    const double gflops = cJSON_GetObjectItem(run, "gflops")->valuedouble;
    const double peak_gflops = cJSON_GetObjectItem(run, "peak_gflops")->valuedouble;
    ck_assert_double_gt(peak_gflops, 0);
    /* printed to 4 decimals: share = gflops / peak up to the rounding of all three */
    ck_assert_double_eq_tol(cJSON_GetObjectItem(run, "share_of_peak")->valuedouble,
                            gflops / peak_gflops, 1e-3 + 0.01 / peak_gflops);
    ck_assert_str_eq(cJSON_GetObjectItem(run, "precision")->valuestring, "f32");
    cJSON_Delete(run);
    free_result(&r);
    th_remove_tree(in);
    th_remove_tree(out);
    free(in), free(out);
}
END_TEST

/* --weights A,B runs their deep ensemble: every map is written, the summary lists both
 * members' files and hashes as arrays (a one-file run keeps its strings), the PNGs record
 * both hashes, the maps are not A's alone, and --deterministic keeps the epistemic maps. A
 * member that cannot be read or is another network fails naming its file. */
START_TEST(command_ensemble_lists_every_member)
{
    char *in = make_tmpdir(), *alone = make_tmpdir(), *both = make_tmpdir();
    char p[DOUBT_PATH_MAX], q[DOUBT_PATH_MAX], w[DOUBT_PATH_MAX];
    path_in(p, in, "a.png");
    write_photo(p, 16, 12, 1);
    run_result r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS "," MEMBER_B, p,
                                              "-o", both, "--npy", "--samples", "3", NULL});
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    cJSON *j = cJSON_Parse(r.out);
    ck_assert_ptr_nonnull(j);
    const char *files[] = {WEIGHTS, MEMBER_B};
    char sha[2][65];
    doubt_error err;
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(j, "weights");
    const cJSON *hashes = cJSON_GetObjectItemCaseSensitive(j, "weights_sha256");
    ck_assert(cJSON_GetArraySize(names) == 2 && cJSON_GetArraySize(hashes) == 2);
    for (int m = 0; m < 2; m++) {
        ck_assert(!doubt_sha256_file(files[m], sha[m], &err));
        ck_assert_str_eq(cJSON_GetArrayItem(names, m)->valuestring, files[m]);
        ck_assert_str_eq(cJSON_GetArrayItem(hashes, m)->valuestring, sha[m]);
    }
    ck_assert_double_eq(num(j, "samples"), 3);
    cJSON_Delete(j);
    free_result(&r);
    const char *outputs[] = {"a.seg.png", "a.depth.png", "a.depth_epistemic.png",
                             "a.seg_mutual_info.png", "a.seg_prob.npy", "a.depth_mean.npy"};
    for (size_t i = 0; i < sizeof outputs / sizeof outputs[0]; i++)
        ck_assert_msg(file_exists(both, outputs[i]), "%s not written", outputs[i]);
    char joined[2 * 65];
    snprintf(joined, sizeof joined, "%s,%s", sha[0], sha[1]);
    path_in(q, both, "a.depth_epistemic.png");
    char *text = png_text_of(q, "doubt.weights_sha256");
    ck_assert_str_eq(text, joined);
    free(text);

    r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, p, "-o", alone, "--npy",
                                   "--samples", "3", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\"weights\":\"" WEIGHTS "\""));
    free_result(&r);
    path_in(q, both, "a.depth_mean.npy");
    path_in(w, alone, "a.depth_mean.npy");
    ck_assert_msg(!same_file(q, w), "the ensemble's depth is member A's alone");
    /* deterministic, an ensemble still has epistemic maps: the spread across its members */
    th_remove_tree(alone); /* predict makes it again */
    r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS "," MEMBER_B, p, "-o", alone,
                                   "--deterministic", NULL});
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "\"depth_epistemic\":{"));
    ck_assert(file_exists(alone, "a.depth_epistemic.png") &&
              file_exists(alone, "a.seg_mutual_info.png"));
    free_result(&r);

    r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS ",/nonexistent/b.safetensors",
                                   p, "-o", both, NULL});
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, "/nonexistent/b.safetensors"), "%s", r.err);
    free_result(&r);
    path_in(w, in, "sky.safetensors");
    weights_copy(w, NULL, NULL, 0); /* the same network with class 0 as a no-depth class */
    char list[2 * DOUBT_PATH_MAX];
    snprintf(list, sizeof list, "%s,%s", WEIGHTS, w);
    r = run_doubt((const char *[]){"predict", "--weights", list, p, "-o", both, NULL});
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.err, w) && strstr(r.err, "no_depth_classes"), "%s", r.err);
    free_result(&r);
    th_assert_usage_error((const char *[]){"predict", "--weights", WEIGHTS ",", p, "-o", both,
                                           NULL},
                          "--weights wants FILE or FILE,FILE,...: " WEIGHTS ",");
    th_remove_tree(in);
    th_remove_tree(alone);
    th_remove_tree(both);
    free(in), free(alone), free(both);
}
END_TEST


/* ---- faults ---------------------------------------------------------------------------- */

/* A folder of `count` photos p0.png, p1.png, ... of side `side` (p<big>.png of side 96). */
static char *make_photos(int count, int side, int big)
{
    char *dir = make_tmpdir(), name[32], p[DOUBT_PATH_MAX];
    for (int i = 0; i < count; i++) {
        snprintf(name, sizeof name, "p%d.png", i);
        path_in(p, dir, name);
        write_photo(p, i == big ? 96 : side, i == big ? 96 : side, i + 1);
    }
    return dir;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir (those starting with '.' only with hidden_too), sorted, joined with
 * spaces. */
static void list_names(const char *dir, int hidden_too, char *out, size_t cap)
{
    char *names[512];
    int n = 0;
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            (hidden_too || e->d_name[0] != '.')) {
            ck_assert_int_lt(n, 512);
            names[n++] = strdup(e->d_name);
        }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_str);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t at = strlen(out);
        snprintf(out + at, cap - at, "%s%s", i ? " " : "", names[i]);
        free(names[i]);
    }
}

/* Every file of a is in b, byte for byte, and b has no other (non-hidden) files. */
static void assert_same_folder(const char *a, const char *b, const char *why)
{
    static char na[16384], nb[16384];
    list_names(a, 0, na, sizeof na);
    list_names(b, 0, nb, sizeof nb);
    ck_assert_msg(!strcmp(na, nb), "%s: files differ:\n%s\n%s", why, na, nb);
    for (char *name = strtok(na, " "); name; name = strtok(NULL, " ")) {
        char p[DOUBT_PATH_MAX], q[DOUBT_PATH_MAX];
        path_in(p, a, name);
        path_in(q, b, name);
        ck_assert_msg(same_file(p, q), "%s: %s differs", why, name);
    }
}

/* Issue 14.5: a folder that refuses writes costs no inference: one message naming it. */
START_TEST(unwritable_folder_is_found_before_inference)
{
    char *in = make_photos(3, 16, -1), *out = make_tmpdir();
    const th_run_opts no_writes = {.file_size_limit = 0};
    char *o, *e;
    int status = th_run_doubt_with((const char *[]){"predict", "--weights", WEIGHTS, in, "-o",
                                                    out, "--samples", "2", NULL},
                                   &no_writes, &o, &e);
    ck_assert_msg(status == 1, "exit %d: %s", status, e);
    ck_assert_str_eq(o, "");
    char want[DOUBT_PATH_MAX + 64];
    snprintf(want, sizeof want, "output folder %s: cannot write there", out);
    ck_assert_msg(strstr(e, want) && strstr(e, strerror(EFBIG)), "stderr: %s", e);
    ck_assert_msg(!strstr(e, "p0.png") && !strstr(e, "p2.png"), "images were tried: %s", e);
    char names[256];
    list_names(out, 1, names, sizeof names);
    ck_assert_str_eq(names, "");
    free(o), free(e);
    th_remove_tree(in);
    th_remove_tree(out);
    free(in), free(out);
}
END_TEST

/* Issue 14.5 and the write-limit fault: a write that fails with EFBIG (as ENOSPC would) stops
 * the run at once with exit 1 and a message naming the folder; the outputs written before it
 * are intact (byte-identical to an unlimited run's) and no temporary is left. p1 is large
 * enough that one of its files passes the limit, which p0's do not reach. */
START_TEST(write_limit_stops_at_the_first_failed_write)
{
    char *in = make_photos(3, 16, 1), *whole = make_tmpdir(), *limited = make_tmpdir();
    const char *base[] = {"predict", "--weights", WEIGHTS, in, "-o", NULL, "--samples", "2",
                          "--npy", NULL};
    base[5] = whole;
    run_result r = run_doubt(base);
    ck_assert_msg(r.status == 0, "%s", r.err);
    free_result(&r);
    long long small = 0, large = 0;
    DIR *d = opendir(whole);
    struct dirent *e;
    while ((e = readdir(d))) {
        char p[DOUBT_PATH_MAX];
        struct stat sb;
        path_in(p, whole, e->d_name);
        ck_assert_int_eq(stat(p, &sb), 0);
        if (!strncmp(e->d_name, "p1.", 3) && sb.st_size > large)
            large = sb.st_size;
        else if (e->d_name[0] == 'p' && strncmp(e->d_name, "p1.", 3) && sb.st_size > small)
            small = sb.st_size;
    }
    closedir(d);
    ck_assert_msg(large > small, "p1's outputs (%lld) must outgrow the others' (%lld)", large,
                  small);
    const th_run_opts limit = {.file_size_limit = small};
    base[5] = limited;
    char *o, *err;
    int status = th_run_doubt_with(base, &limit, &o, &err);
    ck_assert_msg(status == 1, "exit %d: %s", status, err);
    char want[DOUBT_PATH_MAX + 64];
    snprintf(want, sizeof want, "stopping: output folder %s refuses writes", limited);
    ck_assert_msg(strstr(err, want) && strstr(err, strerror(EFBIG)), "stderr: %s", err);
    ck_assert_msg(!strstr(o, "\"p2\"") && !file_exists(limited, "p2.seg.png"),
                  "p2 was processed after the failed write: %s", err);
    ck_assert_msg(strstr(o, "\"p0\""), "p0 missing: %s", o);
    char names[16384];
    list_names(limited, 1, names, sizeof names);
    ck_assert_msg(!strstr(names, ".tmp"), "temporaries left: %s", names);
    /* everything there (all of p0, what p1 finished) is the unlimited run's file */
    for (char *name = strtok(names, " "); name; name = strtok(NULL, " ")) {
        char p[DOUBT_PATH_MAX], q[DOUBT_PATH_MAX];
        path_in(p, whole, name);
        path_in(q, limited, name);
        ck_assert_msg(same_file(p, q), "%s differs from the unlimited run's", name);
    }
    ck_assert(file_exists(limited, "p0.seg.png") && file_exists(limited, "p0.depth.png"));
    free(o), free(err);
    th_remove_tree(in);
    th_remove_tree(whole);
    th_remove_tree(limited);
    free(in), free(whole), free(limited);
}
END_TEST

/* SIGKILL in the middle of a folder, then --skip-existing: the same files as one run. */
START_TEST(killed_predict_resumes_to_identical_outputs)
{
    char *in = make_photos(10, 48, -1), *straight = make_tmpdir(), *killed = make_tmpdir();
    const char *args[] = {"predict", "--weights", WEIGHTS, in, "-o", NULL, "--samples", "8",
                          "--npy", "--threads", "1", NULL, NULL};
    args[5] = straight;
    run_result r = run_doubt(args);
    ck_assert_msg(r.status == 0, "%s", r.err);
    free_result(&r);
    args[5] = killed;
    const th_run_opts kill_early = {.file_size_limit = -1, .kill_after_lines = 2};
    char *o, *e;
    int status = th_run_doubt_with(args, &kill_early, &o, &e);
    ck_assert_msg(status == 128 + SIGKILL, "exit %d (not killed): %s", status, e);
    ck_assert_msg(!file_exists(killed, "p9.seg.png"), "the run finished before the kill");
    free(o), free(e);
    args[11] = "--skip-existing";
    r = run_doubt(args);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "skipping"));
    free_result(&r);
    assert_same_folder(straight, killed, "killed and resumed");
    th_remove_tree(in);
    th_remove_tree(straight);
    th_remove_tree(killed);
    free(in), free(straight), free(killed);
}
END_TEST


/* ---- real oddities ---------------------------------------------------------------------- */

#define SKIMAGE_DATA "/usr/lib/python3/dist-packages/skimage/data"

/* Debian's python3-skimage ships real photos and odd files; through the batch path each is
 * processed at its own size, skipped with a note, or refused with a message saying what is
 * wrong with it, and the run goes on. Without the package the test has nothing to read. */
START_TEST(skimage_oddities_through_the_batch_path)
{
    struct stat sb;
    if (stat(SKIMAGE_DATA, &sb)) {
        fprintf(stderr, "  skimage oddities: %s absent (python3-skimage), nothing to test\n",
                SKIMAGE_DATA);
        return;
    }
    static const struct {
        const char *file;
        int width, height; /* 0: not processed */
        const char *says;  /* what stderr says about it, if anything */
    } files[] = {
        {"rocket.jpg", 640, 427, NULL},              /* a real photo */
        {"block.png", 10, 10, NULL},                 /* 8-bit RGB */
        {"checker_bilevel.png", 10, 10, NULL},       /* 1-bit gray */
        {"chessboard_RGB.png", 200, 200, NULL},      /* 16-bit RGB */
        {"microaneurysms.png", 102, 102, NULL},      /* 8-bit gray */
        {"palette_color.png", 10, 10, NULL},         /* palette */
        {"palette_gray.png", 10, 10, NULL},          /* palette of grays */
        {"foo3x5x4indexed.png", 5, 3, NULL},         /* indexed, 5 x 3 */
        {"truncated.jpg", 0, 0, "truncated.jpg: JPEG file is truncated"},
        {"chessboard_GRAY_U16.tif", 0, 0, "chessboard_GRAY_U16.tif: not an image file name"},
        {"no_time_for_that_tiny.gif", 0, 0, "no_time_for_that_tiny.gif: not an image file name"},
    };
    const size_t n = sizeof files / sizeof files[0];
    char *in = make_tmpdir(), *out = make_tmpdir(), from[DOUBT_PATH_MAX], to[DOUBT_PATH_MAX];
    for (size_t i = 0; i < n; i++) {
        path_in(from, SKIMAGE_DATA, files[i].file);
        path_in(to, in, files[i].file);
        size_t size;
        char *bytes = read_text(from, &size);
        write_bytes(to, bytes, size);
        free(bytes);
    }
    run_result r = run_doubt((const char *[]){"predict", "--weights", WEIGHTS, in, "-o", out,
                                              "--deterministic", NULL});
    ck_assert_msg(r.status == 1, "exit %d (the truncated JPEG fails): %s", r.status, r.err);
    for (size_t i = 0; i < n; i++) {
        if (files[i].says)
            ck_assert_msg(strstr(r.err, files[i].says), "stderr lacks '%s': %s", files[i].says,
                          r.err);
        char name[64];
        snprintf(name, sizeof name, "\"name\":\"%.*s\"", (int)strcspn(files[i].file, "."),
                 files[i].file);
        const char *line = strstr(r.out, name);
        ck_assert_msg(!line == !files[i].width, "%s: %s", files[i].file,
                      line ? "processed" : "not processed");
        if (!line)
            continue;
        char size[64];
        snprintf(size, sizeof size, "\"width\":%d,\"height\":%d", files[i].width,
                 files[i].height);
        const char *nl = strchr(line, '\n');
        const char *found = strstr(line, size);
        ck_assert_msg(found && found < nl, "%s: not %s in %.*s", files[i].file, size,
                      (int)(nl - line), line);
    }
    free_result(&r);
    th_remove_tree(in);
    th_remove_tree(out);
    free(in), free(out);
}
END_TEST

static Suite *predict_suite(void)
{
    Suite *s = suite_create("predict");
    TCase *tc = tcase_create("sha256");
    tcase_add_test(tc, sha256_fips_vectors);
    tcase_add_test(tc, sha256_streaming_and_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("inputs");
    tcase_add_test(tc, parse_maps_and_ranges);
    tcase_add_test(tc, inputs_sorted_indexed_and_named);
    suite_add_tcase(s, tc);
    tc = tcase_create("pipeline");
    tcase_add_test(tc, pipeline_writes_every_output);
    tcase_add_test(tc, deterministic_and_selected_maps);
    tcase_add_test(tc, palette_from_weights_metadata);
    tcase_add_test(tc, depth_undefined_where_no_depth_class_predicted);
    suite_add_tcase(s, tc);
    tc = tcase_create("command");
    tcase_add_test(tc, command_continues_past_bad_inputs);
    tcase_add_test(tc, command_shards_partition);
    tcase_add_test(tc, command_samples_auto);
    tcase_add_test(tc, command_identical_on_any_thread_count);
    tcase_add_test(tc, command_tiles_match_untiled);
    tcase_add_test(tc, command_usage_and_weights_errors);
    tcase_add_test(tc, command_precision_and_peak);
    tcase_add_test(tc, command_ensemble_lists_every_member);
    suite_add_tcase(s, tc);
    tc = tcase_create("faults");
    tcase_add_test(tc, unwritable_folder_is_found_before_inference);
    tcase_add_test(tc, write_limit_stops_at_the_first_failed_write);
    tcase_add_test(tc, killed_predict_resumes_to_identical_outputs);
    tcase_add_test(tc, skimage_oddities_through_the_batch_path);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return th_run(predict_suite()); }
