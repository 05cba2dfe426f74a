# offseed — one Makefile. Variants build into separate folders:
#   build/        release (-O2 -g); warnings are errors with DEVELOPER=1 and in CI
#   build/asan/   ASan + UBSan (make asan / make check)
#   build/fuzz/   libFuzzer targets (clang)
.SUFFIXES:

ifeq ($(origin CC),default)
CC      := cc
endif
V       ?= release
ifeq ($(V),asan)
BUILD   := build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     := -O1 -g
else
BUILD   := build
SANFLAGS :=
OPT     := -O2 -g
endif

# libcurl and libarchive are not linked: lib/dynlib.c opens them on first use (start-up
# of every command is then ~9 ms faster and 4.5 MB smaller); their headers are still needed.
PKGS     := openssl libxxhash libzstd jansson
# Warnings are errors in CI and for developers (DEVELOPER=1), not in a user's make: a newer
# compiler's new warning must not stop someone building a release.
WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
            -Wvla -Wno-unused-parameter $(if $(or $(DEVELOPER),$(CI)),-Werror)
# CPU flags, in this one place (tools/fuzz.sh asks for them with make print-ARCH): x86-64-v2
# with AES-NI and CLMUL when this machine has them, else the compiler's portable default.
# ARCH= (empty) builds portable binaries.
ifeq ($(origin ARCH),undefined)
ARCH := $(if $(shell uname -m | grep -qx x86_64 && grep -qw sse4_2 /proc/cpuinfo && \
            grep -qw popcnt /proc/cpuinfo && grep -qw aes /proc/cpuinfo && \
            grep -qw pclmulqdq /proc/cpuinfo && echo y),-march=x86-64-v2 -maes -mpclmul)
endif
CPPFLAGS += -D_GNU_SOURCE -Ilib -Iengine -Icli -MMD -MP
CFLAGS   += -std=gnu11 -pthread $(OPT) $(WARN) $(SANFLAGS) $(ARCH)
LDFLAGS  += -pthread $(SANFLAGS)
LIBS     := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lssl -lcrypto -lxxhash -lzstd -ljansson) -lm -ldl
DC_LIBS  := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)

LIB_SRC  := $(sort $(wildcard lib/*.c))
ENGINE_SRC := $(sort $(wildcard engine/*.c))
CMD_SRC  := $(sort $(wildcard cli/*.c seed/*.c verify/*.c import/*.c restore/*.c))
DC_SRC   := $(sort $(wildcard tools/dc/*.c))
DCLIB_SRC := $(filter-out tools/dc/main.c,$(DC_SRC))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(ENGINE_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ  := $(CMD_SRC:%.c=$(BUILD)/%.o)
DC_OBJ   := $(DC_SRC:%.c=$(BUILD)/%.o)
DCLIB_OBJ := $(DCLIB_SRC:%.c=$(BUILD)/%.o)
LIBDC    := $(BUILD)/libofsdc.a
LIBOFS   := $(BUILD)/libofs.a
OFFSEED  := $(BUILD)/offseed
OFFSEED_DC := $(BUILD)/offseed-dc
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/replay_%)
FAULTSHIM := $(BUILD)/tests/faultshim.so

.PHONY: all test check asan fuzz bench demo deps install clean unit lint
.PHONY: crashtest deps-check
all: $(OFFSEED) $(if $(DC_SRC),$(OFFSEED_DC)) $(UNIT_BIN) $(REPLAY_BIN) $(FAULTSHIM)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBOFS): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(OFFSEED): $(CMD_OBJ) $(LIBOFS)
	$(CC) $(LDFLAGS) -o $@ $(CMD_OBJ) $(LIBOFS) $(LIBS)

# offseed-dc's modules but main.c, so unit tests link them (tests/unit/test_dc_*.c).
$(LIBDC): $(DCLIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(OFFSEED_DC): $(BUILD)/tools/dc/main.o $(LIBDC) $(LIBOFS)
	$(CC) $(LDFLAGS) -o $@ $(BUILD)/tools/dc/main.o $(LIBDC) $(LIBOFS) $(LIBS) $(DC_LIBS)

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(LIBOFS)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBOFS) $(LIBS) -lcmocka

$(BUILD)/tests/unit/test_dc_%.o: CPPFLAGS += -Itools/dc
$(BUILD)/tests/test_dc_%: $(BUILD)/tests/unit/test_dc_%.o $(LIBDC) $(LIBOFS)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBDC) $(LIBOFS) $(LIBS) $(DC_LIBS) -lcmocka

# Fuzz targets built with a plain main() that replays corpus files (normal test runs).
$(BUILD)/tests/replay_%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay_main.o $(LIBOFS)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/tests/fuzz/replay_main.o $(LIBOFS) $(LIBS)

# Targets named fuzz_dc* test offseed-dc's modules: they also link build/libofsdc.a (the
# shorter stem makes make pick this rule for them).
$(BUILD)/tests/fuzz/fuzz_dc%.o: CPPFLAGS += -Itools/dc
$(BUILD)/tests/replay_fuzz_dc%: $(BUILD)/tests/fuzz/fuzz_dc%.o $(BUILD)/tests/fuzz/replay_main.o \
    $(LIBDC) $(LIBOFS)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/tests/fuzz/replay_main.o $(LIBDC) $(LIBOFS) $(LIBS) \
	    $(DC_LIBS)

# LD_PRELOAD shim of the fault tests (tests/cli/9[0-2]-faults-*.sh); never sanitized itself.
$(FAULTSHIM): tests/fault/faultshim.c
	@mkdir -p $(@D)
	$(CC) -D_GNU_SOURCE -O2 -g -fPIC -shared -Wall -Wextra -Werror -o $@ $< -ldl -pthread

$(BUILD)/tests/fuzz/replay_main.o: tests/fuzz/replay_main.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# Tools and packages the build, tests and benchmark need (Debian 12). make deps installs
# them; make test and make check only check, and name what is missing.
DEB_PKGS := build-essential clang pkg-config libarchive-dev libssl-dev libcurl4-openssl-dev \
            libxxhash-dev xxhash libzstd-dev libjansson-dev libmicrohttpd-dev libcmocka-dev \
            libclang-rt-14-dev qemu-utils restic borgbackup hyperfine libarchive-tools tar \
            attr acl python3 e2fsprogs time openssl util-linux nodejs fiu-utils
# Azurite (blob emulator for the Azure tests), pinned by tools/azurite/package-lock.json.
AZURITE_DEPS := [ -d tools/azurite/node_modules/azurite ] && \
            [ -d tools/azurite/node_modules/@azure/storage-blob ] || \
            npm ci --prefix tools/azurite --no-audit --no-fund
deps:
	@tools/deps.sh $(DEB_PKGS)
	@$(AZURITE_DEPS)

deps-check:
	@tools/deps.sh --check $(DEB_PKGS)
	@[ -d tools/azurite/node_modules/azurite ] && [ -d tools/azurite/node_modules/@azure/storage-blob ] || \
	    { echo "offseed deps: Azurite is not installed in tools/azurite (run: make deps)" >&2; exit 2; }

print-%:
	@echo $($*)

unit: all
test: deps-check
	@$(MAKE) --no-print-directory all
	@tests/run.sh $(BUILD)

# Rules the compiler does not check: banned functions, lib/ never reaching into the front
# ends, self-contained headers (tools/lint.sh).
lint:
	@$(MAKE) --no-print-directory all
	@tools/lint.sh $(BUILD)

asan:
	@$(MAKE) --no-print-directory V=asan all

check: deps-check
	@$(MAKE) --no-print-directory V=asan all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    tests/run.sh build/asan

FUZZ_TIME ?= 30
fuzz: $(LIBOFS)
	@tools/fuzz.sh $(FUZZ_TIME)

bench: deps
	@$(MAKE) --no-print-directory all
	@tools/bench.sh $(BUILD)

demo: deps
	@$(MAKE) --no-print-directory all
	@tools/demo.sh $(BUILD)

# SIGKILL trials of stage, backup and prep at random moments (~15 min; not part of test)
crashtest: all
	@tools/crashtest.sh $(BUILD)

PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(OFFSEED) $(DESTDIR)$(PREFIX)/bin/offseed
	$(if $(DC_SRC),install -m 755 $(OFFSEED_DC) $(DESTDIR)$(PREFIX)/bin/offseed-dc)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
.SECONDARY:
