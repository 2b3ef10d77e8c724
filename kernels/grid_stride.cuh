/* The training kernels' launch shape for element-wise work: blocks of YL_GRID_THREADS
 * threads, at most YL_GRID_MAX_BLOCKS of them, each thread striding over the elements. */
#ifndef YL_GRID_STRIDE_CUH
#define YL_GRID_STRIDE_CUH

#include <stddef.h>

#define YL_GRID_THREADS 256
#define YL_GRID_MAX_BLOCKS 4096u

/* The blocks for n elements (at least one thread an element up to the cap). */
static inline unsigned yl_grid_blocks(size_t n)
{
    size_t b = (n + YL_GRID_THREADS - 1) / YL_GRID_THREADS;
    return b < YL_GRID_MAX_BLOCKS ? (unsigned)b : YL_GRID_MAX_BLOCKS;
}

/* for each element i < n of this thread's share */
#define YL_GRID_STRIDE(i, n)                                                         \
    for (size_t i = (size_t)blockIdx.x * YL_GRID_THREADS + threadIdx.x; i < (n); \
         i += (size_t)gridDim.x * YL_GRID_THREADS)

#endif
