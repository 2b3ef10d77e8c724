/* Whether a GPU is usable, from the CUDA runtime's answers (see runtime.h). */
#include "cuda/runtime.h"

#include <stdio.h>

#include "status.h"

/* The runtime's pinned enum values used here (driver_types.h). */
enum { CUDA_SUCCESS = 0, CUDA_ATTR_CC_MAJOR = 75, CUDA_ATTR_CC_MINOR = 76 };

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
    /* With no driver at all the count fails as a too-old driver does
     * (cudaErrorInsufficientDriver); the driver version, 0 then, tells them apart. */
    if (e != CUDA_SUCCESS && rt->driver_get_version(&found.driver_version) == CUDA_SUCCESS &&
        found.driver_version == 0)
        return yl_fail(YOLACT_ERR_BACKEND_UNAVAILABLE, "no usable GPU: no NVIDIA driver found "
                       "(%s reports driver version 0: it could load no libcuda.so.1)", rt->name);
    if (e != CUDA_SUCCESS)
        return yl_fail(YOLACT_ERR_BACKEND_UNAVAILABLE, "no usable GPU: cudaGetDeviceCount "
                       "(%s) says %s", rt->name, error_text(rt, e, why, sizeof why));
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
