--- 16-bit PCM WAV files, for feeding recorded speech to a session and saving its answers.
--
--   local pcm, rate, channels = wav.read(path)        -- nil, message when unreadable
--   assert(wav.write(path, pcm, rate[, channels]))   -- true, or nil, message
--   local pcm, rate, channels = wav.decode(bytes)    -- the same, in memory
--   local bytes = wav.encode(pcm, rate[, channels])
--   local mono = wav.to_mono(pcm, channels)
--
-- PCM is raw 16-bit little-endian samples in a Lua string, frames interleaved when there
-- is more than one channel. A file that cannot be read or is not a 16-bit PCM WAV gives
-- nil and a message; wrong arguments (a number for a string, odd PCM) raise.
local wav = {}

local spack, sunpack = string.pack, string.unpack
local shown = require("realtime.options").shown   -- a value quoted short for errors
-- a path as messages show it: control and non-ASCII bytes escaped, as the C side does
local shown_path = require("realtime.core")._shown_path

-- The subformat GUID of WAVE_FORMAT_EXTENSIBLE files holding integer PCM, after its
-- first two bytes (which repeat the format tag).
local KSDATAFORMAT_PCM_TAIL = "\0\0\0\0\16\0\128\0\0\170\0\56\155\113"

local FORMAT_NAMES = { [3] = "IEEE float", [6] = "A-law", [7] = "mu-law", [2] = "ADPCM", [0x11] = "IMA ADPCM" }

local function fail(fmt, ...)
  return nil, string.format(fmt, ...)
end

-- io.open's message ("<path>: <why>") with the path as messages show it.
local function open_failed(path, err)
  local why = err:sub(1, #path + 2) == path .. ": " and err:sub(#path + 3) or "cannot open"
  return fail("%s: %s", shown_path(path), why)
end

-- Raises for a caller's mistake, blaming the caller of the public function: `level`
-- counts the helpers between it and check (default: called from the function itself).
local function check(cond, fname, arg, msg, level)
  if not cond then
    error(string.format("bad argument #%d to '%s' (%s)", arg, fname, msg), (level or 0) + 3)
  end
end

local function check_int(v, fname, arg, what, lo, hi)
  local i = type(v) == "number" and math.tointeger(v) or nil
  check(i, fname, arg, string.format("%s must be an integer, got %s", what,
    v ~= v and "NaN" or type(v) == "number" and tostring(v) or type(v)), 1)
  check(i >= lo and i <= hi, fname, arg,
    string.format("%s must be between %d and %d, got %d", what, lo, hi, i), 1)
  return i
end

local function check_pcm(pcm, channels, fname, arg)
  check(type(pcm) == "string", fname, arg, "string of 16-bit PCM expected, got " .. type(pcm), 1)
  check(#pcm % (2 * channels) == 0, fname, arg,
    string.format("PCM must hold whole %d-channel 16-bit frames, got %d bytes", channels, #pcm), 1)
end

-- A file name: the C library would stop at a NUL byte and use another file.
local function check_path(path, fname)
  check(type(path) == "string", fname, 1, "path string expected, got " .. type(path), 1)
  check(path ~= "", fname, 1, "the path is empty", 1)   -- io.open's message would name nothing
  check(not path:find("\0", 1, true), fname, 1, "the path contains a NUL byte", 1)
  if not io then   -- a sandboxed state
    error(("realtime.wav.%s: needs Lua's io library; without it, use realtime.wav.%s"):format(
      fname, fname == "read" and "decode" or "encode"), 3)
  end
end

-- Reads the fmt chunk body at pos (size bytes): rate, channels, or nil, message.
local function parse_fmt(bytes, pos, size)
  if size < 16 then
    return fail("malformed WAV: fmt chunk of %d bytes (at least 16 expected)", size)
  end
  local tag, channels, rate, _, block_align, bits = sunpack("<I2 I2 I4 I4 I2 I2", bytes, pos)
  if tag == 0xFFFE then
    if size < 40 then
      return fail("malformed WAV: extensible fmt chunk of %d bytes (40 expected)", size)
    end
    local sub, tail = sunpack("<I2 c14", bytes, pos + 24)
    if tail ~= KSDATAFORMAT_PCM_TAIL then
      return fail("unsupported WAV encoding: extensible subformat that is not a standard one")
    end
    tag = sub
  end
  if tag ~= 1 then
    return fail("unsupported WAV encoding: %s (only 16-bit PCM is read)",
      FORMAT_NAMES[tag] or string.format("format tag 0x%04x", tag))
  end
  if bits ~= 16 then
    return fail("unsupported WAV encoding: %d-bit PCM (only 16-bit PCM is read)", bits)
  end
  if channels == 0 then
    return fail("malformed WAV: 0 channels")
  end
  if rate == 0 then
    return fail("malformed WAV: sample rate 0")
  end
  if block_align ~= 2 * channels then
    return fail("malformed WAV: block size %d for %d 16-bit channels", block_align, channels)
  end
  return rate, channels
end

-- Whether a chunk header could start at pos: a four-character printable id and a size
-- that fits in what follows.
local function chunk_header_at(bytes, pos)
  if pos + 7 > #bytes then return false end
  local id, size = sunpack("<c4 I4", bytes, pos)
  return id:find("^[\32-\126][\32-\126][\32-\126][\32-\126]$") ~= nil and size <= #bytes - pos - 7
end

--- Decodes a WAV file held in a string: pcm, rate, channels, or nil, message.
function wav.decode(bytes)
  check(type(bytes) == "string", "decode", 1, "string expected, got " .. type(bytes))
  if #bytes < 12 then
    return fail("not a WAV file: %d bytes, shorter than a RIFF header", #bytes)
  end
  local riff, _, wave = sunpack("<c4 I4 c4", bytes)
  if riff ~= "RIFF" or wave ~= "WAVE" then
    return fail("not a WAV file: no RIFF/WAVE header")
  end
  local rate, channels, data_pos, data_size
  local pos = 13
  -- Chunks in any order; unknown ones (LIST, fact, cue, ...) are skipped. A chunk body
  -- is padded to an even length.
  while pos + 7 <= #bytes do
    local id, size = sunpack("<c4 I4", bytes, pos)
    local body = pos + 8
    local avail = #bytes - body + 1
    if id == "fmt " then
      if size > avail then
        return fail("malformed WAV: fmt chunk runs past the end of the file")
      end
      -- which one holds the truth cannot be told
      if rate then return fail("malformed WAV: a second fmt chunk") end
      local err
      rate, err = parse_fmt(bytes, body, size)
      if not rate then return nil, err end
      channels = err
    elseif id == "data" and not data_pos then
      data_pos = body
      -- Writers streaming to a pipe leave a placeholder size, and a cut file keeps what
      -- arrived: take the bytes that are there. A placeholder of 0 (a writer that meant to
      -- patch it on close) with audio after it, not another chunk, is read to the end too.
      if size == 0 and avail > 0 and not chunk_header_at(bytes, body) then size = avail end
      data_size = math.min(size, avail)
      if size > avail then break end
    elseif size > avail and not data_pos then
      -- the data chunk, if any, is hidden inside what this one claims
      return fail("malformed WAV: chunk %s of %d bytes runs past the end of the file, "
        .. "before any data chunk", shown(id), size)
    end
    pos = body + size + size % 2
  end
  if not rate then
    return fail("malformed WAV: no fmt chunk")
  end
  if not data_pos then
    return fail("malformed WAV: no data chunk")
  end
  -- A partial last frame cannot be played; drop it.
  data_size = data_size - data_size % (2 * channels)
  return bytes:sub(data_pos, data_pos + data_size - 1), rate, channels
end

--- Encodes PCM as a canonical 44-byte-header WAV file and returns its bytes.
-- A frame of 16-bit samples is 2 * channels bytes, and the header holds that in 16 bits.
local MAX_CHANNELS = 32767

function wav.encode(pcm, rate, channels)
  channels = channels == nil and 1 or check_int(channels, "encode", 3, "channels", 1, MAX_CHANNELS)
  check_pcm(pcm, channels, "encode", 1)
  rate = check_int(rate, "encode", 2, "rate", 1, 0xFFFFFFFF // (2 * channels))
  check(#pcm <= 0xFFFFFFFF - 36, "encode", 1, "PCM too large for a WAV file (4 GiB)")
  return spack("<c4 I4 c4 c4 I4 I2 I2 I4 I4 I2 I2 c4 I4",
    "RIFF", 36 + #pcm, "WAVE",
    "fmt ", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16,
    "data", #pcm) .. pcm
end

--- Reads a WAV file: pcm, rate, channels, or nil, message.
function wav.read(path)
  check_path(path, "read")
  local f, err = io.open(path, "rb")
  if not f then return open_failed(path, err) end
  -- The header first: what is not a WAV file (a device such as /dev/zero, a huge file of
  -- something else) is not read to its end.
  local bytes, rerr = f:read(12)
  if bytes and #bytes == 12 and bytes:find("^RIFF....WAVE") then
    local rest
    rest, rerr = f:read "a"
    bytes = rest and bytes .. rest or nil
  elseif not bytes and not rerr then
    bytes = ""                          -- an empty file
  end
  f:close()
  if not bytes then
    return fail("%s: %s", shown_path(path), tostring(rerr))
  end
  local pcm, rate, channels = wav.decode(bytes)
  if not pcm then
    return fail("%s: %s", shown_path(path), rate)
  end
  return pcm, rate, channels
end

--- Writes PCM to a WAV file: true, or nil, message.
function wav.write(path, pcm, rate, channels)
  check_path(path, "write")
  channels = channels == nil and 1 or check_int(channels, "write", 4, "channels", 1, MAX_CHANNELS)
  check_pcm(pcm, channels, "write", 2)
  rate = check_int(rate, "write", 3, "rate", 1, 0xFFFFFFFF // (2 * channels))
  local bytes = wav.encode(pcm, rate, channels)
  local f, err = io.open(path, "wb")
  if not f then return open_failed(path, err) end
  local ok, werr = f:write(bytes)
  local cok, cerr = f:close()
  if not ok then return fail("%s: %s", shown_path(path), tostring(werr)) end
  if not cok then return fail("%s: %s", shown_path(path), tostring(cerr)) end
  return true
end

--- Mixes interleaved frames down to one channel (the mean, rounded to nearest).
-- Mono input is returned as is.
function wav.to_mono(pcm, channels)
  channels = check_int(channels, "to_mono", 2, "channels", 1, 65535)
  check_pcm(pcm, channels, "to_mono", 1)
  if channels == 1 then return pcm end
  local frames = #pcm // (2 * channels)
  local out = {}
  -- string.unpack returns one value per sample, so work in blocks small enough for the
  -- Lua stack.
  local block = math.max(1, 256 // channels)
  local pos = 1
  local fmt_full = "<" .. string.rep("i2", block * channels)
  local packed_full = "<" .. string.rep("i2", block)
  local f = 0
  while f < frames do
    local n = math.min(block, frames - f)
    local vals = { sunpack(n == block and fmt_full or "<" .. string.rep("i2", n * channels), pcm, pos) }
    pos = vals[#vals]
    local mono = {}
    for i = 1, n do
      local sum, base = 0, (i - 1) * channels
      for c = 1, channels do
        sum = sum + vals[base + c]
      end
      -- Round half away from zero, so the mix of a signal and its negation is symmetric.
      if sum >= 0 then
        mono[i] = (2 * sum + channels) // (2 * channels)
      else
        mono[i] = -((-2 * sum + channels) // (2 * channels))
      end
    end
    out[#out + 1] = spack(n == block and packed_full or "<" .. string.rep("i2", n), table.unpack(mono, 1, n))
    f = f + n
  end
  return table.concat(out)
end

return wav
