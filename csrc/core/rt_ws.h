/* The WebSocket protocol (RFC 6455) for a client, without sockets: the upgrade request
 * and the check of its answer, frame headers and masking for what we send, and a parser
 * for what the server sends.
 *
 * libwebsockets carries the bytes (TCP, TLS, the event loop); the framing is ours. Its
 * 4.1 client parses incoming frames one byte per function call, masks outgoing payloads
 * one byte at a time after reading /dev/urandom for each frame's key, hides the mask bit
 * of incoming frames and the body of a refused upgrade, and keeps an 8 KB buffer per
 * connection: see docs/design.md, "The engine". */
#ifndef RT_WS_H
#define RT_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt_buf.h"
#include "rt_error.h"

/* Opcodes. */
enum {
    RT_WS_CONT = 0x0, RT_WS_TEXT = 0x1, RT_WS_BINARY = 0x2,
    RT_WS_CLOSE = 0x8, RT_WS_PING = 0x9, RT_WS_PONG = 0xa
};

/* Longest frame header we write: 2 + 8 length bytes + 4 mask bytes. */
#define RT_WS_HEAD_MAX 14
/* Longest control frame we write: a 6-byte header and 125 payload bytes. */
#define RT_WS_CONTROL_MAX 131
/* Smallest fragment of a long message worth its header. */
#define RT_WS_PIECE_MIN 1024
/* Longest close reason (a control payload is at most 125 bytes, 2 of them the code). */
#define RT_WS_REASON_MAX 123
/* Longest upgrade answer header block accepted. */
#define RT_WS_RESPONSE_MAX 16384
/* Most interim (1xx) answers skipped before the final one. */
#define RT_WS_INTERIM_MAX 8

/* ---- the upgrade ------------------------------------------------------------------- */

struct rt_ws_header {
    const char *name;    /* without the colon */
    const char *value;
};

/* A fresh Sec-WebSocket-Key: 16 random bytes in base64 (24 characters and a NUL).
 * 0, or -1 when the random generator fails. */
int rt_ws_new_key(char key[25]);

/* Appends the GET request that asks host_header's server to upgrade `path`, carrying
 * the extra headers (values may hold secrets: out is wiped by its owner). -1 when out
 * of memory. */
int rt_ws_request(struct rt_buf *out, const char *host_header, const char *path,
                  const char *key, const struct rt_ws_header *headers, size_t n);

/* What the server answered. */
struct rt_ws_answer {
    int status;                  /* HTTP status */
    char reason[64];             /* reason phrase, cut to fit */
    size_t head_start;           /* where its status line starts (after interim answers) */
    size_t header_len;           /* bytes up to its body: interim answers, the status line
                                  * and headers, blank line included */
    long content_length;         /* -1 when absent */
    char problem[128];           /* for a 101: why it is not a valid upgrade ("" when it is) */
};

/* Reads the answer's header block from buf[0..len), after up to RT_WS_INTERIM_MAX interim
 * (1xx but 101) answers, which it skips. Returns 1 when it is complete (a is filled), 0
 * when more bytes are needed, -1 when it is not HTTP, has more interim answers or heads
 * longer than RT_WS_RESPONSE_MAX in all (a->problem says which). `key` is the
 * Sec-WebSocket-Key we sent. */
int rt_ws_parse_answer(const char *buf, size_t len, const char *key, struct rt_ws_answer *a);

/* ---- frames we send ---------------------------------------------------------------- */

/* Whether a close frame may carry `code`: 1000-1003, 1007-1014, 3000-4999. */
bool rt_ws_close_code_ok(int code);

/* Four random bytes for a frame's mask. 0, or -1 when the random generator fails. */
int rt_ws_mask_key(unsigned char key[4]);

/* Writes the header of a masked frame (fin set, given opcode, payload of len bytes) into
 * out (RT_WS_HEAD_MAX bytes of room) and returns its length. */
size_t rt_ws_head(unsigned char *out, int opcode, size_t len, const unsigned char key[4]);

/* Writes the next frame of a message (opcode, msg[0..len)) whose first *off bytes are
 * written into out (room bytes), advances *off and sets *n to the bytes written, 0 when
 * nothing was. The rest goes as one frame when it fits; a message that does not goes in
 * fragments that fill room (FIN clear, continuation frames after the first), so that each
 * call ends at a frame boundary, where a control frame may go (RFC 6455 5.4). A message
 * whose one frame (header included) fits in `whole` bytes (the least an empty buffer
 * offers) waits for one instead of starting as a fragment; room below RT_WS_PIECE_MIN + RT_WS_HEAD_MAX gets no
 * fragment. whole must be at least that. 0, or -1 when the random generator fails. */
int rt_ws_frame_next(unsigned char *out, size_t room, size_t whole, int opcode,
                     const unsigned char *msg, size_t len, size_t *off, size_t *n);

/* Copies n bytes of src into dst masked with key, src being at offset `off` of the frame's
 * payload (so a payload can be masked in pieces). dst and src may be equal. */
void rt_ws_mask(unsigned char *dst, const unsigned char *src, size_t n,
                const unsigned char key[4], size_t off);

/* ---- frames we receive ------------------------------------------------------------- */

/* What the parser hands out. */
enum rt_ws_event {
    RT_WS_EV_MESSAGE,  /* a complete text or binary message: take it with rt_ws_rx_take */
    RT_WS_EV_PING,     /* payload: the ping's application data */
    RT_WS_EV_PONG,
    RT_WS_EV_CLOSE     /* code and reason in the parser (close_code, close_reason) */
};

/* Return value of the callback: go on, or stop after this event (the caller's queue is
 * full); the unread rest of the input is left for the next rt_ws_rx_feed. */
enum { RT_WS_GO_ON = 0, RT_WS_STOP = 1 };

/* payload: a message's text (valid until rt_ws_rx_take, which may move it), or a control
 * frame's payload (valid during the call). */
typedef int (*rt_ws_rx_cb)(void *ctx, enum rt_ws_event ev, const unsigned char *payload,
                           size_t len);

struct rt_ws_rx {
    /* settings */
    size_t headroom;           /* bytes reserved before each message's payload */
    size_t max;                /* largest message accepted */
    /* frame being read */
    unsigned char head[14];
    size_t head_len;           /* header bytes collected */
    size_t head_need;          /* header bytes this frame has (known after byte 2) */
    int opcode;
    bool fin;
    uint64_t left;             /* payload bytes of this frame still to come */
    unsigned char *ctl;        /* owned: a control frame's payload and room for a NUL,
                                  allocated per frame (most connections never see one);
                                  a close frame's stays, holding close_reason */
    size_t ctl_len;
    /* message being assembled */
    bool in_msg;
    bool binary;
    unsigned char *block;      /* owned: headroom, payload so far, room for a NUL */
    size_t len, cap;
    /* after a close frame */
    int close_code;            /* 1005 when the close frame had no code */
    const char *close_reason;  /* NUL-terminated, "" when none; valid until rt_ws_rx_free */
    bool closed;               /* a close frame was read: what follows is ignored */
    /* the first protocol failure */
    int fail_code;             /* close code to send back (1002, 1007, 1009, 1011), 0 = none */
};

void rt_ws_rx_init(struct rt_ws_rx *p, size_t headroom, size_t max);
void rt_ws_rx_free(struct rt_ws_rx *p);   /* frees a partial message and the close
                                             reason; p can be reused */

/* Parses n bytes, calling cb for each event. Returns the bytes consumed (less than n
 * when cb said RT_WS_STOP), or -1 on a protocol failure: err has RT_EPROTOCOL (or
 * RT_ENOMEM) and p->fail_code the close code to answer with. After a close frame, bytes
 * that follow are consumed and ignored. */
long rt_ws_rx_feed(struct rt_ws_rx *p, const unsigned char *in, size_t n, rt_ws_rx_cb cb,
                   void *ctx, struct rt_error *err);

/* The message of the last RT_WS_EV_MESSAGE (called from the callback): a block of
 * headroom bytes, then *len payload bytes and a NUL, sized to fit; the caller frees it
 * with rt_free. *binary tells a binary message from a text one. */
void *rt_ws_rx_take(struct rt_ws_rx *p, size_t *len, bool *binary);

#endif
