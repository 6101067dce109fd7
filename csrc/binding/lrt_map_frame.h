/* What the parts of map_server (lrt_map_server.c, lrt_map_server_content.c,
 * lrt_map_msg.c, lrt_map_usage.c, lrt_map_audio.c, lrt_map_calls.c, lrt_map_withdraw.c,
 * lrt_map_partial.c, lrt_map_lifecycle.c, lrt_map_activity.c, lrt_map_transcript.c)
 * share while they turn one server frame into neutral messages. Internal to the mapping. */
#ifndef LRT_MAP_FRAME_H
#define LRT_MAP_FRAME_H

#include <lua.h>

#include "lrt_map_keys.h"

/* One server frame being mapped; the fields are stack indexes. */
struct lrt_frame {
    lua_State *L;
    int state;   /* the mapping state (lrt_map.h) */
    int raw;     /* the decoded frame */
    int out;     /* the array of neutral messages */
    int keys;    /* the interned names (lrt_map_keys.h) */
    const char *text;   /* the frame's JSON text, as the core scans it (rt_resume.h) */
    size_t len;
};

/* Pushes a new message {type =, raw =, response_id = <current, if any>} and returns its
 * stack index. */
int lrt_msg_new(struct lrt_frame *f, const char *type);
/* The same, with a type among the interned names. */
int lrt_msg_newk(struct lrt_frame *f, enum lrt_key type);

/* Appends the message on top to the output and pops it. */
void lrt_msg_push(struct lrt_frame *f);

/* Appends an error message (code "protocol", the message formatted as lua_pushfstring
 * does) about server data the mapping could not use as it came; it carries the response
 * in progress, if any. */
void lrt_msg_protocol_error(struct lrt_frame *f, const char *fmt, ...);

/* What the decoded JSON value at idx is, for an error message: "a string", "an
 * array", "null", ... */
const char *lrt_json_kind(lua_State *L, int idx);

/* Reads t[k] as a flag: 1 only for JSON true. Any other value than a boolean (null, 0,
 * "yes") is taken as false, as the core reads it, and reported as a protocol error that
 * names it as where.k. */
int lrt_map_flag(struct lrt_frame *f, int t, const char *k, const char *where);
/* The same for the value on top of the stack (popped), which is where.k. */
int lrt_map_flag_top(struct lrt_frame *f, const char *where, const char *k);

/* Maps one audio part (mime type of mlen bytes, and its base64 data at stack index data) to an
 * output_audio_delta, starting a response if needed (lrt_map_audio.c). */
void lrt_map_audio_part(struct lrt_frame *f, const char *mime, size_t mlen, int data);

/* Reads t[k], an offset, as a google.protobuf.Duration ("1.5s") in seconds, as the core
 * reads them (rt_resume_offset: not capped, as goAway's deadline is): -1 when absent; -2
 * when it is there but does not read, which is reported as where.k, left out. */
double lrt_map_duration(struct lrt_frame *f, int t, const char *k, const char *where);

/* 1 while a response is in progress. */
int lrt_responding(struct lrt_frame *f);

/* Starts a response (response_created) unless one is in progress. */
void lrt_ensure_response(struct lrt_frame *f);

/* Empties the text and transcript pieces of the response in the mapping state. */
void lrt_reset_parts(lua_State *L, int state);

/* Reads t[k] (named where.k in errors) as a count: a non-negative integer, or one in a
 * string. -1 when absent, and when it is something else, which is reported. */
lua_Integer lrt_count(struct lrt_frame *f, int t, const char *k, const char *where);

/* Pushes the neutral `usage` table of the usageMetadata object at um (lrt_map_usage.c);
 * counts that are not counts are reported and left out. */
void lrt_push_usage(struct lrt_frame *f, int um);

/* Maps goAway (the object at ga; 0 when the member is not an object, which is
 * reported) to go_away (lrt_map_lifecycle.c). */
void lrt_map_go_away(struct lrt_frame *f, int ga);

/* Maps the sessionResumptionUpdate object at sr to session_resumption_update. */
void lrt_map_resumption(struct lrt_frame *f, int sr);

/* Maps the voiceActivity object at va, and the voiceActivityDetectionSignal object at
 * vs, to input_audio_buffer_speech_started / _stopped (lrt_map_activity.c); an edge of
 * a kind they do not know gives nothing. */
void lrt_map_voice_activity(struct lrt_frame *f, int va);
void lrt_map_vad_signal(struct lrt_frame *f, int vs);

/* Reads the details of the transcription object at tr (named `path` in errors:
 * languageCode, speakerLabel, words) onto the message at m (0: none, the piece had no
 * text) and gathers them in state[key] for the whole transcript (lrt_map_transcript.c). */
void lrt_map_transcript_details(struct lrt_frame *f, int tr, const char *path, int m,
                                const char *key);
/* Sets the gathered details of state[key] on the message at m (the whole transcript's)
 * and starts over. */
void lrt_map_transcript_complete(struct lrt_frame *f, const char *key, int m);

/* Maps the serverContent object at content (lrt_map_server_content.c) up to its
 * turnComplete, in the frame's order: parts, grounding, generation_complete,
 * transcriptions, interrupted; with deltas_only (content has no member but modelTurn)
 * the parts alone. Returns 1 when turnComplete is true. */
int lrt_map_server_content(struct lrt_frame *f, int content, int deltas_only);

/* Pushes a new message about the model's response and returns its stack index: the
 * response in progress; right after a response that ended with tool calls, that one;
 * else a response starts. */
int lrt_map_response_msg(struct lrt_frame *f, const char *type);

/* Ends the response (starting one if none is in progress): emits the input transcript
 * still open, the *_done messages and response_done, whose status reads the
 * serverContent at content (0: none) and whose usage is the table at usage (0: the one
 * kept for the response). */
void lrt_map_end_turn(struct lrt_frame *f, int content, int usage);

/* Maps the toolCall object at tc: returns the number of calls that ended (their items
 * were emitted), or -1 with a message pushed. */
int lrt_map_tool_calls(struct lrt_frame *f, int tc);

/* Ends the streams still open at the end of a turn (turnComplete, an interruption, a
 * reconnect: the server sends no more of them): an error for each such call, which is
 * not answered, and the stream bookkeeping emptied, so that later pieces start afresh
 * (lrt_map_calls.c). */
void lrt_map_end_streams(struct lrt_frame *f);

/* Notes in state.call_rx the number of the server message the call (id at id) came in
 * (rx_seq, set by the receive for each message): a reconnect that resumes from before
 * it voids the call (lrt_map_withdrawn_since, lrt_map_withdraw.c). */
void lrt_map_note_call_rx(struct lrt_frame *f, int id);

/* Maps the toolCallCancellation object at tcc, and drops the withdrawn calls' results
 * still waiting to be sent (lrt_map_withdraw.c). */
void lrt_map_cancellation(struct lrt_frame *f, int tcc);

/* Streamed arguments (lrt_map_partial.c). Applies one partialArgs piece (the table at
 * pa) to the arguments built so far (the table at args); open (a table) keeps the
 * strings that go on in a later piece. Returns 0, or -1 with a message pushed. */
int lrt_partial_apply(lua_State *L, int args, int open, int pa, const char *fname);
/* Puts every string still open in `open` together into the arguments. */
void lrt_partial_materialize(lua_State *L, int open);
/* Whether the open strings are worth putting together for a delta now. */
int lrt_partial_due(lua_State *L, int open);

#endif
