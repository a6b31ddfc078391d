/* The JSON lines `doubt predict` prints, as a table of per-image numbers.
 *
 *     doubt_summary t = {0};
 *     int bad = 0;
 *     st = doubt_summary_read("pred.jsonl", &t, on_error, user, &bad, &err);
 *     ... t.v[row][col] for t.name[row], t.col[col] ...  doubt_summary_free(&t);
 *
 * A line is an object with "name" and "maps": {MAP: {"mean": ...}}: its columns are the
 * maps' means; a line without "maps" gives its top-level numbers. null or a missing value is
 * NaN. A malformed line is reported through on_error (may be NULL), counted in *bad and
 * skipped; only an unreadable file or running out of memory is an error.
 */
#ifndef DOUBT_VIZ_SUMMARY_H
#define DOUBT_VIZ_SUMMARY_H

#include "core/status.h"

#define DOUBT_SUMMARY_MAX_COLS 32

typedef struct {
    int ncols;
    char *col[DOUBT_SUMMARY_MAX_COLS];   /* column names */
    char **name;                         /* per row */
    double (*v)[DOUBT_SUMMARY_MAX_COLS]; /* per row */
    int rows;
} doubt_summary;

doubt_status doubt_summary_read(const char *path, doubt_summary *t,
                                void (*on_error)(void *, const char *), void *user, int *bad,
                                doubt_error *err);
void doubt_summary_free(doubt_summary *t);
/* The row of name (the last one when a rerun appended it again), or -1. */
int doubt_summary_find(const doubt_summary *t, const char *name);
/* Column index of key, or -1. */
int doubt_summary_column(const doubt_summary *t, const char *key);

#endif
