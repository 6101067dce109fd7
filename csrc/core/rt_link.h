/* The link that queued items embed: whichever list holds an item owns it. */
#ifndef RT_LINK_H
#define RT_LINK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rt_link {
    struct rt_link *next;
};

/* The struct of `type` whose `member` p points to. */
#define rt_container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

#ifdef __cplusplus
}
#endif

#endif
