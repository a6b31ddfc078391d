#include "winograd.h"

#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define LANES 8      /* channels per nChw8c block: one ymm register */
#define POSITIONS 16 /* the 4×4 transformed tile */
#define ROWS 6       /* tiles per register block of the matrix product */
#define PANEL 16     /* output channels per register block (two ymm registers) */
/* Floats of transformed inputs and products a thread keeps per chunk: about its share of L2. */
#define CHUNK_FLOATS (64 * 1024)
/* Tiles per unit at least, even past that budget (doubt_winograd_create says why). */
#define MIN_CHUNK 24
/* Floats of one position's V and D (tiles × (k + n)) the weight gradient keeps in L2. */
#define GRAD_FLOATS (48 * 1024)

struct doubt_winograd {
    char name[DOUBT_NAME_LEN];
    doubt_winograd_desc desc;
    int64_t batch, height, width;
    int64_t k, n;             /* input and output channels, padded to LANES */
    int64_t tiles_h, tiles_w; /* 2×2 output tiles */
    /* a unit of work: chunk_rows whole tile rows when a row is short, else a piece of
     * row_tiles tiles of one row; chunk = the tiles it holds at most */
    int64_t chunk_rows, row_tiles, chunk;
    int64_t row_groups, row_pieces; /* units per image: groups of rows × pieces of a row */
    int threads;
    float *u;       /* [POSITIONS][n·k]: per position, panels of PANEL (last maybe LANES) columns */
    float *bias;    /* [n], zero past out_channels */
    float *scratch; /* per thread: V [POSITIONS][chunk][k], then M [POSITIONS][chunk][n] */
    size_t scratch_floats;
    /* the weight gradient's: tile rows per unit of work, and per thread V and D
     * [POSITIONS][rows·tiles_w][k and n], then the thread's sum M [POSITIONS][k][n] */
    int64_t grad_rows;
    float *grad_scratch;
    size_t grad_floats;
    int ready;
};

static int is_nchw8c(const dnnl_memory_desc_t *md)
{
    if (md->ndims != 4 || md->data_type != dnnl_f32)
        return 0;
    dnnl_memory_desc_t ref = doubt_md_make(4, md->dims, dnnl_aBcd8b);
    return dnnl_memory_desc_equal(&ref, md);
}

int doubt_winograd_supported(const dnnl_memory_desc_t *src_md, const dnnl_memory_desc_t *dst_md)
{
    return is_nchw8c(src_md) && is_nchw8c(dst_md) && src_md->dims[1] >= 16 &&
           src_md->dims[0] == dst_md->dims[0] && src_md->dims[2] == dst_md->dims[2] &&
           src_md->dims[3] == dst_md->dims[3] && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma");
}

doubt_status doubt_winograd_create(doubt_ctx *ctx, const doubt_winograd_desc *desc,
                                   const dnnl_memory_desc_t *src_md,
                                   const dnnl_memory_desc_t *dst_md, doubt_winograd **out)
{
    *out = NULL;
    const char *name = desc && desc->name ? desc->name : "winograd";
    if (!desc || !doubt_winograd_supported(src_md, dst_md) ||
        src_md->dims[1] != desc->in_channels || dst_md->dims[1] != desc->out_channels)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "conv %s: Winograd needs nChw8c tensors of the layer's channels, 16 "
                          "inputs or more, and AVX2 with FMA", name);
    doubt_winograd *w = calloc(1, sizeof *w);
    if (!w)
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "conv %s: out of memory", name);
    doubt_name_copy(w->name, desc->name, "winograd");
    w->desc = *desc;
    w->desc.name = w->name;
    w->batch = src_md->dims[0];
    w->height = src_md->dims[2];
    w->width = src_md->dims[3];
    w->k = src_md->padded_dims[1];
    w->n = dst_md->padded_dims[1];
    w->tiles_h = (w->height + 1) / 2;
    w->tiles_w = (w->width + 1) / 2;
    /* Short rows are grouped, long ones cut into the fewest pieces that fit, of equal size
     * rounded up to whole register blocks (a thin last piece would run 1- or 2-row
     * products). At least MIN_CHUNK tiles, even past the budget: each unit streams all of U
     * through the cache once, which few tiles would not repay. */
    int64_t most = CHUNK_FLOATS / (POSITIONS * (w->k + w->n));
    most = most < MIN_CHUNK ? MIN_CHUNK : most;
    if (w->tiles_w <= most) {
        const int64_t rows = most / w->tiles_w;
        w->chunk_rows = rows < w->tiles_h ? rows : w->tiles_h;
        w->row_tiles = w->tiles_w;
    } else {
        const int64_t pieces = (w->tiles_w + most - 1) / most;
        const int64_t even = (w->tiles_w + pieces - 1) / pieces;
        const int64_t piece = (even + ROWS - 1) / ROWS * ROWS;
        w->chunk_rows = 1;
        w->row_tiles = piece < w->tiles_w ? piece : w->tiles_w;
    }
    w->chunk = w->chunk_rows * w->row_tiles;
    w->row_groups = (w->tiles_h + w->chunk_rows - 1) / w->chunk_rows;
    w->row_pieces = (w->tiles_w + w->row_tiles - 1) / w->row_tiles;
    w->threads = omp_get_max_threads();
    w->scratch_floats = (size_t)(POSITIONS * w->chunk * (w->k + w->n));
    const size_t u_bytes = (size_t)(POSITIONS * w->k * w->n) * sizeof(float);
    const size_t scratch_bytes = w->scratch_floats * (size_t)w->threads * sizeof(float);
    /* aligned_alloc wants sizes that are multiples of the alignment: all are multiples of
     * LANES floats, so of 32 bytes */
    w->u = aligned_alloc(32, u_bytes);
    w->bias = aligned_alloc(32, (size_t)w->n * sizeof(float));
    w->scratch = aligned_alloc(32, scratch_bytes);
    if (desc->weight_gradient) {
        /* enough tiles per unit that the products' sums run long, few enough that a
         * position's V and D stay in L2 */
        int64_t tiles = GRAD_FLOATS / (w->k + w->n);
        tiles = tiles < 16 ? 16 : tiles > 256 ? 256 : tiles;
        const int64_t rows = tiles / w->tiles_w;
        w->grad_rows = rows < 1 ? 1 : rows > w->tiles_h ? w->tiles_h : rows;
        const int64_t cap = w->grad_rows * w->tiles_w;
        w->grad_floats = (size_t)(POSITIONS * (cap * (w->k + w->n) + w->k * w->n));
        w->grad_scratch = aligned_alloc(32, w->grad_floats * (size_t)w->threads * sizeof(float));
    }
    if (!w->u || !w->bias || !w->scratch || (desc->weight_gradient && !w->grad_scratch)) {
        doubt_winograd_destroy(w);
        return doubt_fail(&ctx->err, DOUBT_ERR_NOMEM, "conv %s: out of memory", name);
    }
    *out = w;
    return DOUBT_OK;
}

/* The width of the panel of U starting at output channel panel_start: panels are PANEL
 * wide, the last LANES wide when n is not a multiple of PANEL. */
static int64_t panel_width(const doubt_winograd *w, int64_t panel_start)
{
    return w->n - panel_start >= PANEL ? PANEL : LANES;
}

/* U = G g Gᵀ of one 3×3 kernel g (row-major), into its 16 positions `stride` floats apart. */
static void transform_kernel(const float *g, float *u, int64_t stride)
{
    double gt[4][3]; /* G g: the kernel's rows combined */
    for (int j = 0; j < 3; j++) {
        gt[0][j] = g[j];
        gt[1][j] = 0.5 * ((double)g[j] + g[3 + j] + g[6 + j]);
        gt[2][j] = 0.5 * ((double)g[j] - g[3 + j] + g[6 + j]);
        gt[3][j] = g[6 + j];
    }
    for (int i = 0; i < 4; i++) {
        const double row[4] = {gt[i][0], 0.5 * (gt[i][0] + gt[i][1] + gt[i][2]),
                               0.5 * (gt[i][0] - gt[i][1] + gt[i][2]), gt[i][2]};
        for (int j = 0; j < 4; j++)
            u[(4 * i + j) * stride] = (float)row[j];
    }
}

/* The kernels of output o and input c: weights[o][c] or, for a backward-data convolution,
 * the forward's weights[c][o] turned by 180° (reversing the 9 taps flips both axes). */
static void set_kernels(doubt_winograd *w, const float *weights, int backward)
{
    const int64_t out = w->desc.out_channels, in = w->desc.in_channels, k = w->k, n = w->n;
    memset(w->u, 0, (size_t)(POSITIONS * k * n) * sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < out; o++) {
        const int64_t start = o / PANEL * PANEL, width = panel_width(w, start);
        for (int64_t c = 0; c < in; c++) {
            float turned[9];
            const float *g = weights + (backward ? c * out + o : o * in + c) * 9;
            for (int q = 0; backward && q < 9; q++)
                turned[q] = g[8 - q];
            transform_kernel(backward ? turned : g, w->u + start * k + c * width + (o - start),
                             k * n);
        }
    }
    w->ready = 1;
}

void doubt_winograd_set_weights(doubt_winograd *w, const float *weights, const float *bias)
{
    set_kernels(w, weights, 0);
    for (int64_t o = 0; o < w->n; o++)
        w->bias[o] = bias && o < w->desc.out_channels ? bias[o] : 0.0f;
}

void doubt_winograd_set_backward_weights(doubt_winograd *w, const float *weights)
{
    set_kernels(w, weights, 1);
    memset(w->bias, 0, (size_t)w->n * sizeof(float));
}

/* The 4×4 patch of 8-channel vectors whose top-left pixel is (y, x), zero outside. */
static inline AVX2 void load_patch(const float *plane, int64_t height, int64_t width, int64_t y,
                                   int64_t x, __m256 d[4][4])
{
    if (y >= 0 && y + 4 <= height && x >= 0 && x + 4 <= width) {
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                d[i][j] = _mm256_loadu_ps(plane + ((y + i) * width + x + j) * LANES);
        return;
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            const int64_t r = y + i, c = x + j;
            d[i][j] = r >= 0 && r < height && c >= 0 && c < width
                          ? _mm256_loadu_ps(plane + (r * width + c) * LANES)
                          : _mm256_setzero_ps();
        }
}

/* V = Bᵀ d B for nt tiles of tile row ty from tile t0 on: v[p·stride + t·k + c] for position
 * p, tile t and input channel c. */
static inline AVX2 void input_transform(const doubt_winograd *w, const float *image, int64_t ty,
                                        int64_t t0, int64_t nt, float *v, int64_t stride)
{
    const int64_t plane_floats = w->height * w->width * LANES, k = w->k;
    for (int64_t cb = 0; cb < k / LANES; cb++) {
        const float *plane = image + cb * plane_floats;
        for (int64_t t = 0; t < nt; t++) {
            __m256 d[4][4], r[4][4];
            load_patch(plane, w->height, w->width, 2 * ty - 1, 2 * (t0 + t) - 1, d);
            for (int j = 0; j < 4; j++) {
                r[0][j] = _mm256_sub_ps(d[0][j], d[2][j]);
                r[1][j] = _mm256_add_ps(d[1][j], d[2][j]);
                r[2][j] = _mm256_sub_ps(d[2][j], d[1][j]);
                r[3][j] = _mm256_sub_ps(d[1][j], d[3][j]);
            }
            float *dst = v + t * k + cb * LANES;
            for (int i = 0; i < 4; i++) {
                _mm256_storeu_ps(dst + (4 * i + 0) * stride, _mm256_sub_ps(r[i][0], r[i][2]));
                _mm256_storeu_ps(dst + (4 * i + 1) * stride, _mm256_add_ps(r[i][1], r[i][2]));
                _mm256_storeu_ps(dst + (4 * i + 2) * stride, _mm256_sub_ps(r[i][2], r[i][1]));
                _mm256_storeu_ps(dst + (4 * i + 3) * stride, _mm256_sub_ps(r[i][1], r[i][3]));
            }
        }
    }
}

/* c[rows × width] (+)= a[rows × k] · b[k × width]: a's element (r, kk) at a[r·a_row + kk·a_step],
 * b's row kk at b + kk·b_step (width PANEL or LANES), c's rows `ldc` apart, added to when
 * `add`. Inlined with constant rows, width and add, the accumulators are named registers (an
 * array of them GCC keeps in memory): 12 FMAs per 2 loads of b and 6 broadcasts of a. */
#define ROW_INIT(r)                                                                          \
    if (rows > r && add) {                                                                   \
        c##r##0 = _mm256_loadu_ps(c + r * ldc);                                              \
        if (width == PANEL)                                                                  \
            c##r##1 = _mm256_loadu_ps(c + r * ldc + LANES);                                  \
    }
#define ROW_FMA(r)                                                                           \
    if (rows > r) {                                                                          \
        const __m256 x = _mm256_broadcast_ss(a + r * a_row + kk * a_step);                   \
        c##r##0 = _mm256_fmadd_ps(x, b0, c##r##0);                                           \
        if (width == PANEL)                                                                  \
            c##r##1 = _mm256_fmadd_ps(x, b1, c##r##1);                                       \
    }
#define ROW_STORE(r)                                                                         \
    if (rows > r) {                                                                          \
        _mm256_storeu_ps(c + r * ldc, c##r##0);                                              \
        if (width == PANEL)                                                                  \
            _mm256_storeu_ps(c + r * ldc + LANES, c##r##1);                                  \
    }
#define EACH_ROW(step) step(0) step(1) step(2) step(3) step(4) step(5)

typedef struct {
    int64_t k;             /* the products' common dimension */
    int64_t a_row, a_step; /* a's strides between rows and along k */
    int64_t b_step;        /* b's between rows */
    int64_t ldc;
} product_shape;

static inline __attribute__((always_inline)) AVX2 void
block_product(int rows, int width, int add, const product_shape *shape, const float *a,
              const float *b, float *c)
{
    const int64_t a_row = shape->a_row, a_step = shape->a_step, b_step = shape->b_step;
    const int64_t ldc = shape->ldc;
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    EACH_ROW(ROW_INIT)
    for (int64_t kk = 0; kk < shape->k; kk++) {
        const __m256 b0 = _mm256_loadu_ps(b + kk * b_step);
        const __m256 b1 = width == PANEL ? _mm256_loadu_ps(b + kk * b_step + LANES) : b0;
        EACH_ROW(ROW_FMA)
    }
    EACH_ROW(ROW_STORE)
}

#define PRODUCT_CASE(R)                                                                      \
    case R:                                                                                  \
        if (width == PANEL && add)                                                           \
            block_product(R, PANEL, 1, shape, a, b, c);                                      \
        else if (width == PANEL)                                                             \
            block_product(R, PANEL, 0, shape, a, b, c);                                      \
        else if (add)                                                                        \
            block_product(R, LANES, 1, shape, a, b, c);                                      \
        else                                                                                 \
            block_product(R, LANES, 0, shape, a, b, c);                                      \
        break;

static AVX2 void product(int rows, int width, int add, const product_shape *shape,
                         const float *a, const float *b, float *c)
{
    switch (rows) {
        PRODUCT_CASE(1)
        PRODUCT_CASE(2)
        PRODUCT_CASE(3)
        PRODUCT_CASE(4)
        PRODUCT_CASE(5)
        PRODUCT_CASE(6)
    }
}

/* M[p] = V[p] · U[p] for the chunk's nt tiles, every position p. */
static inline AVX2 void products(const doubt_winograd *w, const float *v, float *m, int64_t nt)
{
    const int64_t k = w->k, n = w->n;
    for (int p = 0; p < POSITIONS; p++) {
        const float *vp = v + p * w->chunk * k, *up = w->u + p * k * n;
        float *mp = m + p * w->chunk * n;
        for (int64_t start = 0; start < n; start += PANEL) {
            const int width = (int)panel_width(w, start);
            const product_shape shape = {.k = k, .a_row = k, .a_step = 1, .b_step = width,
                                         .ldc = n};
            for (int64_t t = 0; t < nt; t += ROWS) {
                const int rows = nt - t < ROWS ? (int)(nt - t) : ROWS;
                product(rows, width, 0, &shape, vp + t * k, up + start * k, mp + t * n + start);
            }
        }
    }
}

/* Y = Aᵀ M A per tile and output block, then bias, the optional sum into dst, the ReLU. */
static inline AVX2 void output_transform(const doubt_winograd *w, const float *m, int64_t ty,
                                         int64_t t0, int64_t nt, float *image, int64_t stride)
{
    const int64_t n = w->n, plane_floats = w->height * w->width * LANES;
    const __m256 zero = _mm256_setzero_ps();
    for (int64_t ob = 0; ob < n / LANES; ob++) {
        const __m256 bias = _mm256_loadu_ps(w->bias + ob * LANES);
        float *plane = image + ob * plane_floats;
        for (int64_t t = 0; t < nt; t++) {
            const float *src = m + t * n + ob * LANES;
            __m256 s[2][4];
            for (int j = 0; j < 4; j++) {
                const __m256 m0 = _mm256_loadu_ps(src + (0 + j) * stride);
                const __m256 m1 = _mm256_loadu_ps(src + (4 + j) * stride);
                const __m256 m2 = _mm256_loadu_ps(src + (8 + j) * stride);
                const __m256 m3 = _mm256_loadu_ps(src + (12 + j) * stride);
                s[0][j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
                s[1][j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
            }
            for (int i = 0; i < 2; i++) {
                const int64_t y = 2 * ty + i;
                if (y >= w->height)
                    break;
                const __m256 out[2] = {
                    _mm256_add_ps(_mm256_add_ps(s[i][0], s[i][1]), s[i][2]),
                    _mm256_sub_ps(_mm256_sub_ps(s[i][1], s[i][2]), s[i][3])};
                for (int j = 0; j < 2; j++) {
                    const int64_t x = 2 * (t0 + t) + j;
                    if (x >= w->width)
                        break;
                    float *at = plane + (y * w->width + x) * LANES;
                    __m256 value = _mm256_add_ps(out[j], bias);
                    if (w->desc.accumulate)
                        value = _mm256_add_ps(value, _mm256_loadu_ps(at));
                    if (w->desc.relu)
                        value = _mm256_max_ps(value, zero); /* NaN -> 0, as oneDNN's post-op */
                    _mm256_storeu_ps(at, value);
                }
            }
        }
    }
}

static AVX2 void run_unit(const doubt_winograd *w, const float *src, float *dst, int64_t unit,
                          float *scratch)
{
    const int64_t pieces = w->row_pieces, per_image = w->row_groups * pieces;
    const int64_t b = unit / per_image, rest = unit % per_image;
    const int64_t ty0 = rest / pieces * w->chunk_rows, t0 = rest % pieces * w->row_tiles;
    const int64_t rows = w->tiles_h - ty0 < w->chunk_rows ? w->tiles_h - ty0 : w->chunk_rows;
    const int64_t row_nt = w->tiles_w - t0 < w->row_tiles ? w->tiles_w - t0 : w->row_tiles;
    const int64_t plane = w->height * w->width;
    float *v = scratch, *m = scratch + POSITIONS * w->chunk * w->k;
    for (int64_t r = 0; r < rows; r++)
        input_transform(w, src + b * w->k * plane, ty0 + r, t0, row_nt, v + r * row_nt * w->k,
                        w->chunk * w->k);
    products(w, v, m, rows * row_nt);
    for (int64_t r = 0; r < rows; r++)
        output_transform(w, m + r * row_nt * w->n, ty0 + r, t0, row_nt, dst + b * w->n * plane,
                         w->chunk * w->n);
}

doubt_status doubt_winograd_forward(doubt_ctx *ctx, doubt_winograd *w, const float *src,
                                    float *dst)
{
    if (!w->ready)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG, "conv %s: Winograd run before its weights",
                          w->name);
    const int64_t units = w->batch * w->row_groups * w->row_pieces;
#pragma omp parallel num_threads(w->threads)
    {
        float *scratch = w->scratch + (size_t)omp_get_thread_num() * w->scratch_floats;
#pragma omp for schedule(dynamic)
        for (int64_t unit = 0; unit < units; unit++)
            run_unit(w, src, dst, unit, scratch);
    }
    return DOUBT_OK;
}

/* ---- the weight gradient: F(3×3, 2×2) ----
 * dW[o][c][u][v] = Σ over pixels of dy[o][y][x]·x[c][y+u−1][x+v−1]. Per 2×2 tile of dy (g)
 * and the 4×4 input patch d over it, the 3×3 correlation of d with g is
 *   Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A,   G = [1 0; ½ ½; ½ −½; 0 1],  Aᵀ = [1 1 1 0; 0 1 −1 0; 0 1 1 −1]
 * with the forward's Bᵀ, so the sum over tiles is again 16 matrix products, [c × tiles]·
 * [tiles × o], and one output transform per weight at the end. */

/* D = G g Gᵀ for the tiles of tile row ty of diff_dst (zero past the image's last row and
 * column): d[p·stride + t·n + o]. */
static inline AVX2 void gradient_transform(const doubt_winograd *w, const float *image,
                                           int64_t ty, float *d, int64_t stride)
{
    const int64_t plane_floats = w->height * w->width * LANES, n = w->n;
    const __m256 half = _mm256_set1_ps(0.5f), zero = _mm256_setzero_ps();
    for (int64_t ob = 0; ob < n / LANES; ob++) {
        const float *plane = image + ob * plane_floats;
        for (int64_t t = 0; t < w->tiles_w; t++) {
            __m256 g[2][2], h[4][2];
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++) {
                    const int64_t y = 2 * ty + a, x = 2 * t + b;
                    g[a][b] = y < w->height && x < w->width
                                  ? _mm256_loadu_ps(plane + (y * w->width + x) * LANES)
                                  : zero;
                }
            for (int b = 0; b < 2; b++) {
                h[0][b] = g[0][b];
                h[1][b] = _mm256_mul_ps(_mm256_add_ps(g[0][b], g[1][b]), half);
                h[2][b] = _mm256_mul_ps(_mm256_sub_ps(g[0][b], g[1][b]), half);
                h[3][b] = g[1][b];
            }
            float *dst = d + t * n + ob * LANES;
            for (int i = 0; i < 4; i++) {
                _mm256_storeu_ps(dst + (4 * i + 0) * stride, h[i][0]);
                _mm256_storeu_ps(dst + (4 * i + 1) * stride,
                                 _mm256_mul_ps(_mm256_add_ps(h[i][0], h[i][1]), half));
                _mm256_storeu_ps(dst + (4 * i + 2) * stride,
                                 _mm256_mul_ps(_mm256_sub_ps(h[i][0], h[i][1]), half));
                _mm256_storeu_ps(dst + (4 * i + 3) * stride, h[i][1]);
            }
        }
    }
}

/* One unit: grad_rows tile rows of one image, added into the thread's sums m. */
static AVX2 void gradient_unit(const doubt_winograd *w, const float *src, const float *diff_dst,
                               int64_t unit, float *scratch)
{
    const int64_t k = w->k, n = w->n, cap = w->grad_rows * w->tiles_w;
    const int64_t groups = (w->tiles_h + w->grad_rows - 1) / w->grad_rows;
    const int64_t b = unit / groups, ty0 = unit % groups * w->grad_rows;
    const int64_t rows = w->tiles_h - ty0 < w->grad_rows ? w->tiles_h - ty0 : w->grad_rows;
    const int64_t nt = rows * w->tiles_w, plane = w->height * w->width;
    float *v = scratch, *d = v + POSITIONS * cap * k, *m = d + POSITIONS * cap * n;
    for (int64_t r = 0; r < rows; r++) {
        input_transform(w, src + b * k * plane, ty0 + r, 0, w->tiles_w, v + r * w->tiles_w * k,
                        cap * k);
        gradient_transform(w, diff_dst + b * n * plane, ty0 + r, d + r * w->tiles_w * n, cap * n);
    }
    for (int p = 0; p < POSITIONS; p++) {
        const float *vp = v + p * cap * k, *dp = d + p * cap * n;
        float *mp = m + p * k * n;
        for (int64_t start = 0; start < n; start += PANEL) {
            const int width = (int)panel_width(w, start);
            const product_shape shape = {.k = nt, .a_row = 1, .a_step = k, .b_step = n, .ldc = n};
            for (int64_t c = 0; c < k; c += ROWS) {
                const int crows = k - c < ROWS ? (int)(k - c) : ROWS;
                product(crows, width, 1, &shape, vp + c, dp + start, mp + c * n + start);
            }
        }
    }
}

/* dW = Aᵀ M A per weight from the summed products. */
static void gradient_output(const doubt_winograd *w, const float *m, float *diff_weight)
{
    const int64_t out = w->desc.out_channels, in = w->desc.in_channels, k = w->k, n = w->n;
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < out; o++)
        for (int64_t c = 0; c < in; c++) {
            double s[3][4];
            for (int j = 0; j < 4; j++) {
                const double m0 = m[(0 + j) * k * n + c * n + o], m1 = m[(4 + j) * k * n + c * n + o];
                const double m2 = m[(8 + j) * k * n + c * n + o];
                const double m3 = m[(12 + j) * k * n + c * n + o];
                s[0][j] = m0 + m1 + m2;
                s[1][j] = m1 - m2;
                s[2][j] = m1 + m2 - m3;
            }
            float *g = diff_weight + (o * in + c) * 9;
            for (int u = 0; u < 3; u++) {
                g[3 * u + 0] = (float)(s[u][0] + s[u][1] + s[u][2]);
                g[3 * u + 1] = (float)(s[u][1] - s[u][2]);
                g[3 * u + 2] = (float)(s[u][1] + s[u][2] - s[u][3]);
            }
        }
}

doubt_status doubt_winograd_weight_gradient(doubt_ctx *ctx, doubt_winograd *w, const float *src,
                                            const float *diff_dst, float *diff_weight)
{
    if (!w->grad_scratch)
        return doubt_fail(&ctx->err, DOUBT_ERR_ARG,
                          "conv %s: Winograd made without its weight gradient", w->name);
    const int64_t units = w->batch * ((w->tiles_h + w->grad_rows - 1) / w->grad_rows);
    const size_t sums = (size_t)(POSITIONS * w->k * w->n);
    const size_t sums_at = w->grad_floats - sums;
    /* OpenMP may start fewer threads than asked: only the team's sums are added. A static
     * schedule gives each thread the same units every step, so the sums' rounding, and a
     * resumed run, repeat bit for bit (for one thread count). */
    int team = 1;
#pragma omp parallel num_threads(w->threads)
    {
        float *scratch = w->grad_scratch + (size_t)omp_get_thread_num() * w->grad_floats;
        memset(scratch + sums_at, 0, sums * sizeof(float));
#pragma omp single
        team = omp_get_num_threads();
#pragma omp for schedule(static)
        for (int64_t unit = 0; unit < units; unit++)
            gradient_unit(w, src, diff_dst, unit, scratch);
    }
    float *total = w->grad_scratch + sums_at;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < sums; i++)
        for (int t = 1; t < team; t++)
            total[i] += w->grad_scratch[(size_t)t * w->grad_floats + sums_at + i];
    gradient_output(w, total, diff_weight);
    return DOUBT_OK;
}

void doubt_winograd_destroy(doubt_winograd *w)
{
    if (!w)
        return;
    free(w->u);
    free(w->bias);
    free(w->scratch);
    free(w->grad_scratch);
    free(w);
}
