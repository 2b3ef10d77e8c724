/* The Check runner: every suite listed in the generated test_suites.h (one per
 * test/test_NAME.c) runs here, so `make test` ends with Check's summary line. Built a second
 * time with YL_GPU_RUNNER for the GPU suites on the real CUDA runtime (mk/cuda.mk).
 * YL_TEST_SHARD=K/N runs the K-th of N shares of the test cases (shard_tcases.h), so that N
 * runners side by side run each once (test/run_shards.sh).
 * Run it from the repository root (test data paths are relative to it). */
#define _GNU_SOURCE /* fopencookie */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shard_tcases.h"

#ifdef YL_GPU_RUNNER
#include <unistd.h>

#include "backend.h"
#endif

#define SUITE(name) Suite *name##_suite(void);
#include "test_suites.h"
#undef SUITE

#ifdef YL_GPU_RUNNER
/* The GPU runner asks the CUDA runtime for a device before any test, and a child forked after
 * that may not use CUDA (the context does not survive fork: "initialization error"). So it
 * never forks, whatever CK_FORK says, and this case fails if a test ever runs in a child. */
static pid_t runner_pid;

START_TEST(runs_in_the_runner_process)
{
    ck_assert_msg(getpid() == runner_pid, "the GPU runner forked (pid %d, runner %d): a child "
                  "may not use the parent's CUDA context", (int)getpid(), (int)runner_pid);
}
END_TEST

static Suite *gpu_runner_suite(void)
{
    Suite *s = suite_create("gpu_runner");
    TCase *tc = tcase_create("no_fork");
    tcase_add_test(tc, runs_in_the_runner_process);
    suite_add_tcase(s, tc);
    return s;
}
#endif

/* stdout as it was, and the runner's start: each line printed gets the time since then. */
static FILE *plain_stdout;
static struct timespec started;
static int at_line_start = 1;

static ssize_t write_stamped(void *cookie, const char *buf, size_t size)
{
    (void)cookie;
    for (size_t done = 0; done < size;) {
        if (at_line_start) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long s = (long)(now.tv_sec - started.tv_sec);
            fprintf(plain_stdout, "[%2ld:%02ld] ", s / 60, s % 60);
        }
        const char *newline = memchr(buf + done, '\n', size - done);
        size_t n = newline ? (size_t)(newline - buf) + 1 - done : size - done;
        if (fwrite(buf + done, 1, n, plain_stdout) != n)
            return -1;
        at_line_start = newline != NULL;
        done += n;
    }
    return fflush(plain_stdout) == 0 ? (ssize_t)size : -1;
}

/* A line per test as it ends (Check's log on stdout, unless CK_LOG_FILE_NAME names another
 * file), each line of the run stamped with minutes:seconds since the start: a long run shows
 * its progress and where its time goes. Forked tests inherit the stamping stream. */
static void log_progress(SRunner *runner)
{
    clock_gettime(CLOCK_MONOTONIC, &started);
    FILE *stamped = fopencookie(NULL, "w", (cookie_io_functions_t){.write = write_stamped});
    if (stamped) {
        setvbuf(stamped, NULL, _IOLBF, 0);
        plain_stdout = stdout;
        stdout = stamped;
    }
    if (!getenv("CK_LOG_FILE_NAME"))
        srunner_set_log(runner, "-");
}

int main(void)
{
    /* The CPU's convolutions by the fixed rule, unless the caller names a mode: the parity
     * fixtures and the threads suite's bit-for-bit checks were made with it, and a timed
     * choice may differ between runs (test_conv_choice.c tests the other modes). Children
     * (the CLI's, the bench's) inherit it. */
    setenv("YOLACT_CPU_CONV", "fixed", 0);
    /* Auto mode's choice neither read from nor written to the user's cache folder: a test
     * that times must time, and leaves nothing behind (test_conv_choice.c tests the file
     * in folders of its own). */
    setenv("YOLACT_CPU_CONV_CACHE", "off", 0);
    SRunner *runner = srunner_create(NULL);
#ifdef YL_GPU_RUNNER
    runner_pid = getpid();
    srunner_set_fork_status(runner, CK_NOFORK);
    srunner_add_suite(runner, gpu_runner_suite());
    /* Its suites need a GPU; without one only the runner's own check runs. */
    if (yl_cuda_backend.device_check(0) != YOLACT_OK)
        printf("SKIP GPU suites: %s\n", yolact_last_error());
    else
#endif
    {
#define SUITE(name) srunner_add_suite(runner, name##_suite());
#include "test_suites.h"
#undef SUITE
    }
    if (!shard_tcases_add()) {
        srunner_free(runner);
        shard_tcases_free();
        return EXIT_FAILURE;
    }
    log_progress(runner);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner), run = srunner_ntests_run(runner);
    srunner_free(runner);
    shard_tcases_free();
    /* The last line unstamped, in the plain form every test-output reader knows. */
    fflush(stdout);
    fprintf(plain_stdout ? plain_stdout : stdout, "%d passed, %d failed\n", run - failed,
            failed);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
