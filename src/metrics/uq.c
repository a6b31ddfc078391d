#include "uq.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

/* ---- bounded deterministic subsample ----------------------------------------------------- */

#define PIXSAMPLE_LAYER 0x50495853u /* "PIXS": keeps these draws apart from dropout's */

/* Pixels are appended to a buffer of 1.5 × cap slots, so slot order is arrival order. When it
 * is full, it is cut back to the cap smallest (priority, position), and from then on only a
 * priority below the cap-th smallest can ever make it into the final sample, so the others are
 * dropped on arrival. This costs O(1) per pixel amortised, where a heap of the cap best would
 * pay a cache-missing sift for most pixels of a large dataset. */
struct doubt_pixsample {
    int64_t cap, slots, count, seen, offered;
    int nfields;
    uint64_t seed;
    uint64_t bar;   /* accept a priority < bar (2^32 until the first cut) */
    uint32_t *prio; /* [slots] */
    uint64_t *keys; /* [slots] scratch for the cut: priority << 32 | slot */
    float *data;    /* [nfields][slots] */
};

doubt_status doubt_pixsample_create(int64_t cap, int nfields, uint64_t seed, doubt_pixsample **out,
                                    doubt_error *err)
{
    *out = NULL;
    if (cap < 1 || cap > DOUBT_PIXSAMPLE_MAX_CAP || nfields < 1 ||
        nfields > DOUBT_PIXSAMPLE_MAX_FIELDS)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "pixel sample: cap %lld must be 1..%lld and fields %d 1..%d",
                          (long long)cap, (long long)DOUBT_PIXSAMPLE_MAX_CAP, nfields,
                          DOUBT_PIXSAMPLE_MAX_FIELDS);
    doubt_pixsample *s = calloc(1, sizeof *s);
    const int64_t slots = cap + cap / 2 + 1;
    if (s) {
        s->prio = malloc((size_t)slots * sizeof *s->prio);
        s->keys = malloc((size_t)slots * sizeof *s->keys);
        s->data = malloc((size_t)slots * (size_t)nfields * sizeof *s->data);
    }
    if (!s || !s->prio || !s->keys || !s->data) {
        doubt_pixsample_destroy(s);
        return doubt_fail(err, DOUBT_ERR_NOMEM,
                          "pixel sample: no memory for %lld pixels x %d fields", (long long)cap,
                          nfields);
    }
    s->cap = cap;
    s->slots = slots;
    s->nfields = nfields;
    s->seed = seed;
    s->bar = (uint64_t)1 << 32;
    *out = s;
    return DOUBT_OK;
}

void doubt_pixsample_destroy(doubt_pixsample *s)
{
    if (!s)
        return;
    free(s->prio);
    free(s->keys);
    free(s->data);
    free(s);
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Keeps the cap smallest (priority, slot) in slot order; slot order is position order, so
 * this is the (priority, position) order the header promises. */
static void cut(doubt_pixsample *s)
{
    if (s->count <= s->cap)
        return;
    for (int64_t i = 0; i < s->count; i++)
        s->keys[i] = (uint64_t)s->prio[i] << 32 | (uint64_t)i;
    qsort(s->keys, (size_t)s->count, sizeof *s->keys, cmp_u64);
    s->bar = s->keys[s->cap - 1] >> 32;
    /* a later pixel has a larger position, so it beats the cap-th kept one only with a
     * strictly smaller priority */
    for (int64_t k = 0; k < s->cap; k++)
        s->keys[k] &= 0xffffffffu;
    qsort(s->keys, (size_t)s->cap, sizeof *s->keys, cmp_u64);
    for (int64_t k = 0; k < s->cap; k++) {
        const int64_t from = (int64_t)s->keys[k];
        s->prio[k] = s->prio[from];
        for (int f = 0; f < s->nfields; f++)
            s->data[f * s->slots + k] = s->data[f * s->slots + from];
    }
    s->count = s->cap;
}

doubt_status doubt_pixsample_add(doubt_pixsample *s, const float *const *fields,
                                 const uint8_t *valid, int64_t npix, doubt_error *err)
{
    if (!s || !fields || npix < 0)
        return doubt_fail(err, DOUBT_ERR_ARG, "pixel sample: need fields and npix >= 0");
    for (int f = 0; f < s->nfields; f++) {
        if (!fields[f])
            return doubt_fail(err, DOUBT_ERR_ARG, "pixel sample: field %d is NULL", f);
        for (int64_t i = 0; i < npix; i++)
            if ((!valid || valid[i]) && !isfinite(fields[f][i]))
                return doubt_fail(err, DOUBT_ERR_NUMERIC,
                                  "pixel sample: field %d of pixel %lld is not finite", f,
                                  (long long)i);
    }
    const doubt_rng_key key = {s->seed, 0, PIXSAMPLE_LAYER};
    for (int64_t i = 0; i < npix; i++) {
        if (valid && !valid[i])
            continue;
        s->seen++;
        const uint32_t pr = doubt_rng_bits(key, (uint64_t)(s->offered + i));
        if (pr >= s->bar)
            continue;
        if (s->count == s->slots)
            cut(s);
        if (pr >= s->bar) /* the cut may have lowered the bar below it */
            continue;
        s->prio[s->count] = pr;
        for (int f = 0; f < s->nfields; f++)
            s->data[f * s->slots + s->count] = fields[f][i];
        s->count++;
    }
    s->offered += npix;
    return DOUBT_OK;
}

int64_t doubt_pixsample_count(const doubt_pixsample *s)
{
    return s->count < s->cap ? s->count : s->cap;
}

int64_t doubt_pixsample_seen(const doubt_pixsample *s) { return s->seen; }

void doubt_pixsample_export(doubt_pixsample *s, int field, float *out)
{
    cut(s);
    memcpy(out, s->data + (int64_t)field * s->slots, (size_t)s->count * sizeof *out);
}

/* ---- sparsification and AUSE ------------------------------------------------------------ */

typedef struct {
    float key;
    float e;
    int64_t idx;
} keyed;

/* key descending, then index ascending: a total order, so qsort's instability cannot show */
static int by_key_desc(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key > b->key ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/* The curve of the metric after removing the first floor(k n / 50) of v (sorted), not yet
 * normalised. */
static void curve(keyed *v, int64_t n, doubt_sparse_kind kind, double *out, double *suffix)
{
    qsort(v, (size_t)n, sizeof *v, by_key_desc);
    suffix[n] = 0.0;
    for (int64_t j = n - 1; j >= 0; j--) {
        const double e = v[j].e;
        suffix[j] = suffix[j + 1] + (kind == DOUBT_SPARSE_RMSE ? e * e : e);
    }
    for (int k = 0; k < DOUBT_SPARSE_STEPS; k++) {
        const int64_t removed = k * n / DOUBT_SPARSE_STEPS;
        const double mean = suffix[removed] / (double)(n - removed);
        out[k] = kind == DOUBT_SPARSE_RMSE ? sqrt(mean) : mean;
    }
}

doubt_status doubt_sparsification_compute(const float *uncertainty, const float *e, int64_t n,
                                          doubt_sparse_kind kind, doubt_sparsification *out,
                                          doubt_error *err)
{
    for (int k = 0; k < DOUBT_SPARSE_STEPS; k++) {
        out->fraction[k] = (double)k / DOUBT_SPARSE_STEPS;
        out->model[k] = out->oracle[k] = NAN;
    }
    out->full = out->ause = NAN;
    if (n < 0 || (n > 0 && (!uncertainty || !e)))
        return doubt_fail(err, DOUBT_ERR_ARG, "sparsification: need arrays and n >= 0");
    if (n == 0)
        return DOUBT_OK;
    keyed *v = malloc((size_t)n * sizeof *v);
    double *suffix = malloc((size_t)(n + 1) * sizeof *suffix);
    if (!v || !suffix) {
        free(v);
        free(suffix);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "sparsification: no memory for %lld pixels",
                          (long long)n);
    }
    for (int64_t i = 0; i < n; i++)
        v[i] = (keyed){uncertainty[i], e[i], i};
    curve(v, n, kind, out->model, suffix);
    for (int64_t i = 0; i < n; i++)
        v[i] = (keyed){kind == DOUBT_SPARSE_RMSE ? fabsf(e[i]) : e[i], e[i], i};
    curve(v, n, kind, out->oracle, suffix);
    free(v);
    free(suffix);

    out->full = out->model[0];
    /* Each curve over its own first point: both start at exactly 1. */
    const double m0 = out->model[0], o0 = out->oracle[0];
    for (int k = 0; k < DOUBT_SPARSE_STEPS; k++) {
        out->model[k] = m0 > 0.0 ? out->model[k] / m0 : 0.0;
        out->oracle[k] = o0 > 0.0 ? out->oracle[k] / o0 : 0.0;
    }
    double area = 0.0;
    for (int k = 0; k + 1 < DOUBT_SPARSE_STEPS; k++) {
        const double d0 = out->model[k] - out->oracle[k];
        const double d1 = out->model[k + 1] - out->oracle[k + 1];
        area += 0.5 * (d0 + d1) * (out->fraction[k + 1] - out->fraction[k]);
    }
    out->ause = area;
    return DOUBT_OK;
}

/* ---- ranking figures ----------------------------------------------------------------------- */

static int by_key_asc(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/* rank[i] = the 1-based rank of x[i], ties sharing the mean of their ranks. 0 on no memory. */
static int average_ranks(const float *x, int64_t n, double *rank)
{
    keyed *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return 0;
    for (int64_t i = 0; i < n; i++)
        v[i] = (keyed){x[i], 0.0f, i};
    qsort(v, (size_t)n, sizeof *v, by_key_asc);
    for (int64_t lo = 0; lo < n;) {
        int64_t hi = lo + 1;
        while (hi < n && v[hi].key == v[lo].key)
            hi++;
        const double r = 0.5 * (double)(lo + 1 + hi); /* mean of lo+1 .. hi */
        for (int64_t j = lo; j < hi; j++)
            rank[v[j].idx] = r;
        lo = hi;
    }
    free(v);
    return 1;
}

double doubt_auroc(const float *score, const uint8_t *positive, int64_t n)
{
    int64_t npos = 0;
    for (int64_t i = 0; i < n; i++)
        npos += positive[i] != 0;
    const int64_t nneg = n - npos;
    if (npos == 0 || nneg == 0)
        return NAN;
    double *rank = malloc((size_t)n * sizeof *rank);
    if (!rank || !average_ranks(score, n, rank)) {
        free(rank);
        return NAN;
    }
    double rsum = 0.0;
    for (int64_t i = 0; i < n; i++)
        if (positive[i])
            rsum += rank[i];
    free(rank);
    const double u = rsum - 0.5 * (double)npos * (double)(npos + 1);
    return u / ((double)npos * (double)nneg);
}

double doubt_spearman(const float *a, const float *b, int64_t n)
{
    if (n < 2)
        return NAN;
    double *ra = malloc((size_t)n * sizeof *ra), *rb = malloc((size_t)n * sizeof *rb);
    double r = NAN;
    if (ra && rb && average_ranks(a, n, ra) && average_ranks(b, n, rb)) {
        /* both rank sets have mean (n + 1) / 2 exactly */
        const double mean = 0.5 * (double)(n + 1);
        double sab = 0.0, saa = 0.0, sbb = 0.0;
        for (int64_t i = 0; i < n; i++) {
            const double da = ra[i] - mean, db = rb[i] - mean;
            sab += da * db;
            saa += da * da;
            sbb += db * db;
        }
        if (saa > 0.0 && sbb > 0.0)
            r = sab / sqrt(saa * sbb);
    }
    free(ra);
    free(rb);
    return r;
}

double doubt_mean_ratio(const float *pred, const float *ref, int64_t n)
{
    double sp = 0.0, sr = 0.0;
    for (int64_t i = 0; i < n; i++) {
        sp += pred[i];
        sr += ref[i];
    }
    return n > 0 && sr != 0.0 ? sp / sr : NAN;
}

static int by_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v[0..k) in place and returns its median (the mean of the two middle values when k
 * is even), NaN when k is 0. */
static double median_in_place(double *v, int64_t k)
{
    qsort(v, (size_t)k, sizeof *v, by_double);
    return k == 0 ? NAN : k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

double doubt_median_ratio(const float *pred, const float *ref, int64_t n)
{
    double *r = malloc((size_t)(n > 0 ? n : 1) * sizeof *r);
    if (!r)
        return NAN;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (ref[i] > 0)
            r[k++] = (double)pred[i] / ref[i];
    const double m = median_in_place(r, k);
    free(r);
    return m;
}

double doubt_median(const float *v, int64_t n)
{
    double *r = malloc((size_t)(n > 0 ? n : 1) * sizeof *r);
    if (!r)
        return NAN;
    for (int64_t i = 0; i < n; i++)
        r[i] = v[i];
    const double m = median_in_place(r, n > 0 ? n : 0);
    free(r);
    return m;
}

/* ---- PAvPU ---------------------------------------------------------------------------------- */

typedef struct {
    double uncertainty; /* double, so a kept patch compares exactly as a counted one would */
    uint8_t accurate;
} patch;

struct doubt_pavpu {
    double threshold;     /* NaN: dataset mean, decided at the end */
    int64_t counts[2][2]; /* [accurate][certain] when the threshold is fixed */
    patch *patches;       /* kept only when the threshold is NaN */
    int64_t npatches, patch_cap;
    double unc_sum;
    int64_t unc_pixels;
};

doubt_status doubt_pavpu_create(double threshold, doubt_pavpu **out, doubt_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "pavpu: no memory");
    (*out)->threshold = threshold;
    return DOUBT_OK;
}

void doubt_pavpu_destroy(doubt_pavpu *p)
{
    if (!p)
        return;
    free(p->patches);
    free(p);
}

doubt_status doubt_pavpu_add(doubt_pavpu *p, const uint8_t *correct, const uint8_t *valid,
                             const float *uncertainty, int height, int width, doubt_error *err)
{
    if (!p || !correct || !uncertainty || height < 0 || width < 0)
        return doubt_fail(err, DOUBT_ERR_ARG,
                          "pavpu: need correct and uncertainty maps and a size >= 0");
    const int64_t n = (int64_t)height * width;
    for (int64_t i = 0; i < n; i++)
        if ((!valid || valid[i]) && !isfinite(uncertainty[i]))
            return doubt_fail(err, DOUBT_ERR_NUMERIC,
                              "pavpu: uncertainty at pixel (%d, %d) is not finite",
                              (int)(i % width), (int)(i / width));
    const int P = DOUBT_PAVPU_PATCH;
    const int64_t px = (width + P - 1) / P, py = (height + P - 1) / P;
    const int keep = isnan(p->threshold);
    if (keep && p->npatches + px * py > p->patch_cap) {
        int64_t cap = p->patch_cap ? p->patch_cap : 4096;
        while (cap < p->npatches + px * py)
            cap *= 2;
        patch *grown = realloc(p->patches, (size_t)cap * sizeof *grown);
        if (!grown)
            return doubt_fail(err, DOUBT_ERR_NOMEM, "pavpu: no memory for %lld patches",
                              (long long)cap);
        p->patches = grown;
        p->patch_cap = cap;
    }
    for (int by = 0; by < height; by += P)
        for (int bx = 0; bx < width; bx += P) {
            int nvalid = 0, ncorrect = 0;
            double usum = 0.0;
            for (int y = by; y < by + P && y < height; y++)
                for (int x = bx; x < bx + P && x < width; x++) {
                    const int64_t i = (int64_t)y * width + x;
                    if (valid && !valid[i])
                        continue;
                    nvalid++;
                    ncorrect += correct[i] != 0;
                    usum += uncertainty[i];
                }
            if (nvalid == 0)
                continue;
            p->unc_sum += usum;
            p->unc_pixels += nvalid;
            const int accurate = (double)ncorrect / nvalid >= DOUBT_PAVPU_ACC;
            const double u = usum / nvalid;
            if (keep)
                p->patches[p->npatches++] = (patch){u, (uint8_t)accurate};
            else
                p->counts[accurate][u < p->threshold]++;
        }
    return DOUBT_OK;
}

void doubt_pavpu_summary(const doubt_pavpu *p, doubt_pavpu_result *r)
{
    int64_t c[2][2] = {{p->counts[0][0], p->counts[0][1]}, {p->counts[1][0], p->counts[1][1]}};
    double thr = p->threshold;
    if (isnan(thr)) {
        thr = p->unc_pixels ? p->unc_sum / (double)p->unc_pixels : NAN;
        for (int64_t k = 0; k < p->npatches; k++)
            c[p->patches[k].accurate][p->patches[k].uncertainty < thr]++;
    }
    r->n_ac = c[1][1];
    r->n_au = c[1][0];
    r->n_ic = c[0][1];
    r->n_iu = c[0][0];
    r->threshold = thr;
    const int64_t total = r->n_ac + r->n_au + r->n_ic + r->n_iu;
    r->pavpu = total ? (double)(r->n_ac + r->n_iu) / (double)total : NAN;
    r->p_accurate_given_certain =
        r->n_ac + r->n_ic ? (double)r->n_ac / (double)(r->n_ac + r->n_ic) : NAN;
    r->p_uncertain_given_inaccurate =
        r->n_ic + r->n_iu ? (double)r->n_iu / (double)(r->n_ic + r->n_iu) : NAN;
}
