#include "harness.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static uint32_t xorshift(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

void th_fill_d(double *x, int64_t n, uint32_t seed, double lo, double hi)
{
    uint32_t state = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (xorshift(&state) >> 8) / 16777216.0;
}

void th_fill(float *x, int64_t n, uint32_t seed, float lo, float hi)
{
    uint32_t state = seed * 2654435761u + 12345u;
    for (int64_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)((xorshift(&state) >> 8) / 16777216.0);
}

static double scale_of(const double *b, int64_t n)
{
    double m = 1e-6;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs(b[i]));
    return m;
}

double th_rel_err(const float *a, const double *b, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        worst = isnan(d) ? INFINITY : fmax(worst, d);
    }
    return worst / scale_of(b, n);
}

double th_rel_err_dd(const double *a, const double *b, int64_t n)
{
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        worst = isnan(d) ? INFINITY : fmax(worst, d);
    }
    return worst / scale_of(b, n);
}

void th_numeric_grad(th_scalar_fn f, double *x, int64_t n, double h, void *user, double *grad)
{
    for (int64_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double up = f(x, user);
        x[i] = keep - h;
        double down = f(x, user);
        x[i] = keep;
        grad[i] = (up - down) / (2 * h);
    }
}

doubt_ctx *th_ctx(int threads)
{
    doubt_ctx *ctx = NULL;
    doubt_error err = {{0}};
    doubt_status st = doubt_ctx_create(threads, &ctx, &err);
    ck_assert_msg(st == DOUBT_OK, "context: %s", err.msg);
    return ctx;
}

char *th_read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

int th_run_doubt(const char *const *args, char **out, char **err)
{
    /* this binary is BUILD/tests/test_x; the command is BUILD/apps/doubt */
    char bin[4096];
    ssize_t n = readlink("/proc/self/exe", bin, sizeof bin - 32);
    ck_assert(n > 0);
    bin[n] = '\0';
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(bin, '/');
        ck_assert_ptr_nonnull(slash);
        *slash = '\0';
    }
    strcat(bin, "/apps/doubt");
    const char *argv[64] = {bin};
    int argc = 1;
    for (; args[argc - 1]; argc++)
        ck_assert_int_lt(argc, 63);
    memcpy(argv + 1, args, (size_t)argc * sizeof *args);
    char out_path[] = "/tmp/doubt_th_outXXXXXX", err_path[] = "/tmp/doubt_th_errXXXXXX";
    int fo = mkstemp(out_path), fe = mkstemp(err_path);
    ck_assert(fo >= 0 && fe >= 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(fo, 1);
        dup2(fe, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int ws;
    ck_assert(waitpid(pid, &ws, 0) == pid);
    close(fo);
    close(fe);
    *out = th_read_text(out_path);
    *err = th_read_text(err_path);
    unlink(out_path);
    unlink(err_path);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

void th_assert_usage_error(const char *const *args, const char *message)
{
    char expected[512], *out, *err;
    snprintf(expected, sizeof expected, "doubt %s: %s\n'doubt %s --help' for usage\n", args[0],
             message, args[0]);
    int status = th_run_doubt(args, &out, &err);
    ck_assert_msg(status == 2, "doubt %s (%s): exit %d", args[0], message, status);
    ck_assert_str_eq(err, expected);
    free(out);
    free(err);
}

int th_run(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void th_remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            th_remove_tree(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else
        unlink(path);
}
