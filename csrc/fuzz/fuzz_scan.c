/* libFuzzer target: the I/O thread's view of a server message (rt_scan_server) and the
 * setup rewrite fed with whatever handle the message carries. Any input must scan without
 * reading out of bounds; a handle accepted by rt_resume_handle_ok must give a setup that
 * still scans as one JSON object, and rewriting that setup again must replace the handle
 * rather than add a second one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rt_resume.h"

static const char rt_fz_setup[] =
    "{\"setup\":{\"model\":\"models/m\",\"sessionResumption\":{},\"generationConfig\":{}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rt_scan sc, again;
    char out[sizeof rt_fz_setup + RT_HANDLE_MAX + 32];
    size_t at, n;
    bool empty;

    if (rt_scan_server((const char *)data, size, &sc) != 0)
        return 0;
    if (sc.handle && rt_resume_handle_ok(sc.handle, sc.handle_len)) {
        if (!rt_resume_find(rt_fz_setup, sizeof rt_fz_setup - 1, &at, &empty))
            abort();
        n = rt_resume_setup(rt_fz_setup, sizeof rt_fz_setup - 1, at, empty, sc.handle,
                            sc.handle_len, out, sizeof out);
        if (n == 0 || rt_scan_server(out, n, &again) != 0)
            abort();
        /* the rewritten setup still has exactly one sessionResumption, now non-empty */
        if (!rt_resume_find(out, n, &at, &empty) || empty)
            abort();
        /* rewriting it again (a setup that already carries a handle) replaces the handle:
         * the same handle gives the same text back */
        char again_out[sizeof out];
        size_t m = rt_resume_setup(out, n, at, empty, sc.handle, sc.handle_len, again_out,
                                   sizeof again_out);
        if (m != n || memcmp(out, again_out, n) != 0)
            abort();
    }
    return 0;
}
