/* yl_cuda_describe (cuda_facts.h) for a build with the CUDA backend: the GPU's properties
 * through the runtime linked into libyolact, or the emulation's name in the test runner; and
 * the cuDNN the backend opened (yl_dnn_describe). */
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "cuda/dnn.h"
#include "cuda_facts.h"
#include "yl_cuda_api.h"

yolact_status yl_cuda_describe(int index, yl_cuda_facts *f)
{
    memset(f, 0, sizeof *f);
    YL_TRY(yl_cuda_backend.device_check(index));
#ifdef YL_CUDA_EMULATION
    f->emulated = 1;
    snprintf(f->gpu_name, sizeof f->gpu_name, "CUDA emulation (test/emu, host memory)");
#else
    struct cudaDeviceProp prop;
    YL_CHECK(cuda, cudaGetDeviceProperties(&prop, index));
    snprintf(f->gpu_name, sizeof f->gpu_name, "%s", prop.name);
    f->cc_major = prop.major;
    f->cc_minor = prop.minor;
    f->memory_bytes = prop.totalGlobalMem;
    /* Versions are informative: one the runtime cannot tell stays 0. */
    if (cudaRuntimeGetVersion(&f->runtime_version) != cudaSuccess)
        f->runtime_version = 0;
    if (cudaDriverGetVersion(&f->driver_version) != cudaSuccess)
        f->driver_version = 0;
#endif
    yl_dnn_describe(&f->dnn_version, f->dnn_library, sizeof f->dnn_library);
    return YOLACT_OK;
}
