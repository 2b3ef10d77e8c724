# CUDA kernels (kernels/*.cu) and the CUDA backend (lib/cuda/: backend.c, rescore.c, upload.c;
# CUDA_BACKEND_HOST in the Makefile). Two builds of both:
#  - emulated, always: the host C++ compiler against test/emu, linked into the Check runner
#    (suite `ops`, the op-test table, and the kernel suites), so CI without a GPU runs every
#    kernel; `make test-kernels` runs them;
#  - real, when the toolkit and cuDNN are found (the Makefile's CUDA): kernels by nvcc for
#    CUDA_ARCH (machine code) plus PTX of the newest, the backend against cuDNN, both in
#    libyolact; `make cuda-compile-check` builds just the kernels.
# Nothing here needs a GPU.

.PHONY: test-kernels cuda-compile-check

KERNEL_SRCS := $(sort $(wildcard kernels/*.cu))

# ---- emulated build ------------------------------------------------------------------------
CXX ?= g++
# CFLAGS carries the optimisation and sanitizer flags of the build (see hardening.mk).
# -mfma where the build machine has FMA: the kernels' explicit fused multiply-adds (yl_fmaf)
# become one instruction instead of a libm call (the same bits; -ffp-contract=off still
# forbids any other fusion).
EMU_FMA := $(shell grep -qw fma /proc/cpuinfo 2>/dev/null && echo -mfma)
EMU_CXXFLAGS := -std=gnu++17 -Wall -Wextra -fPIC -fvisibility=hidden -ffp-contract=off \
                $(EMU_FMA) -DYL_CUDA_EMULATION -Iinclude -Ilib -Ikernels -Itest/emu $(CFLAGS)
# EMU_MATH=gpu: the kernels' expf and tanhf as far from the C library's as a GPU's may be
# (test/emu/gpu_math.h) and the suites' comparisons a GPU's; `make test-gpu-math` runs it.
ifeq ($(EMU_MATH),gpu)
EMU_CXXFLAGS += -DYL_EMU_GPU_MATH -include test/emu/gpu_math.h
endif
# Kernels that exist only to test the emulation itself (misuse it must report).
EMU_TEST_SRCS := $(sort $(wildcard test/emu/*.cu))
EMU_OBJS := $(patsubst %.cu,$(BUILD)/obj/emu/%.o,$(KERNEL_SRCS) $(EMU_TEST_SRCS)) \
            $(BUILD)/obj/emu/test/emu/yl_emu.o

$(BUILD)/obj/emu/%.o: %.cu
	@mkdir -p $(dir $@)
	$(CXX) -x c++ $(EMU_CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/emu/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -MMD -MP -c $< -o $@

# The Makefile's hooks: these objects join the Check runner, and the suite's C file sees the
# emulated runtime API.
TEST_EXTRA_OBJS += $(EMU_OBJS)
TEST_EXTRA_LIBS += -lstdc++
# Suites that run kernels or the CUDA backend; they see the emulated runtime API here and the
# real one in the GPU runner below. The op-test harness's table and families (test/ops/,
# test_ops.c) are built into both runners too; the emulation's own tests (test_emu.c) only
# here.
GPU_SUITE_SRCS := $(filter $(addprefix test/test_,kernels.c plus_kernels.c \
                    ops.c cuda_backend.c parity.c threads.c trainer.c),$(TEST_SRCS))
OPS_SRCS := $(sort $(wildcard test/ops/*.c))
TEST_EXTRA_OBJS += $(OPS_SRCS:%.c=$(BUILD)/obj/%.o)
$(patsubst %.c,$(BUILD)/obj/%.o,$(GPU_SUITE_SRCS) $(OPS_SRCS) test/test_emu.c): \
    ALL_CFLAGS += -DYL_CUDA_EMULATION -Ikernels -Itest/emu \
                  $(if $(filter gpu,$(EMU_MATH)),-DYL_EMU_GPU_MATH)
# The suites that compare kernels with their CPU references, and the emulation's own tests;
# the targets below and test/gpu_check.sh run them.
KERNEL_SUITES := ops kernels plus_kernels

# The backend's host code against the emulated runtime, cuDNN replaced by the CPU's
# convolution (lib/cuda/dnn_emulated.c).
EMU_BACKEND_OBJS := $(CUDA_BACKEND_HOST:%=$(BUILD)/obj/emu/lib/cuda/%.o) \
                    $(BUILD)/obj/emu/lib/cuda/dnn_emulated.o
$(BUILD)/obj/emu/lib/cuda/%.o: lib/cuda/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DYL_CUDA_EMULATION -Ikernels -Itest/emu -MMD -MP -c $< -o $@
TEST_EXTRA_OBJS += $(EMU_BACKEND_OBJS)

# yolact-bench on the emulated backend, for the bench suite: its CUDA columns (stage times,
# the session's device memory, the machine facts in the JSON) without a GPU.
BENCH_EMU := $(BUILD)/yolact-bench-emu
$(BENCH_EMU): $(BENCH_OBJS) $(BENCH_SUPPORT_EMU_OBJS) $(CORE_OBJS) $(EMU_BACKEND_OBJS) \
              $(patsubst %.cu,$(BUILD)/obj/emu/%.o,$(KERNEL_SRCS)) $(BUILD)/obj/emu/test/emu/yl_emu.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(DEP_LIBS) -lstdc++ $(LDLIBS_BASE)
$(BUILD)/yolact-tests: | $(BENCH_EMU)

# libyolact against the emulated runtime, as a shared library: the Python package loads it
# (YOLACT_LIBRARY=build/libyolact-emu.so) to run its GPU-array paths without a GPU. Its
# runtime is compiled again with the runtime API exported (cudaMalloc, cudaMemcpy, the
# counters), so a caller makes "device" memory the library reads as such.
SHARED_EMU := $(BUILD)/libyolact-emu.so
.PHONY: shared-emu
shared-emu: $(SHARED_EMU)
$(BUILD)/obj/emu-exported/test/emu/yl_emu.o: test/emu/yl_emu.cc
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_CXXFLAGS) -fvisibility=default -MMD -MP -c $< -o $@
$(SHARED_EMU): $(CORE_OBJS) $(EMU_BACKEND_OBJS) \
               $(patsubst %.cu,$(BUILD)/obj/emu/%.o,$(KERNEL_SRCS)) \
               $(BUILD)/obj/emu-exported/test/emu/yl_emu.o
	$(CC) -shared -o $@ $^ $(DEP_LIBS) -lstdc++ $(LDLIBS_BASE)

test-kernels: $(BUILD)/yolact-tests
	for suite in emu $(KERNEL_SUITES); do \
	    CK_RUN_SUITE=$$suite $(BUILD)/yolact-tests || exit 1; done

# The kernel suites and the CUDA parity runs with a GPU's expf and tanhf (EMU_MATH=gpu above),
# in a build directory of their own.
GPU_MATH_BUILD ?= build-gpu-math
.PHONY: test-gpu-math
test-gpu-math:
	$(MAKE) CUDA=0 BUILD=$(GPU_MATH_BUILD) EMU_MATH=gpu $(GPU_MATH_BUILD)/yolact-tests
	for suite in $(KERNEL_SUITES); do \
	    CK_RUN_SUITE=$$suite $(GPU_MATH_BUILD)/yolact-tests || exit 1; done
	CK_RUN_SUITE=parity CK_INCLUDE_TAGS=cuda $(GPU_MATH_BUILD)/yolact-tests

# The emulated kernels again with every launch's blocks, and each block's threads, run last
# first (YL_EMU_ORDER=reverse, test/emu/README.md): a thread that reads a lower thread's write
# with no barrier between passes in the forward order by luck and fails here. The emulated
# frames at both sizes (tag "full": the networks' own).
.PHONY: test-run-order
test-run-order: $(BUILD)/yolact-tests
	for suite in emu $(KERNEL_SUITES) cuda_backend; do \
	    YL_EMU_ORDER=reverse CK_RUN_SUITE=$$suite $(BUILD)/yolact-tests || exit 1; done
	for suite in threads parity; do \
	    YL_EMU_ORDER=reverse CK_RUN_SUITE=$$suite CK_INCLUDE_TAGS=cuda $(BUILD)/yolact-tests \
	    || exit 1; done

# ---- nvcc compile check --------------------------------------------------------------------
# Machine code for this machine's GPUs when nvidia-smi lists any of compute capability 7.5 or
# newer (one architecture, not five), else for sm_75 (Turing) .. sm_90 (Hopper); PTX of the
# last for newer GPUs (JIT). CUDA_ARCH="80 90" chooses.
ifeq ($(origin CUDA_ARCH),undefined)
CUDA_ARCH_LOCAL := $(if $(HAVE_CUDA),$(shell nvidia-smi --query-gpu=compute_cap \
                       --format=csv,noheader 2>/dev/null | tr -d . | \
                       awk '/^[0-9]+$$/ && $$1 >= 75' | sort -u))
CUDA_ARCH := $(or $(CUDA_ARCH_LOCAL),75 80 86 89 90)
CUDA_ARCH_SOURCE := $(if $(CUDA_ARCH_LOCAL),this machine's GPU,no GPU seen: the default list)
else
CUDA_ARCH_SOURCE := as CUDA_ARCH says
endif
# For the Makefile's config line.
CUDA_ARCH_SAYS = kernels for sm_$(subst $() $(),/sm_,$(strip $(CUDA_ARCH))) + PTX, \
                 $(CUDA_ARCH_SOURCE); CUDA_ARCH=\"80 90\" chooses, CUDA=0 leaves the backend out
NVCC ?= $(CUDA_HOME)/bin/nvcc
NVCC_GENCODE := $(foreach a,$(CUDA_ARCH),-gencode arch=compute_$(a),code=sm_$(a)) \
                -gencode arch=compute_$(lastword $(CUDA_ARCH)),code=compute_$(lastword $(CUDA_ARCH))
# --fmad=false: the kernels' float results must equal the CPU's (-ffp-contract=off there).
NVCC_FLAGS ?= -O3 -std=c++17 --fmad=false -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra \
              -Werror all-warnings
CUDA_OBJS := $(KERNEL_SRCS:%.cu=$(BUILD)/obj/cuda/%.o)

$(BUILD)/obj/cuda/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) $(NVCC_GENCODE) -Iinclude -Ilib -Ikernels -MMD -MP -c $< -o $@

ifeq ($(HAVE_CUDA),1)
cuda-compile-check: $(CUDA_OBJS)
	@echo "cuda-compile-check: $(words $(CUDA_OBJS)) kernel files for sm_$(subst $() $(),/sm_,$(strip $(CUDA_ARCH))) + PTX"
else
cuda-compile-check:
	@echo "cuda-compile-check: skipped, no nvcc at $(NVCC) (set CUDA_HOME)"
endif

# ---- the real backend in libyolact -------------------------------------------------------
ifeq ($(HAVE_CUDA),1)
REAL_BACKEND_OBJS := $(CUDA_BACKEND_HOST:%=$(BUILD)/obj/lib/cuda/%.o) \
                     $(BUILD)/obj/lib/cuda/dnn_cudnn.o
LIB_OBJS += $(CUDA_OBJS) $(REAL_BACKEND_OBJS)
$(REAL_BACKEND_OBJS): ALL_CFLAGS += -I$(CUDNN_HOME)/include -I$(CUDA_HOME)/include -Ikernels
# The runtime is linked statically and cuDNN opened at run time (lib/cuda/dnn_cudnn.c), so
# the library loads where neither is installed and says so with a status.
LDLIBS_BASE += -L$(CUDA_HOME)/lib64 -lcudart_static -lrt -ldl -lstdc++
else
LIB_OBJS += $(BUILD)/obj/lib/cuda/none.o
endif

# ---- the GPU runner: `make gpu-check` ----------------------------------------------------
# The GPU suites built against the real runtime and linked with the real libyolact; on a
# machine without a usable GPU the runner prints a SKIP line and passes. gpu-check also runs
# the kernel suites under compute-sanitizer (test/gpu_check.sh). The runner never forks.
.PHONY: gpu-check
ifeq ($(HAVE_CUDA),1)
GPU_BUILD := $(BUILD)/gpu
GPU_TEST_OBJS := $(GPU_SUITE_SRCS:%.c=$(GPU_BUILD)/obj/%.o) $(GPU_BUILD)/obj/test/main.o \
                 $(OPS_SRCS:%.c=$(GPU_BUILD)/obj/%.o) \
                 $(TEST_SUPPORT:%.c=$(BUILD)/obj/%.o)
GPU_TEST_OBJS := $(filter-out $(BUILD)/obj/test/main.o,$(GPU_TEST_OBJS))

$(GPU_BUILD)/test_suites.h: $(GPU_SUITE_SRCS) mk/cuda.mk
	@mkdir -p $(dir $@)
	@for f in $(GPU_SUITE_SRCS); do n=$$(basename $$f .c); echo "SUITE($${n#test_})"; done \
	    > $@.tmp && mv $@.tmp $@

$(GPU_BUILD)/obj/test/main.o: $(GPU_BUILD)/test_suites.h
$(GPU_BUILD)/obj/test/%.o: test/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -DYL_GPU_RUNNER -I$(GPU_BUILD) -I$(CUDA_HOME)/include \
	    -Ikernels -Itest -MMD -MP -c $< -o $@

$(BUILD)/yolact-gpu-tests: $(GPU_TEST_OBJS) $(BENCH_LIB) $(STATIC)
	$(CC) $(ALL_CFLAGS) $(TEST_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(DEP_LIBS) $(LDLIBS_BASE)

# Built and run by `make test` (a SKIP line without a GPU), so CI links the real backend.
TEST_BEFORE += $(BUILD)/yolact-gpu-tests

# A limit for each compute-sanitizer run, in seconds (empty: none); the steps to run
# (test/gpu_check.sh: parity, suites, sanitizers; empty: all).
GPU_CHECK_SANITIZER_SECONDS ?=
GPU_CHECK_STEPS ?=

gpu-check: $(BUILD)/yolact-gpu-tests
	CUDA_HOME=$(CUDA_HOME) GPU_CHECK_SANITIZER_SECONDS=$(GPU_CHECK_SANITIZER_SECONDS) \
	    test/gpu_check.sh $(BUILD)/yolact-gpu-tests $(GPU_CHECK_STEPS)
else
gpu-check:
	@echo "gpu-check: this build has no CUDA backend (CUDA=$(CUDA); needs nvcc and cuDNN)" >&2
	@false
endif
