# yolact-webcam (examples/yolact-webcam.c + examples/webcam/*.c): its window needs SDL2,
# found by pkg-config; without it the demo still builds and runs --headless. Also the
# fake V4L2 device (an LD_PRELOAD shim) its tests capture from.

WEBCAM_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard examples/webcam/*.c)))
HAVE_SDL2 := $(call have,sdl2)
ifeq ($(HAVE_SDL2),1)
$(BUILD)/obj/examples/webcam/window.o: ALL_CFLAGS += $(shell $(PKG_CONFIG) --cflags sdl2) -DWC_HAVE_SDL2
WEBCAM_LIBS := $(shell $(PKG_CONFIG) --libs sdl2)
endif

.PHONY: webcam-config
all: webcam-config
webcam-config:
	@echo "yolact-webcam: SDL2 $(if $(HAVE_SDL2),yes (window),no (--headless only; install libsdl2-dev))"

$(BUILD)/yolact-webcam: $(BUILD)/obj/examples/yolact-webcam.o $(WEBCAM_OBJS) $(CLI_OBJS) \
                         $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(DEP_LIBS) $(WEBCAM_LIBS) $(LDLIBS_BASE)

# The webcam suite links the frame conversions and the slot, and runs the demo under the shim;
# order-only, so the shim is built but not linked into the runner.
TEST_EXTRA_OBJS += $(BUILD)/obj/examples/webcam/frames.o $(BUILD)/obj/examples/webcam/slot.o
$(BUILD)/obj/test/test_webcam.o: ALL_CFLAGS += -Iexamples/webcam $(if $(HAVE_SDL2),-DWC_HAVE_SDL2)
$(BUILD)/yolact-tests: | $(BUILD)/fake_v4l2.so $(BUILD)/yolact-webcam

$(BUILD)/fake_v4l2.so: test/webcam/fake_v4l2.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -Wall -Wextra -O2 -g -fPIC -shared -o $@ $< -ldl
