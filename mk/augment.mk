# The official training augmentation (examples/train/augment.c), which yolact-train will run
# on every sample; the augment suite (test/test_augment.c) checks each of its steps.

AUGMENT_OBJS := $(BUILD)/obj/examples/train/augment.o

TEST_EXTRA_OBJS += $(AUGMENT_OBJS)
$(BUILD)/obj/test/test_augment.o: ALL_CFLAGS += -Iexamples/train

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
