-- Audio helpers: WAV files (realtime.wav) and sample-rate conversion
-- (realtime.core.resample / realtime.core.resampler).
local core = require "realtime.core"
local wav = require "realtime.wav"

local spack, sunpack = string.pack, string.unpack

-- ---------------------------------------------------------------- signal helpers

local function pcm_of(samples)
  local parts = {}
  for i = 1, #samples, 256 do
    local n = math.min(256, #samples - i + 1)
    parts[#parts + 1] = spack("<" .. ("i2"):rep(n), table.unpack(samples, i, i + n - 1))
  end
  return table.concat(parts)
end

local function samples_of(pcm)
  local out, pos = {}, 1
  for i = 1, #pcm // 2 do
    out[i], pos = sunpack("<i2", pcm, pos)
  end
  return out
end

local function sine(rate, freq, amp, n)
  local s = {}
  for i = 1, n do
    local v = amp * math.sin(2 * math.pi * freq * (i - 1) / rate)
    s[i] = math.floor(v + 0.5)
  end
  return pcm_of(s)
end

-- Deterministic noise, so a failure reproduces.
local function noise(n, seed)
  local s, x = {}, seed or 1
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    s[i] = x % 60001 - 30000
  end
  return pcm_of(s)
end

-- Least-squares fit of a sine at freq over samples[first .. first+n-1] (n spanning whole
-- cycles): amplitude, the cosine part (phase error) and the RMS of what is left.
local function fit(s, first, n, rate, freq)
  local a, b = 0, 0
  for i = 0, n - 1 do
    local w = 2 * math.pi * freq * i / rate
    a = a + s[first + i] * math.sin(w)
    b = b + s[first + i] * math.cos(w)
  end
  a, b = 2 * a / n, 2 * b / n
  local e = 0
  for i = 0, n - 1 do
    local w = 2 * math.pi * freq * i / rate
    local d = s[first + i] - a * math.sin(w) - b * math.cos(w)
    e = e + d * d
  end
  return math.sqrt(a * a + b * b), b, math.sqrt(e / n)
end

local function rms(s, first, n)
  local e = 0
  for i = first, first + n - 1 do e = e + s[i] * s[i] end
  return math.sqrt(e / n)
end

local function db(x) return 20 * math.log(x, 10) end

local function tmpfile()
  local path = os.tmpname()
  finally(function() os.remove(path) end)
  return path
end

local function have(cmd)
  return os.execute("command -v " .. cmd .. " >/dev/null 2>&1") == true
end

-- Runs a tool without the sanitizer runtimes `make check` preloads into the Lua
-- interpreter (espeak-ng deadlocks under them), and never for long.
local function run_tool(cmdline)
  local limit = have "timeout" and "timeout 30 " or ""
  return os.execute(limit .. "env -u LD_PRELOAD " .. cmdline .. " >/dev/null 2>&1") == true
end

-- A chunk: id, body, and the pad byte RIFF requires after an odd-sized body.
local function chunk(id, body)
  return id .. spack("<I4", #body) .. body .. (#body % 2 == 1 and "\0" or "")
end

local function riff(...)
  local body = "WAVE" .. table.concat({ ... })
  return "RIFF" .. spack("<I4", #body) .. body
end

local function fmt_pcm(channels, rate, bits, tag)
  bits = bits or 16
  local align = channels * bits // 8
  return chunk("fmt ", spack("<I2 I2 I4 I4 I2 I2", tag or 1, channels, rate, rate * align, align, bits))
end

local PCM_GUID_TAIL = "\0\0\0\0\16\0\128\0\0\170\0\56\155\113"

local function fmt_extensible(channels, rate, subformat)
  local align = channels * 2
  return chunk("fmt ", spack("<I2 I2 I4 I4 I2 I2 I2 I2 I4 I2",
    0xFFFE, channels, rate, rate * align, align, 16, 22, 16, channels == 2 and 3 or 4, subformat)
    .. PCM_GUID_TAIL)
end

-- ---------------------------------------------------------------- WAV

describe("realtime.wav", function()
  local mono = noise(1001, 7)
  local stereo = noise(2 * 300, 9)

  it("encodes a canonical 44-byte header", function()
    local bytes = wav.encode(mono, 16000)
    assert.equal(44 + #mono, #bytes)
    local riff_id, size, wave, fmt_id, fmt_size, tag, ch, rate, byte_rate, align, bits, data_id, data_size =
      sunpack("<c4 I4 c4 c4 I4 I2 I2 I4 I4 I2 I2 c4 I4", bytes)
    assert.same({ "RIFF", 36 + #mono, "WAVE", "fmt ", 16, 1, 1, 16000, 32000, 2, 16, "data", #mono },
      { riff_id, size, wave, fmt_id, fmt_size, tag, ch, rate, byte_rate, align, bits, data_id, data_size })
    assert.equal(mono, bytes:sub(45))
  end)

  it("round-trips mono and stereo in memory", function()
    local pcm, rate, channels = wav.decode(wav.encode(mono, 24000))
    assert.equal(mono, pcm)
    assert.equal(24000, rate)
    assert.equal(1, channels)
    pcm, rate, channels = wav.decode(wav.encode(stereo, 44100, 2))
    assert.equal(stereo, pcm)
    assert.equal(44100, rate)
    assert.equal(2, channels)
    assert.equal("", (wav.decode(wav.encode("", 8000))))
  end)

  it("round-trips through a file", function()
    local path = tmpfile()
    assert.is_true(wav.write(path, stereo, 48000, 2))
    local pcm, rate, channels = wav.read(path)
    assert.equal(stereo, pcm)
    assert.equal(48000, rate)
    assert.equal(2, channels)
  end)

  it("reads a file made by a speech synthesizer (or by sox, or by wav.write)", function()
    local path = tmpfile()
    local q = "'" .. path .. "'"
    local made_by
    if have "espeak-ng" and run_tool("espeak-ng -w " .. q .. " 'hello from the test'") then
      made_by = "espeak-ng"
    elseif have "sox" and run_tool("sox -n -r 22050 -c 1 -b 16 -e signed " .. q .. " synth 0.5 sine 440") then
      made_by = "sox"
    else
      made_by = "wav.write"
      assert(wav.write(path, sine(22050, 440, 8000, 11025), 22050))
    end
    local pcm, rate, channels = wav.read(path)
    assert.is_string(pcm, made_by)
    assert.equal(1, channels)
    assert.equal(22050, rate)          -- espeak-ng speaks at 22050 Hz
    assert.is_true(#pcm > 2000)
    local s = samples_of(pcm)
    assert.is_true(rms(s, 1, #s) > 100, made_by .. " wrote silence?")
    -- and it converts to the rate the service takes
    local out = core.resample(pcm, rate, 16000)
    assert.equal(math.ceil(#s * 16000 / 22050), #out // 2)
  end)

  it("skips LIST, fact and odd-sized chunks, before or after the data", function()
    local body = noise(50, 3)
    local bytes = riff(chunk("LIST", "INFOISFT\5\0\0\0lavf\0"), fmt_pcm(1, 16000),
      chunk("fact", spack("<I4", 50)), chunk("junk", "odd"), chunk("data", body),
      chunk("LIST", "INFOICMT\3\0\0\0hi\0"))
    local pcm, rate, channels = wav.decode(bytes)
    assert.equal(body, pcm)
    assert.equal(16000, rate)
    assert.equal(1, channels)
  end)

  it("reads WAVE_FORMAT_EXTENSIBLE with the PCM subformat", function()
    local body = noise(2 * 40, 5)
    local pcm, rate, channels = wav.decode(riff(fmt_extensible(2, 48000, 1), chunk("data", body)))
    assert.equal(body, pcm)
    assert.equal(48000, rate)
    assert.equal(2, channels)
  end)

  it("reads what a streaming writer left: placeholder sizes and a cut last frame", function()
    local body = noise(100, 11)
    local bytes = "RIFF" .. spack("<I4", 0xFFFFFFFF) .. "WAVE" .. fmt_pcm(1, 8000)
      .. "data" .. spack("<I4", 0xFFFFFFFF) .. body .. "\1"
    local pcm, rate = wav.decode(bytes)
    assert.equal(body, pcm)
    assert.equal(8000, rate)
  end)

  it("reads the audio after a data size left at 0 (a writer that meant to patch it on close)", function()
    local body = noise(200, 13)
    local bytes = "RIFF" .. spack("<I4", 36) .. "WAVE" .. fmt_pcm(1, 16000)
      .. "data" .. spack("<I4", 0) .. body
    local pcm, rate = wav.decode(bytes)
    assert.equal(body, pcm)
    assert.equal(16000, rate)
    -- an empty data chunk that another chunk follows is empty
    pcm = wav.decode(riff(fmt_pcm(1, 16000), chunk("data", ""), chunk("LIST", "INFO")))
    assert.equal("", pcm)
  end)

  describe("malformed or unsupported input gives nil and a message", function()
    local cases = {
      { "empty", "", "shorter than a RIFF header" },
      { "not RIFF", ("x"):rep(64), "no RIFF/WAVE header" },
      { "RIFF but not WAVE", "RIFF" .. spack("<I4", 4) .. "AVI " .. ("\0"):rep(40), "no RIFF/WAVE header" },
      { "no fmt", riff(chunk("data", "\0\0")), "no fmt chunk" },
      { "no data", riff(fmt_pcm(1, 16000)), "no data chunk" },
      { "fmt too short", riff(chunk("fmt ", "\1\0\1\0"), chunk("data", "\0\0")), "fmt chunk of 4 bytes" },
      { "fmt cut off", riff() .. "fmt " .. spack("<I4", 16) .. "\1\0", "fmt chunk runs past" },
      { "float", riff(fmt_pcm(1, 16000, 32, 3), chunk("data", "\0\0\0\0")), "IEEE float" },
      { "24-bit", riff(fmt_pcm(1, 16000, 24), chunk("data", "\0\0\0")), "24%-bit PCM" },
      { "8-bit", riff(fmt_pcm(1, 16000, 8), chunk("data", "\0\0")), "8%-bit PCM" },
      { "extensible float", riff(fmt_extensible(1, 16000, 3), chunk("data", "\0\0")), "IEEE float" },
      { "mu-law", riff(fmt_pcm(1, 8000, 8, 7), chunk("data", "\0")), "mu%-law" },
      { "zero channels", riff(chunk("fmt ", spack("<I2 I2 I4 I4 I2 I2", 1, 0, 8000, 0, 0, 16)),
        chunk("data", "")), "0 channels" },
      { "bad block size", riff(chunk("fmt ", spack("<I2 I2 I4 I4 I2 I2", 1, 2, 8000, 32000, 2, 16)),
        chunk("data", "")), "block size 2 for 2" },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local pcm, err = wav.decode(c[2])
        assert.is_nil(pcm)
        assert.is_string(err)
        assert.matches(c[3], err)
      end)
    end

    it("from a file, naming it", function()
      local path = tmpfile()
      local f = assert(io.open(path, "wb"))
      f:write("RIFF....WAVEjunk")
      f:close()
      local pcm, err = wav.read(path)
      assert.is_nil(pcm)
      assert.equal(path .. ": malformed WAV: no fmt chunk", err)
    end)

    it("for a file that does not exist, and for a directory", function()
      local pcm, err = wav.read("/nonexistent/dir/x.wav")
      assert.is_nil(pcm)
      assert.matches("/nonexistent/dir/x.wav", err, 1, true)
      pcm, err = wav.read("/")
      assert.is_nil(pcm)
      assert.is_string(err)
      assert.is_nil((wav.write("/nonexistent/dir/x.wav", "", 16000)))
    end)
  end)

  it("raises on misuse", function()
    assert.has_error(function() wav.decode(42) end, "bad argument #1 to 'decode' (string expected, got number)")
    assert.has_error(function() wav.encode("abc", 16000) end,
      "bad argument #1 to 'encode' (PCM must hold whole 1-channel 16-bit frames, got 3 bytes)")
    assert.has_error(function() wav.encode("ab", 16000, 2) end,
      "bad argument #1 to 'encode' (PCM must hold whole 2-channel 16-bit frames, got 2 bytes)")
    assert.has_error(function() wav.encode("ab", 0) end,
      "bad argument #2 to 'encode' (rate must be between 1 and 2147483647, got 0)")
    assert.has_error(function() wav.encode("ab", "16000") end,
      "bad argument #2 to 'encode' (rate must be an integer, got string)")
    assert.has_error(function() wav.encode("ab", 16000.5) end)
    assert.has_error(function() wav.write("/tmp/x.wav", "ab", 16000, 0) end,
      "bad argument #4 to 'write' (channels must be between 1 and 32767, got 0)")
    assert.has_error(function() wav.read(nil) end, "bad argument #1 to 'read' (path string expected, got nil)")
    assert.has_error(function() wav.to_mono("abcdef", 2) end,
      "bad argument #1 to 'to_mono' (PCM must hold whole 2-channel 16-bit frames, got 6 bytes)")
    -- the message blames the caller's line
    local ok, err = pcall(function() wav.encode("abc", 16000) end)
    assert.is_false(ok)
    assert.matches("audio_spec%.lua:%d+: bad argument", err)
  end)

  it("mixes stereo to mono, rounding half away from zero", function()
    local pcm = pcm_of { 100, 200, -1, 0, 32767, 32767, -32768, -32768, 3, -3, 1, 0, -32768, 32767 }
    assert.same({ 150, -1, 32767, -32768, 0, 1, -1 }, samples_of(wav.to_mono(pcm, 2)))
    assert.equal(mono, wav.to_mono(mono, 1))
    -- three channels, and more frames than one internal block
    local s = {}
    for i = 1, 3 * 1000 do s[i] = (i % 3) * 10 end        -- frames of 10, 20, 0
    local m = samples_of(wav.to_mono(pcm_of(s), 3))
    assert.equal(1000, #m)
    for i = 1, 1000 do assert.equal(10, m[i]) end
    assert.equal("", wav.to_mono("", 2))
  end)
end)

-- ---------------------------------------------------------------- resampling

describe("realtime.core.resample", function()
  it("keeps a 1 kHz tone's frequency and level from 48 kHz to 16 kHz", function()
    local out = samples_of(core.resample(sine(48000, 1000, 10000, 48000), 48000, 16000))
    assert.equal(16000, #out)
    local amp, cos_part, resid = fit(out, 4001, 8000, 16000, 1000)   -- 500 whole cycles
    assert.is_true(math.abs(amp - 10000) < 10, "amplitude " .. amp)
    assert.is_true(math.abs(cos_part) < 10, "phase error " .. cos_part)
    assert.is_true(db(amp / math.sqrt(2) / resid) > 80, "SNR " .. db(amp / math.sqrt(2) / resid))
    -- and nothing at the neighbouring frequencies a wrong ratio would move it to
    local off = fit(out, 4001, 8000, 16000, 1020)
    assert.is_true(off < 50)
  end)

  it("rejects a 12 kHz tone that 16 kHz cannot carry by at least 60 dB", function()
    local out = samples_of(core.resample(sine(48000, 12000, 30000, 48000), 48000, 16000))
    local leak = rms(out, 4001, 8000)
    assert.is_true(leak == 0 or db(30000 / math.sqrt(2) / leak) >= 60, "leak " .. leak)
    -- just above the new Nyquist frequency too: 8.5 kHz would fold to 7.5 kHz
    out = samples_of(core.resample(sine(48000, 8500, 30000, 48000), 48000, 16000))
    leak = rms(out, 4001, 8000)
    assert.is_true(leak == 0 or db(30000 / math.sqrt(2) / leak) >= 60, "leak " .. leak)
  end)

  it("upsamples 16 kHz to 24 kHz keeping the tone", function()
    local out = samples_of(core.resample(sine(16000, 3000, 20000, 16000), 16000, 24000))
    assert.equal(24000, #out)
    local amp, _, resid = fit(out, 6001, 12000, 24000, 3000)
    assert.is_true(math.abs(amp - 20000) < 20)
    assert.is_true(db(amp / math.sqrt(2) / resid) > 80)
  end)

  it("returns the same samples when the rates are equal", function()
    local pcm = noise(3000, 4)
    assert.equal(pcm, core.resample(pcm, 24000, 24000))
  end)

  it("gives ceil(n * to / from) samples", function()
    for _, r in ipairs { { 48000, 16000 }, { 44100, 16000 }, { 16000, 24000 }, { 8000, 192000 }, { 192000, 8000 } } do
      for _, n in ipairs { 0, 1, 5, 441, 4801 } do
        local out = core.resample(noise(n, n), r[1], r[2])
        local want = n * r[2] / r[1]
        assert.equal(math.ceil(want), #out // 2)
        assert.is_true(math.abs(#out // 2 - math.floor(want + 0.5)) <= 1)
      end
    end
  end)

  it("saturates a full-scale square wave instead of wrapping", function()
    local s = {}
    for i = 0, 47999 do s[i + 1] = (i // 24) % 2 == 0 and 32767 or -32768 end
    local out = samples_of(core.resample(pcm_of(s), 48000, 16000))
    local hi, lo = 0, 0
    for i = 1, #out do
      if out[i] == 32767 then hi = hi + 1 end
      if out[i] == -32768 then lo = lo + 1 end
      if i > 1 then assert.is_false(math.abs(out[i] - out[i - 1]) > 60000) end
    end
    assert.is_true(hi > 0 and lo > 0)
  end)

  it("works on a stereo file mixed down to mono", function()
    local left, right = samples_of(sine(44100, 1000, 8000, 4410)), samples_of(sine(44100, 1000, 8000, 4410))
    local s = {}
    for i = 1, #left do s[2 * i - 1], s[2 * i] = left[i], right[i] end
    local path = tmpfile()
    assert(wav.write(path, pcm_of(s), 44100, 2))
    local pcm, rate, channels = wav.read(path)
    assert.equal(2, channels)
    local out = samples_of(core.resample(wav.to_mono(pcm, channels), rate, 16000))
    assert.equal(1600, #out)
    local amp = fit(out, 401, 800, 16000, 1000)
    assert.is_true(math.abs(amp - 8000) < 10)
  end)

  it("raises on odd-length PCM and rates out of range", function()
    assert.has_error(function() core.resample("abc", 48000, 16000) end,
      "bad argument #1 to 'resample' (PCM must hold whole 16-bit samples, got 3 bytes)")
    assert.has_error(function() core.resample("", 7999, 16000) end,
      "bad argument #2 to 'resample' (expected a sample rate from 8000 to 192000 Hz, got 7999)")
    assert.has_error(function() core.resample("", 16000, 192001) end,
      "bad argument #3 to 'resample' (expected a sample rate from 8000 to 192000 Hz, got 192001)")
    assert.has_error(function() core.resample(nil, 16000, 16000) end)
    assert.has_error(function() core.resampler(16000) end)
    assert.has_error(function() core.resampler(16000, 4000) end,
      "bad argument #2 to 'resampler' (expected a sample rate from 8000 to 192000 Hz, got 4000)")
  end)
end)

describe("realtime.core.resampler", function()
  local function chunked(from, to, pcm, seed)
    local r = core.resampler(from, to)
    local out, pos, x = {}, 1, seed
    while pos <= #pcm do
      x = (x * 1103515245 + 12345) % 2147483648
      local n = 2 * (x % 500)                      -- 0 .. 998 bytes, whole samples, some empty
      out[#out + 1] = r:process(pcm:sub(pos, pos + n - 1))
      pos = pos + n
    end
    out[#out + 1] = r:flush()
    r:close()
    return table.concat(out)
  end

  it("gives in chunks exactly what one call gives", function()
    local pcm = noise(20000, 21)
    for _, r in ipairs { { 48000, 16000 }, { 44100, 16000 }, { 16000, 24000 }, { 22050, 16000 },
      { 8000, 48000 }, { 16000, 16000 } } do
      assert.equal(core.resample(pcm, r[1], r[2]), chunked(r[1], r[2], pcm, r[1] + r[2]))
    end
  end)

  it("starts a new stream after flush", function()
    local pcm = sine(48000, 440, 5000, 4800)
    local r <close> = core.resampler(48000, 16000)
    local first = r:process(pcm) .. r:flush()
    local second = r:process(pcm) .. r:flush()
    assert.equal(first, second)
    assert.equal(core.resample(pcm, 48000, 16000), first)
    r:process(pcm)
    r:reset()
    assert.equal(first, r:process(pcm) .. r:flush())
    assert.equal("", r:flush())
  end)

  it("describes itself, closes once, and refuses use after close", function()
    local r = core.resampler(48000, 16000)
    assert.matches("^realtime%.Resampler %(48000 Hz %-> 16000 Hz%): 0x%x+$", tostring(r))
    assert.same({ 48000, 16000 }, { r:rates() })
    r:close()
    r:close()
    assert.matches("^realtime%.Resampler %(closed%)", tostring(r))
    assert.has_error(function() r:process "" end, "resampler closed")
    assert.has_error(function() r:flush() end, "resampler closed")
    assert.has_error(function() r.process("x", "") end)
    assert.has_error(function() core.resampler(16000, 24000):process "abc" end,
      "bad argument #1 to 'process' (PCM must hold whole 16-bit samples, got 3 bytes)")
    do
      local c <close> = core.resampler(16000, 24000)
      r = c
    end
    assert.matches("closed", tostring(r))
    collectgarbage()
  end)
end)
