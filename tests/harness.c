#include "harness.h"

#include <dirent.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

void th_write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_int_ge(fputs(text, f), 0);
    ck_assert_int_eq(fclose(f), 0);
}

char *th_make_temp_dir(const char *prefix, char *buf, size_t cap)
{
    ck_assert_int_lt(snprintf(buf, cap, "/tmp/%s_XXXXXX", prefix), (int)cap);
    ck_assert_ptr_nonnull(mkdtemp(buf));
    return buf;
}

const char *th_path(const char *a, const char *b)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    ck_assert_int_lt(snprintf(buf[k], sizeof buf[k], "%s/%s", a, b), (int)sizeof buf[k]);
    return buf[k];
}

/* Everything a pipe brings until it closes, appended to a growing string. */
typedef struct {
    int fd;
    char *text;
    size_t len, cap;
} pipe_text;

static int pipe_read(pipe_text *p)
{
    if (p->len + 4097 > p->cap) {
        p->cap = 2 * p->cap + 8192;
        p->text = realloc(p->text, p->cap);
        ck_assert_ptr_nonnull(p->text);
        p->text[p->len] = '\0';
    }
    ssize_t n = read(p->fd, p->text + p->len, 4096);
    if (n <= 0) {
        close(p->fd);
        p->fd = -1;
        return 0;
    }
    p->len += (size_t)n;
    p->text[p->len] = '\0';
    return 1;
}

int th_run_doubt_with(const char *const *args, const th_run_opts *opts, char **out, char **err)
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
    /* pipes, not files: a file size limit on the command must not cut its messages */
    int po[2], pe[2];
    ck_assert(pipe(po) == 0 && pipe(pe) == 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        if (opts && opts->file_size_limit >= 0) {
            const struct rlimit lim = {(rlim_t)opts->file_size_limit,
                                       (rlim_t)opts->file_size_limit};
            signal(SIGXFSZ, SIG_IGN); /* writes past the limit then fail with EFBIG */
            if (setrlimit(RLIMIT_FSIZE, &lim))
                _exit(126);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    pipe_text o = {po[0], NULL, 0, 0}, e = {pe[0], NULL, 0, 0};
    int killed = 0;
    while (o.fd >= 0 || e.fd >= 0) {
        struct pollfd fds[2] = {{o.fd, POLLIN, 0}, {e.fd, POLLIN, 0}};
        ck_assert(poll(fds, 2, -1) >= 0);
        if (fds[0].revents)
            pipe_read(&o);
        if (fds[1].revents)
            pipe_read(&e);
        if (opts && opts->kill_after_lines > 0 && !killed && o.text) {
            int lines = 0;
            for (const char *c = o.text; *c; c++)
                lines += *c == '\n';
            if (lines >= opts->kill_after_lines) {
                kill(pid, SIGKILL);
                killed = 1;
            }
        }
    }
    int ws;
    ck_assert(waitpid(pid, &ws, 0) == pid);
    *out = o.text ? o.text : strdup("");
    *err = e.text ? e.text : strdup("");
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

int th_run_doubt(const char *const *args, char **out, char **err)
{
    return th_run_doubt_with(args, NULL, out, err);
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
