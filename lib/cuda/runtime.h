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
 * found", "cudaGetDeviceCount says ...", "device index 3 but 1 GPU", ...). info may be NULL. Does not make the device
 * current: the backend does that on its own thread. */
yolact_status yl_cuda_device_check_with(const yl_cuda_runtime *rt, int index,
                                        yl_cuda_device_info *info);

/* What the CUDA backend of this build runs on, as it loads it: for yolact-bench's record of
 * the machine. */
typedef struct yl_cuda_facts {
    int emulated;               /* test/emu's runtime on the host, not a GPU */
    char gpu_name[256];         /* cudaDeviceProp.name */
    int cc_major, cc_minor;
    size_t memory_bytes;        /* the device's global memory */
    int runtime_version;        /* the runtime linked into libyolact: 13000 for 13.0 */
    int driver_version;         /* the newest CUDA the driver supports */
    int dnn_version;            /* cudnnGetVersion() of the cuDNN opened: 91000 for 9.10.0;
                                   0 when none could be */
    char dnn_library[512];      /* the file it was opened from, or why none was */
} yl_cuda_facts;

/* The facts of device `index`, or the backend's status when it cannot use it (no CUDA
 * backend in this build, no usable GPU). Opens cuDNN if no session has yet; a cuDNN that
 * cannot be opened is a fact (dnn_version 0), not an error. */
yolact_status yl_cuda_describe(int index, yl_cuda_facts *facts);

#endif
