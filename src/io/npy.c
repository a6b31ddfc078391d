#include "npy.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

static int host_is_little_endian(void)
{
    const uint32_t probe = 1;
    uint8_t first;
    memcpy(&first, &probe, 1);
    return first == 1;
}

/* Writes n floats as little-endian bytes, through a bounce buffer on big-endian hosts. */
static int write_le_floats(FILE *f, const float *x, int64_t n)
{
    if (host_is_little_endian())
        return n == 0 || fwrite(x, sizeof *x, (size_t)n, f) == (size_t)n;
    uint8_t buf[4096];
    for (int64_t i = 0; i < n;) {
        int64_t m = n - i < 1024 ? n - i : 1024;
        for (int64_t k = 0; k < m; k++) {
            uint32_t u;
            memcpy(&u, &x[i + k], 4);
            for (int b = 0; b < 4; b++)
                buf[4 * k + b] = (uint8_t)(u >> (8 * b));
        }
        if (fwrite(buf, 4, (size_t)m, f) != (size_t)m)
            return 0;
        i += m;
    }
    return 1;
}

doubt_status doubt_npy_write_f32(const char *path, const float *data, int ndims,
                                 const int64_t *shape, doubt_error *err)
{
    if (!path)
        return doubt_fail(err, DOUBT_ERR_ARG, "npy write: no path");
    if (ndims < 0 || ndims > DOUBT_NPY_MAX_DIMS || (ndims > 0 && !shape))
        return doubt_fail(err, DOUBT_ERR_ARG, "npy write %s: %d dimensions (0..%d allowed)", path,
                          ndims, DOUBT_NPY_MAX_DIMS);
    int64_t count = 1;
    for (int i = 0; i < ndims; i++) {
        if (shape[i] < 0 || (shape[i] > 0 && count > INT64_MAX / 4 / shape[i]))
            return doubt_fail(err, DOUBT_ERR_ARG, "npy write %s: bad dimension %d = %" PRId64,
                              path, i, shape[i]);
        count *= shape[i];
    }
    if (count > 0 && !data)
        return doubt_fail(err, DOUBT_ERR_ARG, "npy write %s: no data", path);

    /* numpy.save writes "(n,)" for one dimension: a Python 1-tuple needs the comma. */
    char dims[160] = "";
    size_t dl = 0;
    for (int i = 0; i < ndims; i++)
        dl += (size_t)snprintf(dims + dl, sizeof dims - dl, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (ndims == 1)
        snprintf(dims + dl, sizeof dims - dl, ",");
    char header[320];
    int hl = snprintf(header, sizeof header,
                      "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    /* NumPy (>= 1.23) leaves 21 - digits(shape[0]) spare spaces so the header can grow in
     * place; matching it makes our files byte-identical to numpy.save's. */
    if (ndims > 0) {
        int spare = 21 - snprintf(NULL, 0, "%" PRId64, shape[0]);
        memset(header + hl, ' ', (size_t)spare);
        hl += spare;
    }
    /* magic(6) + version(2) + length(2) + dict + padding + '\n' = multiple of 64. */
    int total = 10 + hl + 1;
    int padded = (total + 63) / 64 * 64;
    memset(header + hl, ' ', (size_t)(padded - total));
    header[padded - 11] = '\n';
    int hlen = padded - 10;
    uint8_t pre[10];
    memcpy(pre, npy_magic, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (uint8_t)(hlen & 0xff);
    pre[9] = (uint8_t)(hlen >> 8);

    doubt_atomic_file af;
    doubt_status st = doubt_atomic_open(&af, path, err);
    if (st)
        return st;
    if (fwrite(pre, 1, 10, af.f) != 10 || fwrite(header, 1, (size_t)hlen, af.f) != (size_t)hlen ||
        !write_le_floats(af.f, data, count)) {
        int e = errno;
        doubt_atomic_abort(&af);
        return doubt_fail_os(err, e, "npy write %s: %s", path, strerror(e));
    }
    return doubt_atomic_commit(&af, err);
}

/* --- reading: a small parser for the header dict, which is a Python literal ----------------- */

static const char *skip_ws(const char *p)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    return p;
}

/* Finds the value after key 'name' (quoted with ' or ") and its ':'; NULL if absent. */
static const char *dict_value(const char *dict, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = dict; (p = strpbrk(p, "'\"")) != NULL; p++) {
        char q = *p;
        if (strncmp(p + 1, name, n) == 0 && p[1 + n] == q) {
            const char *v = skip_ws(p + 2 + n);
            return *v == ':' ? skip_ws(v + 1) : NULL;
        }
        /* skip over this quoted string so that values are never mistaken for keys */
        const char *end = strchr(p + 1, q);
        if (!end)
            return NULL;
        p = end;
    }
    return NULL;
}

static doubt_status parse_header(const char *path, const char *dict, int *ndims, int64_t shape[4],
                                 doubt_error *err)
{
    const char *descr = dict_value(dict, "descr");
    if (!descr)
        return doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: header has no 'descr'", path);
    if (strncmp(descr, "'<f4'", 5) != 0 && strncmp(descr, "\"<f4\"", 5) != 0)
        return doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: dtype %.12s, only '<f4' is supported",
                          path, descr);
    const char *fo = dict_value(dict, "fortran_order");
    if (!fo)
        return doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: header has no 'fortran_order'", path);
    if (strncmp(fo, "False", 5) != 0)
        return doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: Fortran order is not supported", path);
    const char *p = dict_value(dict, "shape");
    if (!p || *p != '(')
        return doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: header has no 'shape' tuple", path);
    p = skip_ws(p + 1);
    int nd = 0;
    while (*p != ')') {
        if (!isdigit((unsigned char)*p))
            return doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: bad shape in header", path);
        if (nd == DOUBT_NPY_MAX_DIMS)
            return doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: more than %d dimensions", path,
                              DOUBT_NPY_MAX_DIMS);
        errno = 0;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (errno || v > ((int64_t)1 << 40))
            return doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: dimension %d too large", path, nd);
        shape[nd++] = v;
        p = skip_ws(end);
        if (*p == ',')
            p = skip_ws(p + 1);
        else if (*p != ')')
            return doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: bad shape in header", path);
    }
    for (int i = nd; i < DOUBT_NPY_MAX_DIMS; i++)
        shape[i] = 1;
    *ndims = nd;
    return DOUBT_OK;
}

doubt_status doubt_npy_read_f32(const char *path, float **data, int *ndims, int64_t shape[4],
                                doubt_error *err)
{
    if (!path || !data || !ndims || !shape)
        return doubt_fail(err, DOUBT_ERR_ARG, "npy read: missing argument");
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return doubt_fail(err, DOUBT_ERR_IO, "npy %s: %s", path, strerror(errno));
    doubt_status st = DOUBT_OK;
    char *dict = NULL;
    float *out = NULL;
    uint8_t pre[12];
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, npy_magic, 6) != 0) {
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: not a .npy file (bad magic)", path);
        goto done;
    }
    uint32_t hlen;
    long data_start;
    if (pre[6] == 1) {
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
        data_start = 10 + (long)hlen;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            st = doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: truncated header", path);
            goto done;
        }
        hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8 | (uint32_t)pre[10] << 16 |
               (uint32_t)pre[11] << 24;
        data_start = 12 + (long)hlen;
    } else {
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: unsupported version %d.%d", path, pre[6],
                        pre[7]);
        goto done;
    }
    if (hlen > 65536) {
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: header of %u bytes is implausible", path,
                        hlen);
        goto done;
    }
    dict = malloc(hlen + 1);
    if (!dict) {
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "npy %s: out of memory", path);
        goto done;
    }
    if (fread(dict, 1, hlen, f) != hlen) {
        st = doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: truncated header", path);
        goto done;
    }
    dict[hlen] = '\0';
    st = parse_header(path, dict, ndims, shape, err);
    if (st)
        goto done;
    int64_t count = 1;
    for (int i = 0; i < *ndims; i++) {
        if (shape[i] > 0 && count > ((int64_t)1 << 40) / shape[i]) {
            st = doubt_fail(err, DOUBT_ERR_FORMAT, "npy %s: too many elements", path);
            goto done;
        }
        count *= shape[i];
    }
    /* The file must hold exactly the data the header promises: no more, no less. */
    if (fseek(f, 0, SEEK_END) != 0) {
        st = doubt_fail(err, DOUBT_ERR_IO, "npy %s: cannot seek: %s", path, strerror(errno));
        goto done;
    }
    long size = ftell(f);
    if (size < 0 || (int64_t)size != data_start + 4 * count) {
        st = doubt_fail(err, DOUBT_ERR_FORMAT,
                        "npy %s: file has %ld bytes, header promises %" PRId64, path, size,
                        (int64_t)data_start + 4 * count);
        goto done;
    }
    out = malloc(count > 0 ? (size_t)count * 4 : 4);
    if (!out) {
        st = doubt_fail(err, DOUBT_ERR_NOMEM, "npy %s: out of memory for %" PRId64 " floats", path,
                        count);
        goto done;
    }
    if (fseek(f, data_start, SEEK_SET) != 0 ||
        fread(out, 4, (size_t)count, f) != (size_t)count) {
        st = doubt_fail(err, DOUBT_ERR_IO, "npy %s: read failed", path);
        goto done;
    }
    if (!host_is_little_endian()) {
        uint8_t *b = (uint8_t *)out;
        for (int64_t i = 0; i < count; i++) {
            uint8_t t0 = b[4 * i], t1 = b[4 * i + 1];
            b[4 * i] = b[4 * i + 3];
            b[4 * i + 1] = b[4 * i + 2];
            b[4 * i + 2] = t1;
            b[4 * i + 3] = t0;
        }
    }
    *data = out;
    out = NULL;
done:
    free(out);
    free(dict);
    fclose(f);
    return st;
}
