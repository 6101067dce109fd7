# realtime: Gemini Live sessions for Lua 5.4.
#
#   make deps    install what is missing (Debian packages, the simulator's npm packages)
#   make         build build/realtime/core.so (the Lua module), the C libraries
#                build/librealtime.{a,so} and build/librealtime-lua.{a,so}, examples/host
#   make install PREFIX=...   the Lua module, and for C hosts the public headers, the
#                libraries and realtime.pc / realtime-lua.pc (install-lua, install-c)
#   make uninstall PREFIX=... removes what install put there (the list it wrote in
#                <prefix>/share/realtime/installed-files)
#   make test    deps + build + every test; ends with "N passed, N failed"
#   make check   the same suite with the C built under ASan + UBSan
#   make demo    deps + build + the voice demo against the local simulator
#
# Lua finds the module from the repository root through LUA_PATH/LUA_CPATH, which the
# test and demo targets set (see `make env` to print them for your shell).

LUA      ?= lua5.4
BUILD    ?= build
PKGS     := libwebsockets openssl libcurl
# The version has one home, csrc/core/rt_version.h; 0.x releases may change the ABI with
# each minor version, so their soname carries it (librealtime.so.0.1); from 1.0 the major.
VERSION  := $(shell sed -n 's/^.define RT_VERSION "\(.*\)"$$/\1/p' csrc/core/rt_version.h)
VERSION_MAJOR := $(word 1,$(subst ., ,$(VERSION)))
SOVERSION := $(if $(filter 0,$(VERSION_MAJOR)),0.$(word 2,$(subst ., ,$(VERSION))),$(VERSION_MAJOR))

CC       ?= cc
CFLAGS   ?= -O2
# Our own flags stay on whatever CFLAGS the caller (or LuaRocks) passes.
RT_CFLAGS = $(CFLAGS) -fPIC -fno-semantic-interposition -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
# The shared objects stay mapped once loaded (dlclose leaves them): a resolver thread
# inside getaddrinfo is not waited for when its client is freed (csrc/core/rt_resolve.c),
# and lua_close unloads core.so; the thread would then return into unmapped code
# (docs/design.md, "Threads").
RT_SO_LDFLAGS = -Wl,-z,nodelete
# lua5.4 on its own: a Lua built by hand (or by hererocks, Homebrew) has no lua5.4.pc, and
# one pkg-config call for everything would then give nothing for the other packages either
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(shell pkg-config --cflags lua5.4 2>/dev/null)
ifdef LUA_INCDIR
PKG_CFLAGS += -I$(LUA_INCDIR)
endif
# libcurl's headers are needed to build, its library only at run time: the core loads it
# on first use (csrc/core/rt_curl.h), so programs that never fetch a token do not map it.
PKG_LIBS   := $(shell pkg-config --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null)
LDLIBS   += $(PKG_LIBS) -ldl -lpthread -lm
# libev: when its header is here and libwebsockets was built with the libev plug-in
# (Debian's libwebsockets-dev brings both), the I/O thread waits with epoll instead of
# lws's poll() over every socket (csrc/core/rt_loop.h). RT_LIBEV=0 builds without it.
RT_LIBEV ?= $(shell printf '\043include <ev.h>\n\043include <libwebsockets.h>\n\043ifndef LWS_WITH_LIBEV\n\043error no libev plug-in\n\043endif\n' | $(CC) $(PKG_CFLAGS) -E -x c - >/dev/null 2>&1 && echo 1 || echo 0)
ifeq ($(RT_LIBEV),1)
RT_CFLAGS += -DRT_HAVE_LIBEV
LDLIBS   += -lev
endif
# the C tests drive the simulator's control API with libcurl themselves
TEST_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null)

# csrc/core: transport, framing, queues, credentials (no Lua headers);
# csrc/binding: the Lua module on top of it.
CORE_SRC := $(sort $(wildcard csrc/core/rt_*.c))
BIND_SRC := $(sort $(wildcard csrc/binding/lrt_*.c))
TEST_SRC := $(sort $(wildcard csrc/test/test_*.c))
CORE_OBJ := $(CORE_SRC:csrc/%.c=$(BUILD)/obj/%.o)
BIND_OBJ := $(BIND_SRC:csrc/%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:csrc/test/%.c=$(BUILD)/test/%)

MODULE   := $(BUILD)/realtime/core.so
ARCHIVE  := $(BUILD)/librealtime.a
# For C hosts: the core (librealtime), and the binding for hosts that embed Lua
# (librealtime-lua: luaopen_realtime_core, linked against librealtime).
SHLIB    := $(BUILD)/librealtime.so.$(VERSION)
LUA_ARCHIVE := $(BUILD)/librealtime-lua.a
LUA_SHLIB := $(BUILD)/librealtime-lua.so.$(VERSION)
# realtime.h and the headers it includes (the installed, public ones), and the binding's
# entry point for hosts that embed Lua (realtime_lua.h, which needs none of them)
PUBLIC_H := $(shell sh csrc/public-headers.sh)
LUA_PUBLIC_H := csrc/binding/realtime_lua.h

# (the module's directories only: spec/run-tests.sh adds spec/ for the tests, and `make env`
# gives these to users, whose own helper.lua a spec/ here would shadow)
export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;
export LUA_CPATH := $(CURDIR)/$(BUILD)/?.so;;

.PHONY: all module deps test check demo bench bench-c fuzz clean env test-c lint-core install build-tests

# The set-up targets (test, check, demo, bench) run `deps` first and then build in a new
# make: this Makefile reads pkg-config when it is parsed, and on a fresh machine the
# packages (liblua5.4-dev among them) only exist once deps has installed them.
SUBMAKE = $(MAKE) --no-print-directory

# examples/host.c: a C program that embeds Lua and this module (built when present, and
# when pkg-config knows how to link Lua)
LUA_LIBS := $(shell pkg-config --libs lua5.4 2>/dev/null)
HOST_BIN := $(if $(and $(wildcard examples/host.c),$(LUA_LIBS)),$(BUILD)/examples/host)

all: $(MODULE) $(ARCHIVE) $(SHLIB) $(LUA_ARCHIVE) $(LUA_SHLIB) $(HOST_BIN)

# the Lua module alone (what a rock installs)
module: $(MODULE)

$(BUILD)/examples/host: examples/host.c $(LUA_PUBLIC_H) $(CORE_OBJ) $(BIND_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) $(PKG_CFLAGS) -Icsrc/core -Icsrc/binding $< $(CORE_OBJ) $(BIND_OBJ) -o $@ $(LDFLAGS) $(LDLIBS) $(LUA_LIBS) -ldl

$(BUILD)/obj/core/%.o: csrc/core/%.c $(wildcard csrc/core/*.h) | pkg-flags
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) $(PKG_CFLAGS) -Icsrc/core -c $< -o $@

$(BUILD)/obj/binding/%.o: csrc/binding/%.c $(wildcard csrc/core/*.h csrc/binding/*.h) | pkg-flags
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) $(PKG_CFLAGS) -Icsrc/core -Icsrc/binding -c $< -o $@

# The binding's interface number has its one home in the Lua files it must match
# (CORE_ABI in lua/realtime/init.lua, which checks core._ABI against it at require time).
CORE_ABI := $(shell sed -n 's/^local CORE_ABI = \([0-9][0-9]*\)$$/\1/p' lua/realtime/init.lua)
ifeq ($(CORE_ABI),)
$(error lua/realtime/init.lua has no line "local CORE_ABI = <number>")
endif
$(BUILD)/obj/binding/lrt_module.o: lua/realtime/init.lua
$(BUILD)/obj/binding/lrt_module.o: RT_CFLAGS += -DLRT_ABI=$(CORE_ABI)

$(MODULE): $(CORE_OBJ) $(BIND_OBJ) csrc/binding/lrt_module.map
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) -shared $(RT_SO_LDFLAGS) -Wl,--version-script=csrc/binding/lrt_module.map -o $@ \
	  $(CORE_OBJ) $(BIND_OBJ) $(LDFLAGS) $(LDLIBS)

$(ARCHIVE): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# lib<name>.so.<version>, its soname link lib<name>.so.<soversion> and lib<name>.so
$(SHLIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) -shared $(RT_SO_LDFLAGS) -Wl,-soname,librealtime.so.$(SOVERSION) -o $@ $^ $(LDFLAGS) $(LDLIBS)
	ln -sf $(notdir $@) $(BUILD)/librealtime.so.$(SOVERSION)
	ln -sf librealtime.so.$(SOVERSION) $(BUILD)/librealtime.so

$(LUA_ARCHIVE): $(BIND_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

# Lua's own symbols stay undefined: the host that embeds Lua provides them.
$(LUA_SHLIB): $(BIND_OBJ) $(SHLIB)
	$(CC) $(RT_CFLAGS) -shared $(RT_SO_LDFLAGS) -Wl,-soname,librealtime-lua.so.$(SOVERSION) -o $@ $(BIND_OBJ) \
	  -L$(BUILD) -lrealtime $(LDFLAGS) $(LDLIBS)
	ln -sf $(notdir $@) $(BUILD)/librealtime-lua.so.$(SOVERSION)
	ln -sf librealtime-lua.so.$(SOVERSION) $(BUILD)/librealtime-lua.so

# The C tests get test hooks the library leaves out (RT_TEST_HOOKS: rt_alloc_on_release,
# which would cost every free a load; rt_session_on_push, a call on every send): their
# own objects of those files, linked ahead of the archive, so the archive's copies are
# never pulled in.
TEST_HOOK_SRC := rt_alloc.c rt_session_send.c
TEST_HOOK_OBJ := $(TEST_HOOK_SRC:%.c=$(BUILD)/obj/test/%.o)
$(TEST_HOOK_OBJ): $(BUILD)/obj/test/%.o: csrc/core/%.c $(wildcard csrc/core/*.h) | pkg-flags
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) -DRT_TEST_HOOKS $(PKG_CFLAGS) -Icsrc/core -c $< -o $@

$(BUILD)/test/%: csrc/test/%.c $(TEST_HOOK_OBJ) $(ARCHIVE) $(wildcard csrc/test/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) -DRT_TEST_HOOKS $(PKG_CFLAGS) -Icsrc/core -Icsrc/test $< -o $@ $(TEST_HOOK_OBJ) \
	  $(ARCHIVE) $(LDFLAGS) $(LDLIBS) $(TEST_LIBS)

# test_unload loads the shared objects themselves
$(BUILD)/test/test_unload: | $(MODULE) $(SHLIB) $(LUA_SHLIB)

# DEPS: the command that installs what is missing (.ci/first-run.sh replaces it to play
# a machine whose packages appear only once it has run).
DEPS ?= sh .ci/deps.sh
deps:
	@$(DEPS)

# Without pkg-config, or the packages' pkg-config files, the compiler would fail on a
# missing header; say what is missing instead (pkg-config itself first: without it every
# package would look missing).
.PHONY: pkg-flags
PKG_REQUIRED := $(PKGS) $(if $(LUA_INCDIR),,lua5.4)
pkg-flags:
	@command -v pkg-config >/dev/null 2>&1 || { \
	  echo "pkg-config is not installed (apt-get install pkg-config; 'make deps' installs it with the rest): the build finds its libraries with it" >&2; exit 1; }
	@for p in $(PKG_REQUIRED); do pkg-config --exists $$p || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "pkg-config cannot find:$$missing; run 'make deps' first ('make test' and 'make demo' do)" >&2; exit 1; fi

# The core must stay free of the Lua headers.
lint-core:
	@if grep -l 'include *[<"]l\(ua\|auxlib\|ualib\)\.h' csrc/core/* 2>/dev/null; then \
	  echo "core files above include Lua headers"; exit 1; fi

test-c: $(TEST_BIN)
	@for t in $(TEST_BIN); do echo "# $$t"; $$t || true; done

build-tests: all $(TEST_BIN) lint-core

test: deps
	@$(SUBMAKE) build-tests
	@RT_LIBEV=$$($(SUBMAKE) -s print-libev) BUILD=$(BUILD) sh spec/run-tests.sh

# ASan + UBSan build of the same suite. The Lua interpreter is not instrumented, so the
# sanitizer runtimes are preloaded into it (spec/run-tests.sh does that when SANITIZE=1).
check: deps
	@$(SUBMAKE) BUILD=build/asan CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" all test-bins
	@RT_LIBEV=$$($(SUBMAKE) -s print-libev) BUILD=build/asan SANITIZE=1 sh spec/run-tests.sh

# whether this build waits with libev (read after deps: the specs check what a client reports)
.PHONY: print-libev
print-libev:
	@echo $(RT_LIBEV)

.PHONY: test-bins
test-bins: $(TEST_BIN)

demo: deps
	@$(SUBMAKE) all
	@sh examples/run-demo.sh

bench: deps
	@$(SUBMAKE) all
	@sh bench/run.sh

# C micro-benchmarks of core functions (bench/c/*_bench.c; figures in bench/README.md).
BENCH_C_SRC := csrc/core/rt_resume.c csrc/core/rt_json.c csrc/core/rt_json_string.c csrc/core/rt_alloc.c csrc/core/rt_base64.c csrc/core/rt_utf8.c
$(BUILD)/bench/scan_bench: bench/c/scan_bench.c bench/c/scan_old.c bench/c/bench_util.h $(BENCH_C_SRC) $(wildcard csrc/core/*.h) | pkg-flags
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) $(PKG_CFLAGS) -Icsrc/core bench/c/scan_bench.c bench/c/scan_old.c $(BENCH_C_SRC) -o $@ $(LDFLAGS) $(LDLIBS)
$(BUILD)/bench/threads_bench: bench/c/threads_bench.c $(ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) $(PKG_CFLAGS) -Icsrc/core $< -o $@ $(ARCHIVE) $(LDFLAGS) $(LDLIBS)
$(BUILD)/bench/base64_bench: bench/c/base64_bench.c bench/c/base64_old.c bench/c/bench_util.h csrc/core/rt_base64.c csrc/core/rt_base64.h | pkg-flags
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) $(PKG_CFLAGS) -Icsrc/core bench/c/base64_bench.c bench/c/base64_old.c csrc/core/rt_base64.c -o $@ $(LDFLAGS) $(LDLIBS)
bench-c: $(BUILD)/bench/scan_bench $(BUILD)/bench/threads_bench $(BUILD)/bench/base64_bench
	$(BUILD)/bench/scan_bench
	$(BUILD)/bench/threads_bench 10
	$(BUILD)/bench/base64_bench

# Fuzz the server-message path and frame reassembly for a bounded time (clang, libFuzzer).
fuzz:
	@sh csrc/fuzz/run.sh

# install-lua: the Lua module (the rockspec's install target). install-c: for C hosts,
# the public headers under $(includedir)/realtime, the libraries, realtime.pc and
# realtime-lua.pc (docs/core-api.md, "Installing"). DESTDIR stages a package.
PREFIX      ?= /usr/local
INST_LIBDIR ?= $(PREFIX)/lib/lua/5.4
INST_LUADIR ?= $(PREFIX)/share/lua/5.4
libdir      ?= $(PREFIX)/lib
includedir  ?= $(PREFIX)/include
pkgconfigdir ?= $(libdir)/pkgconfig
.PHONY: install-lua install-c
# install also writes a manifest of the files it put there (their final paths, without
# DESTDIR, one a line), for uninstall: install-lua alone (the rock's) writes none, as
# LuaRocks keeps its own list and PREFIX is not its tree.
MANIFEST    ?= $(PREFIX)/share/realtime/installed-files
install: install-lua install-c
	@$(MAKE_MANIFEST)

# Modes are explicit (install -m), not the caller's umask: under umask 077 a copy by cp
# would be unreadable to everyone else. Shared objects 755 (as libtool installs them),
# other files 644; install -d makes missing parents 755 too. Every path is quoted: a
# PREFIX may hold spaces.
INSTALL      ?= install
INSTALL_DIR  = $(INSTALL) -d -m 755
INSTALL_DATA = $(INSTALL) -m 644
INSTALL_SO   = $(INSTALL) -m 755
install-lua: $(MODULE)
	$(INSTALL_DIR) "$(DESTDIR)$(INST_LIBDIR)/realtime" "$(DESTDIR)$(INST_LUADIR)/realtime"
	$(INSTALL_SO) $(MODULE) "$(DESTDIR)$(INST_LIBDIR)/realtime/core.so"
	$(INSTALL_DATA) lua/realtime/*.lua "$(DESTDIR)$(INST_LUADIR)/realtime/"

# a space in a .pc path is written "\ ", as pkg-config reads (and prints) it
rt_empty :=
rt_space := $(rt_empty) $(rt_empty)
rt_pc_path = $(subst $(rt_space),\\ ,$(1))
PC_SUBST = sed -e 's|@prefix@|$(call rt_pc_path,$(PREFIX))|g' -e 's|@libdir@|$(call rt_pc_path,$(libdir))|g' \
  -e 's|@includedir@|$(call rt_pc_path,$(includedir))|g' -e 's|@version@|$(VERSION)|g' \
  -e 's|@libs_private@|$(if $(filter 1,$(RT_LIBEV)),-lev )-ldl -lpthread -lm|g'
install-c: $(ARCHIVE) $(SHLIB) $(LUA_ARCHIVE) $(LUA_SHLIB)
	$(INSTALL_DIR) "$(DESTDIR)$(includedir)/realtime" "$(DESTDIR)$(libdir)" "$(DESTDIR)$(pkgconfigdir)"
	$(INSTALL_DATA) $(PUBLIC_H) $(LUA_PUBLIC_H) "$(DESTDIR)$(includedir)/realtime/"
	$(INSTALL_DATA) $(ARCHIVE) $(LUA_ARCHIVE) "$(DESTDIR)$(libdir)/"
	$(INSTALL_SO) $(SHLIB) $(LUA_SHLIB) "$(DESTDIR)$(libdir)/"
	for lib in librealtime librealtime-lua; do \
	  ln -sf $$lib.so.$(VERSION) "$(DESTDIR)$(libdir)/$$lib.so.$(SOVERSION)" && \
	  ln -sf $$lib.so.$(SOVERSION) "$(DESTDIR)$(libdir)/$$lib.so" || exit 1; done
	@mkdir -p $(BUILD)/pc
	$(PC_SUBST) csrc/realtime.pc.in > $(BUILD)/pc/realtime.pc
	$(PC_SUBST) csrc/realtime-lua.pc.in > $(BUILD)/pc/realtime-lua.pc
	$(INSTALL_DATA) $(BUILD)/pc/realtime.pc $(BUILD)/pc/realtime-lua.pc "$(DESTDIR)$(pkgconfigdir)/"

# What install puts there, as final paths (DESTDIR not in them), each quoted.
LUA_FILES := $(notdir $(wildcard lua/realtime/*.lua))
INSTALLED_FILES = "$(INST_LIBDIR)/realtime/core.so" \
  $(foreach f,$(LUA_FILES),"$(INST_LUADIR)/realtime/$(f)") \
  $(foreach h,$(notdir $(PUBLIC_H) $(LUA_PUBLIC_H)),"$(includedir)/realtime/$(h)") \
  $(foreach l,librealtime librealtime-lua,"$(libdir)/$(l).a" "$(libdir)/$(l).so" \
    "$(libdir)/$(l).so.$(SOVERSION)" "$(libdir)/$(l).so.$(VERSION)") \
  "$(pkgconfigdir)/realtime.pc" "$(pkgconfigdir)/realtime-lua.pc"

# The manifest: INSTALLED_FILES made absolute (uninstall may run from elsewhere), after
# the lines of a manifest already there (an older install's files, which this one may
# not have replaced), each path once.
MAKE_MANIFEST = set -e; mkdir -p $(BUILD); \
  m="$(DESTDIR)$(MANIFEST)"; new=$(BUILD)/installed-files; \
  { if [ -f "$$m" ]; then cat "$$m"; fi; \
    for f in $(INSTALLED_FILES); do \
      case "$$f" in /*) ;; *) f="$$PWD/$$f" ;; esac; printf '%s\n' "$$f"; done; \
  } | awk '!seen[$$0]++' > "$$new"; \
  $(INSTALL_DIR) "$$(dirname "$$m")"; $(INSTALL_DATA) "$$new" "$$m"

# uninstall: takes back, file by file, what the manifest under the same PREFIX (and
# DESTDIR) lists, then the manifest, then our realtime/ directories when empty; the
# parent directories and anything else in them stay, as they may hold other packages'
# files. Without a manifest (an install by install-lua and install-c alone, or by an
# older version) it warns and takes back what this checkout would install.
.PHONY: uninstall
uninstall:
	@m="$(DESTDIR)$(MANIFEST)"; \
	if [ -f "$$m" ]; then \
	  while IFS= read -r f; do \
	    case "$$f" in \
	    /*) rm -f "$(DESTDIR)$$f" || exit 1 ;; \
	    ?*) echo "uninstall: $$m: '$$f' is not an absolute path; left alone" >&2 ;; \
	    esac; \
	  done < "$$m"; \
	  dirs=$$(sed -n 's|^\(/.*/realtime\)/[^/]*$$|\1|p' "$$m" | awk '!seen[$$0]++'); \
	  rm -f "$$m"; \
	else \
	  echo "uninstall: no $$m (an install by install-lua/install-c alone, or by an older version): removing the files this checkout would install" >&2; \
	  for f in $(INSTALLED_FILES); do rm -f "$(DESTDIR)$$f" || exit 1; done; \
	  dirs=$$(printf '%s\n' "$(INST_LIBDIR)/realtime" "$(INST_LUADIR)/realtime" "$(includedir)/realtime"); \
	fi; \
	{ printf '%s\n' "$$dirs"; dirname "$(MANIFEST)"; } | while IFS= read -r d; do \
	  d="$(DESTDIR)$$d"; \
	  [ ! -d "$$d" ] || rmdir "$$d" 2>/dev/null || echo "uninstall: $$d holds files it did not install; left in place" >&2; \
	done

env:
	@echo "export LUA_PATH='$(LUA_PATH)'"
	@echo "export LUA_CPATH='$(LUA_CPATH)'"

clean:
	rm -rf build luarocks-tree
