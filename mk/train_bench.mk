# yolact-train-bench: one CPU training step (forward, MultiBoxLoss, backward, SGD update)
# timed phase by phase with the peak memory, or the library's trainer on the GPU
# (bench/train/yolact-train-bench.c); bench/train_compare times it beside the official
# PyTorch step (bench/README.md).
TRAIN_BENCH := $(BUILD)/yolact-train-bench
TRAIN_BENCH_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard bench/train/*.c)) \
                    $(BUILD)/obj/bench/bench_util.o $(CLI_OBJS)
all: $(TRAIN_BENCH)
$(TRAIN_BENCH): $(TRAIN_BENCH_OBJS) $(BENCH_LIB) $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(DEP_LIBS) $(LDLIBS_BASE)

# The same on the emulated CUDA runtime, for the train_bench suite's --backend cuda run
# without a GPU (as yolact-bench-emu, mk/cuda.mk).
TRAIN_BENCH_EMU := $(BUILD)/yolact-train-bench-emu
$(TRAIN_BENCH_EMU): $(TRAIN_BENCH_OBJS) $(BENCH_SUPPORT_EMU_OBJS) $(CORE_OBJS) \
                    $(EMU_BACKEND_OBJS) $(patsubst %.cu,$(BUILD)/obj/emu/%.o,$(KERNEL_SRCS)) \
                    $(BUILD)/obj/emu/test/emu/yl_emu.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(DEP_LIBS) -lstdc++ $(LDLIBS_BASE)
$(BUILD)/yolact-tests: | $(TRAIN_BENCH_EMU)

# The measurements of bench/README.md's training section: the parity network, then
# yolact_resnet50 (the official code's random checkpoint), at batches 2 and 8 on 2 threads.
.PHONY: train-bench
train-bench: $(TRAIN_BENCH)
	bench/train_compare --bench $(TRAIN_BENCH) --yolact-dir $(YOLACT_DIR) \
	    --model test/data/parity/yolact_tiny_seed1_fp16_zip.pth --config yolact_resnet50 \
	    --official-config yolact_tiny --batch 2,8 --threads 2 --warmup 1 --iters 2 \
	    --json bench/results/cpu-train-parity.json
	bench/train_compare --bench $(TRAIN_BENCH) --yolact-dir $(YOLACT_DIR) \
	    --config yolact_resnet50 --batch 2,8 --threads 2 --warmup 1 --iters 1 \
	    --json bench/results/cpu-train-yolact_resnet50.json
