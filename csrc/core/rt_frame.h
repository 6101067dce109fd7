/* WebSocket message framing that knows no sockets: reassembly of incoming fragments
 * under a size limit, and the JSON text of outgoing audio messages. */
#ifndef RT_FRAME_H
#define RT_FRAME_H

#include <stdbool.h>
#include <stddef.h>

#include "rt_error.h"
#include "rt_queue.h"

/* Bytes of PCM per audio message; longer appends are split. */
#define RT_FRAME_AUDIO_SPLIT 32000

/* ---- incoming: fragment reassembly ---- */

struct rt_reasm {
    unsigned char *block;  /* owned: `headroom` bytes, the message so far, room for a NUL */
    size_t headroom;       /* bytes reserved before the message (for the caller's header) */
    size_t len;            /* message bytes so far */
    size_t cap;            /* bytes allocated after the headroom */
    size_t max;            /* largest message accepted */
    bool active;           /* a message has started and not finished */
    bool binary;           /* the message came in binary frames */
};

/* Prepares r for messages of at most max bytes. Each completed message is returned in one
 * block with `headroom` spare bytes in front, so a caller can turn it into its own record
 * (an event) without copying. */
void rt_reasm_init(struct rt_reasm *r, size_t headroom, size_t max);
void rt_reasm_free(struct rt_reasm *r);     /* frees any partial message */

/* Adds one received chunk. first/final say whether it starts or ends the message
 * (zero-length chunks count: an empty final chunk ends the message). Returns 1 when a
 * message is complete (collect it with rt_reasm_take), 0 when more is expected, -1 with
 * RT_EPROTOCOL when the message would exceed the maximum or a continuation arrives with
 * no message started, or RT_ENOMEM. After -1 the partial message is dropped. */
int rt_reasm_feed(struct rt_reasm *r, const void *p, size_t n, bool first, bool final,
                  bool binary, struct rt_error *err);

/* The completed message's block (the caller frees it with rt_free): headroom bytes, then
 * *len message bytes, then a NUL. NULL when no message is complete or out of memory
 * (an empty message still needs an allocation). */
void *rt_reasm_take(struct rt_reasm *r, size_t *len);

/* ---- outgoing: audio messages ---- */

/* Builds the chain of messages
 *   {"realtimeInput":{"audio":{"data":"<base64>","mimeType":"<mime>"}}}
 * for len bytes of PCM, one message per `split` bytes (split must be a positive even
 * number; 0 means RT_FRAME_AUDIO_SPLIT). The base64 text is written straight into each
 * message's buffer. On success *chain owns the messages (free with rt_msg_free_chain or
 * hand to a queue) and *bytes is their payload total. mime must not need JSON escaping
 * (see rt_frame_mime_ok). len 0 gives an empty chain. */
int rt_frame_audio(const void *pcm, size_t len, const char *mime, size_t split,
                   struct rt_msg **chain, size_t *bytes, struct rt_error *err);

/* True when s can be placed between JSON quotes as is: printable ASCII without '"'
 * and '\\'. */
bool rt_frame_mime_ok(const char *s);

#endif
