# yolact-bench and the benchmark targets: `make bench` times the CPU backend and the official
# PyTorch YOLACT side by side (bench/README.md); `make gpu-bench` times the CUDA backend.

BENCH := $(BUILD)/yolact-bench
# The official implementation's checkout for the comparison; without it bench/compare times
# libyolact alone and says so.
YOLACT_DIR ?= /tmp/yolact-official
BENCH_THREADS ?= 1,2

.PHONY: bench gpu-bench
all: $(BENCH)

# bench/support: what the bench and the tests need that libyolact does not ship (random-weight
# networks, the CUDA backend's facts and its convolutions timed against cuDNN), as
# libyolact_bench.a in this build's flavour of the backend: real, or none (no_cuda.c). The
# test runner and yolact-bench-emu (mk/cuda.mk) link the emulated flavour's objects.
BENCH_LIB := $(BUILD)/libyolact_bench.a
BENCH_SUPPORT_CUDA := bench/support/conv_timing.c bench/support/cuda_facts.c
BENCH_SUPPORT_PLAIN := $(filter-out $(BENCH_SUPPORT_CUDA) bench/support/no_cuda.c,\
                                    $(wildcard bench/support/*.c))
BENCH_SUPPORT_OBJS := $(BENCH_SUPPORT_PLAIN:%.c=$(BUILD)/obj/%.o) \
                      $(if $(HAVE_CUDA),$(BENCH_SUPPORT_CUDA:%.c=$(BUILD)/obj/%.o),\
                           $(BUILD)/obj/bench/support/no_cuda.o)
BENCH_SUPPORT_EMU_OBJS := $(BENCH_SUPPORT_PLAIN:%.c=$(BUILD)/obj/%.o) \
                          $(BENCH_SUPPORT_CUDA:%.c=$(BUILD)/obj/emu/%.o)
$(BENCH_SUPPORT_CUDA:%.c=$(BUILD)/obj/%.o): ALL_CFLAGS += -I$(CUDNN_HOME)/include \
                                                          -I$(CUDA_HOME)/include -Ikernels
$(BUILD)/obj/emu/bench/support/%.o: bench/support/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DYL_CUDA_EMULATION -Ikernels -Itest/emu -MMD -MP -c $< -o $@
$(BENCH_LIB): $(BENCH_SUPPORT_OBJS)
	rm -f $@
	ar rcs $@ $^
TEST_EXTRA_OBJS += $(BENCH_SUPPORT_EMU_OBJS)

BENCH_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard bench/*.c)) $(CLI_OBJS)
$(BENCH): $(BENCH_OBJS) $(BENCH_LIB) $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(DEP_LIBS) $(LDLIBS_BASE)

# The parity network on its image, then a short run of the full yolact_base (random weights).
bench: $(BENCH)
	bench/compare --bench $(BENCH) --yolact-dir $(YOLACT_DIR) --threads $(BENCH_THREADS) \
	    --model test/data/parity/yolact_tiny_seed1_fp16_zip.pth --config yolact_resnet50 \
	    --official-config yolact_tiny --image test/data/parity/coffee.png --iters 5
	bench/compare --bench $(BENCH) --yolact-dir $(YOLACT_DIR) --threads $(BENCH_THREADS) \
	    --config yolact_base --image test/data/parity/coffee.png --warmup 1 --iters 2

# On a GPU, the headline numbers: each of GPU_BENCH_PRESETS (random weights, 550) on the CUDA
# backend in both precisions, batches of 1, 8 and 32, written to
# $(GPU_RESULTS)/gpu-PRESET.json; the first preset also times its protonet/head convolutions
# with our kernels against cuDNN on the same shapes (--conv-shapes; the others' are the same).
# gpu-compare: both networks side by side with PyTorch on the GPU, when the official checkout
# is at YOLACT_DIR (bench/README.md).
GPU_RESULTS ?= bench/results
GPU_BENCH_PRESETS ?= yolact_base yolact_resnet50
.PHONY: gpu-compare
gpu-bench: $(BENCH)
	$(foreach preset,$(GPU_BENCH_PRESETS),\
	    $(BENCH) -c $(preset) --image test/data/parity/coffee.png --backend cuda \
	        --precision fp32,fp16 --batch 1,8,32 --warmup 5 --iters 30 \
	        $(if $(filter $(preset),$(firstword $(GPU_BENCH_PRESETS))),--conv-shapes) \
	        --json $(GPU_RESULTS)/gpu-$(preset).json &&) true

gpu-compare: $(BENCH)
	@test -f $(YOLACT_DIR)/yolact.py || \
	    { echo "gpu-compare: no official checkout at $(YOLACT_DIR) (bench/README.md)"; false; }
	bench/compare --device cuda --bench $(BENCH) --yolact-dir $(YOLACT_DIR) \
	    --model test/data/parity/yolact_tiny_seed1_fp16_zip.pth --config yolact_resnet50 \
	    --official-config yolact_tiny --image test/data/parity/coffee.png --warmup 5 \
	    --iters 50 --json $(GPU_RESULTS)/gpu-parity.json
	bench/compare --device cuda --bench $(BENCH) --yolact-dir $(YOLACT_DIR) \
	    --config yolact_base --image test/data/parity/coffee.png --warmup 5 --iters 50 \
	    --json $(GPU_RESULTS)/gpu-compare-yolact_base.json

# libyolact, ONNX Runtime and the official code side by side on the CPU (bench/README.md,
# issue 27): the parity network, then each of ORT_PRESETS with the official code's random
# checkpoint, ORT_ROUNDS interleaved rounds on both images (libyolact once per
# YOLACT_CPU_CONV mode of ORT_CONV_MODES in each round), written to
# bench/results/cpu-ort-NAME.json. ONNX Runtime in a venv of its own (pinned; matplotlib for
# bench/results/plot.py's cpu-ort.png); the export needs Debian's python3-torch and the
# official checkout, without either it says so and skips.
ORT_VENV ?= /tmp/yolact-ort-venv
ORT_PACKAGES := onnxruntime==1.32.0 onnx==1.23.2 matplotlib
ORT_VENV_READY := $(ORT_VENV)/.ort-1.32.0
ORT_PRESETS ?= yolact_resnet50
ORT_ROUNDS ?= 3
ORT_CONV_MODES ?= fixed,auto
ORT_COMPARE = bench/compare --bench $(BENCH) --yolact-dir $(YOLACT_DIR) --threads \
    $(BENCH_THREADS) --ort-python $(ORT_VENV)/bin/python --rounds $(ORT_ROUNDS) --warmup 1 \
    --conv-modes $(ORT_CONV_MODES) \
    --iters 2 --image test/data/parity/coffee.png --image test/data/parity/astronaut.png
.PHONY: bench-compare-ort
bench-compare-ort: $(BENCH)
	@if ! /usr/bin/python3 -c 'import torch, torchvision, cv2' 2>/dev/null; then \
	    echo "bench-compare-ort: skipped: /usr/bin/python3 cannot import torch, torchvision" \
	         "and cv2 (apt-get install python3-torch python3-torchvision python3-opencv)"; \
	elif ! test -f $(YOLACT_DIR)/yolact.py; then \
	    echo "bench-compare-ort: skipped: no official checkout at $(YOLACT_DIR)" \
	         "(git clone https://github.com/dbolya/yolact $(YOLACT_DIR))"; \
	else \
	    { test -f $(ORT_VENV_READY) || { /usr/bin/python3 -m venv $(ORT_VENV) && \
	      $(ORT_VENV)/bin/pip install -q $(ORT_PACKAGES) && touch $(ORT_VENV_READY); }; } && \
	    $(ORT_COMPARE) --model test/data/parity/yolact_tiny_seed1_fp16_zip.pth \
	        --config yolact_resnet50 --official-config yolact_tiny \
	        --json bench/results/cpu-ort-parity.json && \
	    $(foreach p,$(ORT_PRESETS),$(ORT_COMPARE) --config $(p) \
	        --json bench/results/cpu-ort-$(p).json &&) true; \
	fi

# ORT's time per node on the parity network, slowest first, to line up against
# `yolact-bench --per-op` (bench/ort_profile.py; the venv and checkout as above).
ORT_PROFILE_DIR ?= /tmp/yolact-ort-profile
ORT_PROFILE_THREADS ?= 1
.PHONY: bench-ort-profile
bench-ort-profile:
	@if ! test -f $(ORT_VENV_READY) || ! test -f $(YOLACT_DIR)/yolact.py; then \
	    echo "bench-ort-profile: skipped: needs $(ORT_VENV) (make bench-compare-ort makes it)" \
	         "and the official checkout at $(YOLACT_DIR)"; \
	else \
	    mkdir -p $(ORT_PROFILE_DIR) && \
	    /usr/bin/python3 bench/official_onnx.py --yolact-dir $(YOLACT_DIR) \
	        --weights test/data/parity/yolact_tiny_seed1_fp16_zip.pth --config yolact_tiny \
	        --image test/data/parity/coffee.png --out $(ORT_PROFILE_DIR)/parity.onnx && \
	    $(ORT_VENV)/bin/python bench/ort_profile.py $(ORT_PROFILE_DIR)/parity.onnx \
	        --threads $(ORT_PROFILE_THREADS); \
	fi

# yolact-grad-bench: the CPU convolution's backward pass against its forward on one layer shape
# (bench/grad/yolact-grad-bench.c; its options at the top).
GRAD_BENCH := $(BUILD)/yolact-grad-bench
all: $(GRAD_BENCH)
$(GRAD_BENCH): $(BUILD)/obj/bench/grad/yolact-grad-bench.o $(BENCH_LIB) $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(DEP_LIBS) $(LDLIBS_BASE)
