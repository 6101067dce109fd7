-- Bad values in the audio helpers: WAV headers that lie, and numbers shown as the user
-- would write them. The resampler's rates and PCM lengths are in
-- bad_values_module_spec.lua and audio_spec.lua.
local wav = require("realtime").wav

local spack = string.pack

local function chunk(id, body) return id .. spack("<I4", #body) .. body .. (#body % 2 == 1 and "\0" or "") end
local function fmt(channels, rate) return chunk("fmt ", spack("<I2 I2 I4 I4 I2 I2", 1, channels, rate,
  rate * 2 * channels, 2 * channels, 16)) end
local function riff(...) return "RIFF" .. spack("<I4", 4) .. "WAVE" .. table.concat { ... } end

describe("WAV data with headers that lie", function()
  it("a second fmt chunk is refused, not taken over the first one", function()
    -- read with the second, four mono frames would come back as two stereo ones at 44.1 kHz
    local pcm, err = wav.decode(riff(fmt(1, 8000), chunk("data", "\1\0\2\0\3\0\4\0"), fmt(2, 44100)))
    assert.is_nil(pcm)
    assert.equal("malformed WAV: a second fmt chunk", err)
  end)

  it("a chunk before the data that says it runs past the end is named, not reported as no data", function()
    local bytes = riff(fmt(1, 8000), "LIST" .. spack("<I4", 0xFFFFFF00) .. "INFO", chunk("data", "\1\0"))
    local pcm, err = wav.decode(bytes)
    assert.is_nil(pcm)
    assert.equal("malformed WAV: chunk 'LIST' of 4294967040 bytes runs past the end of the file, "
      .. "before any data chunk", err)
    -- a name that is not text is shown escaped
    pcm, err = wav.decode(riff(fmt(1, 8000), "\0\1\2\255" .. spack("<I4", 100)))
    assert.is_nil(pcm)
    assert.matches("chunk '\\x00\\x01\\x02\\xff' of 100 bytes runs past the end", err, 1, true)
  end)
end)

describe("WAV helpers given NaN", function()
  it("name it NaN, as every other message of the module does", function()
    for _, call in ipairs {
      { "bad argument #2 to 'encode' (rate must be an integer, got NaN)", wav.encode, "\0\0", 0 / 0 },
      { "bad argument #3 to 'encode' (channels must be an integer, got NaN)", wav.encode, "\0\0", 8000, 0 / 0 },
      { "bad argument #2 to 'to_mono' (channels must be an integer, got NaN)", wav.to_mono, "\0\0", -(0 / 0) },
    } do
      local ok, err = pcall(table.unpack(call, 2))
      assert.is_false(ok)
      assert.is_truthy(err:find(call[1], 1, true), err)
    end
  end)
end)

describe("WAV helpers given a channel count", function()
  it("refuse one whose frames a WAV header cannot describe, instead of failing inside string.pack", function()
    -- the block size (2 bytes a channel) is a 16-bit field
    local ok, err = pcall(wav.encode, string.rep("\0\0", 32768), 8000, 32768)
    assert.is_false(ok)
    assert.is_truthy(err:find("bad argument #3 to 'encode' (channels must be between 1 and 32767, got 32768)",
      1, true), err)
    ok, err = pcall(wav.write, os.tmpname(), string.rep("\0\0", 40000), 8000, 40000)
    assert.is_false(ok)
    assert.is_truthy(err:find("bad argument #4 to 'write' (channels must be between 1 and 32767", 1, true), err)
    -- the largest count that fits goes through and back
    local pcm = string.rep("\1\0", 32767)
    local back, rate, channels = wav.decode(wav.encode(pcm, 8000, 32767))
    assert.equal(pcm, back)
    assert.equal(8000, rate)
    assert.equal(32767, channels)
  end)
end)
