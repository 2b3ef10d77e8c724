/* The Check runner: every suite listed in the generated test_suites.h (one per
 * test/test_NAME.c) runs here, so `make test` ends with Check's summary line. Built a second
 * time with YL_GPU_RUNNER for the GPU suites on the real CUDA runtime (mk/cuda.mk).
 * Run it from the repository root (test data paths are relative to it). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef YL_GPU_RUNNER
#include "backend.h"
#endif

#define SUITE(name) Suite *name##_suite(void);
#include "test_suites.h"
#undef SUITE

int main(void)
{
#ifdef YL_GPU_RUNNER
    /* The GPU runner (`make gpu-check`): its suites need a GPU. */
    if (yl_cuda_backend.device_check(0) != YOLACT_OK) {
        printf("SKIP GPU suites: %s\n", yolact_last_error());
        return EXIT_SUCCESS;
    }
#endif
    SRunner *runner = srunner_create(NULL);
#define SUITE(name) srunner_add_suite(runner, name##_suite());
#include "test_suites.h"
#undef SUITE
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
