# yolact-eval (examples/yolact-eval.c + examples/eval/*.c): COCO AP as pycocotools computes
# it. Its JSON reading needs jansson (libjansson-dev), found by pkg-config; without it the
# rest builds and yolact-eval is left out. `make test-eval` compares it with pycocotools.

HAVE_JANSSON := $(call have,jansson)
EVAL_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard examples/eval/*.c)))

.PHONY: eval-config test-eval bench-eval
all: eval-config
eval-config:
	@echo "yolact-eval: jansson $(if $(HAVE_JANSSON),yes,no (not built; install libjansson-dev))"

ifeq ($(HAVE_JANSSON),1)
JANSSON_CFLAGS := $(shell $(PKG_CONFIG) --cflags jansson)
JANSSON_LIBS := $(shell $(PKG_CONFIG) --libs jansson)
$(EVAL_OBJS) $(BUILD)/obj/examples/yolact-eval.o: ALL_CFLAGS += $(JANSSON_CFLAGS)

$(BUILD)/yolact-eval: $(BUILD)/obj/examples/yolact-eval.o $(EVAL_OBJS) $(CLI_OBJS) $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(DEP_LIBS) $(JANSSON_LIBS) $(LDLIBS_BASE)

# The eval suite (test/eval/eval_suite.c) and the fuzz target of annotation files
# (test/fuzz/fuzz_annotations.c, in mk/hardening.mk's list): the reading and evaluation
# objects, not the program's detection pass.
EVAL_CORE_OBJS := $(filter $(BUILD)/obj/examples/eval/coco_%.o,$(EVAL_OBJS))
EVAL_TEST_OBJS := $(BUILD)/obj/test/eval/eval_suite.o $(BUILD)/obj/test/eval/eval_fuzz_entry.o
TEST_EXTRA_SUITES += eval
TEST_EXTRA_OBJS += $(EVAL_TEST_OBJS) $(EVAL_CORE_OBJS)
TEST_EXTRA_LIBS += $(JANSSON_LIBS)
$(EVAL_TEST_OBJS) $(BUILD)/obj/test/fuzz/fuzz_annotations.o: \
    ALL_CFLAGS += $(JANSSON_CFLAGS) -Iexamples/eval
EVAL_FUZZ_TARGETS := annotations
$(BUILD)/fuzz/fuzz_annotations: $(BUILD)/obj/test/eval/eval_fuzz_entry.o $(EVAL_CORE_OBJS)
$(BUILD)/fuzz/fuzz_annotations: DEP_LIBS += $(JANSSON_LIBS)
else
EXAMPLES := $(filter-out $(BUILD)/yolact-eval,$(EXAMPLES))
$(BUILD)/yolact-eval:
	@echo "yolact-eval needs jansson's headers: install libjansson-dev"; exit 1
endif

# The comparison with pycocotools (test/eval/compare_pycocotools.py) in a virtual
# environment of its own, pycocotools pinned: generated data, then the detection mode on the
# parity images with hand-made annotations (test/data/eval/).
EVAL_VENV ?= /tmp/yolact-eval-venv
PYCOCOTOOLS_VERSION := 2.0.11
EVAL_VENV_READY := $(EVAL_VENV)/.pycocotools-$(PYCOCOTOOLS_VERSION)
$(EVAL_VENV_READY):
	test -x $(EVAL_VENV)/bin/python || python3 -m venv $(EVAL_VENV)
	$(EVAL_VENV)/bin/pip install -q pycocotools==$(PYCOCOTOOLS_VERSION)
	touch $@

test-eval: $(BUILD)/yolact-eval $(EVAL_VENV_READY)
	$(EVAL_VENV)/bin/python test/eval/compare_pycocotools.py --yolact-eval $(BUILD)/yolact-eval \
	    --model test/data/parity/yolact_tiny_seed1_fp16_zip.pth --config yolact_resnet50 \
	    --images test/data/parity --annotations test/data/eval/parity_annotations.json

# yolact-eval against pycocotools on 5,000 generated images x 100 detections, median of 3
# runs each (bench/eval/bench_eval.py; bench/README.md).
bench-eval: $(BUILD)/yolact-eval $(EVAL_VENV_READY)
	$(EVAL_VENV)/bin/python bench/eval/bench_eval.py --yolact-eval $(BUILD)/yolact-eval \
	    --json bench/results/eval-coco-like.json
