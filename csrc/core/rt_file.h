/* Files the library reads by name (CA bundles, credential files): regular files only.
 * open() on a FIFO waits for a writer, and a device (/dev/zero) never ends, so a path
 * that names one would hang or fill memory; these say what the path is instead. */
#ifndef RT_FILE_H
#define RT_FILE_H

#include <stddef.h>

#include "rt_error.h"

/* 0 when `path` is a regular file this process can read; else -1 with err set
 * (code `code`), the message naming `what` and the path: "<what> <path> is a FIFO, not a
 * file", "cannot read <what> <path>: <strerror>". */
int rt_file_check(const char *path, const char *what, enum rt_code code, struct rt_error *err);

/* 1 when something (of any kind) is at path, else 0. */
int rt_file_exists(const char *path);

/* Reads the regular file at `path` whole into buf (max + 1 bytes: one more tells a file
 * that grew past max) when it holds at most `max` bytes; *len is its length. -1 with err
 * (RT_EINVAL) otherwise, as rt_file_check words it, or "<what> <path> is larger than
 * <max> bytes". Opened without waiting: a FIFO is refused, not waited on. */
int rt_file_read(const char *path, const char *what, size_t max, char *buf, size_t *len,
                 struct rt_error *err);

#endif
