/* PyTorch's convolution output-size rule (conv.h). */
#include "ops/conv.h"

#include <stdint.h>

int yl_conv_out_size(int in, int kernel, int stride, int pad, int dilation)
{
    if (in <= 0 || kernel <= 0 || stride <= 0 || pad < 0 || dilation <= 0)
        return 0;
    int64_t span = (int64_t)in + 2 * (int64_t)pad - (int64_t)dilation * (kernel - 1) - 1;
    return span < 0 ? 0 : (int)(span / stride + 1);
}
