/* Status codes and error messages shared by every module.
 *
 * A function that can fail returns doubt_status (DOUBT_OK = 0) and, on failure, writes a
 * message into the caller's doubt_error naming what went wrong: the file, the tensor, the
 * shape. Nothing in the library prints or exits; apps/ decides what to show.
 */
#ifndef DOUBT_CORE_STATUS_H
#define DOUBT_CORE_STATUS_H

#include <stddef.h>

typedef enum {
    DOUBT_OK = 0,
    DOUBT_ERR_NOMEM,  /* an allocation failed */
    DOUBT_ERR_ARG,    /* a caller passed something invalid: NULL, zero size, shape mismatch */
    DOUBT_ERR_IO,     /* a file could not be opened, read, written or renamed */
    DOUBT_ERR_FORMAT, /* a file's contents are not what they claim to be */
    DOUBT_ERR_DNNL,   /* oneDNN refused a descriptor or failed to execute */
    DOUBT_ERR_NUMERIC, /* a NaN or Inf where a finite value is required */
    DOUBT_ERR_STORAGE  /* the place being written refuses every further write too: no space
                        * or quota, the file size limit, no permission, a read-only disk */
} doubt_status;

#define DOUBT_ERROR_LEN 512

typedef struct {
    char msg[DOUBT_ERROR_LEN];
} doubt_error;

const char *doubt_status_str(doubt_status st);

/* Records a formatted message in err (which may be NULL) and returns st, so a failure reads
 * `return doubt_fail(err, DOUBT_ERR_ARG, "conv %s: C=%d, weights expect %d", ...)`. */
doubt_status doubt_fail(doubt_error *err, doubt_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The same for a failed system call with errno os_errno: DOUBT_ERR_STORAGE for ENOSPC,
 * EDQUOT, EFBIG, EACCES, EPERM and EROFS (a run should stop rather than go on writing),
 * DOUBT_ERR_IO for the rest. */
doubt_status doubt_fail_os(doubt_error *err, int os_errno, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
