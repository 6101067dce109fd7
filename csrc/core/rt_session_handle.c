/* The resumption handle the owner may hand out (rt_session_resumption_handle). The I/O
 * thread publishes each handle it keeps as it parses it, with whether it held
 * everything the owner had queued then (rt_conn_track decides); the owner takes a copy
 * under pub_lock, and refuses it when the owner queued more since: the handle cannot
 * hold what was sent after it. Both sides hold the lock only for a pointer swap or a
 * copy of at most RT_SESSION_HANDLE_MAX bytes (RT_HANDLE_MAX). */
#include "rt_session_private.h"

#include <string.h>

#include "rt_alloc.h"
#include "rt_json.h"

/* the server's handles always fit the buffer the header promises */
_Static_assert(RT_SESSION_HANDLE_MAX >= RT_HANDLE_MAX, "RT_SESSION_HANDLE_MAX too small");

void rt_session_publish(struct rt_session *s, const char *h, size_t n, bool full,
                        uint64_t queued)
{
    struct rt_json_val v = { RT_JSON_STRING, h, n, 0 };
    struct rt_handle_pub *p, *old;
    size_t len = 0;
    char *text = h ? rt_json_strdup(&v, &len, NULL) : NULL;

    /* Out of memory (or no handle): none is handed out, rather than an older one that
     * may not hold what this one does. */
    p = text ? rt_malloc(sizeof *p + len + 1) : NULL;
    if (p) {
        p->full = full;
        p->queued = queued;
        p->len = len;
        memcpy(p->text, text, len + 1);
    }
    rt_free(text);
    pthread_mutex_lock(&s->pub_lock);
    old = s->pub;
    s->pub = p;
    pthread_mutex_unlock(&s->pub_lock);
    rt_free(old);
}

int rt_session_resumption_handle(struct rt_session *s, char *out, size_t cap, size_t *len,
                                 struct rt_error *err)
{
    const struct rt_handle_pub *p;
    int rc = 0;

    rt_error_clear(err);
    if (len)
        *len = 0;
    if (!s || !out || !len) {
        rt_error_set(err, RT_EINVAL, !s ? "session is NULL" : "out and len are required");
        return -1;
    }
    if (rt_fork_check(&s->born, "a session", err))   /* the lock may be the parent's */
        return -1;
    pthread_mutex_lock(&s->pub_lock);
    p = s->pub;
    if (p && p->full && p->queued == atomic_load(&s->queued)) {
        if (p->len < cap) {
            memcpy(out, p->text, p->len + 1);
            *len = p->len;
            rc = 1;
        } else {
            rt_error_set(err, RT_EINVAL, "a %zu-byte buffer cannot hold the %zu-byte "
                         "resumption handle", cap, p->len);
            *len = p->len;
            rc = -1;
        }
    }
    pthread_mutex_unlock(&s->pub_lock);
    return rc;
}
