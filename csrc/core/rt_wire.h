/* The wire facts of the realtime input path, in one place: how user audio is cut into
 * messages and framed for activity detection, and how the first server message is
 * recognised (the others are read by rt_scan_server). The core sends these; the binding calls the same
 * functions for audio items, so no literal is written twice. */
#ifndef RT_WIRE_H
#define RT_WIRE_H

#include <stdbool.h>
#include <stddef.h>

#include "rt_error.h"
#include "rt_queue.h"

/* Bytes of PCM per realtimeInput.audio message; a longer append is split. */
#define RT_WIRE_AUDIO_CHUNK 32000

/* The control messages of the realtime input path. */
enum rt_wire_control {
    RT_WIRE_ACTIVITY_START,   /* {"realtimeInput":{"activityStart":{}}}: automatic
                                 detection off, before a turn's first audio */
    RT_WIRE_ACTIVITY_END,     /* {"realtimeInput":{"activityEnd":{}}}: that turn's end */
    RT_WIRE_AUDIO_STREAM_END  /* {"realtimeInput":{"audioStreamEnd":true}}: automatic
                                 detection on (Gemini API): the audio stream paused */
};

/* The JSON text of a control message (static storage) and its length. */
const char *rt_wire_control_text(enum rt_wire_control c, size_t *len);
/* The same as a new message, its RT_MSG_ACT_* flag set (NULL when out of memory). */
struct rt_msg *rt_wire_control_msg(enum rt_wire_control c);
/* RT_MSG_ACT_START or RT_MSG_ACT_END when text[0..len) is a JSON object whose
 * realtimeInput holds activityStart or activityEnd (an object; either spelling, any
 * spacing or order: a caller's message as much as the core's own); RT_MSG_REALTIME with
 * them, and for any text whose first key is realtimeInput or that names it anywhere;
 * RT_MSG_TOOL_RESPONSE alone when its first key is "toolResponse" (as the binding writes
 * it) or "tool_response" (looked at in a few bytes, not read through); else 0. */
unsigned rt_wire_flags(const void *text, size_t len);

/* True when s can stand between JSON quotes as is (printable ASCII, no '"' or '\\'):
 * the audio mime type is written without escaping. */
bool rt_wire_mime_ok(const char *s);

/* Length of the audio message text for n bytes of PCM (n <= RT_WIRE_AUDIO_CHUNK). */
size_t rt_wire_audio_len(size_t n, const char *mime);
/* Writes that text for pcm[0..n) into out (rt_wire_audio_len bytes, no NUL); mime must
 * pass rt_wire_mime_ok. Returns the length. */
size_t rt_wire_audio_text(char *out, const void *pcm, size_t n, const char *mime);

/* Builds the chain of messages
 *   {"realtimeInput":{"audio":{"data":"<base64>","mimeType":"<mime>"}}}
 * for len bytes of PCM, one per RT_WIRE_AUDIO_CHUNK bytes, the base64 written straight
 * into each message. *chain receives them oldest first (free with rt_msg_free_chain or
 * hand them on), *bytes their payload total. len 0 gives an empty chain. -1 with
 * RT_EINVAL (odd length, a mime that needs escaping) or RT_ENOMEM. */
int rt_wire_audio(const void *pcm, size_t len, const char *mime, struct rt_msg **chain,
                  size_t *bytes, struct rt_error *err);
/* rt_wire_audio for a mime type already found good by rt_wire_mime_ok, of mime_len bytes
 * (a session checks and measures its own once, when it is made, not on every append). */
int rt_wire_audio_checked(const void *pcm, size_t len, const char *mime, size_t mime_len,
                          struct rt_msg **chain, size_t *bytes, struct rt_error *err);

/* True when the server message is a setupComplete: a JSON object with the top-level key
 * "setupComplete" (not merely text that contains the word). */
bool rt_wire_is_setup_complete(const char *text, size_t len);

#endif
