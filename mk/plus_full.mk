# Full-size YOLACT++ parity against the official code (test/fixtures/plus_full_check.py):
# `make check-plus-full YOLACT_DIR=DIR` with a checkout of github.com/dbolya/yolact at DIR;
# it skips with a message without the checkout or PyTorch. Not in CI (130+ MB checkpoints,
# made in .plus-full/). PLUS_FULL_ARGS: more options (--preset, --seed, --offset-gain,
# --class-gain, --image, --official-only).
.PHONY: check-plus-full
YOLACT_DIR ?= /tmp/yolact-official
PLUS_FULL_ARGS ?=
check-plus-full: $(BUILD)/yolact-detect
	test/fixtures/plus_full_check.py --yolact-dir $(YOLACT_DIR) --detect $(BUILD)/yolact-detect \
	    $(PLUS_FULL_ARGS)
