# yolact-train (examples/yolact-train.c + examples/train/*.c): training through the public
# trainer. Its parity cases' gt.json and its COCO training sets are read with jansson (as
# yolact-eval's annotations, with the evaluation's reader and mask runs), and its validation
# pass is yolact-eval's detection mode and evaluation (examples/eval/); without jansson it
# is left out.

TRAIN_CLI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard examples/train/*.c))) \
                  $(EVAL_OBJS)

ifeq ($(HAVE_JANSSON),1)
$(TRAIN_CLI_OBJS): ALL_CFLAGS += $(JANSSON_CFLAGS) -Iexamples/eval -Iexamples/train
$(BUILD)/yolact-train: $(BUILD)/obj/examples/yolact-train.o $(TRAIN_CLI_OBJS) $(CLI_OBJS) $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(DEP_LIBS) $(JANSSON_LIBS) $(LDLIBS_BASE)
else
EXAMPLES := $(filter-out $(BUILD)/yolact-train,$(EXAMPLES))
$(BUILD)/yolact-train:
	@echo "yolact-train needs jansson's headers: install libjansson-dev"; exit 1
endif
