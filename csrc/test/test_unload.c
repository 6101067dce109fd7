/* The library's shared objects stay mapped after dlclose (-z nodelete).
 *
 * A resolver thread inside getaddrinfo is not waited for when its client is freed
 * (rt_resolve.c), and lua_close unloads core.so: a host that closed a Lua state and
 * kept running crashed seconds later, when the lookup returned into unmapped code.
 * Each object is loaded, closed, and must still be found by RTLD_NOLOAD. The objects
 * are the build's: build/<...>/test/test_unload finds them one directory up. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rt_test.h"

static char build_dir[PATH_MAX];

/* The build directory: the parent of the directory this program is in. */
static int find_build_dir(void)
{
    ssize_t n = readlink("/proc/self/exe", build_dir, sizeof build_dir - 1);
    char *slash;

    if (n <= 0)
        return -1;
    build_dir[n] = '\0';
    for (int i = 0; i < 2; i++) {
        if (!(slash = strrchr(build_dir, '/')))
            return -1;
        *slash = '\0';
    }
    return 0;
}

/* Loads build/<name>, closes it, and reports whether it is still mapped. Lua's symbols
 * stay unresolved (RTLD_LAZY): nothing of the object is called. */
static int stays_after_dlclose(const char *name)
{
    char path[PATH_MAX + 64];
    void *h;

    snprintf(path, sizeof path, "%s/%s", build_dir, name);
    if (!(h = dlopen(path, RTLD_LAZY | RTLD_LOCAL))) {
        printf("# dlopen %s: %s\n", path, dlerror());
        return 0;
    }
    if (dlclose(h) != 0) {
        printf("# dlclose %s: %s\n", path, dlerror());
        return 0;
    }
    if (!(h = dlopen(path, RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD))) {
        printf("# %s was unmapped by dlclose\n", name);
        return 0;
    }
    (void)dlclose(h);
    return 1;
}

static void test_module_stays(void)
{
    RT_CHECK(stays_after_dlclose("realtime/core.so"));
}

/* librealtime-lua needs librealtime.so.<soversion>, found loaded by its soname. */
static void test_libraries_stay(void)
{
    RT_CHECK(stays_after_dlclose("librealtime.so"));
    RT_CHECK(stays_after_dlclose("librealtime-lua.so"));
}

int main(void)
{
    if (find_build_dir() != 0) {
        printf("not ok 1 - cannot tell the build directory from /proc/self/exe\n");
        return 1;
    }
    RT_RUN(test_module_stays);
    RT_RUN(test_libraries_stay);
    return rt_test_done();
}
