/* Finding the CUDA runtime and a usable GPU at run time (dlopen), so that nothing in
 * libyolact links against libcudart and a CUDA build still runs on machines without one. */
#include "cuda/runtime.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "status.h"

/* The runtime's pinned enum values used here (driver_types.h). */
enum { CUDA_SUCCESS = 0, CUDA_ATTR_CC_MAJOR = 75, CUDA_ATTR_CC_MINOR = 76 };

/* dlsym into a function pointer of the field's type (POSIX guarantees the conversion);
 * the first symbol that is not there is noted in `missing`. */
#define RESOLVE(rt, field, symbol)                                      \
    do {                                                                \
        void *yl_sym_ = dlsym((rt)->library, symbol);                   \
        if (!yl_sym_ && !missing)                                       \
            missing = symbol;                                           \
        else if (yl_sym_)                                               \
            memcpy(&(rt)->field, &yl_sym_, sizeof yl_sym_);             \
    } while (0)

yolact_status yl_cuda_runtime_open(const char *const *sonames, yl_cuda_runtime *rt)
{
    memset(rt, 0, sizeof *rt);
    char tried[512] = "";
    size_t used = 0;
    for (int i = 0; sonames && sonames[i] && !rt->library; i++) {
        rt->library = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        if (rt->library) {
            snprintf(rt->soname, sizeof rt->soname, "%s", sonames[i]);
            break;
        }
        const char *why = dlerror();
        int n = snprintf(tried + used, sizeof tried - used, "%s%s", used ? "; " : "",
                         why ? why : sonames[i]);
        if (n > 0)
            used = used + (size_t)n < sizeof tried ? used + (size_t)n : sizeof tried - 1;
    }
    if (!rt->library)
        return yl_fail(YOLACT_ERR_BACKEND_UNAVAILABLE, "no CUDA runtime found: %s",
                       *tried ? tried : "no library name to try");
    const char *missing = NULL;
    RESOLVE(rt, get_device_count, "cudaGetDeviceCount");
    RESOLVE(rt, device_get_attribute, "cudaDeviceGetAttribute");
    RESOLVE(rt, runtime_get_version, "cudaRuntimeGetVersion");
    RESOLVE(rt, driver_get_version, "cudaDriverGetVersion");
    RESOLVE(rt, get_error_name, "cudaGetErrorName");
    RESOLVE(rt, get_error_string, "cudaGetErrorString");
    if (missing) {
        char soname[sizeof rt->soname];
        memcpy(soname, rt->soname, sizeof soname);
        dlclose(rt->library);
        memset(rt, 0, sizeof *rt);
        return yl_fail(YOLACT_ERR_BACKEND_UNAVAILABLE, "no CUDA runtime found: %s has no %s",
                       soname, missing);
    }
    return YOLACT_OK;
}

/* The process-wide runtime: opened once; its status and message are kept so that every
 * caller, on any thread, gets the same answer in its own detail message. */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static yl_cuda_runtime global_rt;
static yolact_status global_status;
static char global_message[512];

static void global_open(void)
{
    static const char *const sonames[] = {"libcudart.so.13", "libcudart.so", NULL};
    global_status = yl_cuda_runtime_open(sonames, &global_rt);
    if (global_status != YOLACT_OK)
        snprintf(global_message, sizeof global_message, "%s", yolact_last_error());
}

yolact_status yl_cuda_runtime_get(const yl_cuda_runtime **rt)
{
    *rt = NULL;
    if (pthread_once(&global_once, global_open) != 0)
        return yl_fail(YOLACT_ERR_INTERNAL, "pthread_once failed opening the CUDA runtime");
    if (global_status != YOLACT_OK)
        return yl_fail(global_status, "%s", global_message);
    *rt = &global_rt;
    return YOLACT_OK;
}

/* "cudaErrorNoDevice (no CUDA-capable device is detected)" */
static const char *error_text(const yl_cuda_runtime *rt, int e, char *buf, size_t size)
{
    const char *name = rt->get_error_name(e), *text = rt->get_error_string(e);
    snprintf(buf, size, "%s (%s)", name ? name : "unknown error", text ? text : "");
    return buf;
}

yolact_status yl_cuda_device_check_with(const yl_cuda_runtime *rt, int index,
                                        yl_cuda_device_info *info)
{
    yl_cuda_device_info found = {.index = index};
    char why[256];
    int e = rt->get_device_count(&found.device_count);
    if (e != CUDA_SUCCESS)
        return yl_fail(YOLACT_ERR_BACKEND_UNAVAILABLE, "no usable GPU: cudaGetDeviceCount "
                       "(%s) says %s", rt->soname, error_text(rt, e, why, sizeof why));
    if (index < 0 || index >= found.device_count)
        return yl_fail(YOLACT_ERR_BACKEND_UNAVAILABLE, "no usable GPU: device index %d but %d "
                       "GPU%s", index, found.device_count, found.device_count == 1 ? "" : "s");
    if ((e = rt->device_get_attribute(&found.cc_major, CUDA_ATTR_CC_MAJOR, index)) !=
            CUDA_SUCCESS ||
        (e = rt->device_get_attribute(&found.cc_minor, CUDA_ATTR_CC_MINOR, index)) !=
            CUDA_SUCCESS)
        return yl_fail(YOLACT_ERR_BACKEND_UNAVAILABLE, "no usable GPU: the compute capability "
                       "of device %d is unknown: %s", index, error_text(rt, e, why, sizeof why));
    if (found.cc_major < YL_CUDA_MIN_CC_MAJOR ||
        (found.cc_major == YL_CUDA_MIN_CC_MAJOR && found.cc_minor < YL_CUDA_MIN_CC_MINOR))
        return yl_fail(YOLACT_ERR_BACKEND_UNAVAILABLE, "no usable GPU: device %d has compute "
                       "capability %d.%d, the kernels need %d.%d or newer", index,
                       found.cc_major, found.cc_minor, YL_CUDA_MIN_CC_MAJOR,
                       YL_CUDA_MIN_CC_MINOR);
    /* Versions are informative: a failure here does not make the device unusable. */
    if (rt->runtime_get_version(&found.runtime_version) != CUDA_SUCCESS)
        found.runtime_version = 0;
    if (rt->driver_get_version(&found.driver_version) != CUDA_SUCCESS)
        found.driver_version = 0;
    if (info)
        *info = found;
    return YOLACT_OK;
}

yolact_status yl_cuda_device_check(int index, yl_cuda_device_info *info)
{
    const yl_cuda_runtime *rt;
    YL_TRY(yl_cuda_runtime_get(&rt));
    return yl_cuda_device_check_with(rt, index, info);
}
