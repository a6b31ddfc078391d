#include "status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

const char *doubt_status_str(doubt_status st)
{
    switch (st) {
    case DOUBT_OK: return "ok";
    case DOUBT_ERR_NOMEM: return "out of memory";
    case DOUBT_ERR_ARG: return "invalid argument";
    case DOUBT_ERR_IO: return "input/output error";
    case DOUBT_ERR_FORMAT: return "bad file format";
    case DOUBT_ERR_DNNL: return "oneDNN error";
    case DOUBT_ERR_NUMERIC: return "non-finite value";
    case DOUBT_ERR_STORAGE: return "storage refuses writes";
    }
    return "unknown status";
}

doubt_status doubt_fail(doubt_error *err, doubt_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return st;
}

doubt_status doubt_fail_os(doubt_error *err, int os_errno, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    switch (os_errno) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case EACCES:
    case EPERM:
    case EROFS: return DOUBT_ERR_STORAGE;
    }
    return DOUBT_ERR_IO;
}
