/* Files the library reads by name (CA bundles, credential files). open() on a FIFO waits
 * for a writer, and a device (/dev/zero) never ends: a path that names one must neither
 * hang the caller nor fill memory. */
#ifndef RT_FILE_H
#define RT_FILE_H

#include <stddef.h>

#include "rt_error.h"

/* Room for a path as messages show it (rt_file_shown). */
#define RT_FILE_SHOWN_MAX 400

/* The path as messages show it, in out: control and non-ASCII bytes, quotes and
 * backslashes as \xNN (rt_printable), so that a path cannot write lines or terminal
 * escapes into a log; "..." ends one cut to fit. Returns out. */
const char *rt_file_shown(char out[RT_FILE_SHOWN_MAX], const char *path);

/* 0 when `path` is a regular file this process can read; else -1 with err set
 * (code `code`), the message naming `what` and the path: "<what> <path> is a FIFO, not a
 * file", "cannot read <what> <path>: <strerror>". */
int rt_file_check(const char *path, const char *what, enum rt_code code, struct rt_error *err);

/* 1 when something (of any kind) is at path, else 0. */
int rt_file_exists(const char *path);

/* Reads the file at `path` whole into buf (max + 1 bytes: one more tells a file that
 * grew past max) when it holds at most `max` bytes; *len is its length. A pipe or a
 * device is read too (a shell's `<(command)` is a pipe), but opened without waiting for a
 * writer and read for at most `wait` seconds. -1 with err (RT_EINVAL) otherwise: "cannot
 * read <what> <path>: <why>", "<what> <path> is a directory, not a file", "... is larger
 * than <max> bytes", "... is a FIFO that nothing writes to", "... gave nothing more for
 * <wait> s". */
int rt_file_read(const char *path, const char *what, size_t max, double wait, char *buf,
                 size_t *len, struct rt_error *err);

#endif
