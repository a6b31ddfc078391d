/* The context: one oneDNN CPU engine and stream, the thread count, an arena for activations
 * and the last error message. Every layer and network is made against one context and must
 * not outlive it. A context is used by one thread at a time; oneDNN parallelises inside.
 */
#ifndef DOUBT_CORE_CTX_H
#define DOUBT_CORE_CTX_H

#include <oneapi/dnnl/dnnl.h>

#include "arena.h"
#include "status.h"

typedef struct {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int threads;
    doubt_arena arena;
    doubt_error err;
} doubt_ctx;

/* threads <= 0 keeps OpenMP's default (OMP_NUM_THREADS or the core count). The thread count
 * is process-wide, as OpenMP's is. On failure *out is NULL and err says why. */
doubt_status doubt_ctx_create(int threads, doubt_ctx **out, doubt_error *err);
void doubt_ctx_destroy(doubt_ctx *ctx);
const char *doubt_ctx_error(const doubt_ctx *ctx);

/* Executes one primitive on the context's stream and waits for it. */
doubt_status doubt_ctx_execute(doubt_ctx *ctx, const_dnnl_primitive_t prim, int nargs,
                               const dnnl_exec_arg_t *args, const char *what);

/* Turns a failed oneDNN call into a status + message naming the call, and jumps to `done`.
 * The enclosing function declares `doubt_status st` and a `done:` label. */
#define DOUBT_DNNL(ctx, call)                                                                 \
    do {                                                                                      \
        dnnl_status_t dnnl_st_ = (call);                                                      \
        if (dnnl_st_ != dnnl_success) {                                                       \
            st = doubt_fail(&(ctx)->err, DOUBT_ERR_DNNL, "%s:%d %s: %s", __FILE__, __LINE__, \
                            #call, doubt_dnnl_status_str(dnnl_st_));                          \
            goto done;                                                                        \
        }                                                                                     \
    } while (0)

/* Jumps to `done` when a doubt call fails, keeping the message it wrote. */
#define DOUBT_TRY(call)           \
    do {                          \
        st = (call);              \
        if (st != DOUBT_OK)       \
            goto done;            \
    } while (0)

const char *doubt_dnnl_status_str(dnnl_status_t s);

#endif
