/* `make test-gpu-math` (EMU_MATH=gpu): the emulated kernels' expf and tanhf moved from the C
 * library's by -2..+2 ulps, chosen by a hash of the argument, as far as CUDA's may be (its
 * documented bounds: 2 ulps each), so the kernel and parity suites check, without a GPU,
 * that the tolerances they use on a GPU (YL_LIBC_TRANSCENDENTALS in yl_cuda_test.h) hold.
 * Forced into every emulated kernel's translation unit (-include), after <cmath>, so the
 * macros below rename only the kernels' calls. */
#ifndef YL_EMU_GPU_MATH_H
#define YL_EMU_GPU_MATH_H

#include <cmath>
#include <cstdint>
#include <cstring>

static inline float yl_gpu_math_moved(float exact, float arg)
{
    uint32_t bits;
    memcpy(&bits, &arg, sizeof bits);
    int ulps = (int)((bits * 2654435761u) >> 29) % 5 - 2;
    for (; ulps > 0; ulps--)
        exact = nextafterf(exact, INFINITY);
    for (; ulps < 0; ulps++)
        exact = nextafterf(exact, -INFINITY);
    return exact;
}

static inline float yl_gpu_math_expf(float x) { return yl_gpu_math_moved(::expf(x), x); }
static inline float yl_gpu_math_tanhf(float x) { return yl_gpu_math_moved(::tanhf(x), x); }

#define expf yl_gpu_math_expf
#define tanhf yl_gpu_math_tanhf

#endif
