# The COCO training set reader (examples/train/train_dataset.c), which yolact-train serves its
# samples from: it reads the annotations with yolact-eval's loader, so it needs jansson too
# (mk/eval.mk); its suite is test/train/train_dataset_suite.c.

ifeq ($(HAVE_JANSSON),1)
TRAIN_DATA_OBJS := $(BUILD)/obj/examples/train/train_dataset.o
TRAIN_DATA_TEST_OBJS := $(BUILD)/obj/test/train/train_dataset_suite.o
TEST_EXTRA_SUITES += train_dataset
TEST_EXTRA_OBJS += $(TRAIN_DATA_OBJS) $(TRAIN_DATA_TEST_OBJS)
$(TRAIN_DATA_OBJS) $(TRAIN_DATA_TEST_OBJS): ALL_CFLAGS += $(JANSSON_CFLAGS) -Iexamples/eval \
    -Iexamples/train
endif
