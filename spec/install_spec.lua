-- C hosts: `make install PREFIX=<tmp>` gives the public headers, the static and shared
-- libraries (with a soname) and pkg-config files, and programs built against that
-- installed copy with `pkg-config` alone run sessions against the simulator:
-- examples/c_session.c (the C library, no Lua; linked shared, then static) and
-- examples/host.c (Lua embedded, through realtime-lua).
local helper = require "spec.helper"
local q = helper.shell_quote

describe("make install for C hosts", function()
  local prefix, bin

  -- Runs cmd with the installed copy's pkg-config files; returns status, output.
  local function sh(cmd)
    return helper.run("export PKG_CONFIG_PATH=" .. q(prefix .. "/lib/pkgconfig") .. "; " .. cmd)
  end

  local function sim_env()
    return ("env -u REALTIME_MODEL -u GOOGLE_API_KEY GEMINI_API_KEY=%s REALTIME_BASE_URL=%s REALTIME_CA_FILE=%s "):format(
      q(helper.sim_key), q(helper.sim_http), q(helper.sim_ca))
  end

  setup(function()
    prefix = os.tmpname()
    os.remove(prefix)
    bin = prefix .. "/bin"
    -- the plain build tree (never the sanitized one: the programs below are not)
    local status, out = helper.run("env -u MAKEFLAGS -u MAKELEVEL make -s install BUILD=build PREFIX="
      .. q(prefix) .. " && mkdir -p " .. q(bin))
    assert(status == 0, out)
  end)

  teardown(function()
    if prefix then helper.run("rm -rf " .. q(prefix)) end
  end)

  it("installs the public headers only, the libraries with a soname, and realtime.pc", function()
    local _, list = helper.run("cd " .. q(prefix) .. " && find include lib -type f -o -type l | sort")
    local want = { "include/realtime/realtime.h", "include/realtime/rt_version.h",
      "include/realtime/rt_error.h", "include/realtime/rt_client.h", "include/realtime/rt_session.h",
      "include/realtime/rt_endpoint.h", "include/realtime/rt_auth.h", "include/realtime/realtime_lua.h", "lib/librealtime.a", "lib/librealtime.so",
      "lib/librealtime.so.0.1", "lib/librealtime-lua.a", "lib/librealtime-lua.so",
      "lib/pkgconfig/realtime.pc", "lib/pkgconfig/realtime-lua.pc", "lib/lua/5.4/realtime/core.so" }
    for _, f in ipairs(want) do assert.truthy(list:find(f .. "\n", 1, true), f .. " missing:\n" .. list) end
    assert.is_nil(list:find("rt_alloc.h", 1, true))
    assert.is_nil(list:find("rt_base64.h", 1, true))
    assert.is_nil(list:find("rt_buf.h", 1, true))
    local _, soname = helper.run("readelf -d " .. q(prefix .. "/lib/librealtime.so"))
    assert.matches("SONAME%)%s+Library soname: %[librealtime%.so%.0%.1%]", soname)

    -- one version for everything
    local realtime = require "realtime"
    local status, version = sh("pkg-config --modversion realtime")
    assert.equal(0, status, version)
    assert.equal(realtime._VERSION .. "\n", version)
    local _, flags = sh("pkg-config --cflags --libs realtime")
    assert.matches("-I" .. (prefix .. "/include/realtime"):gsub("%p", "%%%0"), flags)
    assert.matches("-lrealtime", flags)
  end)

  -- The modes are the Makefile's, not the caller's umask (077 made every file unreadable
  -- to others), and a PREFIX with a space installs (it stopped halfway) with .pc files
  -- that pkg-config reads: its paths written with "\\ ", as pkg-config prints them.
  it("installs with modes 755/644 under umask 077, into a PREFIX with a space", function()
    local spaced = prefix .. "/with space"
    local status, out = helper.run("umask 077 && env -u MAKEFLAGS -u MAKELEVEL make -s install BUILD=build PREFIX="
      .. q(spaced))
    assert.equal(0, status, out)
    local _, modes = helper.run("cd " .. q(spaced) .. " && find . ! -type l -exec stat -c '%a %n' {} + | sort -k2")
    assert.matches("\n755 %./lib/lua/5%.4/realtime/core%.so\n", "\n" .. modes)
    assert.matches("\n644 %./share/lua/5%.4/realtime/init%.lua\n", "\n" .. modes)
    assert.matches("\n644 %./include/realtime/realtime%.h\n", "\n" .. modes)
    assert.matches("\n644 %./lib/pkgconfig/realtime%.pc\n", "\n" .. modes)
    assert.matches("\n755 %./lib/librealtime%.so%.[%d.]+\n", "\n" .. modes)
    local n = 0
    for mode, path in modes:gmatch "(%d+) (%S[^\n]*)" do
      n = n + 1
      local dir_or_so = path == "." or path:find "%.so[.%d]*$" or
        helper.run("test -d " .. q(spaced .. "/" .. path)) == 0
      assert.equal(dir_or_so and "755" or "644", mode, path)
    end
    assert.is_true(n > 30, modes)
    local _, flags = helper.run("PKG_CONFIG_PATH=" .. q(spaced .. "/lib/pkgconfig") .. " pkg-config --cflags realtime")
    assert.equal("-I" .. spaced:gsub(" ", "\\ ") .. "/include/realtime", (flags:gsub("%s+$", "")))
  end)

  -- rt_alloc_on_release is built into the C tests only (RT_TEST_HOOKS): in the library it
  -- cost every free an atomic load, audio's included
  it("leaves the test hooks out of the libraries", function()
    for _, cmd in ipairs { "nm " .. q(prefix .. "/lib/librealtime.a"),
                           "nm -D " .. q(prefix .. "/lib/librealtime.so") } do
      local status, out = helper.run(cmd)
      assert.equal(0, status, out)
      assert.truthy(out:find("rt_free", 1, true), cmd .. ": no rt_free\n" .. out)
      assert.is_nil(out:find("rt_alloc_on_release", 1, true), cmd)
      assert.is_nil(out:find("release_hook", 1, true), cmd)
    end
  end)

  it("has headers that each compile on their own, with no private header around", function()
    local _, list = helper.run("ls " .. q(prefix .. "/include/realtime"))
    for h in list:gmatch "%S+" do
      local status, out = sh(("echo '#include <%s>' | cc -std=c11 -Wall -Werror -pedantic-errors -fsyntax-only "
        .. "-x c - $(pkg-config --cflags realtime)"):format(h))
      assert.equal(0, status, h .. ": " .. out)
    end
  end)

  -- C++ has no flexible array member (struct rt_event's data): under -pedantic-errors
  -- g++ and clang++ each refuse it unless the header quiets that one warning
  it("has headers that each compile as ISO C++11 (-pedantic-errors), with g++ and clang++ if installed", function()
    local _, list = helper.run("ls " .. q(prefix .. "/include/realtime"))
    local compilers = { "g++" }
    if helper.run("command -v clang++") == 0 then compilers[2] = "clang++" end
    for _, cxx in ipairs(compilers) do
      for h in list:gmatch "%S+" do
        local status, out = sh(("echo '#include <%s>' | %s -std=c++11 -Wall -Wextra -Werror -pedantic-errors "
          .. "-fsyntax-only -x c++ - $(pkg-config --cflags realtime)"):format(h, cxx))
        assert.equal(0, status, cxx .. " " .. h .. ": " .. out)
      end
    end
  end)

  it("has headers C++ can include one by one (extern \"C\": the functions link)", function()
    local src = bin .. "/cxx.cpp"
    local f = assert(io.open(src, "w"))
    f:write[[
#include <rt_error.h>
#include <rt_version.h>
#include <rt_auth.h>
#include <cstdio>
int main() { std::printf("%s %s %d\n", rt_version(), rt_code_name(RT_EBUSY), rt_auth_refresh_margin(3600) > 0); }
]]
    f:close()
    local status, out = sh("c++ -std=c++11 -Wall -Werror -pedantic-errors " .. q(src) .. " -o " .. q(bin .. "/cxx")
      .. " $(pkg-config --cflags --libs realtime)")
    assert.equal(0, status, out)
    status, out = helper.run("LD_LIBRARY_PATH=" .. q(prefix .. "/lib") .. " " .. q(bin .. "/cxx"))
    assert.equal(0, status, out)
    assert.equal(require("realtime")._VERSION .. " busy 1\n", out)
  end)

  -- A game engine is commonly C++: a declaration of its own would have C++ linkage and
  -- not link; the header gives luaopen_realtime_core with C linkage, and needs no lua.h
  -- before it (nor pulls one in that would give Lua's functions C++ linkage).
  it("has realtime_lua.h, which a C++ host that embeds Lua links luaopen_realtime_core with", function()
    local src = bin .. "/embed.cpp"
    local f = assert(io.open(src, "w"))
    f:write[[
#include <realtime_lua.h>
#include <lua.hpp>
#include <cstdio>
int main() {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "realtime.core", luaopen_realtime_core, 0);
  lua_getfield(L, -1, "_VERSION");
  std::printf("%s\n", lua_tostring(L, -1));
  lua_close(L);
}
]]
    f:close()
    local status, out = sh("c++ -std=c++11 -Wall -Werror -pedantic-errors " .. q(src) .. " -o " .. q(bin .. "/embed")
      .. " $(pkg-config --cflags --libs realtime-lua)")
    assert.equal(0, status, out)
    status, out = helper.run("LD_LIBRARY_PATH=" .. q(prefix .. "/lib") .. " " .. q(bin .. "/embed"))
    assert.equal(0, status, out)
    assert.equal(require("realtime")._VERSION .. "\n", out)
  end)

  it("builds examples/c_session.c with pkg-config (shared) and runs a session", function()
    local status, out = sh("cc -std=c11 -Wall -Werror examples/c_session.c -o " .. q(bin .. "/c_session")
      .. " $(pkg-config --cflags --libs realtime)")
    assert.equal(0, status, out)
    local _, ldd = helper.run("LD_LIBRARY_PATH=" .. q(prefix .. "/lib") .. " ldd " .. q(bin .. "/c_session"))
    assert.matches("librealtime%.so%.0%.1 => " .. prefix:gsub("%p", "%%%0"), ldd)
    status, out = helper.run(sim_env() .. "LD_LIBRARY_PATH=" .. q(prefix .. "/lib") .. " "
      .. q(bin .. "/c_session") .. " 'Hello from C'")
    assert.equal(0, status, out)
    assert.matches("realtime " .. require("realtime")._VERSION, out, 1, true)
    -- the simulator's text answer comes in pieces of up to three words
    assert.matches('"text": "You said: Hello"', out, 1, true)
    assert.matches('"text": " from C."', out, 1, true)
    assert.matches("closed: 1000", out, 1, true)
  end)

  it("links examples/c_session.c statically (librealtime.a) and runs it", function()
    local status, out = sh("cc -std=c11 -Wall -Werror examples/c_session.c -o " .. q(bin .. "/c_session_static")
      .. " $(pkg-config --cflags realtime) " .. q(prefix .. "/lib/librealtime.a")
      .. " $(pkg-config --static --libs realtime | sed 's/-lrealtime / /')")
    assert.equal(0, status, out)
    local _, ldd = helper.run("ldd " .. q(bin .. "/c_session_static"))
    assert.is_nil(ldd:find("librealtime", 1, true))
    status, out = helper.run(sim_env() .. q(bin .. "/c_session_static") .. " 'static hello'")
    assert.equal(0, status, out)
    assert.matches('"text": "You said: static"', out, 1, true)
    assert.matches("closed: 1000", out, 1, true)
    -- without a key: the examples' one-line form, naming the variable the key comes from
    status, out = helper.run(sim_env() .. "GEMINI_API_KEY= " .. q(bin .. "/c_session_static"))
    assert.equal(1, status, out)
    assert.matches("c_session: could not connect %(auth%): [^\n]*api_key[^\n]*GEMINI_API_KEY\n", out)
  end)

  it("builds examples/host.c (Lua embedded) with pkg-config realtime-lua and runs it", function()
    local status, out = sh("cc -std=c11 -Wall -Werror -D_GNU_SOURCE examples/host.c -o " .. q(bin .. "/host")
      .. " $(pkg-config --cflags --libs realtime-lua) -lpthread -lm")
    assert.equal(0, status, out)
    status, out = helper.run(sim_env() .. "REALTIME_LUA_DIR=" .. q(prefix .. "/share/lua/5.4")
      .. " LD_LIBRARY_PATH=" .. q(prefix .. "/lib") .. " " .. q(bin .. "/host") .. " 0.5")
    assert.equal(0, status, out)
    assert.matches("s of reply audio received", out, 1, true)
  end)

  -- `make uninstall` with the same PREFIX takes back every file and link install put
  -- there (there was no way back but by hand), and leaves what others put beside them.
  it("uninstalls everything it installed, and nothing else", function()
    local own = prefix .. "/un install"
    local status, out = helper.run("env -u MAKEFLAGS -u MAKELEVEL make -s install BUILD=build PREFIX=" .. q(own)
      .. " && echo other > " .. q(own .. "/share/lua/5.4/other.lua")
      .. " && echo other > " .. q(own .. "/lib/pkgconfig/other.pc"))
    assert.equal(0, status, out)
    status, out = helper.run("env -u MAKEFLAGS -u MAKELEVEL make -s uninstall PREFIX=" .. q(own))
    assert.equal(0, status, out)
    local _, left = helper.run("cd " .. q(own) .. " && find . ! -type d | sort")
    assert.equal("./lib/pkgconfig/other.pc\n./share/lua/5.4/other.lua\n", left)
    local _, dirs = helper.run("cd " .. q(own) .. " && find . -type d -name realtime")
    assert.equal("", dirs)
  end)

  -- uninstall took its list from the checkout it ran in: after an upgrade, or from
  -- another checkout, it removed the wrong set. install writes a manifest of what it put
  -- there, and uninstall removes that.
  local function make(args)
    return helper.run("env -u MAKEFLAGS -u MAKELEVEL make -s " .. args .. " 2>&1")
  end

  local function lines(path)
    local out = {}
    for l in helper.read_file(path):gmatch "[^\n]+" do out[#out + 1] = l end
    return out
  end

  it("writes a manifest, and uninstall removes what it lists, whatever this checkout holds", function()
    local own = prefix .. "/manifest"
    local manifest = own .. "/share/realtime/installed-files"
    local status, out = make("install BUILD=build PREFIX=" .. q(own))
    assert.equal(0, status, out)
    local listed = lines(manifest)
    assert.truthy(#listed > 20, #listed)
    for _, f in ipairs(listed) do
      assert.equal("/", f:sub(1, 1), f)
      assert.equal(0, (helper.run("test -f " .. q(f) .. " || test -L " .. q(f))), f .. " listed, not installed")
    end
    local _, found = helper.run("cd " .. q(own) .. " && find . ! -type d ! -name installed-files | wc -l")
    assert.equal(#listed, tonumber(found))
    local _, mode = helper.run("stat -c %a " .. q(manifest))
    assert.equal("644\n", mode)
    -- an older version's file (the upgrade keeps it listed), and one of this checkout's
    -- that the manifest does not list (this checkout is not the one that installed it)
    local old = own .. "/share/lua/5.4/realtime/old.lua"
    assert.equal(0, (helper.run("echo old > " .. q(old) .. " && echo " .. q(old) .. " >> " .. q(manifest))))
    status, out = make("install BUILD=build PREFIX=" .. q(own))
    assert.equal(0, status, out)
    local wav = own .. "/share/lua/5.4/realtime/wav.lua"
    assert.equal(0, (helper.run("grep -v -x " .. q(wav) .. " " .. q(manifest) .. " > " .. q(manifest .. ".new")
      .. " && mv " .. q(manifest .. ".new") .. " " .. q(manifest))))
    status, out = make("uninstall PREFIX=" .. q(own))
    assert.equal(0, status, out)
    local _, left = helper.run("cd " .. q(own) .. " && find . ! -type d | sort")
    assert.equal("./share/lua/5.4/realtime/wav.lua\n", left)
    assert.matches("uninstall: [^\n]*share/lua/5.4/realtime holds files it did not install; left in place", out)
  end)

  it("with DESTDIR: the manifest lists the final paths, and uninstall takes DESTDIR again", function()
    local stage = prefix .. "/stage"
    local status, out = make("install BUILD=build DESTDIR=" .. q(stage) .. " PREFIX=/opt/rt")
    assert.equal(0, status, out)
    local listed = lines(stage .. "/opt/rt/share/realtime/installed-files")
    assert.truthy(#listed > 20)
    for _, f in ipairs(listed) do assert.equal("/opt/rt/", f:sub(1, 8), f) end
    status, out = make("uninstall DESTDIR=" .. q(stage) .. " PREFIX=/opt/rt")
    assert.equal(0, status, out)
    local _, left = helper.run("cd " .. q(stage) .. " && find . ! -type d; find . -type d -name realtime")
    assert.equal("", left)
  end)

  it("without a manifest removes what this checkout would install, and says so", function()
    local own = prefix .. "/nomanifest"
    local status, out = make("install-lua install-c BUILD=build PREFIX=" .. q(own))
    assert.equal(0, status, out)
    assert.is_nil(io.open(own .. "/share/realtime/installed-files"))
    status, out = make("uninstall PREFIX=" .. q(own))
    assert.equal(0, status, out)
    assert.matches("uninstall: no [^\n]*installed%-files", out)
    local _, left = helper.run("cd " .. q(own) .. " && find . ! -type d; find . -type d -name realtime")
    assert.equal("", left)
  end)
end)
