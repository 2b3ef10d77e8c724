/* "Is there a usable GPU with this index", as a status that says why not. The CUDA backend
 * links the CUDA runtime statically (it finds the driver itself at first use), so a
 * libyolact built with CUDA loads and runs on the CPU where there is no GPU or driver; this
 * check turns the runtime's answers into a status and a message. It reads the runtime
 * through a table so that tests can script it. */
#ifndef YL_CUDA_RUNTIME_H
#define YL_CUDA_RUNTIME_H

#include "yolact.h"

/* Oldest GPU the kernels are built for (sm_75, see mk/cuda.mk). */
#define YL_CUDA_MIN_CC_MAJOR 7
#define YL_CUDA_MIN_CC_MINOR 5

/* The runtime entry points the check calls, errors and attributes as ints (the values of
 * cudaError_t and cudaDeviceAttr). */
typedef struct yl_cuda_runtime {
    const char *name;           /* for messages: which runtime answered */
    int (*get_device_count)(int *count);
    int (*device_get_attribute)(int *value, int attr, int device);
    int (*runtime_get_version)(int *version);
    int (*driver_get_version)(int *version);
    const char *(*get_error_name)(int error);
    const char *(*get_error_string)(int error);
} yl_cuda_runtime;

/* What yl_cuda_device_check_with found about the device it accepted. */
typedef struct yl_cuda_device_info {
    int index;
    int device_count;
    int cc_major, cc_minor;     /* compute capability */
    int runtime_version;        /* 13000 for CUDA 13.0 */
    int driver_version;         /* the newest CUDA the driver supports */
} yl_cuda_device_info;

/* YOLACT_OK when device `index` exists and is one the kernels run on (compute capability
 * >= 7.5), else YOLACT_ERR_BACKEND_UNAVAILABLE saying why ("no usable GPU: no NVIDIA driver
 * found", "cudaGetDeviceCount says ...", "device index 3 but 1 GPU", ...). info may be
 * NULL. Does not make the device current: the backend does that on its own thread. */
yolact_status yl_cuda_device_check_with(const yl_cuda_runtime *rt, int index,
                                        yl_cuda_device_info *info);

#endif
