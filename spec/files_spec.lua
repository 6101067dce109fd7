-- Files the library opens by name. A FIFO made io.open (credential files) and OpenSSL
-- (ca_file) wait for a writer for ever, and /dev/zero as a credentials file never ended;
-- a pipe with a writer (a shell's `<(command)`) must still work for credentials. Each
-- case runs in a child process killed after 20 s, so a regression fails instead of
-- hanging the suite.
local helper = require "spec.helper"

describe("files named by the caller", function()
  local dir, fifo
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(helper.run("mkdir " .. dir) == 0)
    fifo = dir .. "/creds.fifo"
    assert(helper.run("mkfifo " .. fifo) == 0)
  end)
  teardown(function() helper.run("rm -rf " .. dir) end)

  local function child(script, env)
    env = env or {}
    env.timeout = 20
    local status, out = helper.child(script, env)
    assert.are_not.equal(124, status, "the child hung: " .. out)
    assert.equal(0, status, out)
    return out
  end
  local function quoted(s) return (s:gsub("%p", "%%%0")) end

  -- Runs the Lua `script` in a child with a shell's `<(writer)` as arg[1] (a pipe whose
  -- writer is there before the child reads: a named FIFO would race the writer's open),
  -- bounded, with the sanitizer preload of `make check` (as helper.child keeps it);
  -- returns the exit status and the output.
  local function with_writer(writer, script)
    local q = helper.shell_quote
    local file = dir .. "/reader.lua"
    helper.write_file(file, script)
    local preload = os.getenv "LD_PRELOAD"
    return helper.run(("bash -c %s"):format(q(("%s timeout 20 lua5.4 %s <(timeout 20 sh -c %s)")
      :format(preload and ("LD_PRELOAD=" .. q(preload)) or "", q(file), q(writer)))))
  end

  it("a credentials FIFO nothing writes to, or /dev/zero, is an error that says so", function()
    local out = child(([[
      local realtime = require "realtime"
      for _, path in ipairs { %q, "/dev/zero" } do
        print(realtime.credentials({ backend = "vertex", project = "p", credentials = path }, 5))
      end
    ]]):format(fifo))
    assert.matches("nil\tcredentials file " .. quoted(fifo) .. " is a FIFO that nothing writes to\tauth", out)
    assert.matches("nil\tcredentials file /dev/zero is larger than 1048576 bytes\tauth", out)

    out = child([[
      print(require("realtime").credentials({ backend = "vertex", project = "p" }, 5))
    ]], { GOOGLE_APPLICATION_CREDENTIALS = fifo })
    assert.matches("GOOGLE_APPLICATION_CREDENTIALS file .* is a FIFO that nothing writes to\tauth", out)
  end)

  it("a credentials pipe is read (a shell's <(command)); a writer that stops is waited on 5 s", function()
    -- the key goes through the pipe; its token_uri refuses the connection, so the error
    -- comes from the token fetch, after the file was read and decoded
    local key = '{"type":"authorized_user","client_id":"i","client_secret":"s",'
      .. '"refresh_token":"r","token_uri":"http://127.0.0.1:9/token"}'
    local script = [[
      print(require("realtime").credentials({ backend = "vertex", project = "p", credentials = arg[1] }, 5))
    ]]
    local status, out = with_writer(("printf '%%s' %s"):format(helper.shell_quote(key)), script)
    assert.equal(0, status, out)
    assert.matches("^nil\t", out)
    assert.matches("(authorized user, client i)", out, 1, true)
    assert.is_nil(out:find("cannot read", 1, true), out)

    local t0 = os.time()
    status, out = with_writer("exec sleep 8", script)
    assert.matches("credentials file /dev/fd/%d+ gave nothing more for 5 s\tauth", out)
    assert.is_true(os.time() - t0 < 15)
  end)

  it("a ca_file that is a FIFO or a directory is refused, by the client and by the token fetch", function()
    local out = child(([[
      local realtime = require "realtime"
      print(realtime.gemini { api_key = "k", ca_file = %q })
      print(realtime.gemini { api_key = "k", ca_file = %q })
      print("fetch", realtime.credentials({ backend = "vertex", project = "p", ca_file = %q,
        credentials = { type = "authorized_user", client_id = "i", client_secret = "s",
                        refresh_token = "r" } }, 5))
    ]]):format(fifo, dir, fifo))
    assert.matches("nil\tca_file " .. quoted(fifo) .. " is a FIFO, not a file\ttls", out)
    assert.matches("nil\tca_file " .. quoted(dir) .. " is a directory, not a file\ttls", out)
    assert.matches("fetch\tnil\t[^\n]*ca_file " .. quoted(fifo) .. " is a FIFO, not a file", out)
  end)

  it("messages show a path's control and non-UTF-8 bytes escaped", function()
    local realtime = require "realtime"
    -- a line break would start a new log line; \255 is not UTF-8
    local odd = dir .. "/a\nb\255"
    local shown = dir .. "/a\\x0ab\\xff"
    local function escaped(msg, what)
      assert.is_string(msg, what)
      assert.is_nil(msg:find("[\n\255]"), what .. ": " .. msg)
      assert.truthy(msg:find(shown, 1, true), what .. ": " .. msg)
    end
    local function creds(name)
      local _, msg = realtime.credentials({ backend = "vertex", project = "p", credentials = name }, 5)
      return msg
    end
    escaped(select(2, realtime.gemini { api_key = "k", ca_file = odd .. ".pem" }), "missing ca_file")
    escaped(creds(odd .. ".json"), "missing credentials file")
    escaped(select(2, realtime.wav.read(odd .. ".wav")), "missing wav file")
    escaped(select(2, realtime.wav.write(odd .. "/x.wav", "\0\0", 16000)), "wav file in no directory")
    helper.write_file(odd .. ".json", "not json")
    escaped(creds(odd .. ".json"), "credentials file that is not JSON")
    helper.write_file(odd .. ".json", '{"type":"service_account"}')
    escaped(creds(odd .. ".json"), "credentials file without its fields")
    helper.write_file(odd .. ".wav", "not a wav file")
    escaped(select(2, realtime.wav.read(odd .. ".wav")), "wav file that is not WAV")
  end)
end)
