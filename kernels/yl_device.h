/* The one header of device primitives every kernel uses: the launch macro, the CUDA status
 * check, and the intrinsics kernels may call (warp collectives, atomics, half conversion,
 * fast math, cp.async). With nvcc they are CUDA's; compiled by the host C++ compiler with
 * YL_CUDA_EMULATION they are test/emu's, so every kernel also runs in CI without a GPU.
 * A primitive not listed here is not available to kernels: add it here, with both sides. */
#ifndef YL_DEVICE_H
#define YL_DEVICE_H

#include <stdint.h>

#include "status.h"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define YL_ERROR_DETAIL() ""
#elif defined(YL_CUDA_EMULATION)
#include "yl_emu_device.h"
#define YL_ERROR_DETAIL() yl_emu_error_detail()
#else
#error "kernels build with nvcc, or with the host compiler and -DYL_CUDA_EMULATION"
#endif

/* ---- launch and status ------------------------------------------------------------------
 * YL_LAUNCH(kernel, grid, block, smem, stream, args...) launches and evaluates to the launch's
 * cudaError_t, so a launcher writes YL_CUDA_CHECK(YL_LAUNCH(...)). Never use <<< >>>. */
#if defined(__CUDACC__)
#define YL_LAUNCH(kernel, grid, block, smem, stream, ...) \
    ((kernel)<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__), cudaGetLastError())
#else
#define YL_LAUNCH(kernel, grid, block, smem, stream, ...) \
    yl_emu_launch_kernel(#kernel, dim3(grid), dim3(block), (smem), (stream), kernel, __VA_ARGS__)
#endif

/* Evaluate a cudaError_t expression; on failure return YOLACT_ERR_DEVICE from the caller with
 * the statement, the function and file:line in the detail message. */
#define YL_CUDA_CHECK(expr)                                                                  \
    do {                                                                                     \
        cudaError_t yl_cuda_e_ = (expr);                                                     \
        if (yl_cuda_e_ != cudaSuccess)                                                       \
            return yl_fail(YOLACT_ERR_DEVICE, "%s failed: %s (%s) in %s at %s:%d%s%s", #expr, \
                           cudaGetErrorName(yl_cuda_e_), cudaGetErrorString(yl_cuda_e_),     \
                           __func__, __FILE__, __LINE__, *YL_ERROR_DETAIL() ? ": " : "",     \
                           YL_ERROR_DETAIL());                                               \
    } while (0)

/* Dynamic shared memory, `count` elements of `type` (the emulation checks the launch gave
 * that many bytes). Aligned for 16-byte vector and cp.async accesses. */
#if defined(__CUDACC__)
#define YL_DYNAMIC_SMEM(type, name, count)                             \
    extern __shared__ __align__(16) unsigned char yl_dynamic_smem_[]; \
    type *name = reinterpret_cast<type *>(yl_dynamic_smem_)
#else
#define YL_DYNAMIC_SMEM(type, name, count) \
    type *name = static_cast<type *>(yl_emu_dynamic_smem(sizeof(type) * (size_t)(count), \
                                                         __FILE__, __LINE__))
#endif

#define YL_FULL_MASK 0xffffffffu

/* ---- warp collectives (all lanes named in mask must reach the same call) ---------------- */
#if defined(__CUDACC__)
#define yl_shfl_sync(mask, v, lane) __shfl_sync((mask), (v), (lane))
#define yl_shfl_down_sync(mask, v, delta) __shfl_down_sync((mask), (v), (delta))
#define yl_shfl_up_sync(mask, v, delta) __shfl_up_sync((mask), (v), (delta))
#define yl_shfl_xor_sync(mask, v, lane_mask) __shfl_xor_sync((mask), (v), (lane_mask))
#define yl_ballot_sync(mask, pred) __ballot_sync((mask), (pred))
#define yl_any_sync(mask, pred) __any_sync((mask), (pred))
#define yl_all_sync(mask, pred) __all_sync((mask), (pred))
#define yl_syncwarp(mask) __syncwarp(mask)
#else
#define yl_shfl_sync(mask, v, lane) \
    yl_emu_shfl(YL_EMU_SHFL_IDX, (mask), (v), (lane), 32, __FILE__, __LINE__)
#define yl_shfl_down_sync(mask, v, delta) \
    yl_emu_shfl(YL_EMU_SHFL_DOWN, (mask), (v), (delta), 32, __FILE__, __LINE__)
#define yl_shfl_up_sync(mask, v, delta) \
    yl_emu_shfl(YL_EMU_SHFL_UP, (mask), (v), (delta), 32, __FILE__, __LINE__)
#define yl_shfl_xor_sync(mask, v, lane_mask) \
    yl_emu_shfl(YL_EMU_SHFL_XOR, (mask), (v), (lane_mask), 32, __FILE__, __LINE__)
#define yl_ballot_sync(mask, pred) \
    ((unsigned)yl_emu_warp(YL_EMU_BALLOT, (mask), (pred) != 0, 0, 32, __FILE__, __LINE__))
#define yl_any_sync(mask, pred) \
    ((int)yl_emu_warp(YL_EMU_ANY, (mask), (pred) != 0, 0, 32, __FILE__, __LINE__))
#define yl_all_sync(mask, pred) \
    ((int)yl_emu_warp(YL_EMU_ALL, (mask), (pred) != 0, 0, 32, __FILE__, __LINE__))
#define yl_syncwarp(mask) ((void)yl_emu_warp(YL_EMU_SYNCWARP, (mask), 0, 0, 32, __FILE__, __LINE__))
#endif

/* ---- atomics (global or shared memory; return the old value) ---------------------------- */
#if defined(__CUDACC__)
#define yl_atomic_add(p, v) atomicAdd((p), (v))
#define yl_atomic_max(p, v) atomicMax((p), (v))
#define yl_atomic_or(p, v) atomicOr((p), (v))
#define yl_atomic_cas(p, compare, v) atomicCAS((p), (compare), (v))
#else
#define yl_atomic_add(p, v) yl_emu_atomic_add((p), (v))
#define yl_atomic_max(p, v) yl_emu_atomic_max((p), (v))
#define yl_atomic_or(p, v) yl_emu_atomic_or((p), (v))
#define yl_atomic_cas(p, compare, v) yl_emu_atomic_cas((p), (compare), (v))
#endif

/* ---- numbers ------------------------------------------------------------------------------
 * yl_expf_fast: __expf on the GPU (2 + 1.16 * |x| ulp, flushes denormals); expf emulated, so
 * a test of a kernel using it needs a tolerance for the GPU's error, not only the emulation's.
 * yl_fdividef: __fdividef (2 ulp, 0 for |b| > 2^126). yl_brev: bit reversal (lane 0's ballot
 * bit becomes the most significant). yl_popc: population count. */
#if defined(__CUDACC__)
typedef __half yl_half;
#define yl_float2half(f) __float2half_rn(f)
#define yl_half2float(h) __half2float(h)
#define yl_expf_fast(x) __expf(x)
#define yl_fdividef(a, b) __fdividef((a), (b))
#define yl_brev(x) __brev(x)
#define yl_popc(x) __popc(x)
#else
typedef yl_emu_half yl_half;
#define yl_float2half(f) yl_emu_float2half_rn(f)
#define yl_half2float(h) yl_emu_half2float(h)
#define yl_expf_fast(x) expf(x)
#define yl_fdividef(a, b) ((a) / (b))
#define yl_brev(x) yl_emu_brev(x)
#define yl_popc(x) __builtin_popcount(x)
#endif

/* ---- asynchronous copies global -> shared (sm_80+; a plain copy before) --------------------
 * yl_cp_async_16 copies 16 bytes (both addresses 16-byte aligned); the copies become visible
 * to the issuing thread after yl_cp_async_wait_all(), to the block after a __syncthreads()
 * that follows it. Tensor-core MMA (mma.sync m16n8k16 f16 -> f32, and wgmma on sm_90a) will
 * be added here, with its emulation as a warp collective, with the first kernel that uses it. */
#if defined(__CUDACC__) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
static __device__ __forceinline__ void yl_cp_async_16(void *smem, const void *gmem)
{
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}
static __device__ __forceinline__ void yl_cp_async_wait_all(void)
{
    asm volatile("cp.async.commit_group;\ncp.async.wait_all;\n" ::);
}
#else
static __device__ __forceinline__ void yl_cp_async_16(void *smem, const void *gmem)
{
    *static_cast<uint4 *>(smem) = *static_cast<const uint4 *>(gmem);
}
static __device__ __forceinline__ void yl_cp_async_wait_all(void) {}
#endif

#endif
