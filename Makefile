# stalltrap build: BPF objects + skeletons, the user-space agent, tests, sanitizer build, demo.
# `make V=1` shows the commands. The test targets (README.md, "Running the tests"):
#   make test        deps, both builds, then every test (tests/run.sh all)
#   make test-unit   cmocka unit tests, normal and ASan+UBSan builds, no root
#   make test-e2e    end-to-end tests without root
#   make test-bpf    root tests: workloads, and the watch tests that attach BPF
#   make fuzz        each libFuzzer target for FUZZ_S seconds (default 60)
# T=name runs only the tests whose name contains name.

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

OUT      ?= build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS   ?= -O2 -g
CFLAGS   += $(WARN) -std=gnu11 -D_GNU_SOURCE -Isrc -I$(OUT) -pthread
LDLIBS   := -lbpf -ldw -lelf -liberty -lz -ljansson -lprotobuf-c -lcurl -lcrypto -lmicrohttpd -lsystemd -lpthread -lm

# Sanitizer build (make SAN=1): its own output tree, same sources and tests.
ifeq ($(SAN),1)
OUT      := build-san
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
endif
# libFuzzer build (make FUZZ=1, for `make fuzz`): the library compiled by clang
# with coverage for libFuzzer, in its own tree. clang's warnings are not made
# errors here: gcc's -Werror build is the one that checks them.
ifeq ($(FUZZ),1)
OUT      := build-fuzz
CC       := $(CLANG)
CFLAGS   := $(filter-out -Werror,$(CFLAGS)) -fsanitize=fuzzer-no-link,address,undefined \
            -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=fuzzer,address,undefined
endif

BPF_SRCS  := $(wildcard src/capture/*.bpf.c)
BPF_OBJS  := $(patsubst src/capture/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst src/capture/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))

# pprof's profile.proto, as Debian ships it (golang-github-google-pprof-dev), turned
# into C by protoc-c at build time: never copied into the tree.
PPROF_PROTO_DIR ?= /usr/share/gocode/src/github.com/google/pprof/proto
PROTO_C   := $(OUT)/proto/profile.pb-c.c
PROTO_H   := $(OUT)/proto/profile.pb-c.h
PROTO_OBJ := $(OUT)/obj/proto/profile.pb-c.o
# Pyroscope's push messages, typed from its published schema (src/deliver/pyroscope_push.proto).
PUSH_PROTO_C   := $(OUT)/proto/pyroscope_push.pb-c.c
PUSH_PROTO_H   := $(OUT)/proto/pyroscope_push.pb-c.h
PUSH_PROTO_OBJ := $(OUT)/obj/proto/pyroscope_push.pb-c.o

# Every user-space .c under src/ except the BPF sources and main.c forms the library.
LIB_SRCS  := $(filter-out src/cli/main.c $(BPF_SRCS),$(shell find src -name '*.c' | sort))
LIB_OBJS  := $(patsubst src/%.c,$(OUT)/obj/%.o,$(LIB_SRCS)) $(PROTO_OBJ) $(PUSH_PROTO_OBJ)
LIB       := $(OUT)/libstalltrap.a

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
WORK_SRCS := $(sort $(wildcard tests/workloads/*.c))
# Workloads are built as users' services are: -O2 without frame pointers, and again with them.
WORK_BINS := $(patsubst tests/workloads/%.c,$(OUT)/workloads/%,$(WORK_SRCS)) \
             $(patsubst tests/workloads/%.c,$(OUT)/workloads/%-fp,$(WORK_SRCS))
# Helpers of the end-to-end tests (tests/e2e/*.c: capture generators, no root).
E2E_SRCS  := $(sort $(wildcard tests/e2e/*.c))
E2E_BINS  := $(patsubst tests/e2e/%.c,$(OUT)/e2e/%,$(E2E_SRCS))
# Headers the tests share (tests/lib/capbuild.h, tests/unit/render_world.h).
TEST_HDRS := $(wildcard tests/lib/*.h tests/unit/*.h)
# Fuzz targets: every tests/fuzz/fuzz_NAME.c, its seeds in tests/fuzz/corpus_NAME/
# (and tests/fuzz/NAME.dict if there is one). $(OUT)/fuzz/fuzz_NAME is the target
# with tests/fuzz/replay_main.c (make test replays the corpus with the SAN=1 one);
# with FUZZ=1 it is the libFuzzer binary instead.
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRCS))
FUZZ_BINS := $(addprefix $(OUT)/fuzz/,$(FUZZ_NAMES))
FUZZ_S    ?= 60
# The freeze demo's service and clients (demo/), built with the distribution's
# default flags, as users' services are: -O2, no frame pointers.
DEMO_CFLAGS := $(or $(shell dpkg-buildflags --get CFLAGS 2>/dev/null),-g -O2 -fstack-protector-strong -Wformat -Werror=format-security)
DEMO_LDFLAGS := $(shell dpkg-buildflags --get LDFLAGS 2>/dev/null)
DEMO_BINS := $(OUT)/demo/feedstore $(OUT)/demo/loadgen
# Benchmark helpers (bench/*.c): standalone, without the stalltrap library.
BENCH_BINS := $(OUT)/bench/poll_floor

.SECONDARY:
.PHONY: all test test-unit test-e2e test-bpf fuzz bins-unit bins-e2e bins-fuzz san demo clean deps
all: $(OUT)/stalltrap $(UNIT_BINS) $(WORK_BINS) $(E2E_BINS) $(FUZZ_BINS) $(DEMO_BINS) $(BENCH_BINS)
bins-unit: $(UNIT_BINS)
bins-e2e: $(OUT)/stalltrap $(E2E_BINS)
bins-fuzz: $(FUZZ_BINS)

deps:
	$(Q)./scripts/install-deps.sh

$(OUT)/vmlinux.h:
	$(call msg,BTF,$@)
	$(Q)mkdir -p $(OUT)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(OUT)/%.bpf.o: src/capture/%.bpf.c src/capture/capture_abi.h $(OUT)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) $(WARN) -Wno-unused-function \
		-I$(OUT) -Isrc -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(PROTO_C) $(PROTO_H) &: $(PPROF_PROTO_DIR)/profile.proto
	$(call msg,PROTOC,$(PROTO_C))
	$(Q)mkdir -p $(OUT)/proto
	$(Q)protoc-c --proto_path=$(PPROF_PROTO_DIR) --c_out=$(OUT)/proto profile.proto

# Generated code: our warnings are not its author's.
$(PROTO_OBJ): $(PROTO_C) $(PROTO_H)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -Werror,$(CFLAGS)) -w -c $< -o $@

$(PUSH_PROTO_C) $(PUSH_PROTO_H) &: src/deliver/pyroscope_push.proto
	$(call msg,PROTOC,$(PUSH_PROTO_C))
	$(Q)mkdir -p $(OUT)/proto
	$(Q)protoc-c --proto_path=src/deliver --c_out=$(OUT)/proto pyroscope_push.proto

$(PUSH_PROTO_OBJ): $(PUSH_PROTO_C) $(PUSH_PROTO_H)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(filter-out -Werror,$(CFLAGS)) -w -c $< -o $@
# The sources that include it (the pattern rule below compiles them).
$(OUT)/obj/deliver/pyroscope.o $(OUT)/obj/deliver/profile_prep.o: $(PUSH_PROTO_H)
$(OUT)/tests/test_deliver_push $(OUT)/fuzz/fuzz_profile_push: $(PUSH_PROTO_H)

$(OUT)/obj/%.o: src/%.c $(SKELS) $(PROTO_H) $(wildcard src/*/*.h)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(OUT)/stalltrap: src/cli/main.c $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(OUT)/tests/%: tests/unit/%.c $(TEST_HDRS) $(LIB)
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Itests $(LDFLAGS) $< $(LIB) $(LDLIBS) -lcmocka -o $@

$(OUT)/e2e/%: tests/e2e/%.c $(TEST_HDRS) $(LIB)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Itests $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

ifeq ($(FUZZ),1)
$(OUT)/fuzz/%: tests/fuzz/%.c $(LIB)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@
else
$(OUT)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(LIB)
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< tests/fuzz/replay_main.c $(LIB) $(LDLIBS) -o $@
endif

# The floor of polling with libcurl, for bench/watch_idle.sh.
$(OUT)/bench/poll_floor: bench/poll_floor.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $< -o $@ -lcurl

# Workloads: plain -O2 (Debian's default flags, no frame pointers) and an -fp twin.
$(OUT)/workloads/%-fp: tests/workloads/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -g -pthread -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer $< -o $@ -lm

$(OUT)/workloads/%: tests/workloads/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -g -pthread -fomit-frame-pointer $< -o $@ -lm

$(OUT)/demo/feedstore: demo/feedstore.c demo/common.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(DEMO_CFLAGS) -Wall -Wextra -Werror -pthread $(DEMO_LDFLAGS) $< -o $@ -lmicrohttpd

$(OUT)/demo/loadgen: demo/loadgen.c demo/common.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(DEMO_CFLAGS) -Wall -Wextra -Werror -pthread $(DEMO_LDFLAGS) $< -o $@ -lcurl -lm

# The test targets build what their tests run, then hand over to tests/run.sh,
# whose last line is "N passed, N failed[, N skipped]".
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory SAN=1 all
	$(Q)$(MAKE) --no-print-directory FUZZ=1 bins-fuzz
	$(Q)T='$(T)' ./tests/run.sh all

test-unit:
	$(Q)$(MAKE) --no-print-directory bins-unit
	$(Q)$(MAKE) --no-print-directory SAN=1 bins-unit
	$(Q)T='$(T)' ./tests/run.sh unit

test-e2e:
	$(Q)$(MAKE) --no-print-directory bins-e2e
	$(Q)T='$(T)' ./tests/run.sh e2e

test-bpf:
	$(Q)$(MAKE) --no-print-directory all
	$(Q)T='$(T)' ./tests/run.sh bpf

# Each libFuzzer target runs FUZZ_S seconds on a copy of its corpus (what it
# finds stays in build-fuzz/corpus/); a crash is saved into the corpus dir, where
# make test replays it from then on.
fuzz:
	$(Q)$(MAKE) --no-print-directory FUZZ=1 bins-fuzz
	$(Q)for name in $(FUZZ_NAMES); do \
		case $$name in *"$(T)"*) ;; *) continue ;; esac; \
		corpus=tests/fuzz/corpus_$${name#fuzz_}; dict=tests/fuzz/$${name#fuzz_}.dict; \
		work=build-fuzz/corpus/$$name; \
		rm -rf "$$work" && mkdir -p "$$work" && cp "$$corpus"/* "$$work"/ || exit 1; \
		echo "fuzz: $$name for $(FUZZ_S) s on $$work (crashes go to $$corpus/)"; \
		build-fuzz/fuzz/$$name -max_total_time=$(FUZZ_S) -print_final_stats=1 \
			-artifact_prefix="$$corpus/" $$([ -f "$$dict" ] && echo "-dict=$$dict") "$$work" || exit 1; \
	done

san:
	$(Q)$(MAKE) --no-print-directory SAN=1 all

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)./demo/run.sh $(DEMO_ARGS)

clean:
	rm -rf build build-san build-fuzz
