/* File-system helpers shared by the writers: recursive mkdir and atomic replacement.
 *
 *     doubt_atomic_file af;
 *     if (doubt_atomic_open(&af, "out/a.png", err)) return ...;
 *     ... fwrite(..., af.f) ...;
 *     return doubt_atomic_commit(&af, err);   // or doubt_atomic_abort(&af) on any failure
 *
 * The one writer of every file doubt makes. The data goes to ".a.png.tmp.PID" in the same
 * folder (a leading '.', so folder listings such as predict's skip it) and is renamed over
 * the final name only when everything was written: a killed run never leaves a half-written
 * file and a failed write leaves an existing file untouched. Files get the permissions of
 * fopen (0666 less the umask). Outputs are not fsynced: rename() already protects against a
 * killed process, which is what a rerun with --skip-existing must survive. Checkpoints and
 * weights (doubt_atomic_open_durable) are also fsynced, the file before the rename and the
 * folder after it, so that a power loss cannot leave an empty file under the final name.
 * Failed system calls come back through doubt_fail_os: DOUBT_ERR_STORAGE when the disk is
 * full, the size limit reached or the folder read-only, so a batch can stop at once.
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
    int durable;                /* fsync the file and its folder on commit */
    char tmp[DOUBT_PATH_MAX];   /* temporary name in the destination folder */
    char path[DOUBT_PATH_MAX];  /* final name */
} doubt_atomic_file;

doubt_status doubt_atomic_open(doubt_atomic_file *af, const char *path, doubt_error *err);
doubt_status doubt_atomic_open_durable(doubt_atomic_file *af, const char *path,
                                       doubt_error *err);
/* Closes and renames into place; on any failure the temporary is removed. */
doubt_status doubt_atomic_commit(doubt_atomic_file *af, doubt_error *err);
/* Closes and removes the temporary; safe to call twice or after a failed open. */
void doubt_atomic_abort(doubt_atomic_file *af);

/* Writes and removes a small hidden file in dir: fails (doubt_fail_os, naming dir) when a
 * run could not write its outputs there, before any work is spent on them. */
doubt_status doubt_check_writable(const char *dir, doubt_error *err);

/* Joins dir and name with one '/' into out (size DOUBT_PATH_MAX); fails if too long. */
doubt_status doubt_path_join(char *out, const char *dir, const char *name, doubt_error *err);

/* dir/NAMESUFFIX into out (size DOUBT_PATH_MAX), e.g. a prediction's "pred/x.seg.png";
 * fails if too long. */
doubt_status doubt_path_join_suffix(char *out, const char *dir, const char *name,
                                    const char *suffix, doubt_error *err);

/* 1 when path names a regular file (following symbolic links), else 0. */
int doubt_is_regular_file(const char *path);

#endif
