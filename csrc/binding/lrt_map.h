/* The neutral <-> Live API mapping, on Lua values.
 *
 * lrt_open_map() adds to the module table (realtime.core):
 *
 *   map_new(ctx) -> state
 *       ctx = { backend = "gemini"|"vertex", project =, location =, express = bool,
 *               api_version = }
 *   map_setup(state, opts) -> JSON text of {"setup":{...}}    (raises on what cannot be
 *       converted; opts as client:connect{} takes them, already validated by the front)
 *   map_client(state, msg) -> { json, ... }                   (frames to send, in order)
 *                           | nil, message, "unsupported"     (session_update, response_create
 *                                                              overrides, will_continue = true on Vertex)
 *   map_history(state, items) -> JSON text of one clientContent | nil (no item has content)
 *   map_server(state, json_text) -> { msg, ... }              (neutral messages)
 *                                 | nil, message, "protocol"  (malformed JSON; a frame
 *                                                              that is not an object is
 *                                                              an error message with raw)
 *   model_name(ctx, model) -> wire model name                 (raises on unsafe names)
 *   json_encode, json_decode, json_array, json_null           (lrt_json.h)
 *
 * The state is a plain Lua table, so the binding can keep it in the session's user
 * value; a reconnect keeps it (pending results and call names survive). Its fields:
 *
 *   backend            "gemini" | "vertex"
 *   project, location  strings or nil (Vertex model prefix)
 *   express            boolean (Vertex with an API key: no project prefix)
 *   api_version        string or nil
 *   history_message    JSON text of the clientContent holding opts.history (map_setup),
 *                      to send right after setupComplete; nil when there is none
 *   history_overrun    nil, or why the history has no message: its text would pass
 *                      max_queue_bytes ("a send of more than M bytes exceeds ...")
 *   transcription      boolean: a kind = "transcription" session (map_setup): only the
 *                      input transcript and lifecycle messages reach the caller
 *   vad_manual         boolean: automatic activity detection is off (set by map_setup);
 *                      audio in a conversation item is then framed by activityStart/End
 *   input_rate         integer, input audio sample rate (map_setup; default 16000)
 *   input_mime         string, "audio/pcm;rate=<input_rate>" unless the format says else
 *   response_seq       integer: responses started so far (ids "resp_1", "resp_2", ...)
 *   response_id        string while a response is in progress, else nil (a response
 *                      ends at turnComplete or after a toolCall's items, once no
 *                      stream of it goes on)
 *   response_cancelled boolean: the response in progress was interrupted
 *   response_incomplete string or nil: turnCompleteReason that cut the response short
 *   response_usage     the usage table seen during the response in progress, or nil
 *   response_audio     boolean: output audio was sent in the response in progress
 *   rate_reported      the response_id whose unusable output audio rate was reported
 *                      (lrt_map_audio.c: once per response)
 *   after_tool_call    boolean: the last response ended with tool calls, so a bare
 *                      turnComplete that follows belongs to it
 *   text_parts         array of output text pieces of the response in progress
 *   transcript_parts   array of output transcription pieces of the response in progress
 *   input_parts        array of input transcription pieces not yet completed
 *   input_details,     the details of the input transcript not yet completed and of
 *   output_details     the response's output transcript: { language =, speaker =,
 *                      words = } when a piece had any, else nil (lrt_map_transcript.c)
 *   calls              { [call_id] = function name } of calls not yet answered
 *   streams            { [call_id] = { args, open, name } } of calls whose arguments
 *                      the server is streaming (partialArgs; lrt_map_calls.c)
 *   stream_last        the call_id of the stream in progress (pieces may omit the id)
 *   streams_failed     { [call_id] = true } of streams reported as not answerable or
 *                      withdrawn whose pieces go on: ignored up to their last piece or
 *                      the turn's end (a turn's end empties streams and this)
 *   answered_in        the response_id of the last response a call was answered in
 *   last_response_id   the id of the response that ended last
 *   generated_ids      { [call_id] = true } for ids we made up (the server sent none):
 *                      their results go out without an id
 *   cancelled_ids      { [call_id] = true } for calls the server withdrew
 *                      (toolCallCancellation): a later result for them is dropped; the
 *                      latest 256 (cancelled_order[cancelled_head..cancelled_tail]);
 *                      a withdrawn call leaves calls and generated_ids
 *   call_seq           integer: ids made up so far ("call_1", ...)
 *   pending            array of { id =, json =, keep = } function results waiting for
 *                      response_create (json: one functionResponses element; keep: the
 *                      result said more will follow, so the call stays in `calls`;
 *                      rx: for a made-up id, the number of the call's message)
 *   answer_rx          set by the response_create that made a toolResponse answering
 *                      a made-up id, for the send that takes it (lrt_send_all): per
 *                      answer, its `rx` or 0; answer_rx_at: the toolResponse's index in
 *                      the wire array. The core drops an answer whose message a
 *                      reconnect voided (rt_session_sendv_answers)
 *   media_trigger      boolean: an image went out with no text after it, so a
 *                      response_create must prompt the model
 *   turn_open          boolean: the last clientContent went out with turnComplete
 *                      false, so a response_create (with no results to send) ends
 *                      that turn: {"clientContent":{"turnComplete":true}}
 *   secrets            array of the session's key and token (false when absent): an
 *                      error quoting server values masks every 8-byte run of them
 *   turn_end           boolean: the last map_client ended a user turn (a text, an audio
 *                      item under automatic detection, a prompted response, a
 *                      turn_complete): stats' first_audio clock starts when it is sent
 *                      (the core starts it itself for an activityEnd)
 *   resumption_handle  the latest non-empty resumption handle (at first the one the
 *                      session was started from, if any), or nil
 */
#ifndef LRT_MAP_H
#define LRT_MAP_H

#include <lua.h>

/* Adds the functions above to the module table on top of the stack. Returns 0. */
int lrt_open_map(lua_State *L);

/* ---- internal to the mapping files (lrt_map*.c, lrt_schema*.c) ---- */

/* Nesting limit of a tool's parameters schema. */
#define LRT_SCHEMA_MAX_DEPTH 32

int lrt_map_setup(lua_State *L);
int lrt_map_client(lua_State *L);
int lrt_map_server(lua_State *L);

/* map_server for a frame held in C: maps text[0..len) with the mapping state at stack
 * index state and leaves 3 values on the stack: the array of messages, nil, nil; or nil,
 * a message, "protocol". Returns 3. */
int lrt_map_server_text(lua_State *L, int state, const char *text, size_t len);

int lrt_map_history(lua_State *L);

/* Undoes what map_client did to the state for a message whose frames could not all be
 * queued (lrt_session_send): the function results it took from `pending` (old_pending,
 * the table `pending` was before) are buffered again and their calls answerable again,
 * and media_trigger is set back to old_trigger. Leaves the stack as it was. */
void lrt_map_client_unflush(lua_State *L, int state, int old_pending, int old_trigger);

/* Buffers the function_result part i (the table at part) of conversation_item_create in
 * state.pending as {id =, json =, keep =} (lrt_map_result.c). Returns 0, or 1 with a
 * message pushed when the backend cannot take what the result asks for. */
int lrt_map_result_part(lua_State *L, int state, int part, int i);

/* What an error about a value of part i's result that JSON cannot carry starts with,
 * the path inside the response following ("... part 2 (function_result): response.v:
 * cannot encode NaN"): the message and the part, as the part's other errors name them. */
#define LRT_RESULT_ROOT "conversation_item_create: part %d (function_result): "

/* Appends to the frame list at out one clientContent frame holding the item at item
 * as a turn (lrt_map_content.c). Raises on what cannot be a turn. */
void lrt_map_turn(lua_State *L, int state, int item, int turn_complete, int out);

/* Raises "<who>: part <i> (<type>): unknown field 'x'" when the content part at part
 * (of a known type) has a field its type does not take. */
void lrt_map_part_fields(lua_State *L, int part, const char *type, const char *who, int i);

/* The mime type and bytes of the image or audio part i (the table at part), checked the
 * same way for a realtime send, a turn and history: the part's own mime (else the
 * session's input format for audio, or dflt) must hold no NUL or control byte and start
 * with kind ("image/" or "audio/"); a PCM one's rate= must be in
 * LRT_MIN_RATE..LRT_MAX_RATE and its bytes a whole number of 16-bit samples; data must
 * be a string. Raises "<who>: part <i>: ...". Pushes the mime type to send (type/subtype
 * in lower case) and returns it; data lives in the part table. Empty data is left to
 * the caller. */
const char *lrt_map_part_media(lua_State *L, int state, int part, const char *who, int i,
                               const char *kind, const char *dflt, const char **data,
                               size_t *n);

struct rt_model_ctx;
/* rt_model_resolve for a Lua string of n bytes (lrt_map.c): NULL when the wire name is
 * in out, else why the name is refused (a NUL byte among the reasons), for
 * core.model_name and the setup's 'model' alike. */
const char *lrt_map_model_name(const struct rt_model_ctx *c, const char *model, size_t n,
                               char *out, size_t outsz);

/* 1 when the conversation item at item has the role "user" (or none); raises on an
 * unknown role. */
int lrt_map_item_is_user(lua_State *L, int item);

/* The sample rates PCM may have, on the way in and out (the input format's rate
 * option takes the same). */
#define LRT_MIN_RATE 8000
#define LRT_MAX_RATE 192000

/* The sample rate of a "rate=" parameter of the mime type: dflt when there is none, -1
 * when it is not an integer in LRT_MIN_RATE..LRT_MAX_RATE, -2 when it is given twice
 * (lrt_map_audio.c). */
lua_Integer lrt_mime_rate(const char *mime, lua_Integer dflt);
/* Whether mime (of mlen bytes) is 16-bit PCM: audio/pcm with or without parameters (not
 * audio/pcmu, audio/pcma, nor a type holding a NUL byte). */
int lrt_mime_is_pcm16(const char *mime, size_t mlen);
/* Whether the n bytes given as PCM are a whole WAV file: they start with a RIFF/WAVE
 * header (read as PCM it is a click, and the file's rate was never checked). */
int lrt_pcm_is_wav(const char *pcm, size_t n);
/* What an error says about such bytes (after "bad argument" or a part's name). */
#define LRT_WAV_AS_PCM "a WAV file, header included: append its PCM (realtime.wav.decode or " \
                       "wav.read), at the session's rate"

/* Converts the JSON Schema (Lua table) at idx to a Live API Schema and pushes it.
 * Raises "tool '<tool>': ..." on what cannot be converted. */
void lrt_schema_convert(lua_State *L, int idx, const char *tool);

/* 1 when the state table at idx is for Vertex AI. */
int lrt_map_vertex(lua_State *L, int state);

/* lua_getfield and lua_geti for a table of the caller's (a message, an item, a part, a
 * list, a tool, a result's options; lrt_map_user.c): a key whose look-up through the
 * metatable's __index raises counts as absent, and nil is pushed, as connect does for
 * its options (a "strict" table). A table without a metatable is read as lua_getfield
 * reads it, and a stored key raw: only a missing key's __index runs protected. A memory
 * error still raises. lrt_user_bool: the field's truth, nothing pushed. */
int lrt_user_field(lua_State *L, int idx, const char *k);
int lrt_user_geti(lua_State *L, int idx, lua_Integer i);
int lrt_user_bool(lua_State *L, int idx, const char *k);

/* Pushes the array of the ids of the open calls (state.calls) that came in a server
 * message numbered above since (rt_event.seq), oldest first, and returns how many: the
 * calls a reconnect that resumed from message since has voided. Lets go of what it
 * noted about answered calls. */
int lrt_map_withdrawn_since(lua_State *L, int state, lua_Integer since);

/* Pops the value on top and appends it to the array at idx. */
void lrt_map_append(lua_State *L, int idx);

/* Small setters on the table at idx (absolute or relative to before the push). */
void lrt_set_str(lua_State *L, int idx, const char *k, const char *v);
void lrt_set_int(lua_State *L, int idx, const char *k, lua_Integer v);
void lrt_set_bool(lua_State *L, int idx, const char *k, int v);

/* Reads state[k] as an integer (0 when absent), and a boolean. */
lua_Integer lrt_get_int(lua_State *L, int idx, const char *k);
int lrt_get_bool(lua_State *L, int idx, const char *k);
/* Pushes the table state[k] (state at idx), made and stored there if it is not one. */
void lrt_get_table(lua_State *L, int idx, const char *k);

/* Pushes a deep copy of the value at idx: tables are copied (metatables kept, so array
 * markers survive) down to LRT_JSON_MAX_DEPTH, deeper ones shared (the encoder refuses
 * them), each once (the copy shares a subtable where the value does); keys are kept as
 * they are. With bytes_as_base64, a string that is not UTF-8
 * becomes its base64. */
void lrt_push_copy(lua_State *L, int idx, int bytes_as_base64);

/* Pushes table.concat of the array of strings at idx (pieces of a text or an argument). */
void lrt_push_concat(lua_State *L, int idx);

/* The length of the list (sequence) at idx. Raises "<who>: <what> must be a list ...,
 * but it has the key 'type'" (or "a hole before index 3") when the table has another key:
 * a part given without its list, or an entry after a hole, would be skipped silently. */
lua_Integer lrt_map_list_len(lua_State *L, int idx, const char *who, const char *what);

/* NULL when every key of the table at idx is one of names (NULL-ended); else pushes a
 * short form of the first other key ("'mimetype'"), with the name it most likely meant
 * when one stands out ("'mimeType' (did you mean 'mime'?)", lrt_suggest.h), and returns
 * it, for the caller's error: a misspelt field must not be ignored. */
const char *lrt_map_unknown_field(lua_State *L, int idx, const char *const names[]);

/* Pushes (one value) and returns s[0..n) quoted for an error message, cut at 40 bytes
 * ("...", before a character rather than inside it) so that a value of any size is
 * shown short, control and non-ASCII bytes as \xNN so that the message is printable
 * UTF-8 whatever the value held (lrt_push_shown). */
const char *lrt_map_shown(lua_State *L, const char *s, size_t n);

/* The string at idx, read to be compared with a fixed set of names (a role, a part or
 * message type, a scheduling, a schema keyword, ...), or NULL when the value is not a
 * string. A string holding a NUL byte raises "<what> '<value>' contains a NUL byte"
 * (what: a lua_pushfstring format and its arguments; the value as lrt_map_shown shows
 * it): strcmp would stop at the NUL, so "user\0x" would pass for "user". */
const char *lrt_map_enum(lua_State *L, int idx, const char *what, ...);

/* Pushes base64 of s[0..n) as a Lua string. */
void lrt_push_base64(lua_State *L, const char *s, size_t n);

#endif
