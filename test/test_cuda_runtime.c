/* Tests of the usable-GPU check (lib/cuda/runtime.c) against a scripted runtime, and of the
 * session's backend choice. */
#include <stdio.h>
#include <string.h>

#include "cuda/runtime.h"
#include "yl_test.h"


#define ck_assert_detail(prefix)                                                         \
    ck_assert_msg(strncmp(yolact_last_error(), prefix, strlen(prefix)) == 0,             \
                  "detail \"%s\" does not start with \"%s\"", yolact_last_error(), prefix)

/* ---- the device check against a scripted runtime ------------------------------------------ */
static struct {
    int count_error, count, cc_major, cc_minor;
    int no_driver; /* cudaDriverGetVersion gives 0, as with no driver installed */
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

static int fake_driver_version(int *v)
{
    *v = script.no_driver ? 0 : 13000;
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
    "libfake.so", fake_get_device_count, fake_device_get_attribute, fake_version,
    fake_driver_version, fake_error_name, fake_error_string};

START_TEST(test_device_check_logic)
{
    yl_cuda_device_info info;
    script.count_error = 35;
    script.count = 0;
    ck_assert_status(yl_cuda_device_check_with(&fake_rt, 0, &info),
                     YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_detail("no usable GPU: cudaGetDeviceCount (libfake.so) says "
                     "cudaErrorInsufficientDriver (CUDA driver version is insufficient");
    /* The same error with no driver at all: said as such, not as a driver to upgrade. */
    script.no_driver = 1;
    ck_assert_status(yl_cuda_device_check_with(&fake_rt, 0, &info),
                     YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_str_eq(yolact_last_error(), "no usable GPU: no NVIDIA driver found (libfake.so "
                                          "reports driver version 0: it could load no "
                                          "libcuda.so.1)");

    script = (typeof(script)){0, 1, 8, 9, 0};
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

/* ---- sessions ------------------------------------------------------------------------------
 * In this runner the CUDA backend is the emulated one: only an explicit request gets it. */
START_TEST(test_session_backend_choice)
{
    yolact_model *model = yl_test_parity_model();
    yolact_session_options so;
    yolact_session_options_init(&so);
    yolact_session *s = NULL;

    /* AUTO: the CPU, with no error left behind. */
    ck_assert_status(yolact_session_create(model, &so, &s), YOLACT_OK);
    ck_assert_int_eq(yolact_session_backend(s), YOLACT_BACKEND_CPU);
    ck_assert_str_eq(yolact_last_error(), "");
    yolact_session_free(s);

    so.backend = YOLACT_BACKEND_CUDA;
    ck_assert_status(yolact_session_create(model, &so, &s), YOLACT_OK);
    ck_assert_int_eq(yolact_session_backend(s), YOLACT_BACKEND_CUDA);
    yolact_session_free(s);

    /* A device index past the GPUs: refused, never the CPU instead. */
    so.device_index = 1000;
    s = (yolact_session *)&s;
    ck_assert_status(yolact_session_create(model, &so, &s), YOLACT_ERR_BACKEND_UNAVAILABLE);
    ck_assert_ptr_null(s);
    ck_assert_detail("no usable GPU: device index 1000");
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
    tcase_add_test(tc, test_device_check_logic);
    tcase_add_test(tc, test_session_backend_choice);
    suite_add_tcase(s, tc);
    return s;
}
