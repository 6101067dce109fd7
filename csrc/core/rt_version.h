/* The version of realtime, in one place: the C library (rt_version()), the Lua module
 * (realtime._VERSION), the user agent sent with every request, realtime.pc and the shared
 * library's name and soname all take it from here (the Makefile reads this line). */
#ifndef RT_VERSION_H
#define RT_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define RT_VERSION "0.1.0"

/* The version of the library linked in, which may differ from RT_VERSION (the header's)
 * when a program runs with another build of the shared library. */
const char *rt_version(void);

#ifdef __cplusplus
}
#endif

#endif
