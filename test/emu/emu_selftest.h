/* Kernels that test the CUDA emulation itself: warp collectives against their definitions,
 * and misuse that it must report (test_emu.c asserts the errors and their messages). */
#ifndef YL_EMU_SELFTEST_H
#define YL_EMU_SELFTEST_H

#include "yl_emu_runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* For each of n threads (blocks of `block` threads, n a multiple of it), with v[i] = in[i]:
 * out[5 * i + 0] = warp sum by __shfl_down_sync (lane 0 only, else 0), + 1 = by
 * __shfl_xor_sync (all lanes), + 2 = inclusive warp scan by __shfl_up_sync, + 3 = the warp's
 * __ballot_sync(v > 0), + 4 = value of lane (lane + 3) % 32 by __shfl_sync. block must be
 * a multiple of 32. Device pointers. */
cudaError_t yl_emu_selftest_warp(const int *in, int *out, int n, int block);
/* Misuse, each of which must fail the launch; `which`:
 * 0 __syncthreads after some threads returned, 1 a block of 1025 threads, 2 more dynamic
 * shared memory used than launched, 3 a write past the dynamic shared memory, 4 lanes of a
 * warp at different collectives, 5 a lane at __shfl_sync while another is at __syncthreads,
 * 6 a shuffle from a lane of a partial warp that does not exist, 7 two __syncthreads() in
 * the two branches of a divergent if. */
cudaError_t yl_emu_selftest_misuse(int which);
/* A block-wide sum through shared memory with (sync = 1) or without (0) __syncthreads
 * between the steps, n threads in blocks of 256; out[block] = sum of in over the block. */
cudaError_t yl_emu_selftest_block_sum(const float *in, float *out, int n, int sync);
/* The run order (yl_emu_set_order): each of blocks x threads threads takes the next slot of
 * *counter (zero before the call) and writes its global index there. */
cudaError_t yl_emu_selftest_run_order(unsigned *counter, unsigned *order, int blocks,
                                      int threads);
/* One block of 256 threads: thread t writes in[t] to shared memory and reads what thread
 * t - 1 wrote (thread 0 its own), with (sync = 1) or without (0) __syncthreads between:
 * out[t] = in[t - 1]. */
cudaError_t yl_emu_selftest_previous_thread(const int *in, int *out, int sync);
/* One block of 64 threads (two warps): thread t writes in[t] to shared memory and reads what
 * thread t ^ 32 of the other warp wrote, after __syncthreads (sync = 1) or only __syncwarp
 * (0): out[t] = in[t ^ 32]. */
cudaError_t yl_emu_selftest_other_warp(const int *in, int *out, int sync);

/* mma.sync m16n8k16 (yl_mma_m16n8k16_f16f32) in one warp of 32 threads: d (16x8) = a (16x16)
 * * b (16x8, [k][n]) + c (16x8), all row-major float (a, b rounded to half). variant: 0 the
 * right fragment layout, or a planted error: YL_EMU_MMA_SWAPPED_A (registers a[1], a[2]
 * exchanged), YL_EMU_MMA_TRANSPOSED_B (B read as if row-major). lanes < 32: the other lanes
 * exit first, which must fail the launch. Device pointers. */
enum { YL_EMU_MMA_RIGHT = 0, YL_EMU_MMA_SWAPPED_A = 1, YL_EMU_MMA_TRANSPOSED_B = 2 };
cudaError_t yl_emu_selftest_mma(const float *a, const float *b, const float *c, float *d,
                                int variant, int lanes);
/* yl_mma_grid_m16n8k16_f16f32 in one warp: d (16 mi x 8 ni) = a (16 mi x 16) * b (16 x 8 ni)
 * + c, row-major; mi, ni in 1..8. disagree: lane 5 asks for another grid, which must fail
 * the launch. */
cudaError_t yl_emu_selftest_mma_grid(const float *a, const float *b, const float *c, float *d,
                                     int mi, int ni, int disagree);

/* cp.async in one block of 32 threads: thread t copies in[4t..4t+3] (group 0) and
 * in[128+4t..] (group 1) into shared memory, then writes out[4t + 0] = group 1's first value
 * read before any wait, + 1 = group 0's after wait_group(1), + 2 = group 1's then, + 3 = group
 * 1's after wait_group(0). variant: 0 plain copies, 1 group 0 zero-filled in odd threads,
 * 2 the threads exit without waiting, which must fail the launch. Device pointers. */
cudaError_t yl_emu_selftest_cp_async(const float *in, float *out, int variant);

/* ldmatrix.x4 in one warp: shared memory holds 4 matrices of 8 x 8 16-bit values, value
 * 64 m + 8 row + col, the rows of each stored in reverse order (so only the lanes' row
 * addresses find them); out[4 l + i] = lane l's register i. misaligned: lane 9 gives an
 * address 4 bytes off, which must fail the launch. Device pointer. */
cudaError_t yl_emu_selftest_ldmatrix(uint32_t *out, int misaligned);

#ifdef __cplusplus
}
#endif

#endif
