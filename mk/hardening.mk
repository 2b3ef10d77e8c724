# Hostile-input hardening: libFuzzer targets (`make fuzz FUZZ_SECONDS=N`), the Check suites
# under ASan+UBSan (`make test-asan`) and valgrind (`make test-valgrind`), and the threads
# suite under ThreadSanitizer (`make test-tsan`). Each instrumented build has its own
# directory, so none of them disturbs $(BUILD). Needs clang, libclang-rt-14-dev,
# libomp-14-dev (fuzzing) and valgrind; the sanitizer runtimes come with gcc.

.PHONY: fuzz fuzz-targets test-asan test-tsan test-valgrind

# The regressions suite replays old fuzzer findings through the same entry points.
TEST_EXTRA_OBJS += $(BUILD)/obj/test/fuzz/fuzz_entries.o

SAN_COMMON := -O1 -g -fno-omit-frame-pointer
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz

# ---- fuzzing ----------------------------------------------------------------------------
FUZZ_TARGETS := pth safetensors image model $(EVAL_FUZZ_TARGETS)
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_CFLAGS := $(SAN_COMMON) -fsanitize=fuzzer-no-link,address,undefined \
               -fno-sanitize-recover=undefined
# Hostile sizes are refused by the library's own limits; these only stop a runaway input. A
# few hundred bytes of JPEG may legitimately claim YOLACT_MAX_IMAGE_PIXELS (decoded as
# OpenCV does), which takes up to ~100 s under ASan: hence the timeout.
FUZZ_RUN_FLAGS ?= -rss_limit_mb=3072 -malloc_limit_mb=2048 -timeout=120 -print_final_stats=1

fuzz-targets: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/test/fuzz/fuzz_%.o $(BUILD)/obj/test/fuzz/fuzz_entries.o \
                      $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(DEP_LIBS) $(LDLIBS_BASE)

# Each target starts from its seeds in test/data/fuzz/<target>/ and grows a working corpus
# in $(FUZZ_BUILD)/corpus/<target>/; a finding is written to $(FUZZ_BUILD)/findings/.
fuzz:
	$(MAKE) CUDA=0 BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) CFLAGS="$(FUZZ_CFLAGS)" fuzz-targets
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/findings; \
	    echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
	    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    $(FUZZ_BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) $(FUZZ_RUN_FLAGS) \
	        -artifact_prefix=$(FUZZ_BUILD)/findings/$$t- \
	        $(FUZZ_BUILD)/corpus/$$t test/data/fuzz/$$t 2> $(FUZZ_BUILD)/fuzz_$$t.log \
	    || { tail -n 60 $(FUZZ_BUILD)/fuzz_$$t.log; exit 1; }; \
	    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' $(FUZZ_BUILD)/fuzz_$$t.log; \
	done

# ---- ASan + UBSan: the library and every Check suite ------------------------------------
# Leaks in our code fail the run; test/lsan.supp names third-party runtimes only.
ASAN_ENV := ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
            LSAN_OPTIONS=suppressions=$(CURDIR)/test/lsan.supp:print_suppressions=0 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            YL_TEST_CLI=$(ASAN_BUILD)/yolact-detect YL_TEST_BUILD=$(ASAN_BUILD)

# The CUDA backend's whole-network tests (tag "cuda") stay out, as under valgrind below. Here
# and under valgrind the runner runs as TEST_SHARDS processes side by side (the Makefile's
# run_shards), each balanced by its target's costs file. The `+` here and below: the install
# suite runs `make install`, which needs this make's job slots.
test-asan:
	$(MAKE) CUDA=0 BUILD=$(ASAN_BUILD) \
	    CFLAGS="$(SAN_COMMON) -fsanitize=address,undefined -fno-sanitize-recover=all" \
	    $(ASAN_BUILD)/yolact-tests $(ASAN_BUILD)/yolact-detect $(ASAN_BUILD)/yolact-train \
	    $(ASAN_BUILD)/train-step
	+CK_EXCLUDE_TAGS=cuda $(ASAN_ENV) $(call run_shards,$(ASAN_BUILD)/shards,asan) \
	    $(ASAN_BUILD)/yolact-tests

# ---- ThreadSanitizer: the threads suite --------------------------------------------------
# Built with clang: gcc's target_clones resolvers (lib/cpu/gemm.h) run before the TSan
# runtime is up and crash it. One OpenMP thread per session (the suite's sessions ask for
# one): the OpenMP runtime is not built with TSan, its barriers would be invisible to it.
TSAN_CC ?= clang
TSAN_CXX ?= clang++
test-tsan:
	$(MAKE) CUDA=0 BUILD=$(TSAN_BUILD) CC=$(TSAN_CC) CXX=$(TSAN_CXX) \
	    CFLAGS="$(SAN_COMMON) -fsanitize=thread" $(TSAN_BUILD)/yolact-tests
	CK_RUN_SUITE=threads CK_EXCLUDE_TAGS=cuda OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
	    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$(CURDIR)/test/tsan.supp \
	    $(TSAN_BUILD)/yolact-tests
	$(if $(HAVE_JANSSON),CK_RUN_SUITE=train_dataset \
	    TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$(CURDIR)/test/tsan.supp \
	    $(TSAN_BUILD)/yolact-tests)

# ---- valgrind: the Check suites on the ordinary build -------------------------------------
VALGRIND_FLAGS ?= --leak-check=full --errors-for-leak-kinds=definite,indirect \
                  --error-exitcode=1 --suppressions=test/valgrind.supp --num-callers=30
# The CUDA backend's whole-network tests (tag "cuda") stay out: the emulated heads take tens of
# minutes under ASan and hours under valgrind; their kernels, the emulation and the backend's
# session setup run here all the same, through the kernel suites and cuda_backend's
# untagged tests. VALGRIND_EXCLUDE_TAGS="cuda slow" (what .ci/run uses, for its time limit)
# also leaves out the tests tagged "slow": the full-size random networks, the convolution
# sweeps and the threads suite, each tens of minutes under valgrind, and the op-test table's
# largest shapes (test/ops/op_cases.c); ASan runs them all, TSan the threads suite.
VALGRIND_EXCLUDE_TAGS ?= cuda
# Sessions ask OpenMP for every core whatever OMP_NUM_THREADS says; valgrind runs threads one
# at a time (so a valgrind run keeps to one core: hence the shards), and spinning waits would
# burn its time: passive waits. OpenBLAS's AVX2 (Haswell) kernels run some 10x slower under
# valgrind than its SSE3 (Prescott) ones, which compute the same products: one frame of the
# bundled network took over 2 minutes with the first and 16 s with the second (valgrind
# --tool=none, yolact-detect --threads 1).
test-valgrind: $(BUILD)/yolact-tests $(BUILD)/yolact-detect
	+CK_FORK=no CK_EXCLUDE_TAGS="$(VALGRIND_EXCLUDE_TAGS)" OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE \
	    OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Prescott \
	    $(call run_shards,$(BUILD)/shards-valgrind,valgrind) \
	    valgrind $(VALGRIND_FLAGS) $(BUILD)/yolact-tests
