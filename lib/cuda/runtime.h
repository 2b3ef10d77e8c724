/* The CUDA runtime, found at run time: libcudart is opened with dlopen at first use, so a
 * libyolact built with CUDA loads and runs (on the CPU) where there is no GPU, driver or
 * runtime library, and the answer to "is there a usable GPU with this index" is a status. */
#ifndef YL_CUDA_RUNTIME_H
#define YL_CUDA_RUNTIME_H

#include "yolact.h"

/* Oldest GPU the kernels are built for (sm_75, see mk/cuda.mk). */
#define YL_CUDA_MIN_CC_MAJOR 7
#define YL_CUDA_MIN_CC_MINOR 5

/* The entry points libyolact resolves, with the runtime's ABI (cudaError_t is an int-sized
 * enum, cudaDeviceAttr an enum); the library handle is kept open for the process. */
typedef struct yl_cuda_runtime {
    void *library;
    char soname[64];            /* the name that opened */
    int (*get_device_count)(int *count);
    int (*device_get_attribute)(int *value, int attr, int device);
    int (*runtime_get_version)(int *version);
    int (*driver_get_version)(int *version);
    const char *(*get_error_name)(int error);
    const char *(*get_error_string)(int error);
} yl_cuda_runtime;

/* What yl_cuda_device_check found about the device it accepted. */
typedef struct yl_cuda_device_info {
    int index;
    int device_count;
    int cc_major, cc_minor;     /* compute capability */
    int runtime_version;        /* 13000 for CUDA 13.0 */
    int driver_version;         /* the newest CUDA the driver supports */
} yl_cuda_device_info;

/* Open the first of sonames (NULL-terminated) that dlopen finds and resolve the entry
 * points. YOLACT_ERR_BACKEND_UNAVAILABLE "no CUDA runtime found: ..." when none opens or
 * one lacks an entry point. The handle is opened RTLD_NODELETE: the runtime stays mapped
 * for the process (it may have registered exit handlers), so there is no close. */
yolact_status yl_cuda_runtime_open(const char *const *sonames, yl_cuda_runtime *rt);

/* The process-wide runtime (libcudart.so.13, then libcudart.so), opened once, thread-safely,
 * at the first call; the same status and message on every later call. */
yolact_status yl_cuda_runtime_get(const yl_cuda_runtime **rt);

/* YOLACT_OK when device `index` exists and is one the kernels run on (compute capability
 * >= 7.5), else YOLACT_ERR_BACKEND_UNAVAILABLE saying why ("no usable GPU: cudaGetDeviceCount
 * says ...", "device index 3 but 1 GPU", ...). info may be NULL. Does not make the device
 * current: the backend does that on its own thread. */
yolact_status yl_cuda_device_check_with(const yl_cuda_runtime *rt, int index,
                                        yl_cuda_device_info *info);

/* yl_cuda_device_check_with on the process-wide runtime. */
yolact_status yl_cuda_device_check(int index, yl_cuda_device_info *info);

#endif
