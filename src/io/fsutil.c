#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static doubt_status mkdir_one(const char *path, const char *full, doubt_error *err)
{
    if (mkdir(path, 0777) == 0)
        return DOUBT_OK;
    int e = errno;
    struct stat st;
    /* EEXIST covers races with another process making the same folder. */
    if (e == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return DOUBT_OK;
    if (e == EEXIST)
        return doubt_fail(err, DOUBT_ERR_IO, "mkdir %s: %s exists and is not a folder", full, path);
    return doubt_fail_os(err, e, "mkdir %s: %s: %s", full, path, strerror(e));
}

doubt_status doubt_mkdir_p(const char *path, doubt_error *err)
{
    if (!path || !*path)
        return doubt_fail(err, DOUBT_ERR_ARG, "mkdir: empty path");
    size_t n = strlen(path);
    if (n >= DOUBT_PATH_MAX)
        return doubt_fail(err, DOUBT_ERR_ARG, "mkdir %.64s...: path longer than %d bytes", path,
                          DOUBT_PATH_MAX - 1);
    char buf[DOUBT_PATH_MAX];
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (buf[i] != '/' || buf[i - 1] == '/')
            continue;
        buf[i] = '\0';
        doubt_status st = mkdir_one(buf, path, err);
        buf[i] = '/';
        if (st)
            return st;
    }
    return mkdir_one(buf, path, err);
}

doubt_status doubt_path_join(char *out, const char *dir, const char *name, doubt_error *err)
{
    size_t dl = strlen(dir);
    int slash = dl > 0 && dir[dl - 1] != '/';
    int n = snprintf(out, DOUBT_PATH_MAX, "%s%s%s", dir, slash ? "/" : "", name);
    if (n < 0 || n >= DOUBT_PATH_MAX)
        return doubt_fail(err, DOUBT_ERR_ARG, "path %s/%s: longer than %d bytes", dir, name,
                          DOUBT_PATH_MAX - 1);
    return DOUBT_OK;
}

doubt_status doubt_path_join_suffix(char *out, const char *dir, const char *name,
                                    const char *suffix, doubt_error *err)
{
    char base[DOUBT_PATH_MAX];
    if (snprintf(base, sizeof base, "%s%s", name, suffix) >= (int)sizeof base)
        return doubt_fail(err, DOUBT_ERR_ARG, "name too long: %s", name);
    return doubt_path_join(out, dir, base, err);
}

int doubt_is_regular_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static doubt_status open_temporary(doubt_atomic_file *af, const char *path, int durable,
                                   doubt_error *err)
{
    af->f = NULL;
    af->durable = durable;
    af->tmp[0] = '\0';
    af->path[0] = '\0';
    if (!path || !*path)
        return doubt_fail(err, DOUBT_ERR_ARG, "write: empty path");
    size_t n = strlen(path);
    if (n >= DOUBT_PATH_MAX)
        return doubt_fail(err, DOUBT_ERR_ARG, "write %.64s...: path too long", path);
    memcpy(af->path, path, n + 1);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base)
        return doubt_fail(err, DOUBT_ERR_ARG, "write %s: path names a folder", path);
    int dirlen = slash ? (int)(slash - path + 1) : 0;
    int m = snprintf(af->tmp, sizeof af->tmp, "%.*s.%s.tmp.%ld", dirlen, path, base,
                     (long)getpid());
    if (m < 0 || m >= (int)sizeof af->tmp) {
        af->tmp[0] = '\0';
        return doubt_fail(err, DOUBT_ERR_ARG, "write %s: path too long", path);
    }
    af->f = fopen(af->tmp, "wb");
    if (!af->f) {
        int e = errno;
        af->tmp[0] = '\0';
        return doubt_fail_os(err, e, "write %s: %s", path, strerror(e));
    }
    return DOUBT_OK;
}

doubt_status doubt_atomic_open(doubt_atomic_file *af, const char *path, doubt_error *err)
{
    return open_temporary(af, path, 0, err);
}

doubt_status doubt_atomic_open_durable(doubt_atomic_file *af, const char *path,
                                       doubt_error *err)
{
    return open_temporary(af, path, 1, err);
}

/* fsync of the folder holding path, so the rename itself survives a power loss. */
static int sync_folder(const char *path)
{
    char dir[DOUBT_PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return errno;
    int e = fsync(fd) ? errno : 0;
    close(fd);
    return e;
}

doubt_status doubt_atomic_commit(doubt_atomic_file *af, doubt_error *err)
{
    if (!af->f)
        return doubt_fail(err, DOUBT_ERR_ARG, "write %s: file is not open", af->path);
    /* A stream that failed earlier keeps its error flag but not its errno: the flush
     * below repeats the failure when data is still buffered, else it reads as EIO. */
    int e = 0;
    if (fflush(af->f) != 0)
        e = errno;
    else if (ferror(af->f))
        e = EIO;
    else if (af->durable && fsync(fileno(af->f)) != 0)
        e = errno;
    if (fclose(af->f) != 0 && !e)
        e = errno;
    af->f = NULL;
    if (!e && rename(af->tmp, af->path) != 0)
        e = errno;
    if (e) {
        remove(af->tmp);
        af->tmp[0] = '\0';
        return doubt_fail_os(err, e, "write %s: %s", af->path, strerror(e));
    }
    af->tmp[0] = '\0';
    if (af->durable && (e = sync_folder(af->path)) != 0)
        return doubt_fail_os(err, e, "write %s: written, but its folder cannot be synced: %s",
                             af->path, strerror(e));
    return DOUBT_OK;
}

void doubt_atomic_abort(doubt_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    af->f = NULL;
    if (af->tmp[0])
        remove(af->tmp);
    af->tmp[0] = '\0';
}

doubt_status doubt_check_writable(const char *dir, doubt_error *err)
{
    char probe[DOUBT_PATH_MAX];
    if ((size_t)snprintf(probe, sizeof probe, "%s/.doubt-write-check.%ld", dir,
                         (long)getpid()) >= sizeof probe)
        return doubt_fail(err, DOUBT_ERR_ARG, "output folder %.64s...: path too long", dir);
    int fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        int e = errno;
        return doubt_fail_os(err, e, "output folder %s: cannot write there: %s", dir,
                             strerror(e));
    }
    /* one byte, synced: a full disk may accept the file and refuse only its data */
    int e = write(fd, "", 1) != 1 || fsync(fd) != 0 ? errno : 0;
    if (close(fd) != 0 && !e)
        e = errno;
    unlink(probe);
    if (e)
        return doubt_fail_os(err, e, "output folder %s: cannot write there: %s", dir,
                             strerror(e));
    return DOUBT_OK;
}
