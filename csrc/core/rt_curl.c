/* libcurl through dlopen (see rt_curl.h). */
#include "rt_curl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct rt_curl_api rt_curl;

static pthread_once_t rt_curl_once = PTHREAD_ONCE_INIT;
static char rt_curl_why[200];   /* empty once loaded */

/* The library's names: the run-time package's soname first (Debian's libcurl4), then
 * the development symlink. */
static const char *const rt_curl_names[] = { "libcurl.so.4", "libcurl.so" };

/* Stores the address of `name` in *slot; 0, or -1 with rt_curl_why set. */
static int rt_curl_sym(void *lib, const char *name, void *slot)
{
    void *p = dlsym(lib, name);

    if (!p) {
        snprintf(rt_curl_why, sizeof rt_curl_why, "libcurl has no %s", name);
        return -1;
    }
    /* POSIX guarantees data and function pointers convert through dlsym's void * */
    memcpy(slot, &p, sizeof p);
    return 0;
}

static void rt_curl_open(void)
{
    void *lib = NULL;
    int bad = 0;

    for (size_t i = 0; !lib && i < sizeof rt_curl_names / sizeof rt_curl_names[0]; i++) {
        lib = dlopen(rt_curl_names[i], RTLD_NOW | RTLD_LOCAL);
        /* the soname's failure is the one to report: libcurl.so is only a fallback */
        if (!lib && i == 0) {
            const char *e = dlerror();
            snprintf(rt_curl_why, sizeof rt_curl_why, "%s", e ? e : "libcurl.so.4 not found");
        }
    }
    if (!lib)
        return;
#define RT_SYM(field, name) bad = bad || rt_curl_sym(lib, name, &rt_curl.field)
    RT_SYM(global_init, "curl_global_init");
    RT_SYM(easy_strerror, "curl_easy_strerror");
    RT_SYM(easy_init, "curl_easy_init");
    RT_SYM(easy_setopt, "curl_easy_setopt");
    RT_SYM(easy_getinfo, "curl_easy_getinfo");
    RT_SYM(easy_cleanup, "curl_easy_cleanup");
    RT_SYM(slist_append, "curl_slist_append");
    RT_SYM(slist_free_all, "curl_slist_free_all");
    RT_SYM(multi_init, "curl_multi_init");
    RT_SYM(multi_add_handle, "curl_multi_add_handle");
    RT_SYM(multi_remove_handle, "curl_multi_remove_handle");
    RT_SYM(multi_perform, "curl_multi_perform");
    RT_SYM(multi_poll, "curl_multi_poll");
    RT_SYM(multi_wakeup, "curl_multi_wakeup");
    RT_SYM(multi_timeout, "curl_multi_timeout");
    RT_SYM(multi_info_read, "curl_multi_info_read");
    RT_SYM(multi_cleanup, "curl_multi_cleanup");
    RT_SYM(multi_strerror, "curl_multi_strerror");
    RT_SYM(version_info, "curl_version_info");
#undef RT_SYM
    if (bad) {
        /* a libcurl older than 7.68 (no curl_multi_poll / curl_multi_wakeup) */
        memset(&rt_curl, 0, sizeof rt_curl);
        dlclose(lib);
        return;
    }
    /* The library stays loaded for the life of the process: its threads and global
     * state (curl_global_init) may outlive any one client. */
    rt_curl_why[0] = '\0';
}

int rt_curl_load(struct rt_error *err)
{
    if (pthread_once(&rt_curl_once, rt_curl_open) != 0) {
        rt_error_set(err, RT_ECONNECT, "libcurl could not be loaded");
        return -1;
    }
    if (rt_curl.version_info && !rt_curl_why[0])
        return 0;
    rt_error_set(err, RT_ECONNECT, "libcurl could not be loaded (install libcurl4): %s",
                 rt_curl_why);
    return -1;
}
