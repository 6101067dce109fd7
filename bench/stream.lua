-- Workload 1, "stream": one session; BENCH_STREAM_SECONDS (default 600) of 16 kHz audio in
-- 20 ms chunks, sent as fast as the simulator takes it; the simulator (--pace fast) answers
-- every utterance with 24 kHz audio.
--
-- The audio is a sequence of utterances (1 s of tone, 2 s of silence). All chunks of one
-- utterance are appended at once; the next utterance starts when the reply to this one has
-- ended (response_done). So at most one utterance is in flight: the simulator sets the pace.
-- This is plain blocking use of the module: append_audio, then receive() until done.
local lib = require "bench.lib"

local seconds = lib.env_number("BENCH_STREAM_SECONDS", 600)
local chunks = lib.utterance_chunks(1, 2)
local per_utterance = #chunks * 0.02
local utterances = math.ceil(seconds / per_utterance)

local cpu0, t0 = lib.cpu(), lib.now()
local client = lib.client()
local session = assert(client:connect(lib.session_options))
local cpu1, t1 = lib.cpu(), lib.now()

local sent_chunks, audio_bytes, deltas, replies = 0, 0, 0, 0
for _ = 1, utterances do
  for _, chunk in ipairs(chunks) do
    assert(session:append_audio(chunk))
    sent_chunks = sent_chunks + 1
  end
  while true do
    local msg = assert(session:receive(30))
    if msg.type == "output_audio_delta" then
      audio_bytes = audio_bytes + #msg.audio
      deltas = deltas + 1
    elseif msg.type == "response_done" then
      replies = replies + 1
      break
    elseif msg.type == "closed" or msg.type == "error" then
      error("session ended: " .. tostring(msg.reason or msg.message))
    end
  end
end
local cpu2, t2 = lib.cpu(), lib.now()
session:close()
client:close()

local audio_s = sent_chunks * 0.02
lib.result {
  workload = "stream",
  audio_seconds = audio_s,
  chunks = sent_chunks,
  replies = replies,
  reply_audio_seconds = audio_bytes / 48000,
  reply_deltas = deltas,
  connect_cpu = cpu1 - cpu0,
  stream_cpu = cpu2 - cpu1,
  stream_wall = t2 - t1,
  stream_cpu_per_audio_hour = (cpu2 - cpu1) * 3600 / audio_s,
}
