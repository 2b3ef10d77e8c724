# libyolact build. `make` builds the libraries and examples, `make test` runs the Check
# suites, `make install PREFIX=...` installs header, libraries and yolact.pc.
# Optional parts are detected and reported; the build works without them.

# Parallel by default; a make run from another one's recipe (MAKELEVEL > 0: $(MAKE), the
# install suite's `make install`) shares that one's job slots instead.
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

VERSION_MAJOR := 0
VERSION := 0.1.0
PREFIX ?= /usr/local
BUILD ?= build

CC ?= cc
PKG_CONFIG ?= pkg-config
OPT ?= -O3 -march=x86-64-v2
CFLAGS ?= $(OPT) -g
# No FMA contraction: bit-exact agreement with PyTorch at the mask threshold depends on it.
BASE_CFLAGS := -std=gnu11 -Wall -Wextra -fPIC -fopenmp -fvisibility=hidden -ffp-contract=off -Iinclude -Ilib
LDLIBS_BASE := -lm -lpthread -fopenmp

have = $(shell $(PKG_CONFIG) --exists $(1) 2>/dev/null && echo 1)

# Required: libpng (images), zlib (zip containers).
ifneq ($(call have,libpng),1)
$(error libpng not found: install libpng-dev)
endif
ifneq ($(call have,zlib),1)
$(error zlib not found: install zlib1g-dev)
endif
DEP_PKGS := libpng zlib

# Optional: JPEG decoding (libjpeg-turbo's libjpeg API).
ifeq ($(call have,libjpeg),1)
HAVE_JPEG := 1
DEP_PKGS += libjpeg
BASE_CFLAGS += -DYL_HAVE_JPEG
endif

# Optional: OpenBLAS for the CPU convolutions (a portable blocked GEMM otherwise).
ifeq ($(call have,openblas),1)
HAVE_OPENBLAS := 1
DEP_PKGS += openblas
BASE_CFLAGS += -DYL_HAVE_OPENBLAS
endif

# Optional: oneDNN (Debian's libdnnl-dev, no pkg-config file), a candidate of the CPU's
# per-layer convolution choice (lib/cpu/conv_choice.c); ONEDNN=0 builds without it.
ONEDNN ?= $(if $(wildcard /usr/include/dnnl.h),1,0)
ifeq ($(ONEDNN),1)
HAVE_ONEDNN := 1
BASE_CFLAGS += -DYL_HAVE_ONEDNN
LDLIBS_BASE += -ldnnl
endif

DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(DEP_PKGS))
DEP_LIBS := $(shell $(PKG_CONFIG) --libs $(DEP_PKGS))
ALL_CFLAGS := $(BASE_CFLAGS) $(DEP_CFLAGS) $(CFLAGS)

# The CUDA toolkit with cuDNN: the CUDA backend is built when both are found (mk/cuda.mk);
# CUDA=0 builds without it.
CUDA_HOME ?= /usr/local/cuda
# cuDNN's headers: the toolkit's by default; elsewhere where cuDNN came separately (a pip
# wheel's nvidia/cudnn, say: test/gpu_session.sh looks for one).
CUDNN_HOME ?= $(CUDA_HOME)
CUDA ?= $(shell test -x $(CUDA_HOME)/bin/nvcc && test -f $(CUDNN_HOME)/include/cudnn.h && echo 1)
HAVE_CUDA := $(filter 1,$(CUDA))
# CUDA=1 demands the backend: a build that cannot have it stops here rather than later, or
# never (test/gpu_session.sh relies on this on a GPU machine).
ifeq ($(HAVE_CUDA),1)
ifeq ($(wildcard $(CUDA_HOME)/bin/nvcc),)
$(error CUDA=1 but no nvcc at $(CUDA_HOME)/bin/nvcc: set CUDA_HOME to the CUDA toolkit)
endif
ifeq ($(wildcard $(CUDNN_HOME)/include/cudnn.h),)
$(error CUDA=1 but no cudnn.h in $(CUDNN_HOME)/include: set CUDNN_HOME to cuDNN's folder)
endif
endif

# CORE_OBJS: everything but the CUDA backend, which mk/cuda.mk adds to LIB_OBJS (the real
# one, or lib/cuda/none.c) and, emulated, to the test runner.
CUDA_BACKEND_HOST := backend masks plan rescore run train_loss train_pass upload weights
CUDA_BACKEND_SRCS := $(CUDA_BACKEND_HOST:%=lib/cuda/%.c) lib/cuda/none.c \
                     $(wildcard lib/cuda/dnn_*.c)
LIB_SRCS := $(sort $(filter-out $(CUDA_BACKEND_SRCS),$(wildcard lib/*.c lib/*/*.c)))
CORE_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_OBJS := $(CORE_OBJS)
SONAME := libyolact.so.$(VERSION_MAJOR)
SHARED := $(BUILD)/libyolact.so.$(VERSION)
STATIC := $(BUILD)/libyolact.a

EXAMPLES := $(patsubst examples/%.c,$(BUILD)/%,$(wildcard examples/*.c))
# Shared by the command-line programs (examples/ and bench/): their shared options and their
# one-line errors.
CLI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard examples/common/*.c))

TEST_SRCS := $(sort $(wildcard test/test_*.c))
TEST_SUPPORT := $(sort $(filter-out $(TEST_SRCS),$(wildcard test/*.c)))
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/obj/%.o) $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

# `make test` first checks that every include keeps to the layering (test/check_layers.sh).
TEST_BEFORE := test/check_layers.sh

# Further targets (sanitizers, fuzzing, bench, CUDA) live in mk/*.mk, one file a concern;
# included here so the rules below see the variables they add.
.DEFAULT_GOAL := all
-include $(sort $(wildcard mk/*.mk))

# What this build found and was asked for, in a file rewritten only when that changes: the C
# objects depend on it, so installing an optional part (libsdl2-dev, say) or changing CFLAGS
# rebuilds them instead of leaving objects built without it.
CONFIG_STAMP := $(BUILD)/config.flags
CONFIG_SAYS := $(ALL_CFLAGS) $(CC) cuda=$(HAVE_CUDA) sdl2=$(HAVE_SDL2)
$(shell mkdir -p $(BUILD) && { test "$$(cat $(CONFIG_STAMP) 2>/dev/null)" = '$(CONFIG_SAYS)' \
    || echo '$(CONFIG_SAYS)' > $(CONFIG_STAMP); })

.PHONY: all shared test install uninstall clean config
all: config $(SHARED) $(STATIC) $(EXAMPLES)
# The shared library alone, as the Python package's build bundles it (python/setup.py).
shared: config $(SHARED)

config:
	@echo "libyolact $(VERSION): libpng yes, zlib yes, JPEG $(if $(HAVE_JPEG),yes,no (install libjpeg62-turbo-dev)), OpenBLAS $(if $(HAVE_OPENBLAS),yes,no (portable GEMM)), oneDNN $(if $(HAVE_ONEDNN),yes,no (install libdnnl-dev)), CUDA backend $(if $(HAVE_CUDA),yes ($(CUDA_HOME), cuDNN; $(CUDA_ARCH_SAYS)),no (needs nvcc in CUDA_HOME=$(CUDA_HOME) and cudnn.h in CUDNN_HOME=$(CUDNN_HOME)))"

$(BUILD)/obj/%.o: %.c $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(SHARED): $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(DEP_LIBS) $(LDLIBS_BASE)
	ln -sf libyolact.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libyolact.so

$(STATIC): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

# Examples link the static library so they run from the build tree without LD_LIBRARY_PATH.
$(BUILD)/%: $(BUILD)/obj/examples/%.o $(CLI_OBJS) $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(DEP_LIBS) $(LDLIBS_BASE)

# Check suites: every test/test_NAME.c defines `Suite *NAME_suite(void)`; the list of them
# is generated so a new suite needs no edit elsewhere.
# mk/*.mk files may add suites built elsewhere (TEST_EXTRA_SUITES: names; TEST_EXTRA_OBJS:
# the objects defining them).
$(BUILD)/test_suites.h: $(TEST_SRCS) Makefile $(wildcard mk/*.mk)
	@mkdir -p $(BUILD)
	@{ for f in $(TEST_SRCS); do n=$$(basename $$f .c); n=$${n#test_}; \
	   echo "SUITE($$n)"; done; for n in $(TEST_EXTRA_SUITES); do echo "SUITE($$n)"; done; } \
	   > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/test/main.o: $(BUILD)/test_suites.h
$(BUILD)/obj/test/%.o: test/%.c $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -I$(BUILD) -Itest -MMD -MP -c $< -o $@

# Both runners hand their suites' test cases to test/shard_tcases.c, which keeps a shard's.
TEST_LDFLAGS := -Wl,--wrap=suite_create,--wrap=tcase_create,--wrap=suite_add_tcase

# The runner links the core and the emulated CUDA backend (mk/cuda.mk), never the real one.
$(BUILD)/yolact-tests: $(TEST_OBJS) $(TEST_EXTRA_OBJS) $(CORE_OBJS)
	$(CC) $(ALL_CFLAGS) $(TEST_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(DEP_LIBS) $(TEST_EXTRA_LIBS) \
	    $(LDLIBS_BASE)

# The main runner as TEST_SHARDS processes side by side (test/run_shards.sh), each running
# a share of the test cases balanced by the seconds each took in a measured run
# (test/shard_costs/, per target); every line says its shard, "[1/2] ", and the last two lines
# add up the shards' summaries. TEST_SHARDS=1 runs one process, as before.
# $(call run_shards,folder for the shards' logs,costs file) COMMAND
TEST_SHARDS ?= 2
run_shards = YL_TEST_SHARD_COSTS=test/shard_costs/$(2).txt \
             test/run_shards.sh $(TEST_SHARDS) $(1)

# TEST_BEFORE: runners from mk/*.mk run first, so Check's summary line of the main runner
# is the last line of the output. The runner prints a line per test as it ends (test/main.c).
# `make test` leaves out the tests tagged "full": the emulated CUDA frames at the networks'
# full input, which repeat what the same tests prove at a smaller one; `make test-full` runs
# them. The `+`: the install suite runs `make install`, which needs this make's job slots.
.PHONY: test-full
test: all $(BUILD)/yolact-tests $(TEST_BEFORE)
	+$(foreach runner,$(TEST_BEFORE),$(runner) &&) CK_EXCLUDE_TAGS=full \
	    $(call run_shards,$(BUILD)/shards,make-test) $(BUILD)/yolact-tests

test-full: $(BUILD)/yolact-tests
	CK_INCLUDE_TAGS=full $(BUILD)/yolact-tests

# Two pkg-config files. yolact.pc links the shared library and puts the prefix's lib
# directory on the program's run path (but /usr's, which the loader searches anyway), so the
# program runs without LD_LIBRARY_PATH or ldconfig. yolact-static.pc links the archive:
# `pkg-config --static yolact` cannot, since -lyolact picks the .so beside the .a.
ifneq ($(PREFIX),/usr)
PC_RPATH := -Wl,-rpath,$${libdir}
endif
# $(call install_pc,name,linkage,.private or empty (for Requires),Libs,Libs.private)
install_pc = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@NAME@|$(1)|' \
	    -e 's|@LINKAGE@|$(2)|' -e 's|@PRIVATE@|$(3)|' -e 's|@REQUIRES@|$(DEP_PKGS)|' \
	    -e 's|@LIBS@|$(strip $(4))|' -e 's|@LIBS_PRIVATE@|$(5)|' \
	    yolact.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/$(1).pc

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/yolact.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libyolact.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libyolact.so
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	$(call install_pc,yolact,shared library,.private,-L$${libdir} $(PC_RPATH) -lyolact,$(LDLIBS_BASE))
	$(call install_pc,yolact-static,static library,,$${libdir}/libyolact.a $(LDLIBS_BASE),)

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/yolact.h $(DESTDIR)$(PREFIX)/lib/libyolact.* \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/yolact.pc \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/yolact-static.pc

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
.SECONDARY:
