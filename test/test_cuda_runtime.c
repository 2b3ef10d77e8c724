/* Tests of finding the CUDA runtime and a usable GPU at run time (lib/cuda/runtime.c) and of
 * the session's backend choice: the loader with the library absent, wrong and present, the
 * device check against a scripted runtime, and AUTO / CUDA sessions on this machine. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cuda/runtime.h"
#include "yl_test.h"

#define WEIGHTS YL_TEST_DATA "/parity/yolact_tiny_seed1_fp16_zip.pth"
#define TOOLKIT_CUDART "/usr/local/cuda/lib64/libcudart.so"

#define ck_assert_detail(prefix)                                                         \
    ck_assert_msg(strncmp(yolact_last_error(), prefix, strlen(prefix)) == 0,             \
                  "detail \"%s\" does not start with \"%s\"", yolact_last_error(), prefix)

START_TEST(test_open_absent)
{
    static const char *const names[] = {"libcudart.so.does-not-exist",
                                        "/nonexistent/libcudart.so", NULL};
    yl_cuda_runtime rt;
    ck_assert_status(yl_cuda_runtime_open(names, &rt), YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_detail("no CUDA runtime found: ");
    /* Both attempts are named, so a user sees where it looked. */
    ck_assert_ptr_nonnull(strstr(yolact_last_error(), "libcudart.so.does-not-exist"));
    ck_assert_ptr_nonnull(strstr(yolact_last_error(), "/nonexistent/libcudart.so"));
    ck_assert_ptr_null(rt.library);
    static const char *const none[] = {NULL};
    ck_assert_status(yl_cuda_runtime_open(none, &rt), YOLACT_ERR_BACKEND_UNAVAILABLE);
}
END_TEST

START_TEST(test_open_not_a_runtime)
{
    static const char *const names[] = {"libm.so.6", NULL};
    yl_cuda_runtime rt;
    ck_assert_status(yl_cuda_runtime_open(names, &rt), YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_detail("no CUDA runtime found: libm.so.6 has no cudaGetDeviceCount");
    ck_assert_ptr_null(rt.library);
}
END_TEST

/* The real runtime of the toolkit, when this machine has one: opening works, and the device
 * check answers a status whatever the machine (no driver: cudaGetDeviceCount's error). */
START_TEST(test_open_real_runtime)
{
    if (access(TOOLKIT_CUDART, R_OK) != 0) {
        /* No toolkit: the process-wide loader must say so rather than fail otherwise. */
        const yl_cuda_runtime *g;
        yolact_status st = yl_cuda_runtime_get(&g);
        ck_assert_msg(st == YOLACT_OK || st == YOLACT_ERR_BACKEND_UNAVAILABLE, "status %d", st);
        return;
    }
    static const char *const names[] = {"libcudart.so.does-not-exist", TOOLKIT_CUDART, NULL};
    yl_cuda_runtime rt;
    ck_assert_status(yl_cuda_runtime_open(names, &rt), YOLACT_OK);
    ck_assert_str_eq(rt.soname, TOOLKIT_CUDART);
    yl_cuda_device_info info;
    yolact_status st = yl_cuda_device_check_with(&rt, 0, &info);
    if (st == YOLACT_OK) {
        ck_assert_int_ge(info.device_count, 1);
        ck_assert_int_ge(info.cc_major * 10 + info.cc_minor,
                         YL_CUDA_MIN_CC_MAJOR * 10 + YL_CUDA_MIN_CC_MINOR);
        ck_assert_int_gt(info.runtime_version, 0);
        ck_assert_status(yl_cuda_device_check_with(&rt, info.device_count, NULL),
                         YOLACT_ERR_BACKEND_UNAVAILABLE);
        ck_assert_detail("no usable GPU: device index ");
    } else {
        ck_assert_status(st, YOLACT_ERR_BACKEND_UNAVAILABLE);
        ck_assert_detail("no usable GPU: cudaGetDeviceCount (" TOOLKIT_CUDART ") says cuda");
    }
}
END_TEST

/* ---- the device check against a scripted runtime ------------------------------------------ */
static struct {
    int count_error, count, cc_major, cc_minor;
} script;

static int fake_get_device_count(int *count)
{
    *count = script.count;
    return script.count_error;
}

static int fake_device_get_attribute(int *value, int attr, int device)
{
    (void)device;
    *value = attr == 75 ? script.cc_major : attr == 76 ? script.cc_minor : -1;
    return 0;
}

static int fake_version(int *v)
{
    *v = 13000;
    return 0;
}

static const char *fake_error_name(int e)
{
    return e == 35 ? "cudaErrorInsufficientDriver" : "cudaErrorUnknown";
}

static const char *fake_error_string(int e)
{
    return e == 35 ? "CUDA driver version is insufficient for CUDA runtime version" : "?";
}

static const yl_cuda_runtime fake_rt = {
    NULL, "libfake.so", fake_get_device_count, fake_device_get_attribute, fake_version,
    fake_version, fake_error_name, fake_error_string};

START_TEST(test_device_check_logic)
{
    yl_cuda_device_info info;
    script.count_error = 35;
    script.count = 0;
    ck_assert_status(yl_cuda_device_check_with(&fake_rt, 0, &info),
                     YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_detail("no usable GPU: cudaGetDeviceCount (libfake.so) says "
                     "cudaErrorInsufficientDriver (CUDA driver version is insufficient");

    script = (typeof(script)){0, 1, 8, 9};
    ck_assert_status(yl_cuda_device_check_with(&fake_rt, 3, &info),
                     YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_str_eq(yolact_last_error(), "no usable GPU: device index 3 but 1 GPU");
    script.count = 2;
    ck_assert_status(yl_cuda_device_check_with(&fake_rt, 2, NULL),
                     YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_str_eq(yolact_last_error(), "no usable GPU: device index 2 but 2 GPUs");

    ck_assert_status(yl_cuda_device_check_with(&fake_rt, 1, &info), YOLACT_OK);
    ck_assert_int_eq(info.index, 1);
    ck_assert_int_eq(info.device_count, 2);
    ck_assert_int_eq(info.cc_major, 8);
    ck_assert_int_eq(info.cc_minor, 9);
    ck_assert_int_eq(info.driver_version, 13000);

    /* sm_75 is the oldest the kernels are built for; sm_70 and sm_61 are refused. */
    script.cc_major = 7;
    script.cc_minor = 5;
    ck_assert_status(yl_cuda_device_check_with(&fake_rt, 0, NULL), YOLACT_OK);
    script.cc_minor = 0;
    ck_assert_status(yl_cuda_device_check_with(&fake_rt, 0, NULL),
                     YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_str_eq(yolact_last_error(), "no usable GPU: device 0 has compute capability 7.0, "
                                          "the kernels need 7.5 or newer");
    script.cc_major = 6;
    script.cc_minor = 1;
    ck_assert_status(yl_cuda_device_check_with(&fake_rt, 0, NULL),
                     YOLACT_ERR_BACKEND_UNAVAILABLE);
}
END_TEST

/* ---- sessions ------------------------------------------------------------------------------ */
static const char *const cuda_refusals[] = {"no CUDA runtime found: ", "no usable GPU: ",
                                            "GPU 0 is usable, but the CUDA backend is not "
                                            "built yet"};

static void assert_cuda_refusal(void)
{
    const char *d = yolact_last_error();
    for (size_t i = 0; i < sizeof cuda_refusals / sizeof cuda_refusals[0]; i++)
        if (strncmp(d, cuda_refusals[i], strlen(cuda_refusals[i])) == 0)
            return;
    ck_abort_msg("CUDA refused with an unexpected detail: \"%s\"", d);
}

/* The process-wide answer is the same on another thread, in that thread's message. */
static void *check_on_thread(void *arg)
{
    yolact_status *st = arg;
    *st = yl_cuda_device_check(0, NULL);
    return strdup(yolact_last_error());
}

START_TEST(test_session_backend_choice)
{
    yolact_model_options mo;
    yolact_model_options_init(&mo);
    mo.preset = "yolact_resnet50";
    yolact_model *model;
    ck_assert_status(yolact_model_load(WEIGHTS, &mo, &model), YOLACT_OK);
    yolact_session_options so;
    yolact_session_options_init(&so);
    yolact_session *s = NULL;

    /* AUTO: the CPU here (no CUDA backend yet), with no error left behind. */
    ck_assert_status(yolact_session_create(model, &so, &s), YOLACT_OK);
    ck_assert_int_eq(yolact_session_backend(s), YOLACT_BACKEND_CPU);
    ck_assert_str_eq(yolact_last_error(), "");
    yolact_session_free(s);

    so.backend = YOLACT_BACKEND_CUDA;
    s = (yolact_session *)&s;
    ck_assert_status(yolact_session_create(model, &so, &s), YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_ptr_null(s);
    assert_cuda_refusal();
    char first[1024];
    snprintf(first, sizeof first, "%s", yolact_last_error());

    yolact_status thread_status = YOLACT_OK;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, check_on_thread, &thread_status), 0);
    char *thread_detail;
    ck_assert_int_eq(pthread_join(th, (void **)&thread_detail), 0);
    ck_assert_ptr_nonnull(thread_detail);
    yolact_status here = yl_cuda_device_check(0, NULL);
    ck_assert_int_eq(thread_status, here);
    if (here != YOLACT_OK)
        ck_assert_str_eq(thread_detail, first);
    free(thread_detail);

    /* A device index past the GPUs (or with none): refused, never the CPU instead. */
    so.device_index = 1000;
    ck_assert_status(yolact_session_create(model, &so, &s), YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_msg(strstr(yolact_last_error(), "not built yet") == NULL,
                  "device 1000 accepted: \"%s\"", yolact_last_error());
    /* AUTO with that index still runs, on the CPU. */
    so.backend = YOLACT_BACKEND_AUTO;
    ck_assert_status(yolact_session_create(model, &so, &s), YOLACT_OK);
    ck_assert_int_eq(yolact_session_backend(s), YOLACT_BACKEND_CPU);
    yolact_session_free(s);
    yolact_model_free(model);
}
END_TEST

Suite *cuda_runtime_suite(void)
{
    Suite *s = suite_create("cuda_runtime");
    TCase *tc = tcase_create("cuda_runtime");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_open_absent);
    tcase_add_test(tc, test_open_not_a_runtime);
    tcase_add_test(tc, test_open_real_runtime);
    tcase_add_test(tc, test_device_check_logic);
    tcase_add_test(tc, test_session_backend_choice);
    suite_add_tcase(s, tc);
    return s;
}
