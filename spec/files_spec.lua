-- Files the library opens by name (credential files, ca_file, wav.read) are read only
-- when they are regular files: a FIFO made io.open and OpenSSL wait for a writer for
-- ever, and /dev/zero as a credentials file never ended. Each case runs in a child
-- process killed after 20 s, so a regression fails instead of hanging the suite.
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

  it("a credentials file that is a FIFO or a device is refused, not waited on", function()
    local out = child(([[
      local realtime = require "realtime"
      for _, path in ipairs { %q, "/dev/zero" } do
        print("fetch", realtime.credentials({ backend = "vertex", project = "p", credentials = path }, 5))
      end
    ]]):format(fifo))
    assert.matches("nil\tcredentials file " .. fifo:gsub("%p", "%%%0") .. " is a FIFO, not a file\tauth", out)
    assert.matches("nil\tcredentials file /dev/zero is a device, not a file\tauth", out)

    out = child([[
      print(require("realtime").credentials({ backend = "vertex", project = "p" }, 5))
    ]], { GOOGLE_APPLICATION_CREDENTIALS = fifo })
    assert.matches("GOOGLE_APPLICATION_CREDENTIALS file .* is a FIFO, not a file\tauth", out)
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
    local shown = fifo:gsub("%p", "%%%0")
    assert.matches("nil\tca_file " .. shown .. " is a FIFO, not a file\ttls", out)
    assert.matches("nil\tca_file " .. dir:gsub("%p", "%%%0") .. " is a directory, not a file\ttls", out)
    assert.matches("fetch\tnil\t[^\n]*ca_file " .. shown .. " is a FIFO, not a file", out)
  end)

  it("wav.read of a FIFO says so; wav.decode takes bytes read from a pipe", function()
    local out = child(([[
      local wav = require "realtime.wav"
      print(wav.read(%q))
      local pcm, rate = wav.decode(wav.encode("\1\0\2\0", 16000))
      print(#pcm, rate)
    ]]):format(fifo))
    assert.matches("nil\tWAV file " .. fifo:gsub("%p", "%%%0") .. " is a FIFO, not a file", out)
    assert.matches("4\t16000", out)
  end)
end)
