# CUDA kernels (kernels/*.cu). Two builds of the same sources:
#  - emulated, always: the host C++ compiler against test/emu, linked into the Check runner
#    (suite `kernels`), so CI without a GPU runs every kernel; `make test-kernels` runs it;
#  - nvcc, when the toolkit is found: `make cuda-compile-check` compiles every kernel for
#    CUDA_ARCH (machine code) plus PTX of the newest, for GPUs this build does not know.
# Nothing here needs a GPU.

.PHONY: test-kernels cuda-compile-check

KERNEL_SRCS := $(sort $(wildcard kernels/*.cu))

# ---- emulated build ------------------------------------------------------------------------
CXX ?= g++
# CFLAGS carries the optimisation and sanitizer flags of the build (see hardening.mk).
EMU_CXXFLAGS := -std=gnu++17 -Wall -Wextra -fPIC -fvisibility=hidden -ffp-contract=off \
                -DYL_CUDA_EMULATION -Iinclude -Ilib -Ikernels -Itest/emu $(CFLAGS)
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
$(BUILD)/obj/test/test_kernels.o: ALL_CFLAGS += -DYL_CUDA_EMULATION -Ikernels -Itest/emu
$(BUILD)/obj/test/test_network_kernels.o: ALL_CFLAGS += -DYL_CUDA_EMULATION -Ikernels -Itest/emu

test-kernels: $(BUILD)/yolact-tests
	CK_RUN_SUITE=kernels $(BUILD)/yolact-tests

# ---- nvcc compile check --------------------------------------------------------------------
# sm_75 (Turing) .. sm_90 (Hopper) machine code, PTX of the last for newer GPUs (JIT).
CUDA_ARCH ?= 75 80 86 89 90
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
