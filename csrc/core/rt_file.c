/* Files read by name (see rt_file.h). */
#include "rt_file.h"

#include "rt_clock.h"
#include "rt_utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *rt_file_shown(char out[RT_FILE_SHOWN_MAX], const char *path)
{
    int cut;
    size_t w = rt_printable(out, RT_FILE_SHOWN_MAX - 3, path, strlen(path), &cut);

    if (cut)
        memcpy(out + w, "...", 4);
    return out;
}

/* What a non-regular file is, in a word a user knows. */
static const char *kind_name(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISCHR(m) || S_ISBLK(m))
        return "a device";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a regular file";
}

static int refuse_kind(const char *path, const char *what, mode_t m, enum rt_code code,
                       struct rt_error *err)
{
    char sp[RT_FILE_SHOWN_MAX];

    rt_error_set(err, code, "%s %s is %s, not a file", what, rt_file_shown(sp, path), kind_name(m));
    return -1;
}

int rt_file_check(const char *path, const char *what, enum rt_code code, struct rt_error *err)
{
    char sp[RT_FILE_SHOWN_MAX];
    struct stat st;

    if (stat(path, &st) != 0) {
        rt_error_set(err, code, "cannot read %s %s: %s",
                     what, rt_file_shown(sp, path), strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode))
        return refuse_kind(path, what, st.st_mode, code, err);
    if (access(path, R_OK) != 0) {
        rt_error_set(err, code, "cannot read %s %s: %s",
                     what, rt_file_shown(sp, path), strerror(errno));
        return -1;
    }
    return 0;
}

int rt_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Reads fd to its end, at most max + 1 bytes (a file that grew past max is caught). A
 * pipe or a device (non-blocking) is waited on with poll until `deadline`. */
static int read_all(int fd, char *buf, size_t max, double deadline, size_t *len)
{
    size_t n = 0;

    while (n <= max) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN) {
            double left = deadline - rt_clock_now();
            struct pollfd p = { .fd = fd, .events = POLLIN };
            if (left <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            if (poll(&p, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR)
                return -1;
            continue;
        }
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return 0;
}

int rt_file_read(const char *path, const char *what, size_t max, double wait, char *buf,
                 size_t *len, struct rt_error *err)
{
    char sp[RT_FILE_SHOWN_MAX];
    struct stat st;
    int fd;

    *len = 0;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rt_error_set(err, RT_EINVAL, "cannot read %s %s: %s",
                     what, rt_file_shown(sp, path), strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        rt_error_set(err, RT_EINVAL, "cannot read %s %s: %s",
                     what, rt_file_shown(sp, path), strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode) || S_ISSOCK(st.st_mode)) {
        refuse_kind(path, what, st.st_mode, RT_EINVAL, err);
        goto fail;
    }
    if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max) {
        rt_error_set(err, RT_EINVAL, "%s %s is larger than %zu bytes",
                     what, rt_file_shown(sp, path), max);
        goto fail;
    }
    if (read_all(fd, buf, max, rt_clock_now() + wait, len) != 0) {
        if (errno == ETIMEDOUT)
            rt_error_set(err, RT_EINVAL, "%s %s gave nothing more for %g s",
                         what, rt_file_shown(sp, path), wait);
        else
            rt_error_set(err, RT_EINVAL, "cannot read %s %s: %s",
                         what, rt_file_shown(sp, path), strerror(errno));
        goto fail;
    }
    if (*len > max) {
        rt_error_set(err, RT_EINVAL, "%s %s is larger than %zu bytes",
                     what, rt_file_shown(sp, path), max);
        goto fail;
    }
    if (*len == 0 && S_ISFIFO(st.st_mode)) {
        /* opened without waiting, a FIFO with no writer reads as empty at once */
        rt_error_set(err, RT_EINVAL, "%s %s is a FIFO that nothing writes to",
                     what, rt_file_shown(sp, path));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rt_error_set(err, RT_EINVAL, "cannot read %s %s: %s",
                     what, rt_file_shown(sp, path), strerror(errno));
        goto fail;
    }
    return 0;
fail:
    *len = 0;
    if (fd >= 0)
        close(fd);
    return -1;
}
