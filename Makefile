# realtime: Gemini Live sessions for Lua 5.4.
#
#   make deps    install what is missing (Debian packages, the simulator's npm packages)
#   make         build build/realtime/core.so and build/librealtime.a
#   make test    deps + build + every test; ends with "N passed, N failed"
#   make check   the same suite with the C built under ASan + UBSan
#   make demo    deps + build + the voice demo against the local simulator
#
# Lua finds the module from the repository root through LUA_PATH/LUA_CPATH, which the
# test and demo targets set (see `make env` to print them for your shell).

LUA      ?= lua5.4
BUILD    ?= build
PKGS     := libwebsockets openssl libcurl
# The version has one home, csrc/core/rt_version.h; the Makefile reads it from there.
VERSION  := $(shell sed -n 's/^.define RT_VERSION "\(.*\)"$$/\1/p' csrc/core/rt_version.h)

CC       ?= cc
CFLAGS   ?= -O2
# Our own flags stay on whatever CFLAGS the caller (or LuaRocks) passes.
RT_CFLAGS = $(CFLAGS) -fPIC -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) lua5.4 2>/dev/null)
ifdef LUA_INCDIR
PKG_CFLAGS += -I$(LUA_INCDIR)
endif
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS   += $(PKG_LIBS) -lpthread -lm

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

export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/spec/?.lua;;
export LUA_CPATH := $(CURDIR)/$(BUILD)/?.so;;

.PHONY: all deps test check demo bench bench-c fuzz clean env test-c lint-core install build-tests

# The set-up targets (test, check, demo, bench) run `deps` first and then build in a new
# make: this Makefile reads pkg-config when it is parsed, and on a fresh machine the
# packages (liblua5.4-dev among them) only exist once deps has installed them.
SUBMAKE = $(MAKE) --no-print-directory

# examples/host.c: a C program that embeds Lua and this module (built when present)
HOST_BIN := $(if $(wildcard examples/host.c),$(BUILD)/examples/host)
LUA_LIBS := $(shell pkg-config --libs lua5.4 2>/dev/null)

all: $(MODULE) $(ARCHIVE) $(HOST_BIN)

$(BUILD)/examples/host: examples/host.c $(CORE_OBJ) $(BIND_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) $(PKG_CFLAGS) -Icsrc/core $< $(CORE_OBJ) $(BIND_OBJ) -o $@ $(LDFLAGS) $(LDLIBS) $(LUA_LIBS) -ldl

$(BUILD)/obj/core/%.o: csrc/core/%.c $(wildcard csrc/core/*.h) | pkg-flags
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) $(PKG_CFLAGS) -Icsrc/core -c $< -o $@

$(BUILD)/obj/binding/%.o: csrc/binding/%.c $(wildcard csrc/core/*.h csrc/binding/*.h) | pkg-flags
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) $(PKG_CFLAGS) -Icsrc/core -Icsrc/binding -c $< -o $@

$(MODULE): $(CORE_OBJ) $(BIND_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(ARCHIVE): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BUILD)/test/%: csrc/test/%.c $(ARCHIVE) csrc/test/rt_test.h
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) $(PKG_CFLAGS) -Icsrc/core -Icsrc/test $< -o $@ $(ARCHIVE) $(LDFLAGS) $(LDLIBS)

# DEPS: the command that installs what is missing (.ci/first-run.sh replaces it to play
# a machine whose packages appear only once it has run).
DEPS ?= sh .ci/deps.sh
deps:
	@$(DEPS)

# Without the packages' pkg-config files the compiler would fail on a missing header;
# say what is missing instead.
.PHONY: pkg-flags
PKG_REQUIRED := $(PKGS) $(if $(LUA_INCDIR),,lua5.4)
pkg-flags:
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
	@BUILD=$(BUILD) sh spec/run-tests.sh

# ASan + UBSan build of the same suite. The Lua interpreter is not instrumented, so the
# sanitizer runtimes are preloaded into it (spec/run-tests.sh does that when SANITIZE=1).
check: deps
	@$(SUBMAKE) BUILD=build/asan CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  LDFLAGS="-fsanitize=address,undefined" all test-bins
	@BUILD=build/asan SANITIZE=1 sh spec/run-tests.sh

.PHONY: test-bins
test-bins: $(TEST_BIN)

demo: deps
	@$(SUBMAKE) all
	@sh examples/run-demo.sh

bench: deps
	@$(SUBMAKE) all
	@sh bench/run.sh

# C micro-benchmarks of core functions (bench/c/*_bench.c; figures in bench/README.md).
BENCH_C_SRC := csrc/core/rt_resume.c csrc/core/rt_json.c csrc/core/rt_alloc.c csrc/core/rt_base64.c
$(BUILD)/bench/scan_bench: bench/c/scan_bench.c bench/c/scan_old.c $(BENCH_C_SRC) $(wildcard csrc/core/*.h) | pkg-flags
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) $(PKG_CFLAGS) -Icsrc/core bench/c/scan_bench.c bench/c/scan_old.c $(BENCH_C_SRC) -o $@ $(LDFLAGS) $(LDLIBS)
$(BUILD)/bench/threads_bench: bench/c/threads_bench.c $(ARCHIVE)
	@mkdir -p $(dir $@)
	$(CC) $(RT_CFLAGS) $(PKG_CFLAGS) -Icsrc/core $< -o $@ $(ARCHIVE) $(LDFLAGS) $(LDLIBS)
bench-c: $(BUILD)/bench/scan_bench $(BUILD)/bench/threads_bench
	$(BUILD)/bench/scan_bench
	$(BUILD)/bench/threads_bench 10

# Fuzz the server-message path and frame reassembly for a bounded time (clang, libFuzzer).
fuzz:
	@sh csrc/fuzz/run.sh

# Used by the rockspec (build.type = "make"); also works for a plain system install.
PREFIX      ?= /usr/local
INST_LIBDIR ?= $(PREFIX)/lib/lua/5.4
INST_LUADIR ?= $(PREFIX)/share/lua/5.4
install: $(MODULE)
	mkdir -p $(INST_LIBDIR)/realtime $(INST_LUADIR)/realtime
	cp $(MODULE) $(INST_LIBDIR)/realtime/core.so
	cp lua/realtime/*.lua $(INST_LUADIR)/realtime/

env:
	@echo "export LUA_PATH='$(LUA_PATH)'"
	@echo "export LUA_CPATH='$(LUA_CPATH)'"

clean:
	rm -rf build luarocks-tree
