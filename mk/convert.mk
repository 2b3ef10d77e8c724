# yolact-convert (bench/convert/yolact-convert.c): a checkpoint rewritten as .safetensors or
# as a .pth that torch.load reads. `make check-torch-write` checks what it writes against the
# real PyTorch and the official code (test/fixtures/torch_write_check.py, /usr/bin/python3
# with Debian's python3-torch; the official checkout at OFFICIAL_YOLACT_DIR, by default the
# ignored .official/yolact). It skips with a message without PyTorch. Not in CI (no PyTorch).
CONVERT := $(BUILD)/yolact-convert
all: $(CONVERT)
$(CONVERT): $(BUILD)/obj/bench/convert/yolact-convert.o $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(DEP_LIBS) $(LDLIBS_BASE)
# The train_cli suite converts what yolact-train writes (every build's tests, ASan's too).
$(BUILD)/yolact-tests: | $(CONVERT)

OFFICIAL_YOLACT_DIR ?= .official/yolact
.PHONY: check-torch-write
check-torch-write: $(CONVERT)
	@if /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; then \
	    test/fixtures/torch_write_check.py --convert $(CONVERT) \
	        --yolact-dir $(OFFICIAL_YOLACT_DIR); \
	else \
	    echo "check-torch-write: skipped: /usr/bin/python3 cannot import torch and numpy" \
	         "(apt-get install python3-torch)"; \
	fi
