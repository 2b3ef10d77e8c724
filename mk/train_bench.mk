# yolact-train-bench: one CPU training step (forward, MultiBoxLoss, backward, SGD update)
# timed phase by phase with the peak memory (bench/train/yolact-train-bench.c);
# bench/train_compare times it beside the official PyTorch step (bench/README.md).
TRAIN_BENCH := $(BUILD)/yolact-train-bench
all: $(TRAIN_BENCH)
$(TRAIN_BENCH): $(BUILD)/obj/bench/train/yolact-train-bench.o $(BUILD)/obj/bench/bench_util.o $(CLI_OBJS) \
                $(BENCH_LIB) $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(DEP_LIBS) $(LDLIBS_BASE)
