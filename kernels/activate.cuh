/* The fused activations on the device, as yl_activate (lib/cpu/conv.h) computes them:
 * ReLU keeps NaN (as torch.relu), the leaky ReLU's slope is 0.1. */
#ifndef YL_ACTIVATE_CUH
#define YL_ACTIVATE_CUH

#include "yl_device.h"
#include "yl_kernels.h"

static __device__ __forceinline__ float yl_activate_device(float v, yl_activation act)
{
    if (act == YL_ACT_RELU)
        return v < 0.0f ? 0.0f : v;
    if (act == YL_ACT_LEAKY_RELU_0_1)
        return v > 0.0f ? v : v * 0.1f;
    return v;
}

#endif
