/* File-system helpers shared by the writers: recursive mkdir and atomic replacement.
 *
 *     doubt_atomic_file af;
 *     if (doubt_atomic_open(&af, "out/a.png", err)) return ...;
 *     ... fwrite(..., af.f) ...;
 *     return doubt_atomic_commit(&af, err);   // or doubt_atomic_abort(&af) on any failure
 *
 * The data goes to ".a.png.tmp.PID" in the same folder and is renamed over the final name
 * only when everything was written, so a killed run never leaves a half-written file and a
 * failed write leaves an existing file untouched. No fsync: rename() already protects
 * against a killed process, which is the failure a rerun with --skip-existing must survive.
 */
#ifndef DOUBT_IO_FSUTIL_H
#define DOUBT_IO_FSUTIL_H

#include <stdio.h>

#include "core/status.h"

#define DOUBT_PATH_MAX 4096

/* Creates path and its missing parents (like `mkdir -p`); an existing folder is fine. */
doubt_status doubt_mkdir_p(const char *path, doubt_error *err);

typedef struct {
    FILE *f;                    /* write here between open and commit/abort */
    char tmp[DOUBT_PATH_MAX];   /* temporary name in the destination folder */
    char path[DOUBT_PATH_MAX];  /* final name */
} doubt_atomic_file;

doubt_status doubt_atomic_open(doubt_atomic_file *af, const char *path, doubt_error *err);
/* Closes and renames into place; on any failure the temporary is removed. */
doubt_status doubt_atomic_commit(doubt_atomic_file *af, doubt_error *err);
/* Closes and removes the temporary; safe to call twice or after a failed open. */
void doubt_atomic_abort(doubt_atomic_file *af);

/* Joins dir and name with one '/' into out (size DOUBT_PATH_MAX); fails if too long. */
doubt_status doubt_path_join(char *out, const char *dir, const char *name, doubt_error *err);

#endif
