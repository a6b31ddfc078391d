/* safetensors weights files: read, validate, check against a network, write.
 *
 *     doubt_safetensors *f = NULL;
 *     doubt_error err;
 *     if (doubt_safetensors_read("w.safetensors", &f, &err) ||
 *         doubt_safetensors_check(f, NULL, false, &err))
 *         ... err.msg names the file and what is wrong ...
 *     const doubt_st_tensor *t = doubt_safetensors_find(f, "enc.0.conv1.weight");
 *     ... t->data holds t->count floats in PyTorch's row-major order ...
 *     doubt_safetensors_destroy(f);
 *
 * Layout: an 8-byte little-endian u64 N, N bytes of JSON header, then the data section.
 * The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets relative to the data section) and may hold "__metadata__", a map of strings to
 * strings. doubt stores the network description there under "network" (netdesc.h).
 *
 * The reader checks everything and fails with DOUBT_ERR_FORMAT and the file name: the
 * header length, the JSON, each entry's keys and dtype, that the byte ranges tile the data
 * section exactly (no gap, overlap or trailing bytes) and each range is product(shape) times
 * the dtype size. Float tensors (F32, F16, BF16, F64) are converted to float32 on read;
 * other dtypes (PyTorch's I64 num_batches_tracked, for one) are listed with data = NULL.
 * Float values must be finite, and those of a *.running_var must be >= 0: the message names
 * the tensor and the element.
 *
 * The writer writes F32 only, tensors contiguous in the order given, the header padded with
 * spaces to a multiple of 8 bytes so the data section stays aligned, through the atomic
 * writer of io/fsutil.h, durably (a failed write leaves an existing file intact; the file
 * and its folder are fsynced).
 *
 * Checkpoints may add optimizer state as tensors named DOUBT_SAFETENSORS_OPTIM_PREFIX...;
 * the network check ignores those and PyTorch's *.num_batches_tracked.
 */
#ifndef DOUBT_MODEL_SAFETENSORS_H
#define DOUBT_MODEL_SAFETENSORS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "model/netdesc.h"

#define DOUBT_SAFETENSORS_OPTIM_PREFIX "optim."
#define DOUBT_SAFETENSORS_MAX_DIMS 8
/* A header larger than this is treated as corrupt rather than allocated. */
#define DOUBT_SAFETENSORS_MAX_HEADER (100u << 20)

typedef enum {
    DOUBT_DT_BOOL,
    DOUBT_DT_U8,
    DOUBT_DT_I8,
    DOUBT_DT_F8_E5M2,
    DOUBT_DT_F8_E4M3,
    DOUBT_DT_I16,
    DOUBT_DT_U16,
    DOUBT_DT_F16,
    DOUBT_DT_BF16,
    DOUBT_DT_I32,
    DOUBT_DT_U32,
    DOUBT_DT_F32,
    DOUBT_DT_F64,
    DOUBT_DT_I64,
    DOUBT_DT_U64
} doubt_dtype;

/* "F32", "BF16", ...: the spelling safetensors uses. */
const char *doubt_dtype_name(doubt_dtype dt);
size_t doubt_dtype_size(doubt_dtype dt);

/* IEEE half and bfloat16 bit patterns to float, exact (subnormals, infinities, NaN kept). */
float doubt_f16_to_f32(uint16_t h);
float doubt_bf16_to_f32(uint16_t b);

typedef struct {
    char *name;
    doubt_dtype dtype; /* as stored in the file */
    int ndim;
    int64_t shape[DOUBT_SAFETENSORS_MAX_DIMS];
    int64_t count; /* product of shape; 1 for a scalar (ndim 0) */
    float *data;   /* count floats converted from dtype; NULL for non-float dtypes */
} doubt_st_tensor;

typedef struct {
    char *path;
    int n_tensors;
    doubt_st_tensor *tensors; /* in the order of the header */
    int n_meta;
    char **meta_keys;
    char **meta_values;
    bool has_network; /* "network" in __metadata__, parsed into network */
    doubt_netdesc network;
} doubt_safetensors;

doubt_status doubt_safetensors_read(const char *path, doubt_safetensors **out,
                                    doubt_error *err);
void doubt_safetensors_destroy(doubt_safetensors *f);

/* NULL if absent. */
const doubt_st_tensor *doubt_safetensors_find(const doubt_safetensors *f, const char *name);
const char *doubt_safetensors_meta(const doubt_safetensors *f, const char *key);

/* Checks f against net (NULL: the file's own "network"): every expected tensor present
 * with a float dtype and the expected shape, and nothing else but ignored names. With
 * training false, task.log_var may be absent. The message names the file, the first
 * problem and how many more there are, e.g. "w.safetensors: enc.1.conv1.weight has shape
 * [64,32,3,3], network expects [64,16,3,3]". */
doubt_status doubt_safetensors_check(const doubt_safetensors *f, const doubt_netdesc *net,
                                     bool training, doubt_error *err);

/* One tensor to write: float32 data of product(shape) elements, row-major. */
typedef struct {
    const char *name;
    int ndim;
    const int64_t *shape;
    const float *data;
} doubt_st_write_tensor;

/* Writes n tensors as F32 with net's JSON as "network" in __metadata__ plus the caller's
 * extra pairs meta[0..2*n_meta) = {key, value, key, value, ...} (e.g. "format", "doubt").
 * Names must be unique and not "__metadata__"; extra keys must not repeat "network". */
doubt_status doubt_safetensors_write(const char *path, const doubt_netdesc *net,
                                     const char *const *meta, int n_meta,
                                     const doubt_st_write_tensor *tensors, int n,
                                     doubt_error *err);

#endif
