/* libFuzzer target: the WebSocket frame parser followed by the scanner, the path server
 * bytes take on the I/O thread. The input is cut into chunks: one length byte, then that
 * many bytes, fed one chunk at a time, as reads deliver them. */
#include <stdint.h>
#include <stdlib.h>

#include "rt_alloc.h"
#include "rt_resume.h"
#include "rt_ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
    struct rt_ws_rx *p;
    int stop_every;
    int seen;
};

static int on_event(void *v, enum rt_ws_event ev, const unsigned char *pl, size_t len)
{
    struct ctx *c = v;
    struct rt_scan sc;

    if (ev == RT_WS_EV_MESSAGE) {
        size_t n;
        bool bin;
        unsigned char first = len ? pl[0] : 0;   /* pl is valid until the take */
        unsigned char *b = rt_ws_rx_take(c->p, &n, &bin);
        if (n != len || n > 4096 || b[24 + n] != '\0' || (n && b[24] != first))
            abort();
        (void)rt_scan_server((const char *)b + 24, n, &sc);
        rt_free(b);
    } else if (len > 125) {
        abort();
    }
    return c->stop_every && ++c->seen % c->stop_every == 0 ? RT_WS_STOP : RT_WS_GO_ON;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rt_ws_rx p;
    struct rt_error err;
    struct ctx c = { &p, size ? data[0] % 4 : 0, 0 };
    size_t i = size ? 1 : 0;

    rt_ws_rx_init(&p, 24, 4096);
    while (i < size) {
        size_t n = data[i++];
        if (n > size - i)
            n = size - i;
        while (n) {
            long used;
            rt_error_clear(&err);
            used = rt_ws_rx_feed(&p, data + i, n, on_event, &c, &err);
            if (used < 0 || (size_t)used > n)
                goto out;
            i += (size_t)used;
            n -= (size_t)used;
        }
    }
out:
    rt_ws_rx_free(&p);
    return 0;
}
