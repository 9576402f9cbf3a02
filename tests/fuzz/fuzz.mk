# Builds the libFuzzer targets (tests/fuzz/run.sh runs them): clang, ASan + UBSan, into
# build-fuzz/. Each source is compiled once and shared by the targets that link it; make
# rebuilds only what changed.
#   make -f tests/fuzz/fuzz.mk -j2 [FUZZ_CC=clang] [build-fuzz/fuzz_socks ...]
FUZZ_CC ?= clang
OUT := build-fuzz
# One target per tests/fuzz/fuzz_*.c; what else each links is listed below.
TARGETS := $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))

SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# As the Makefile: every core/ folder on the include path (core/builtin/ as "builtin/*.h").
CORE_DIRS := $(filter-out core/include/ core/builtin/,$(wildcard core/*/))
CORE_INC := -Icore/include -Icore $(CORE_DIRS:%/=-I%)
CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fPIC -fvisibility=hidden \
    -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter $(CORE_INC) \
    -DEVP_HAVE_PCRE2 '-DEVP_VERSION="fuzz"' '-DEVP_PREFIX="/usr/local"' $(SAN)
LIBS := -lsodium -lnettle -lgnutls -ljansson -lcares -lpcre2-8 -lev -lpthread -lm -ldl

obj = $(patsubst %.c,$(OUT)/obj/%.o,$(1))
VMESS := $(call obj,$(wildcard plugin/vmess/*.c))
WS := $(call obj,$(filter-out %/plugin.c,$(wildcard plugin/ws/*.c)))
TLS := $(call obj,$(filter-out %/entry.c,$(wildcard plugin/tls/*.c)))
BUILTIN := $(call obj,$(wildcard core/builtin/*.c))
HTTP_HEADER := $(call obj,$(wildcard plugin/http-header/*.c))
H2 := $(call obj,$(wildcard plugin/h2/*.c))
SS := $(call obj,$(wildcard plugin/shadowsocks/*.c))
JSONSCHEMA := $(call obj,$(filter-out %_cli.c,$(wildcard core/jsonschema/*.c)))
# The fuzz host hands out the core's log escaping.
LOG := $(call obj,core/log.c)
# The geo data reader is generated from core/route/geodata.proto (as in the Makefile).
GEN := $(OUT)/gen
GEO := $(OUT)/obj/gen/geodata.pb-c.o $(call obj,$(addprefix core/route/,geo_assets.c ip_set.c domain_set.c))
CORE_ALL := $(call obj,$(filter-out core/main.c,$(wildcard core/*.c core/*/*.c))) \
    $(OUT)/obj/gen/geodata.pb-c.o
CFLAGS += -I$(GEN)
LIBS += -lprotobuf-c

.PHONY: all
all: $(TARGETS:%=$(OUT)/%) $(OUT)/plugins/vmess.so $(OUT)/plugins-nocov/vmess.so $(OUT)/seeds

# What each target links besides its own file.
$(OUT)/fuzz_socks $(OUT)/fuzz_proxy_protocol $(OUT)/fuzz_http_inbound: $(BUILTIN) $(LOG)
$(OUT)/fuzz_upstream_out: $(BUILTIN) $(LOG)
$(OUT)/fuzz_vmess_inbound $(OUT)/fuzz_vmess_outbound $(OUT)/fuzz_vmess_body: $(VMESS) $(LOG)
$(OUT)/fuzz_vmess_header $(OUT)/fuzz_mux_frame: $(VMESS) $(LOG)
$(OUT)/fuzz_ws_server $(OUT)/fuzz_ws_client: $(WS) $(LOG)
$(OUT)/fuzz_jsonschema: $(JSONSCHEMA)
$(OUT)/fuzz_http_header: $(HTTP_HEADER) $(LOG)
$(OUT)/fuzz_tls: $(TLS) $(LOG)
$(OUT)/fuzz_h2_server $(OUT)/fuzz_h2_mux: $(H2) $(LOG)
$(OUT)/fuzz_ss_inbound: $(SS) $(LOG)
$(OUT)/fuzz_h2_server $(OUT)/fuzz_h2_mux: LIBS += -lnghttp2
$(OUT)/fuzz_settings: $(BUILTIN) $(VMESS) $(JSONSCHEMA) $(LOG)
$(OUT)/fuzz_sip003: $(CORE_ALL)
$(OUT)/fuzz_config: $(CORE_ALL)
$(OUT)/fuzz_sniff: $(call obj,core/sniff/sniff.c core/sniff/sniff_http.c core/sniff/sniff_tls.c)
$(OUT)/fuzz_geodata: $(GEO) $(LOG)
$(OUT)/fuzz_dns_msg: $(call obj,core/builtin/dns_msg.c)

$(GEN)/geodata.pb-c.c $(GEN)/geodata.pb-c.h &: core/route/geodata.proto
	@mkdir -p $(GEN)
	protoc-c --proto_path=core/route --c_out=$(GEN) geodata.proto
$(OUT)/obj/gen/geodata.pb-c.o: $(GEN)/geodata.pb-c.c tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(OUT)/obj/core/route/geo_assets.o: $(GEN)/geodata.pb-c.h

$(OUT)/fuzz_%: $(OUT)/obj/tests/fuzz/fuzz_%.o
	$(FUZZ_CC) -fsanitize=fuzzer $(SAN) $^ -o $@ $(LIBS)

# Every object carries the fuzzer's coverage hooks; only the targets link libFuzzer itself.
$(OUT)/obj/%.o: %.c tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

# fuzz_config loads this vmess.so once.
$(OUT)/plugins/vmess.so: $(VMESS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -shared -fsanitize=fuzzer-no-link $(SAN) $^ -o $@ -lsodium -lnettle -lgnutls -ljansson

# fuzz_sip003 (run.sh sets EVP_FUZZ_PLUGIN_DIR) loads a fresh private copy of vmess.so per
# input and unloads it: libFuzzer's coverage counters cannot follow that, so this one has
# the sanitizers only.
$(OUT)/obj-nocov/%.o: %.c tests/fuzz/fuzz.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS) -MMD -MP -c $< -o $@
$(OUT)/plugins-nocov/vmess.so: $(patsubst %.c,$(OUT)/obj-nocov/%.o,$(wildcard plugin/vmess/*.c))
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -shared $(SAN) $^ -o $@ -lsodium -lnettle -lgnutls -ljansson

# Writes the seed corpora (real VMess traffic comes from the codecs themselves).
$(OUT)/seeds: $(OUT)/obj/tests/fuzz/seeds.o $(VMESS) $(LOG)
	$(FUZZ_CC) -fsanitize=fuzzer-no-link $(SAN) $^ -o $@ $(LIBS)

-include $(shell find $(OUT)/obj $(OUT)/obj-nocov -name '*.d' 2>/dev/null)
