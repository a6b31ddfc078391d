/* Shared test harness: deterministic fills, tolerant comparisons, a central-difference
 * gradient checker in double precision, and a context per test. */
#ifndef DOUBT_TESTS_HARNESS_H
#define DOUBT_TESTS_HARNESS_H

#include <check.h>
#include <stdint.h>

#include "core/ctx.h"

/* Fills x with uniform values in [lo, hi) from a small seeded generator. */
void th_fill(float *x, int64_t n, uint32_t seed, float lo, float hi);
void th_fill_d(double *x, int64_t n, uint32_t seed, double lo, double hi);

/* max |a - b| / max(max |b|, floor): a normalised error that is not fooled by tiny values. */
double th_rel_err(const float *a, const double *b, int64_t n);
double th_rel_err_dd(const double *a, const double *b, int64_t n);

/* Central differences of f at x (modified in place and restored), step h, into grad. */
typedef double (*th_scalar_fn)(const double *x, void *user);
void th_numeric_grad(th_scalar_fn f, double *x, int64_t n, double h, void *user, double *grad);

/* A context for one test; fails the test with the context's message on error. */
doubt_ctx *th_ctx(int threads);
#define TH_OK(ctx, call)                                                                     \
    do {                                                                                     \
        doubt_status th_st_ = (call);                                                        \
        ck_assert_msg(th_st_ == DOUBT_OK, "%s -> %s: %s", #call, doubt_status_str(th_st_), \
                      doubt_ctx_error(ctx));                                                 \
    } while (0)

/* The whole file as a NUL-terminated string (caller frees); fails the test if unreadable. */
char *th_read_text(const char *path);

/* Writes text to path (created or truncated); fails the test if it cannot. */
void th_write_text(const char *path, const char *text);

/* Makes a fresh folder /tmp/PREFIX_XXXXXX into buf (at least 64 bytes) and returns buf. */
char *th_make_temp_dir(const char *prefix, char *buf, size_t cap);

/* "a/b" in one of 8 rotating static buffers, so a call can take a few such paths at once. */
const char *th_path(const char *a, const char *b);

/* Runs the `doubt` command built beside the tests (BUILD/apps/doubt for BUILD/tests/test_x)
 * with args (NULL-terminated, without argv[0]) and returns its exit status (128 + signal if
 * killed); stdout and stderr are captured into *out and *err (caller frees). */
int th_run_doubt(const char *const *args, char **out, char **err);

/* The same with faults: file_size_limit >= 0 runs the command under RLIMIT_FSIZE of that
 * many bytes with SIGXFSZ ignored (so a write past it fails with EFBIG, as on a full disk);
 * kill_after_lines > 0 sends SIGKILL once that many lines have come on its stdout. */
typedef struct {
    long long file_size_limit; /* < 0: none */
    int kill_after_lines;      /* 0: never */
} th_run_opts;
int th_run_doubt_with(const char *const *args, const th_run_opts *opts, char **out, char **err);

/* Runs `doubt` with args (args[0] the subcommand) and asserts a usage error: exit 2 and
 * exactly "doubt SUBCOMMAND: MESSAGE" and the pointer to --help on stderr. */
void th_assert_usage_error(const char *const *args, const char *message);

/* Removes a file or a folder with everything in it (symbolic links are not followed);
 * a path that does not exist is fine. */
void th_remove_tree(const char *path);

/* Runs one suite and returns the process exit status. */
int th_run(Suite *suite);

#endif
