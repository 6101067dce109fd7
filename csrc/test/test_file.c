/* Files read by name (rt_file.c): what each kind of path gives, and that nothing waits
 * without bound or reads past the limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rt_file.h"
#include "rt_test.h"

static char dir[64];

static void path_of(char *out, size_t n, const char *name)
{
    snprintf(out, n, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    RT_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

static void test_regular(void)
{
    char p[128], buf[17];
    size_t len = 99;
    struct rt_error err = { 0 };

    path_of(p, sizeof p, "key.json");
    write_file(p, "{\"a\":1}");
    RT_CHECK(rt_file_read(p, "credentials file", 16, 1, buf, &len, &err) == 0);
    RT_CHECK(len == 7 && memcmp(buf, "{\"a\":1}", 7) == 0);
    RT_CHECK(rt_file_check(p, "ca_file", RT_ETLS, &err) == 0);
    RT_CHECK(rt_file_exists(p));

    /* one byte over the limit is refused, and the limit itself is read */
    write_file(p, "0123456789abcdefX");
    RT_CHECK(rt_file_read(p, "credentials file", 16, 1, buf, &len, &err) == -1);
    RT_CHECK(strstr(err.msg, "is larger than 16 bytes") != NULL && len == 0);
    rt_error_clear(&err);
    write_file(p, "0123456789abcdef");
    RT_CHECK(rt_file_read(p, "credentials file", 16, 1, buf, &len, &err) == 0 && len == 16);
}

static void test_not_files(void)
{
    char p[128], buf[17];
    size_t len;
    struct rt_error err = { 0 };

    RT_CHECK(rt_file_read(dir, "credentials file", 16, 1, buf, &len, &err) == -1);
    RT_CHECK(strstr(err.msg, "is a directory, not a file") != NULL);
    rt_error_clear(&err);
    RT_CHECK(rt_file_check(dir, "ca_file", RT_ETLS, &err) == -1 && err.code == RT_ETLS);
    RT_CHECK(strstr(err.msg, "is a directory, not a file") != NULL);

    path_of(p, sizeof p, "missing.json");
    rt_error_clear(&err);
    RT_CHECK(rt_file_read(p, "credentials file", 16, 1, buf, &len, &err) == -1);
    RT_CHECK(strstr(err.msg, "cannot read credentials file") != NULL &&
             strstr(err.msg, "No such file") != NULL);
    RT_CHECK(!rt_file_exists(p));

    /* a FIFO with no writer: at once, no wait */
    path_of(p, sizeof p, "fifo");
    RT_CHECK(mkfifo(p, 0600) == 0);
    rt_error_clear(&err);
    RT_CHECK(rt_file_read(p, "credentials file", 16, 5, buf, &len, &err) == -1);
    RT_CHECK(strstr(err.msg, "is a FIFO that nothing writes to") != NULL);
    rt_error_clear(&err);
    RT_CHECK(rt_file_check(p, "ca_file", RT_ETLS, &err) == -1);
    RT_CHECK(strstr(err.msg, "is a FIFO, not a file") != NULL);
    RT_CHECK(rt_file_exists(p));

    /* a device that never ends stops at the limit */
    rt_error_clear(&err);
    RT_CHECK(rt_file_read("/dev/zero", "credentials file", 16, 1, buf, &len, &err) == -1);
    RT_CHECK(strstr(err.msg, "/dev/zero is larger than 16 bytes") != NULL);
}

static void test_pipe(void)
{
    char p[128], buf[17];
    size_t len = 0;
    struct rt_error err = { 0 };
    int fds[2];

    /* /dev/fd/N of a pipe, as a shell's <(command) gives: read to its end */
    RT_CHECK(pipe(fds) == 0);
    RT_CHECK(write(fds[1], "{\"k\":2}", 7) == 7);
    RT_CHECK(close(fds[1]) == 0);
    snprintf(p, sizeof p, "/dev/fd/%d", fds[0]);
    RT_CHECK(rt_file_read(p, "credentials file", 16, 1, buf, &len, &err) == 0);
    RT_CHECK(len == 7 && memcmp(buf, "{\"k\":2}", 7) == 0);
    close(fds[0]);

    /* a writer that stops without closing: the wait is bounded */
    RT_CHECK(pipe(fds) == 0);
    RT_CHECK(write(fds[1], "{", 1) == 1);
    snprintf(p, sizeof p, "/dev/fd/%d", fds[0]);
    rt_error_clear(&err);
    RT_CHECK(rt_file_read(p, "credentials file", 16, 0.2, buf, &len, &err) == -1);
    RT_CHECK(strstr(err.msg, "gave nothing more for 0.2 s") != NULL);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/rt_file_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RT_RUN(test_regular);
    RT_RUN(test_not_files);
    RT_RUN(test_pipe);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stdout, "# could not remove %s\n", dir);
    return rt_test_done();
}
