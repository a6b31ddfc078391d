#include "ctx.h"

#include <omp.h>
#include <stdlib.h>

const char *doubt_dnnl_status_str(dnnl_status_t s)
{
    switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented (no kernel for these shapes/layouts)";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    }
    return "unknown oneDNN status";
}

doubt_status doubt_ctx_create(int threads, doubt_ctx **out, doubt_error *err)
{
    doubt_status st = DOUBT_OK;
    *out = NULL;
    doubt_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return doubt_fail(err, DOUBT_ERR_NOMEM, "context: out of memory");
    if (threads > 0)
        omp_set_num_threads(threads);
    ctx->threads = omp_get_max_threads();
    DOUBT_DNNL(ctx, dnnl_engine_create(&ctx->engine, dnnl_cpu, 0));
    DOUBT_DNNL(ctx, dnnl_stream_create(&ctx->stream, ctx->engine, dnnl_stream_default_flags));
    *out = ctx;
    return DOUBT_OK;
done:
    if (err)
        *err = ctx->err;
    doubt_ctx_destroy(ctx);
    return st;
}

void doubt_ctx_destroy(doubt_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->stream)
        dnnl_stream_destroy(ctx->stream);
    if (ctx->engine)
        dnnl_engine_destroy(ctx->engine);
    doubt_arena_release(&ctx->arena);
    free(ctx);
}

const char *doubt_ctx_error(const doubt_ctx *ctx)
{
    return ctx ? ctx->err.msg : "no context";
}

doubt_status doubt_ctx_execute(doubt_ctx *ctx, const_dnnl_primitive_t prim, int nargs,
                               const dnnl_exec_arg_t *args, const char *what)
{
    dnnl_status_t s = dnnl_primitive_execute(prim, ctx->stream, nargs, args);
    if (s == dnnl_success)
        s = dnnl_stream_wait(ctx->stream);
    if (s != dnnl_success)
        return doubt_fail(&ctx->err, DOUBT_ERR_DNNL, "%s: execute failed: %s", what,
                          doubt_dnnl_status_str(s));
    return DOUBT_OK;
}
