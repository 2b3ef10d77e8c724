/* The bench's CUDA facts and convolution timing in a build without the CUDA backend (CUDA=0,
 * or no toolkit and cuDNN): both say so. */
#include <string.h>

#include "conv_timing.h"
#include "cuda_facts.h"
#include "status.h"

static yolact_status no_backend(void)
{
    return yl_fail(YOLACT_ERR_BACKEND_UNAVAILABLE, "this libyolact was built without the CUDA "
                   "backend");
}

yolact_status yl_cuda_describe(int index, yl_cuda_facts *facts)
{
    (void)index;
    memset(facts, 0, sizeof *facts);
    return no_backend();
}

yolact_status yl_cuda_time_convs(const yolact_model *m, int device_index,
                                 yolact_precision precision, int batch, int iters,
                                 yl_conv_timing *out, int *count)
{
    (void)m, (void)device_index, (void)precision, (void)batch, (void)iters, (void)out;
    *count = 0;
    return no_backend();
}
