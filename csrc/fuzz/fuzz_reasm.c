/* libFuzzer target: frame reassembly (rt_reasm) followed by the scanner, the path a
 * server message takes on the I/O thread. The input is a script of chunks: one flag byte
 * (bit 0 first, bit 1 final, bit 2 binary), one length byte, then that many bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rt_alloc.h"
#include "rt_frame.h"
#include "rt_resume.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rt_reasm r;
    struct rt_error err;
    struct rt_scan sc;
    size_t i = 0, expect = 0;

    rt_reasm_init(&r, 24, 1024);
    while (i + 2 <= size) {
        uint8_t flags = data[i], n = data[i + 1];
        int rc;

        i += 2;
        if (n > size - i)
            n = (uint8_t)(size - i);
        rt_error_clear(&err);
        rc = rt_reasm_feed(&r, data + i, n, flags & 1, (flags & 2) != 0, (flags & 4) != 0,
                           &err);
        if (rc < 0) {
            expect = 0;
        } else if (flags & 1) {
            expect = n;
        } else {
            expect += n;
        }
        if (rc == 1) {
            size_t len;
            unsigned char *block = rt_reasm_take(&r, &len);
            if (block) {
                if (len != expect || len > 1024 || block[24 + len] != '\0')
                    abort();
                (void)rt_scan_server((const char *)block + 24, len, &sc);
                rt_free(block);
            }
            expect = 0;
        }
        i += n;
    }
    rt_reasm_free(&r);
    return 0;
}
