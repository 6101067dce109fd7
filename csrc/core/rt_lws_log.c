/* Capture of libwebsockets' log lines.
 *
 * lws logging is process-wide in 4.1. The last error or warning logged on a thread
 * usually names the cause of a connection failure, and is attached to the error. Set
 * RT_LWS_LOG in the environment to see every line on stderr. */
#include "rt_lws_log.h"

#include <errno.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char rt_last_log_line[200];
static _Thread_local int rt_last_log_errno;
static pthread_once_t rt_log_once = PTHREAD_ONCE_INIT;
static bool rt_log_stderr;

static void rt_log_emit(int level, const char *line)
{
    int e = errno;   /* what failed just before the line, for those that do not say */
    size_t n;

    if (rt_log_stderr)
        fprintf(stderr, "lws: %s", line);
    if (!(level & (LLL_ERR | LLL_WARN)))
        return;
    rt_last_log_errno = e;
    if (line[0] == '[') {            /* skip "[YYYY/MM/DD HH:MM:SS.frac] E: " */
        const char *p = strchr(line, ']');
        if (p) {
            line = p + 1;
            while (*line == ' ')
                line++;
            if (line[0] && line[1] == ':' && line[2] == ' ')
                line += 3;
        }
    }
    snprintf(rt_last_log_line, sizeof rt_last_log_line, "%s", line);
    n = strlen(rt_last_log_line);
    while (n && (rt_last_log_line[n - 1] == '\n' || rt_last_log_line[n - 1] == '\r'))
        rt_last_log_line[--n] = '\0';
    /* socket() failed (out of descriptors, say): lws does not name the cause */
    if (strcmp(rt_last_log_line, "Unable to open socket") == 0 && e)
        snprintf(rt_last_log_line + n, sizeof rt_last_log_line - n, " (%s)", strerror(e));
}

static void rt_log_setup(void)
{
    rt_log_stderr = getenv("RT_LWS_LOG") != NULL;
    lws_set_log_level(rt_log_stderr ? LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO
                                    : LLL_ERR | LLL_WARN, rt_log_emit);
}

const char *rt_lws_last_log(void)
{
    return rt_last_log_line;
}

int rt_lws_last_errno(void)
{
    return rt_last_log_errno;
}

void rt_lws_clear_log(void)
{
    rt_last_log_line[0] = '\0';
    rt_last_log_errno = 0;
}

void rt_lws_log_init(void)
{
    pthread_once(&rt_log_once, rt_log_setup);
}
