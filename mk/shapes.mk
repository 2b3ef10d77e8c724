# yolact-shapes (examples/yolact-shapes.c + examples/shapes/*.c): the synthetic shapes data
# set in COCO format. The shapes suite (test/test_shapes.c) links the scene maker.

SHAPES_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard examples/shapes/*.c)))

$(BUILD)/yolact-shapes: $(BUILD)/obj/examples/yolact-shapes.o $(SHAPES_OBJS) $(CLI_OBJS) $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(DEP_LIBS) $(LDLIBS_BASE)

TEST_EXTRA_OBJS += $(SHAPES_OBJS)
$(BUILD)/obj/test/test_shapes.o: ALL_CFLAGS += -Iexamples/shapes
$(BUILD)/yolact-tests: | $(BUILD)/yolact-shapes
