# vmess-libev: one build for the core, the plugins and the tests.
#   make            build/evproxy and build/plugins/*.so
#   make check      unit suites + end-to-end tests, then the same under ASan+UBSan, then
#                   every fuzz target for FUZZ_CI_SECONDS each (make fuzz-ci)
#   make run        build, then run the embedded default config on loopback
#   make SANITIZE=1 build into build-san/ with ASan+UBSan
#   make SANITIZE=thread CC=clang   build into build-tsan/ with ThreadSanitizer
SHELL := /bin/bash
CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=

ifeq ($(SANITIZE),1)
BUILD ?= build-san
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SANITIZE),thread)
BUILD ?= build-tsan
SAN := -fsanitize=thread -fno-omit-frame-pointer
else
BUILD ?= build
SAN :=
endif

PKGS := libsodium nettle jansson libcares libpcre2-8
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
# GnuTLS: vmess.so's AES-GCM body AEAD, tls.so, and the tests that link their objects.
VMESS_CFLAGS = $(shell pkg-config --cflags gnutls 2>/dev/null)
VMESS_LIBS = $(shell pkg-config --libs gnutls 2>/dev/null)
# Only `evproxy link` (core/link/) uses libqrencode and libpng: their headers; it dlopens them.
QR_CFLAGS = $(shell pkg-config --cflags libqrencode libpng 2>/dev/null)
# Only h2.so links libnghttp2.
H2_CFLAGS = $(shell pkg-config --cflags libnghttp2 2>/dev/null)
H2_LIBS = $(shell pkg-config --libs libnghttp2 2>/dev/null)

# libm only if a call remains (an -O0 build's floor): loaded, it costs a process ~300 KiB.
LIBM_IF_USED := -Wl,--push-state,--as-needed -lm -Wl,--pop-state

# Each core/ folder is on the include path, so a file includes "session.h" wherever it lives
# (README "## Layout" says which folder holds what); core/builtin/ is reached as "builtin/*.h".
CORE_DIRS := $(filter-out core/include/ core/builtin/,$(wildcard core/*/))
CORE_INC := -Icore/include -Icore $(CORE_DIRS:%/=-I%)

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1)
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-unused-parameter
CFLAGS ?= -O2 -g
override CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) $(SAN) -fvisibility=hidden \
    $(CORE_INC) $(PKG_CFLAGS) -DEVP_HAVE_PCRE2 -DEVP_VERSION='"$(VERSION)"' \
    -DEVP_PREFIX='"$(PREFIX)"'
override LDFLAGS += $(SAN)

CORE_SRC := $(filter-out core/main.c,$(wildcard core/*.c core/*/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/core/main.o
PLUGINS := $(notdir $(wildcard plugin/*))
PLUGIN_SO := $(PLUGINS:%=$(BUILD)/plugins/%.so)
VMESS_SRC := $(wildcard plugin/vmess/*.c)
VMESS_OBJ := $(VMESS_SRC:%.c=$(BUILD)/obj/%.o)
# The tests link ws's objects beside vmess's: all but its descriptor (evp_plugin_entry).
WS_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out %/plugin.c,$(wildcard plugin/ws/*.c)))
# tls.so's objects but its exported entry, which would clash with vmess.so's in the tests.
TLS_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out %/entry.c,$(wildcard plugin/tls/*.c)))
# mux.so's objects but its exported entry.
MUX_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out %/plugin.c,$(wildcard plugin/mux/*.c)))
# shadowsocks.so's objects but its descriptor, for the unit tests.
SS_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out %/plugin.c,$(wildcard plugin/shadowsocks/*.c)))
TEST_SRC := $(wildcard tests/check_*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
TESTPLUG_SRC := $(wildcard tests/plugins/*.c)
TESTPLUG_SO := $(TESTPLUG_SRC:tests/plugins/%.c=$(BUILD)/tests/plugins/%.so)

.PHONY: all deps check check-once unit e2e run bench fuzz fuzz-ci install clean
all: deps-check $(BUILD)/evproxy $(PLUGIN_SO) | $(BUILD)/plugins

# Made even with no plugin/ folder, so that the build's evproxy looks there and nowhere else.
$(BUILD)/plugins:
	mkdir -p $@

# Says which packages are missing and how to get them (make deps installs them).
.PHONY: deps-check
deps-check:
	@contrib/install-deps.sh --check build

deps:
	contrib/install-deps.sh build test

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(BUILD)/evproxy: $(MAIN_OBJ) $(CORE_OBJ)
	$(CC) $(LDFLAGS) -rdynamic $^ -o $@ $(PKG_LIBS) -lev -ldl $(LIBM_IF_USED)
$(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard core/link/*.c)): override CFLAGS += $(QR_CFLAGS)


.SECONDEXPANSION:
# One .so per plugin/NAME/ folder; each links only its own libraries.
plugin_objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard plugin/$(1)/*.c))
$(BUILD)/plugins/%.so: $$(call plugin_objs,$$*)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared $^ -o $@ $(PKG_LIBS) $(PLUGIN_LIBS)
$(BUILD)/plugins/vmess.so: PLUGIN_LIBS = $(VMESS_LIBS)
$(BUILD)/plugins/tls.so: PLUGIN_LIBS = $(VMESS_LIBS)
$(BUILD)/plugins/shadowsocks.so: PLUGIN_LIBS = $(VMESS_LIBS)
$(VMESS_OBJ) $(TLS_OBJ) $(SS_OBJ) $(TEST_OBJ): override CFLAGS += $(VMESS_CFLAGS)
# mux.so shares Mux.Cool's frame code, the port-first address and the allocator with vmess.so.
$(BUILD)/plugins/mux.so: $(patsubst %,$(BUILD)/obj/plugin/vmess/%.o,mux_frame_parse \
    mux_frame_write addr mem)
$(BUILD)/plugins/mux.so: PLUGIN_LIBS = $(VMESS_LIBS)
$(BUILD)/plugins/h2.so: PLUGIN_LIBS = $(H2_LIBS)
$(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard plugin/h2/*.c)): override CFLAGS += $(H2_CFLAGS)
$(BUILD)/tests/plugins/%.so: tests/plugins/%.c core/include/evproxy/plugin.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -shared $< -o $@ $(LDFLAGS) $(PKG_LIBS)

# The suite list is generated from the tests/check_*.c files so adding a file is enough.
$(BUILD)/tests/suites.h: $(TEST_SRC)
	@mkdir -p $(dir $@)
	@grep -ho '^Suite \*[a-z0-9_]*_suite(void)' $(TEST_SRC) | sed 's/ *(void)//; s/^Suite \*//' \
	    | sort | awk '{print "SUITE(" $$1 ")"}' > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/tests/runner.o: tests/runner.c $(BUILD)/tests/suites.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/tests -c $< -o $@

$(BUILD)/tests/check_all: $(BUILD)/obj/tests/runner.o $(TEST_OBJ) $(CORE_OBJ) $(VMESS_OBJ) $(WS_OBJ) \
    $(TLS_OBJ) $(MUX_OBJ) $(SS_OBJ)
	$(CC) $(LDFLAGS) -rdynamic $^ -o $@ $(PKG_LIBS) $(VMESS_LIBS) $(CHECK_LIBS) -lev -ldl -lm

unit: all $(BUILD)/tests/check_all $(TESTPLUG_SO)
	tests/core_knows_no_protocol.sh
	tests/core_include_graph.py
	tests/core_without_plugins.sh
	cd $(CURDIR) && EVP_BUILD=$(BUILD) $(BUILD)/tests/check_all

e2e: all
	EVP_BUILD=$(BUILD) tests/run-e2e.sh

check-once: unit e2e

check:
	contrib/install-deps.sh build test fuzz
	$(MAKE) check-once
	$(MAKE) check-once SANITIZE=1
	$(MAKE) fuzz-ci

run:
	contrib/install-deps.sh build
	$(MAKE) all
	$(BUILD)/evproxy --default-config

bench: all
	contrib/install-deps.sh bench
	contrib/bench/run.sh

# libFuzzer targets for every parser (clang); FUZZ_SECONDS per target, default 20.
fuzz:
	contrib/install-deps.sh build fuzz
	tests/fuzz/run.sh

# make check's share: the saved crash inputs and seeds replayed, then a short run of each.
FUZZ_CI_SECONDS ?= 8
fuzz-ci:
	contrib/install-deps.sh build fuzz
	FUZZ_SECONDS=$(FUZZ_CI_SECONDS) tests/fuzz/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/evproxy/plugins \
	    $(DESTDIR)$(PREFIX)/share/evproxy/schema
	install -m 755 $(BUILD)/evproxy $(DESTDIR)$(PREFIX)/bin/evproxy
	ln -sf evproxy $(DESTDIR)$(PREFIX)/bin/vmess-plugin
	install -m 644 $(PLUGIN_SO) $(DESTDIR)$(PREFIX)/lib/evproxy/plugins/
	install -m 644 schema/*.json $(DESTDIR)$(PREFIX)/share/evproxy/schema/
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 644 contrib/man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 contrib/man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/

clean:
	rm -rf build build-san build-tsan build-fuzz

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
