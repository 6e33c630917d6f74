# sluice -- one non-recursive Makefile. Objects go to build/ (or build/asan for check-asan).
#   make            build build/sluice and the test programs
#   make run        install what is missing, build, start the platform on ./data
#   make test       install what is missing, build, run unit + integration tests
#   make check-asan the whole suite again under AddressSanitizer + UBSan
#   make bench      the benchmarks (never part of make test)
#   make fuzz       the libFuzzer targets in build/fuzz (clang, ASan + UBSan); make fuzz-ci runs
#                   each for FUZZ_SECONDS on its checked-in corpus (fuzz/README.md)
#   V=1             show full commands

BUILD   ?= build
CC      ?= cc
PKGS    := rdkafka libssl libcrypto libmicrohttpd hiredis libnats zlib libzstd liblz4 snappy jansson rocksdb libedit \
           libjwt raft libuv libpq libcurl libnghttp2
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-align -Wformat=2 -Wvla -Wundef -Wno-missing-field-initializers \
           -Wno-format-truncation
OPT     ?= -O2 -D_FORTIFY_SOURCE=2
CFLAGS  += $(CSTD) $(WARN) $(OPT) -g -fno-omit-frame-pointer -fstack-protector-strong -MMD -MP \
           -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC   := $(filter-out src/cli/main.c,$(wildcard src/*/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/sql/grammar.o
MAIN_OBJ  := $(BUILD)/src/cli/main.o
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
ITEST_SRC := $(wildcard tests/integration/*.c)
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(BUILD)/itests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_SO  := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%.so)

.SECONDARY:
.PHONY: all deps run test unit integration check-asan bench bench-sql bench-groups bench-txn bench-compare bench-conn bench-compact \
        bench-gateway bench-tls bench-interference bench-admin bench-roll bench-batch-check bench-faults bench-scale bench-abuse \
        bench-cluster bench-repl bench-shutdown bench-join bench-stream bench-sink bench-acl format \
        format-check clean fuzz fuzz-ci
all: $(BUILD)/sluice $(UNIT_BIN) $(ITEST_BIN) $(BENCH_BIN) $(EXAMPLE_SO) \
     $(BUILD)/tests/libpowerloss.so

# Codec and protocol code is where sign mistakes hurt most: extra conversions checks there.
$(BUILD)/src/common/codec.o: CFLAGS += -Wconversion -Wsign-conversion

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# The SQL grammar: Debian's lemon generates the parser into $(BUILD)/gen (never committed). The
# generated code is lemon's, so it gets the warnings it was written for, not ours.
LEMPAR  ?= /usr/share/lemon/lempar.c
$(BUILD)/gen/sql/grammar.c: src/sql/grammar.y $(LEMPAR)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LEMON $<")
	$(Q)lemon -q -T$(LEMPAR) -d$(dir $@) $<
$(BUILD)/gen/sql/grammar.h: $(BUILD)/gen/sql/grammar.c
$(BUILD)/gen/sql/grammar.o: $(BUILD)/gen/sql/grammar.c
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(filter-out -Wmissing-prototypes -Wextra,$(CFLAGS)) -Wno-unused-variable \
	    -Wno-unused-parameter -c $< -o $@
$(BUILD)/src/sql/%.o: CFLAGS += -I$(BUILD)/gen
$(filter $(BUILD)/src/sql/%,$(LIB_OBJ)): | $(BUILD)/gen/sql/grammar.h

$(BUILD)/libsluice.a: $(LIB_OBJ)
	@$(if $(Q),echo "  AR    $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# Pipeline libraries loaded by `sluice run` call the engine's functions in the binary: the whole
# library is linked in and its symbols exported (-rdynamic), even those the binary never calls.
$(BUILD)/sluice: $(MAIN_OBJ) $(BUILD)/libsluice.a
	@$(if $(Q),echo "  LD    $@")
	$(Q)$(CC) $(CFLAGS) -rdynamic -o $@ $(MAIN_OBJ) -Wl,--whole-archive $(BUILD)/libsluice.a \
	    -Wl,--no-whole-archive $(LDLIBS)

# Example pipelines: shared libraries for `sluice run`, resolved against the sluice binary.
$(BUILD)/examples/%.so: examples/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(CFLAGS) -fPIC -shared -o $@ $<

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD    $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/itests/%: $(BUILD)/tests/integration/%.o $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD    $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD    $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# sql_task loads the example pipelines (nexmark.so) as `sluice run` does: the library whole, its
# symbols exported.
$(BUILD)/bench/sql_task: $(BUILD)/bench/sql_task.o $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD    $@")
	$(Q)$(CC) $(CFLAGS) -rdynamic -o $@ $< -Wl,--whole-archive $(BUILD)/libsluice.a \
	    -Wl,--no-whole-archive $(LDLIBS)

# An LD_PRELOAD shim standing for a slow disk (bench/run-commit-interference).
$(BUILD)/bench/libslowsync.so: bench/shim/slowsync.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -Wall -Wextra -Werror -shared -fPIC -o $@ $< -ldl

# An LD_PRELOAD shim that journals what a power cut would keep (test_powerloss*, bench-faults).
# Built without the sanitizers: it only forwards calls and records them.
$(BUILD)/tests/libpowerloss.so: tests/shim/powerloss.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC    $@")
	$(Q)$(CC) -O2 -g $(WARN) -shared -fPIC -o $@ $< -ldl -lpthread

deps:
	@scripts/install-deps

run: deps
	$(MAKE) all
	scripts/run-dev

test: deps
	$(MAKE) all
	$(MAKE) unit integration

unit: $(UNIT_BIN)
	@tests/run-unit $(BUILD)

integration: $(BUILD)/sluice $(ITEST_BIN) $(BUILD)/tests/libpowerloss.so
	@SLUICE_BUILD=$(BUILD) tests/run-integration

check-asan: deps
	$(MAKE) BUILD=build/asan OPT="-O1 -fsanitize=address,undefined -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" all
	ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(MAKE) BUILD=build/asan OPT="-O1 -fsanitize=address,undefined -fno-sanitize-recover=all" \
	    SLUICE_ASAN=1 unit integration

bench: deps all
	bench/run-bench $(BUILD)
	bench/run-group-bench $(BUILD)

# What one record costs a SQL query (JSON parse, slot decode, WHERE, projection): one core.
bench-sql: deps all
	$(BUILD)/bench/sql_eval 2000000
	$(BUILD)/bench/sql_task 200000 5
	$(BUILD)/bench/sql_hop 300000

bench-groups: deps all
	bench/run-group-bench $(BUILD)

bench-txn: deps all
	bench/run-txn-bench $(BUILD)

bench-compare: deps all
	bench/run-compare $(BUILD)

bench-conn: deps all
	bench/run-conn-bench $(BUILD)

# Gateway produce through HTTP (wrk) beside librdkafka direct, and the HTTP layer's ceiling;
# then WebSocket fan-out (N streams of one topic).
bench-gateway: deps all
	bench/run-gateway-bench $(BUILD)
	bench/run-ws-fanout $(BUILD)

# Produce and fetch throughput over TLS versus plaintext (docs/benchmarks.md, "TLS").
bench-tls: deps all
	bench/run-tls-bench $(BUILD)

# What ACLs cost: ns per decision, and produce throughput with authorization on vs off.
bench-acl: deps all
	bench/run-acl-bench $(BUILD)

# What the record-batch checks cost per codec; OTHER=path/to/sluice compares another build.
bench-batch-check: deps all
	bench/run-batch-check-bench $(BUILD) $(OTHER)

bench-admin: deps all
	bench/run-admin-stall $(BUILD) 5000

bench-roll: deps all
	bench/run-roll-bench $(BUILD)
	SEGMENT_BYTES=1073741824 RATE=500000 bench/run-roll-bench $(BUILD)

bench-compact: deps all
	/usr/bin/python3 bench/compact_bench.py $(BUILD)

bench-interference: deps all $(BUILD)/bench/libslowsync.so
	bench/run-commit-interference $(BUILD)
	SLOW_SYNC_MS=5 bench/run-commit-interference $(BUILD)

bench-faults: deps all
	bench/run-faults $(BUILD)
	bench/run-cluster-faults $(BUILD)

bench-abuse: deps all
	bench/run-abuse $(BUILD)

bench-cluster: deps all
	bench/run-cluster-failover $(BUILD) 7

bench-repl: deps all
	bench/run-repl-bench $(BUILD) 5

bench-scale: deps all
	bench/run-scale-bench $(BUILD)

bench-shutdown: deps all
	bench/run-shutdown-bench $(BUILD) 5

bench-join: deps all
	bench/run-join-bench $(BUILD)

# `sluice sink postgres` rows/s against COPY of the same rows (docs/benchmarks.md).
bench-sink: deps all
	bench/run-sink-bench $(BUILD)

# Nexmark on the stream engine (throughput per core, latency) and the processor-crash scenario.
bench-stream: deps all
	bench/run-stream-bench $(BUILD)

# ---- fuzzing (fuzz/README.md): libsluice again with clang, sanitizers and coverage, then one
# libFuzzer binary per target. The recursive make keeps these objects apart from build/.
FUZZ_BUILD   ?= build/fuzz
FUZZ_CC      ?= clang
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_TARGETS := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)
FUZZ_COMMON  := $(filter-out $(wildcard fuzz/fuzz_*.c),$(wildcard fuzz/*.c))
FUZZ_SECONDS ?= 60
# clang's -Wcast-align and -Wformat-nonliteral flag sockaddr casts and vprintf wrappers that gcc
# (the warning gate) accepts.
FUZZ_WARN    := $(WARN) -Wno-unknown-warning-option -Wno-cast-align -Wno-format-nonliteral

fuzz: deps
	$(MAKE) CC=$(FUZZ_CC) BUILD=$(FUZZ_BUILD) WARN="$(FUZZ_WARN)" \
	    OPT="-O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link" $(FUZZ_BUILD)/libsluice.a
	$(MAKE) $(FUZZ_BIN)

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_COMMON) $(wildcard fuzz/*.h) $(FUZZ_BUILD)/libsluice.a
	@$(if $(Q),echo "  FUZZ  $@")
	$(Q)$(FUZZ_CC) $(CSTD) $(FUZZ_WARN) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer \
	    -Isrc -Ifuzz -o $@ $< $(FUZZ_COMMON) $(FUZZ_BUILD)/libsluice.a $(LDLIBS)

# Bounded run for CI: every target for FUZZ_SECONDS on its corpus; any crash, leak or sanitizer
# report fails the target (the input is left in $(FUZZ_BUILD)/crashes/<target>/).
fuzz-ci: fuzz
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run-ci $(FUZZ_TARGETS)

format:
	clang-format -i $(wildcard src/*/*.[ch] tests/unit/*.[ch] tests/integration/*.c bench/*.c bench/shim/*.c fuzz/*.[ch] tests/shim/*.c)

format-check:
	clang-format --dry-run --Werror $(wildcard src/*/*.[ch] tests/unit/*.[ch] fuzz/*.[ch] tests/shim/*.c)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
