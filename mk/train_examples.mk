# What yolact-train is made of besides the library's trainer (examples/train/): the official
# training augmentation (augment.c; suite test/test_augment.c, each step against its
# definition), the training curves' PNG (curves.c; test/test_curves.c), and the COCO training
# set with the worker threads that serve its samples (train_dataset.c, sample_loader.c;
# test/train/train_dataset_suite.c, which test-tsan in mk/hardening.mk runs too). The data
# set is read with yolact-eval's loader, so that part needs jansson (mk/eval.mk).

TRAIN_EXAMPLE_OBJS := $(BUILD)/obj/examples/train/augment.o $(BUILD)/obj/examples/train/curves.o

TEST_EXTRA_OBJS += $(TRAIN_EXAMPLE_OBJS)
$(BUILD)/obj/test/test_augment.o $(BUILD)/obj/test/test_curves.o: ALL_CFLAGS += -Iexamples/train

ifeq ($(HAVE_JANSSON),1)
TRAIN_DATA_OBJS := $(BUILD)/obj/examples/train/train_dataset.o \
    $(BUILD)/obj/examples/train/sample_loader.o
TRAIN_DATA_TEST_OBJS := $(BUILD)/obj/test/train/train_dataset_suite.o
TEST_EXTRA_SUITES += train_dataset
TEST_EXTRA_OBJS += $(TRAIN_DATA_OBJS) $(TRAIN_DATA_TEST_OBJS)
$(TRAIN_DATA_OBJS) $(TRAIN_DATA_TEST_OBJS): ALL_CFLAGS += $(JANSSON_CFLAGS) -Iexamples/eval \
    -Iexamples/train
endif

# The same steps against the real OpenCV (test/augment/compare_opencv.py): augment.c as a
# shared library (every symbol visible), called through ctypes from a venv with opencv-python-headless pinned.
AUGMENT_VENV ?= /tmp/yolact-augment-venv
OPENCV_VERSION := 4.14.0.94
AUGMENT_VENV_READY := $(AUGMENT_VENV)/.opencv-$(OPENCV_VERSION)
$(AUGMENT_VENV_READY):
	test -x $(AUGMENT_VENV)/bin/python || python3 -m venv $(AUGMENT_VENV)
	$(AUGMENT_VENV)/bin/pip install -q numpy opencv-python-headless==$(OPENCV_VERSION)
	touch $@

$(BUILD)/libaugment.so: examples/train/augment.c examples/train/augment.h
	$(CC) $(ALL_CFLAGS) -fvisibility=default -shared -o $@ $< -lm

.PHONY: test-augment-opencv
test-augment-opencv: $(BUILD)/libaugment.so $(AUGMENT_VENV_READY)
	$(AUGMENT_VENV)/bin/python test/augment/compare_opencv.py $(BUILD)/libaugment.so
