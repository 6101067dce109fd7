/* Error struct helpers (see rt_error.h). */
#include "rt_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rt_error_set(struct rt_error *e, enum rt_code code, const char *fmt, ...)
{
    va_list ap;

    if (!e || e->code != RT_OK)
        return;
    e->code = code;
    va_start(ap, fmt);
    /* vsnprintf truncates and always terminates; a negative result leaves the buffer
     * in an unspecified state, so fall back to the code's name. */
    if (vsnprintf(e->msg, sizeof e->msg, fmt, ap) < 0)
        snprintf(e->msg, sizeof e->msg, "%s", rt_code_name(code));
    va_end(ap);
}

void rt_error_clear(struct rt_error *e)
{
    if (!e)
        return;
    e->code = RT_OK;
    e->msg[0] = '\0';
}

const char *rt_code_name(enum rt_code code)
{
    static const char *const names[] = {
        [RT_OK] = "ok",
        [RT_ETIMEOUT] = "timeout",
        [RT_ECLOSED] = "closed",
        [RT_EDNS] = "dns",
        [RT_ECONNECT] = "connect",
        [RT_ETLS] = "tls",
        [RT_EHANDSHAKE] = "handshake",
        [RT_EAUTH] = "auth",
        [RT_EPROTOCOL] = "protocol",
        [RT_EBUSY] = "busy",
        [RT_EUNSUPPORTED] = "unsupported",
        [RT_ENOMEM] = "nomem",
        [RT_EINVAL] = "invalid",
    };

    if ((unsigned)code >= sizeof names / sizeof names[0])
        return "unknown";
    return names[code];
}
