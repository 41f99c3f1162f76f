# dcr build. `make` builds build/dcr; see README.md for the other targets.
#
# Layout: every src/<piece>/*.c goes into build/libdcr.a (tests link it
# directly); src/cli/main.c adds the command line on top. Sanitizer and fuzz
# builds use clang and live in build/asan and build/fuzz.

CC        ?= cc
CSTD      := -std=c17
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wvla -Wformat=2
CPPFLAGS  := -Isrc -D_FILE_OFFSET_BITS=64 -D_DEFAULT_SOURCE
OPT       ?= -O2 -g
# Deterministic builds: the same commit gives the same build/dcr, byte for
# byte, wherever the tree lies (in sim mode its SHA-384 is the measurement
# parties pin). Paths in debug info and __FILE__ become relative to the
# tree, archives carry no timestamps or owners (ar D), objects link in
# sorted order, and nothing uses __DATE__/__TIME__. A normal build is
# already deterministic; `make reproducible-check` proves it.
REPRO     := -ffile-prefix-map=$(CURDIR)=. -fdebug-prefix-map=$(CURDIR)=.
export SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
LIBS      := -lmicrohttpd -lcurl -lsqlite3 -lssl -lcrypto -lzstd -lz -llz4 -ljansson -lyajl -ltss2-esys -ltss2-tctildr -ltss2-mu -ltss2-rc -lpg_query -lpthread -lm

SRCS      := $(sort $(filter-out src/cli/main.c,$(wildcard src/*/*.c)))
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard fuzz/fuzz_*.c))

# Flavours: B = output dir, F = extra flags.
REL_B  := build
ASAN_B := build/asan
ASAN_F := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# Keep intermediate objects: rebuilds stay incremental, and make prints no
# "rm ..." after the test count (which must be the last line of `make test`).
.SECONDARY:

.PHONY: all deps test test-release test-asan demo bench fuzz fuzz-build format clean asan layers \
        reproducible-check image
all: build/dcr

build/.deps-ok: scripts/deps.sh
	@mkdir -p build
	@./scripts/deps.sh
	@touch $@

deps: build/.deps-ok

# Each object records the headers it includes (-MMD -MP -> .d files, read
# back below), so a header change rebuilds only what uses it. LIBS and
# EXTRA_LIBS are expanded when a recipe runs, so a test can add libraries
# with a target-specific EXTRA_LIBS.
define flavour
$(1)/obj/%.o: %.c build/.deps-ok
	@mkdir -p $$(dir $$@)
	$(2) $(CSTD) $(WARN) $(CPPFLAGS) $(REPRO) $(3) -MMD -MP -c $$< -o $$@

$(1)/libdcr.a: $(patsubst %.c,$(1)/obj/%.o,$(SRCS))
	@rm -f $$@
	ar rcsD $$@ $$^

$(1)/dcr: $(1)/obj/src/cli/main.o $(1)/libdcr.a
	$(2) $(3) -o $$@ $$^ $$(LIBS)

$(1)/tests/%: $(1)/obj/tests/unit/%.o $(1)/libdcr.a
	@mkdir -p $$(dir $$@)
	$(2) $(3) -o $$@ $$^ $$(LIBS) $$(EXTRA_LIBS)

$(1)/tests-all: $(1)/dcr $(patsubst tests/unit/%.c,$(1)/tests/%,$(TEST_SRCS))
endef

$(eval $(call flavour,$(REL_B),$(CC),$(OPT)))
$(eval $(call flavour,$(ASAN_B),clang,$(ASAN_F)))

# The differential SQL test checks the engine against SQLite; only it links it.
# (SQLite is in LIBS: src/state/ links it.)

-include $(shell find build -name '*.d' 2>/dev/null)

asan: $(ASAN_B)/tests-all

# Runs every unit and end-to-end test twice: a release build, then an
# ASan+UBSan build; then every fuzz target replays its seeds. The last line
# is the combined count.
test: $(REL_B)/tests-all $(ASAN_B)/tests-all fuzz-build
	@./tests/run.sh $(REL_B) $(ASAN_B)

test-release: $(REL_B)/tests-all
	@./tests/run.sh $(REL_B)

test-asan: $(ASAN_B)/tests-all
	@./tests/run.sh $(ASAN_B)

demo: build/dcr
	@./scripts/demo.sh

# Builds build/dcr twice more, in two fresh copies of the tree at different
# paths, and checks all three have the same SHA-384 (printed).
reproducible-check: build/dcr
	@./scripts/reproducible-check.sh

# The container image (Dockerfile) with podman or docker.
image:
	@./scripts/image.sh

# The include graph between src/ pieces against docs/architecture.md.
layers:
	@./scripts/layers.sh

# The measured VM image (docs/attestation.md, "The measured image"): needs
# root. build/vm/ gets uki.efi, root.squashfs, root.verity, disk.raw and
# pcrs.json (predicted PCRs). vm-image-check builds it twice in fresh
# directories and compares the SHA-256 of every artefact. vm-test boots it
# under QEMU (software emulation, OVMF, swtpm) and is not part of `make test`.
.PHONY: vm-image vm-image-check vm-test
vm-image: build/dcr
	@./scripts/deps.sh --vm
	@./scripts/vm-image.sh

vm-image-check: build/dcr
	@./scripts/deps.sh --vm
	@./scripts/vm-image.sh --check

vm-test: vm-image
	@./tests/e2e/vm_boot.sh build/vm

bench: build/dcr
	@./bench/run.sh

# libFuzzer targets; FUZZ_SECONDS per target (default 60).
FUZZ_B := build/fuzz
FUZZ_F := -O1 -g -Ifuzz -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
$(eval $(call flavour,$(FUZZ_B),clang,$(FUZZ_F)))
$(FUZZ_B)/fuzz_%: $(FUZZ_B)/obj/fuzz/fuzz_%.o $(FUZZ_B)/libdcr.a
	clang -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

fuzz-build: $(patsubst fuzz/%.c,$(FUZZ_B)/%,$(FUZZ_SRCS))

fuzz: fuzz-build
	@./fuzz/run.sh $(FUZZ_B) $${FUZZ_SECONDS:-60}

format:
	clang-format -i $(wildcard src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*.h fuzz/*.c bench/*.c)

clean:
	rm -rf build
