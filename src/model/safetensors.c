#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/fsutil.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [DOUBT_DT_BOOL] = {"BOOL", 1},    [DOUBT_DT_U8] = {"U8", 1},
    [DOUBT_DT_I8] = {"I8", 1},        [DOUBT_DT_F8_E5M2] = {"F8_E5M2", 1},
    [DOUBT_DT_F8_E4M3] = {"F8_E4M3", 1}, [DOUBT_DT_I16] = {"I16", 2},
    [DOUBT_DT_U16] = {"U16", 2},      [DOUBT_DT_F16] = {"F16", 2},
    [DOUBT_DT_BF16] = {"BF16", 2},    [DOUBT_DT_I32] = {"I32", 4},
    [DOUBT_DT_U32] = {"U32", 4},      [DOUBT_DT_F32] = {"F32", 4},
    [DOUBT_DT_F64] = {"F64", 8},      [DOUBT_DT_I64] = {"I64", 8},
    [DOUBT_DT_U64] = {"U64", 8},
};
#define N_DTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

const char *doubt_dtype_name(doubt_dtype dt)
{
    return (int)dt >= 0 && (int)dt < N_DTYPES ? dtypes[dt].name : "?";
}

size_t doubt_dtype_size(doubt_dtype dt)
{
    return (int)dt >= 0 && (int)dt < N_DTYPES ? dtypes[dt].size : 0;
}

static bool is_float(doubt_dtype dt)
{
    return dt == DOUBT_DT_F32 || dt == DOUBT_DT_F16 || dt == DOUBT_DT_BF16 || dt == DOUBT_DT_F64;
}

static float bits_to_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float doubt_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in float32 */
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    if (exp == 31) /* infinity, or NaN with its payload kept in the high mantissa bits */
        return bits_to_f32(sign | 0x7f800000u | (mant << 13));
    return bits_to_f32(sign | ((exp - 15 + 127) << 23) | (mant << 13));
}

float doubt_bf16_to_f32(uint16_t b)
{
    /* bfloat16 is the top half of a float32, so every class maps exactly. */
    return bits_to_f32((uint32_t)b << 16);
}

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = v << 8 | p[k];
    return v;
}

/* Converts count elements of little-endian dtype at src to float. */
static void convert(doubt_dtype dt, const unsigned char *src, int64_t count, float *dst)
{
    for (int64_t i = 0; i < count; i++) {
        const unsigned char *p = src + i * (int64_t)dtypes[dt].size;
        switch (dt) {
        case DOUBT_DT_F16: dst[i] = doubt_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); break;
        case DOUBT_DT_BF16: dst[i] = doubt_bf16_to_f32((uint16_t)(p[0] | p[1] << 8)); break;
        case DOUBT_DT_F32:
            dst[i] = bits_to_f32((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                                 (uint32_t)p[3] << 24);
            break;
        case DOUBT_DT_F64: {
            uint64_t u = le64(p);
            double d;
            memcpy(&d, &u, sizeof d);
            dst[i] = (float)d;
            break;
        }
        default: return; /* only float dtypes reach here */
        }
    }
}

void doubt_safetensors_destroy(doubt_safetensors *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n_tensors; i++) {
        free(f->tensors[i].name);
        free(f->tensors[i].data);
    }
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_values[i]);
    }
    free(f->meta_keys);
    free(f->meta_values);
    free(f->path);
    free(f);
}

/* A non-negative integer in a JSON number (cJSON holds doubles: exact up to 2^53). */
static bool json_u53(const cJSON *item, int64_t *out)
{
    if (!cJSON_IsNumber(item))
        return false;
    double v = item->valuedouble;
    if (!(v >= 0) || v > 9007199254740992.0 || v != floor(v))
        return false;
    *out = (int64_t)v;
    return true;
}

/* Byte range of one header entry, kept beside the tensor while the ranges are checked. */
typedef struct {
    int64_t begin, end;
    int index;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* No key of the object twice: sorted, so a header of millions of entries costs n log n
 * comparisons, not n^2. */
static doubt_status check_unique_keys(const char *path, const cJSON *object, doubt_error *err)
{
    size_t n = 0;
    for (const cJSON *e = object->child; e; e = e->next)
        n++;
    const char **keys = malloc((n + 1) * sizeof *keys);
    if (!keys)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory for %zu header keys", path, n);
    size_t k = 0;
    for (const cJSON *e = object->child; e; e = e->next)
        keys[k++] = e->string;
    qsort(keys, n, sizeof *keys, by_string);
    doubt_status st = DOUBT_OK;
    for (k = 1; k < n && !st; k++)
        if (!strcmp(keys[k - 1], keys[k]))
            st = doubt_fail(err, DOUBT_ERR_FORMAT, "%s: header key '%.64s' appears twice", path,
                            keys[k]);
    free(keys);
    return st;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Values no network can use: NaN or infinity anywhere, a negative variance (batch-norm
 * folding takes its square root). The message names the tensor and the first bad element. */
static doubt_status check_values(const char *path, const doubt_st_tensor *t, doubt_error *err)
{
    const bool variance = ends_with(t->name, ".running_var");
    for (int64_t i = 0; i < t->count; i++) {
        const float v = t->data[i];
        if (isnan(v))
            return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: %s holds NaN at element %lld", path,
                              t->name, (long long)i);
        if (isinf(v))
            return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: %s holds %s at element %lld", path,
                              t->name, v > 0 ? "inf" : "-inf", (long long)i);
        if (variance && v < 0)
            return doubt_fail(err, DOUBT_ERR_FORMAT,
                              "%s: %s holds %g at element %lld, a variance must be >= 0", path,
                              t->name, (double)v, (long long)i);
    }
    return DOUBT_OK;
}

static doubt_status parse_metadata(const char *path, const cJSON *meta, doubt_safetensors *f,
                                   doubt_error *err)
{
    if (!cJSON_IsObject(meta))
        return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: __metadata__ is not a JSON object", path);
    int n = cJSON_GetArraySize(meta);
    f->meta_keys = calloc((size_t)n + 1, sizeof *f->meta_keys);
    f->meta_values = calloc((size_t)n + 1, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory for metadata", path);
    for (const cJSON *m = meta->child; m; m = m->next) {
        if (!cJSON_IsString(m))
            return doubt_fail(err, DOUBT_ERR_FORMAT,
                              "%s: __metadata__ value of '%.64s' is not a string", path,
                              m->string);
        for (int k = 0; k < f->n_meta; k++)
            if (!strcmp(f->meta_keys[k], m->string))
                return doubt_fail(err, DOUBT_ERR_FORMAT,
                                  "%s: __metadata__ key '%.64s' appears twice", path, m->string);
        f->meta_keys[f->n_meta] = dup_str(m->string);
        f->meta_values[f->n_meta] = dup_str(m->valuestring);
        f->n_meta++;
        if (!f->meta_keys[f->n_meta - 1] || !f->meta_values[f->n_meta - 1])
            return doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory for metadata", path);
    }
    const char *net = doubt_safetensors_meta(f, "network");
    if (net) {
        doubt_error inner;
        if (doubt_netdesc_parse(net, strlen(net), &f->network, &inner))
            return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: __metadata__ \"network\": %s", path,
                              inner.msg);
        f->has_network = true;
    }
    return DOUBT_OK;
}

static doubt_status parse_entry(const char *path, const cJSON *e, doubt_st_tensor *t,
                                span *sp, doubt_error *err)
{
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: entry '%.64s' is not a JSON object", path,
                          name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!dtype || !shape || !offs)
        return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: tensor '%.64s' has no \"%s\"", path, name,
                          !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    if (!cJSON_IsString(dtype))
        return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: tensor '%.64s': dtype is not a string",
                          path, name);
    int dt = 0;
    while (dt < N_DTYPES && strcmp(dtypes[dt].name, dtype->valuestring))
        dt++;
    if (dt == N_DTYPES)
        return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: tensor '%.64s' has unknown dtype '%.16s'",
                          path, name, dtype->valuestring);
    t->dtype = (doubt_dtype)dt;

    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > DOUBT_SAFETENSORS_MAX_DIMS)
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "%s: tensor '%.64s': shape is not an array of at most %d sizes", path,
                          name, DOUBT_SAFETENSORS_MAX_DIMS);
    t->count = 1;
    for (const cJSON *d = shape->child; d; d = d->next) {
        int64_t v;
        if (!json_u53(d, &v))
            return doubt_fail(err, DOUBT_ERR_FORMAT,
                              "%s: tensor '%.64s': shape holds something other than a "
                              "non-negative integer",
                              path, name);
        /* Bound the product so count * 8 bytes cannot overflow. */
        if (v && t->count > (INT64_MAX / 8) / v)
            return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: tensor '%.64s': shape is absurdly large",
                              path, name);
        t->shape[t->ndim++] = v;
        t->count *= v;
    }

    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_u53(offs->child, &sp->begin) || !json_u53(offs->child->next, &sp->end))
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "%s: tensor '%.64s': data_offsets is not [begin, end] in bytes", path,
                          name);
    if (sp->end < sp->begin)
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "%s: tensor '%.64s': data_offsets [%lld, %lld] end before they begin",
                          path, name, (long long)sp->begin, (long long)sp->end);
    int64_t want = t->count * (int64_t)dtypes[dt].size;
    if (sp->end - sp->begin != want)
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "%s: tensor '%.64s' spans %lld bytes, its shape and dtype %s need %lld",
                          path, name, (long long)(sp->end - sp->begin), dtypes[dt].name,
                          (long long)want);
    return DOUBT_OK;
}

/* The byte ranges must tile [0, data_len) exactly: sorted by begin, each starts where the
 * previous one ended and the last ends at the end of the file. */
static doubt_status check_spans(const char *path, const doubt_safetensors *f, span *sp, int n,
                                int64_t data_len, doubt_error *err)
{
    qsort(sp, (size_t)n, sizeof *sp, span_cmp);
    int64_t at = 0;
    for (int k = 0; k < n; k++) {
        const char *name = f->tensors[sp[k].index].name;
        if (sp[k].end > data_len)
            return doubt_fail(err, DOUBT_ERR_FORMAT,
                              "%s: tensor '%.64s' data_offsets [%lld, %lld] lie outside the data "
                              "section of %lld bytes",
                              path, name, (long long)sp[k].begin, (long long)sp[k].end,
                              (long long)data_len);
        if (sp[k].begin < at)
            return doubt_fail(err, DOUBT_ERR_FORMAT,
                              "%s: tensor '%.64s' overlaps tensor '%.64s' (bytes %lld..%lld)",
                              path, name, f->tensors[sp[k - 1].index].name,
                              (long long)sp[k].begin, (long long)at);
        if (sp[k].begin > at)
            return doubt_fail(err, DOUBT_ERR_FORMAT,
                              "%s: data not contiguous: %lld unused bytes before tensor '%.64s'",
                              path, (long long)(sp[k].begin - at), name);
        at = sp[k].end;
    }
    if (at != data_len)
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "%s: %lld trailing bytes after the last tensor", path,
                          (long long)(data_len - at));
    return DOUBT_OK;
}

static doubt_status parse_header(const char *path, const char *hdr, size_t len,
                                 doubt_safetensors *f, span **spans, doubt_error *err)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, len, &end, 0);
    if (!root) {
        size_t at = end ? (size_t)(end - hdr) : 0;
        return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: header JSON not parseable near byte %zu",
                          path, 8 + at);
    }
    doubt_status st = DOUBT_OK;
    /* Spaces pad the header to 8 bytes; anything else after the object is corruption. */
    for (const char *p = end; p < hdr + len; p++)
        if (!strchr(" \t\r\n", *p) || !*p) {
            st = doubt_fail(err, DOUBT_ERR_FORMAT,
                            "%s: unexpected bytes after the header JSON at byte %zu", path,
                            8 + (size_t)(p - hdr));
            goto done;
        }
    if (!cJSON_IsObject(root)) {
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "%s: header is not a JSON object", path);
        goto done;
    }
    int n = 0;
    if ((st = check_unique_keys(path, root, err)))
        goto done;
    for (const cJSON *e = root->child; e; e = e->next)
        n += strcmp(e->string, "__metadata__") != 0;
    f->tensors = calloc((size_t)n + 1, sizeof *f->tensors);
    *spans = calloc((size_t)n + 1, sizeof **spans);
    if (!f->tensors || !*spans) {
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory for %d tensors", path, n);
        goto done;
    }
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            if ((st = parse_metadata(path, e, f, err)))
                goto done;
            continue;
        }
        doubt_st_tensor *t = &f->tensors[f->n_tensors];
        if (!(t->name = dup_str(e->string))) {
            st = doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory", path);
            goto done;
        }
        f->n_tensors++;
        (*spans)[f->n_tensors - 1].index = f->n_tensors - 1;
        if ((st = parse_entry(path, e, t, &(*spans)[f->n_tensors - 1], err)))
            goto done;
    }
done:
    cJSON_Delete(root);
    return st;
}

static doubt_status read_file(const char *path, FILE *fp, doubt_safetensors *f,
                              doubt_error *err)
{
    off_t end = fseeko(fp, 0, SEEK_END) ? -1 : ftello(fp);
    if (end < 0 || fseeko(fp, 0, SEEK_SET))
        return doubt_fail(err, DOUBT_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
    int64_t size = (int64_t)end;
    unsigned char len8[8];
    if (size < 8)
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "%s: %lld bytes, shorter than the 8-byte header length", path,
                          (long long)size);
    if (fread(len8, 1, 8, fp) != 8)
        return doubt_fail(err, DOUBT_ERR_IO, "%s: read error", path);
    uint64_t hlen = le64(len8);
    if (hlen > DOUBT_SAFETENSORS_MAX_HEADER)
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "%s: header length %llu is absurd (over %u bytes)", path,
                          (unsigned long long)hlen, DOUBT_SAFETENSORS_MAX_HEADER);
    if (hlen > (uint64_t)(size - 8))
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "%s: header length %llu goes beyond the end of the file (%lld bytes)",
                          path, (unsigned long long)hlen, (long long)size);
    int64_t data_len = size - 8 - (int64_t)hlen;

    char *hdr = malloc((size_t)hlen + 1);
    unsigned char *data = malloc((size_t)data_len + 1);
    span *spans = NULL;
    doubt_status st = DOUBT_OK;
    if (!hdr || !data) {
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory for %lld bytes", path,
                        (long long)size);
        goto done;
    }
    if (fread(hdr, 1, (size_t)hlen, fp) != hlen ||
        fread(data, 1, (size_t)data_len, fp) != (size_t)data_len) {
        st = doubt_fail(err, DOUBT_ERR_IO, "%s: read error", path);
        goto done;
    }
    hdr[hlen] = 0;
    if ((st = parse_header(path, hdr, (size_t)hlen, f, &spans, err)))
        goto done;
    if ((st = check_spans(path, f, spans, f->n_tensors, data_len, err)))
        goto done;
    for (int k = 0; k < f->n_tensors; k++) {
        doubt_st_tensor *t = &f->tensors[spans[k].index];
        if (!is_float(t->dtype))
            continue;
        if (!(t->data = malloc((size_t)t->count * sizeof(float) + 1))) {
            st = doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory for tensor '%s'", path,
                            t->name);
            goto done;
        }
        convert(t->dtype, data + spans[k].begin, t->count, t->data);
        if ((st = check_values(path, t, err)))
            goto done;
    }
done:
    free(hdr);
    free(data);
    free(spans);
    return st;
}

doubt_status doubt_safetensors_read(const char *path, doubt_safetensors **out,
                                    doubt_error *err)
{
    if (!path || !out)
        return doubt_fail(err, DOUBT_ERR_ARG, "safetensors read: NULL argument");
    *out = NULL;
    doubt_safetensors *f = calloc(1, sizeof *f);
    if (!f || !(f->path = dup_str(path))) {
        free(f);
        return doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory", path);
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int e = errno;
        doubt_safetensors_destroy(f);
        return doubt_fail(err, DOUBT_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    doubt_status st = read_file(path, fp, f, err);
    fclose(fp);
    if (st) {
        doubt_safetensors_destroy(f);
        return st;
    }
    *out = f;
    return DOUBT_OK;
}

const doubt_st_tensor *doubt_safetensors_find(const doubt_safetensors *f, const char *name)
{
    if (!f || !name)
        return NULL;
    for (int i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name))
            return &f->tensors[i];
    return NULL;
}

const char *doubt_safetensors_meta(const doubt_safetensors *f, const char *key)
{
    if (!f || !key)
        return NULL;
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key))
            return f->meta_values[i];
    return NULL;
}

static void format_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t at = (size_t)snprintf(buf, cap, "[");
    for (int k = 0; k < ndim && at < cap; k++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%lld", k ? "," : "", (long long)shape[k]);
    if (at < cap)
        snprintf(buf + at, cap - at, "]");
}

static bool ignored_name(const char *name)
{
    return !strncmp(name, DOUBT_SAFETENSORS_OPTIM_PREFIX,
                    sizeof DOUBT_SAFETENSORS_OPTIM_PREFIX - 1) ||
           ends_with(name, ".num_batches_tracked");
}

/* Keeps the first problem's text and counts the rest. */
typedef struct {
    char first[400];
    int count;
} problems;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void problem(problems *p, const char *fmt, ...)
{
    if (!p->count++) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->first, sizeof p->first, fmt, ap);
        va_end(ap);
    }
}

doubt_status doubt_safetensors_check(const doubt_safetensors *f, const doubt_netdesc *net,
                                     bool training, doubt_error *err)
{
    if (!f)
        return doubt_fail(err, DOUBT_ERR_ARG, "safetensors check: NULL file");
    if (!net && !f->has_network)
        return doubt_fail(err, DOUBT_ERR_FORMAT,
                          "%s: no \"network\" description in __metadata__", f->path);
    if (!net)
        net = &f->network;
    doubt_status st = doubt_netdesc_validate(net, err);
    if (st)
        return st;
    doubt_param_info p[DOUBT_NETDESC_MAX_PARAMS];
    int n = doubt_netdesc_params(net, p, DOUBT_NETDESC_MAX_PARAMS);
    if (n > DOUBT_NETDESC_MAX_PARAMS)
        return doubt_fail(err, DOUBT_ERR_ARG, "%s: the network has %d tensors, more than %d",
                          f->path, n, DOUBT_NETDESC_MAX_PARAMS);
    problems pr = {{0}, 0};
    char got[128], want[128];
    for (int k = 0; k < n; k++) {
        const doubt_st_tensor *t = doubt_safetensors_find(f, p[k].name);
        format_shape(want, sizeof want, p[k].ndim, p[k].shape);
        if (!t) {
            if (training || p[k].kind != DOUBT_PARAM_TRAINING)
                problem(&pr, "missing tensor %s (network expects %s)", p[k].name, want);
            continue;
        }
        format_shape(got, sizeof got, t->ndim, t->shape);
        if (t->ndim != p[k].ndim ||
            memcmp(t->shape, p[k].shape, (size_t)t->ndim * sizeof t->shape[0]))
            problem(&pr, "%s has shape %s, network expects %s", p[k].name, got, want);
        else if (!is_float(t->dtype))
            problem(&pr, "%s has dtype %s, expected a float dtype (F32, F16, BF16, F64)",
                    p[k].name, doubt_dtype_name(t->dtype));
    }
    for (int i = 0; i < f->n_tensors; i++) {
        const char *name = f->tensors[i].name;
        if (ignored_name(name))
            continue;
        int k = 0;
        while (k < n && strcmp(p[k].name, name))
            k++;
        if (k == n)
            problem(&pr, "unexpected tensor %s (not part of the network)", name);
    }
    if (!pr.count)
        return DOUBT_OK;
    if (pr.count == 1)
        return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: %s", f->path, pr.first);
    return doubt_fail(err, DOUBT_ERR_FORMAT, "%s: %s (and %d more problems)", f->path, pr.first,
                      pr.count - 1);
}

static doubt_status check_write_args(const char *path, const char *const *meta, int n_meta,
                                     const doubt_st_write_tensor *tensors, int n,
                                     doubt_error *err)
{
    if (n < 0 || n_meta < 0 || (n && !tensors) || (n_meta && !meta))
        return doubt_fail(err, DOUBT_ERR_ARG, "%s: bad tensor or metadata list", path);
    for (int i = 0; i < n_meta; i++) {
        const char *k = meta[2 * i], *v = meta[2 * i + 1];
        if (!k || !v)
            return doubt_fail(err, DOUBT_ERR_ARG, "%s: metadata pair %d has a NULL", path, i);
        if (!strcmp(k, "network"))
            return doubt_fail(err, DOUBT_ERR_ARG,
                              "%s: metadata key \"network\" is written from the description",
                              path);
        for (int j = 0; j < i; j++)
            if (!strcmp(meta[2 * j], k))
                return doubt_fail(err, DOUBT_ERR_ARG, "%s: metadata key '%.64s' given twice",
                                  path, k);
    }
    for (int i = 0; i < n; i++) {
        const doubt_st_write_tensor *t = &tensors[i];
        if (!t->name || !*t->name || !strcmp(t->name, "__metadata__"))
            return doubt_fail(err, DOUBT_ERR_ARG, "%s: tensor %d has no usable name", path, i);
        if (t->ndim < 0 || t->ndim > DOUBT_SAFETENSORS_MAX_DIMS || (t->ndim && !t->shape))
            return doubt_fail(err, DOUBT_ERR_ARG, "%s: tensor '%.64s' has %d dimensions", path,
                              t->name, t->ndim);
        int64_t count = 1;
        for (int k = 0; k < t->ndim; k++) {
            if (t->shape[k] < 0 || (t->shape[k] && count > (INT64_MAX / 8) / t->shape[k]))
                return doubt_fail(err, DOUBT_ERR_ARG, "%s: tensor '%.64s' has a bad shape", path,
                                  t->name);
            count *= t->shape[k];
        }
        if (count && !t->data)
            return doubt_fail(err, DOUBT_ERR_ARG, "%s: tensor '%.64s' has no data", path,
                              t->name);
        for (int j = 0; j < i; j++)
            if (!strcmp(tensors[j].name, t->name))
                return doubt_fail(err, DOUBT_ERR_ARG, "%s: tensor '%.64s' given twice", path,
                                  t->name);
    }
    return DOUBT_OK;
}

/* The header JSON, padded with spaces so that 8 + its length is a multiple of 8. */
static char *build_header(const doubt_netdesc *net, const char *const *meta, int n_meta,
                          const doubt_st_write_tensor *tensors, int n, size_t *len)
{
    char netjson[DOUBT_NETDESC_JSON_MAX];
    if (doubt_netdesc_to_json(net, netjson, sizeof netjson, NULL))
        return NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *md = cJSON_AddObjectToObject(root, "__metadata__");
    bool ok = root && md && cJSON_AddStringToObject(md, "network", netjson);
    for (int i = 0; ok && i < n_meta; i++)
        ok = cJSON_AddStringToObject(md, meta[2 * i], meta[2 * i + 1]) != NULL;
    int64_t at = 0;
    for (int i = 0; ok && i < n; i++) {
        /* dtype, shape, data_offsets: the key order the reference writer uses */
        cJSON *e = cJSON_AddObjectToObject(root, tensors[i].name);
        cJSON *shape = NULL, *offs = NULL;
        ok = e && cJSON_AddStringToObject(e, "dtype", "F32") &&
             (shape = cJSON_AddArrayToObject(e, "shape"));
        int64_t count = 1;
        for (int k = 0; ok && k < tensors[i].ndim; k++) {
            count *= tensors[i].shape[k];
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)tensors[i].shape[k]));
        }
        ok = ok && (offs = cJSON_AddArrayToObject(e, "data_offsets")) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)at)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(at + count * 4)));
        at += count * 4;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return NULL;
    size_t raw = strlen(text), padded = (raw + 7) / 8 * 8;
    char *out = malloc(padded + 1);
    if (out) {
        memcpy(out, text, raw);
        memset(out + raw, ' ', padded - raw);
    }
    cJSON_free(text);
    if (!out)
        return NULL;
    out[padded] = 0;
    *len = padded;
    return out;
}

static bool write_floats(FILE *fp, const float *x, int64_t count)
{
    unsigned char buf[4096];
    int64_t i = 0;
    while (i < count) {
        size_t m = 0;
        for (; i < count && m + 4 <= sizeof buf; i++, m += 4) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            buf[m] = (unsigned char)u;
            buf[m + 1] = (unsigned char)(u >> 8);
            buf[m + 2] = (unsigned char)(u >> 16);
            buf[m + 3] = (unsigned char)(u >> 24);
        }
        if (fwrite(buf, 1, m, fp) != m)
            return false;
    }
    return true;
}

doubt_status doubt_safetensors_write(const char *path, const doubt_netdesc *net,
                                     const char *const *meta, int n_meta,
                                     const doubt_st_write_tensor *tensors, int n,
                                     doubt_error *err)
{
    if (!path || !net)
        return doubt_fail(err, DOUBT_ERR_ARG, "safetensors write: NULL argument");
    doubt_error inner;
    if (doubt_netdesc_validate(net, &inner))
        return doubt_fail(err, DOUBT_ERR_ARG, "%s: %s", path, inner.msg);
    doubt_status st = check_write_args(path, meta, n_meta, tensors, n, err);
    if (st)
        return st;
    size_t hlen = 0;
    char *hdr = build_header(net, meta, n_meta, tensors, n, &hlen);
    if (!hdr)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "%s: out of memory building the header", path);

    doubt_atomic_file af;
    if ((st = doubt_atomic_open_durable(&af, path, err))) {
        free(hdr);
        return st;
    }
    unsigned char len8[8];
    for (int k = 0; k < 8; k++)
        len8[k] = (unsigned char)((uint64_t)hlen >> (8 * k));
    bool ok = fwrite(len8, 1, 8, af.f) == 8 && fwrite(hdr, 1, hlen, af.f) == hlen;
    for (int i = 0; ok && i < n; i++) {
        int64_t count = 1;
        for (int k = 0; k < tensors[i].ndim; k++)
            count *= tensors[i].shape[k];
        ok = write_floats(af.f, tensors[i].data, count);
    }
    if (!ok) {
        int e = errno;
        doubt_atomic_abort(&af);
        st = doubt_fail_os(err, e, "%s: write failed: %s", path, strerror(e));
    } else
        st = doubt_atomic_commit(&af, err);
    free(hdr);
    return st;
}
