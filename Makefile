# sluice -- one non-recursive Makefile. Objects go to build/ (or build/asan for check-asan).
#   make            build build/sluice and the test programs
#   make run        install what is missing, build, start the platform on ./data
#   make test       install what is missing, build, run unit + integration tests
#   make check-asan the whole suite again under AddressSanitizer + UBSan
#   make bench      the benchmarks (never part of make test)
#   V=1             show full commands

BUILD   ?= build
CC      ?= cc
PKGS    := rdkafka libmicrohttpd hiredis libnats
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
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ  := $(BUILD)/src/cli/main.o
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
ITEST_SRC := $(wildcard tests/integration/*.c)
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(BUILD)/itests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.SECONDARY:
.PHONY: all deps run test unit integration check-asan bench bench-groups bench-txn bench-compare bench-conn \
        bench-interference bench-roll bench-faults bench-abuse format format-check clean
all: $(BUILD)/sluice $(UNIT_BIN) $(ITEST_BIN) $(BENCH_BIN) $(BUILD)/tests/libpowerloss.so

# Codec and protocol code is where sign mistakes hurt most: extra conversions checks there.
$(BUILD)/src/common/codec.o: CFLAGS += -Wconversion -Wsign-conversion

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libsluice.a: $(LIB_OBJ)
	@$(if $(Q),echo "  AR    $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/sluice: $(MAIN_OBJ) $(BUILD)/libsluice.a
	@$(if $(Q),echo "  LD    $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

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

bench-groups: deps all
	bench/run-group-bench $(BUILD)

bench-txn: deps all
	bench/run-txn-bench $(BUILD)

bench-compare: deps all
	bench/run-compare $(BUILD)

bench-conn: deps all
	bench/run-conn-bench $(BUILD)

bench-roll: deps all
	bench/run-roll-bench $(BUILD)
	SEGMENT_BYTES=1073741824 RATE=500000 bench/run-roll-bench $(BUILD)

bench-interference: deps all $(BUILD)/bench/libslowsync.so
	bench/run-commit-interference $(BUILD)
	SLOW_SYNC_MS=5 bench/run-commit-interference $(BUILD)

bench-faults: deps all
	bench/run-faults $(BUILD)

bench-abuse: deps all
	bench/run-abuse $(BUILD)

format:
	clang-format -i $(wildcard src/*/*.[ch] tests/unit/*.[ch] tests/integration/*.c bench/*.c bench/shim/*.c tests/shim/*.c)

format-check:
	clang-format --dry-run --Werror $(wildcard src/*/*.[ch] tests/unit/*.[ch] tests/shim/*.c)

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
