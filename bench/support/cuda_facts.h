/* What the CUDA backend of this build runs on, as it loads it: for yolact-bench's record of
 * the machine (cuda_facts.c with the backend, no_cuda.c without). */
#ifndef YL_BENCH_CUDA_FACTS_H
#define YL_BENCH_CUDA_FACTS_H

#include <stddef.h>

#include "yolact.h"

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
 * backend in this build: no_cuda.c; no usable GPU). Opens cuDNN if no session has yet; a
 * cuDNN that cannot be opened is a fact (dnn_version 0), not an error. */
yolact_status yl_cuda_describe(int index, yl_cuda_facts *facts);

#endif
