/* The one header of device primitives every kernel uses: the launch macro (its status checked
 * by YL_CHECK(cuda, ...)) and the intrinsics kernels may call (warp collectives, atomics,
 * half conversion, fast math, cp.async). With nvcc they are CUDA's; compiled by the host C++
 * compiler with YL_CUDA_EMULATION they are test/emu's, so every kernel also runs in CI
 * without a GPU.
 * A primitive not listed here is not available to kernels: add it here, with both sides. */
#ifndef YL_DEVICE_H
#define YL_DEVICE_H

#include <stdint.h>

#include "status.h"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#elif defined(YL_CUDA_EMULATION)
#include "yl_emu_device.h"
#else
#error "kernels build with nvcc, or with the host compiler and -DYL_CUDA_EMULATION"
#endif

#include "yl_cuda_api.h"

/* ---- launch and status ------------------------------------------------------------------
 * YL_LAUNCH(kernel, grid, block, smem, stream, args...) launches and evaluates to the launch's
 * cudaError_t, so a launcher writes YL_CHECK(cuda, YL_LAUNCH(...)). Never use <<< >>>. */
#if defined(__CUDACC__)
#define YL_LAUNCH(kernel, grid, block, smem, stream, ...) \
    ((kernel)<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__), cudaGetLastError())
#else
#define YL_LAUNCH(kernel, grid, block, smem, stream, ...) \
    yl_emu_launch_kernel(#kernel, dim3(grid), dim3(block), (smem), (stream), kernel, __VA_ARGS__)
#endif

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

/* Unroll the loop that follows (register arrays indexed by its counter stay in registers). */
#if defined(__CUDACC__)
#define YL_UNROLL _Pragma("unroll")
#else
#define YL_UNROLL _Pragma("GCC unroll 16")
#endif

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
 * yl_half_bits: a half's 16 bits (unsigned short). yl_fdividef: __fdividef (2 ulp, 0 for
 * |b| > 2^126). yl_popc: population count. yl_fmaf: a * b + c rounded once (the fused
 * multiply-add, explicit: the build forbids contraction elsewhere, --fmad=false), the same
 * bits on the GPU and in the emulation (C's fmaf). */
#if defined(__CUDACC__)
typedef __half yl_half;
#define yl_float2half(f) __float2half_rn(f)
#define yl_half2float(h) __half2float(h)
#define yl_half_bits(h) __half_as_ushort(h)
#define yl_expf_fast(x) __expf(x)
#define yl_fdividef(a, b) __fdividef((a), (b))
#define yl_popc(x) __popc(x)
#define yl_fmaf(a, b, c) __fmaf_rn((a), (b), (c))
#else
typedef yl_emu_half yl_half;
#define yl_float2half(f) yl_emu_float2half_rn(f)
#define yl_half2float(h) yl_emu_half2float(h)
#define yl_half_bits(h) ((h).bits)
#define yl_expf_fast(x) expf(x)
#define yl_fdividef(a, b) ((a) / (b))
#define yl_popc(x) __builtin_popcount(x)
#define yl_fmaf(a, b, c) fmaf((a), (b), (c))
#endif

/* yl_float_as_uint: a float's 32 bits (__float_as_uint). */
#if defined(__CUDACC__)
#define yl_float_as_uint(x) __float_as_uint(x)
#else
static inline unsigned yl_float_as_uint(float x)
{
    unsigned u;
    __builtin_memcpy(&u, &x, sizeof u);
    return u;
}
#endif

/* ---- asynchronous copies global -> shared (sm_80+; plain copies before) -------------------
 * yl_cp_async_16 copies 16 bytes; yl_cp_async_16_zfill copies them when `valid`, else
 * writes 16 zero bytes without reading gmem (gmem must still be a mapped address, e.g. the
 * tensor's start). Both addresses 16-byte aligned. yl_cp_async_commit closes the thread's
 * group of copies issued since the last; yl_cp_async_wait_group(n) (n a constant) waits
 * until at most the newest n committed groups are still in flight; yl_cp_async_wait_all
 * commits and waits for everything. A copy is visible to the issuing thread after a wait
 * that covers it, to the block after a __syncthreads() that follows the wait. Every copy a
 * thread issues must be waited for before it exits (the emulation enforces it). */
#if defined(__CUDACC__) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
static __device__ __forceinline__ void yl_cp_async_16(void *smem, const void *gmem)
{
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}
static __device__ __forceinline__ void yl_cp_async_16_zfill(void *smem, const void *gmem,
                                                            bool valid)
{
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem),
                 "r"(valid ? 16 : 0));
}
static __device__ __forceinline__ void yl_cp_async_commit(void)
{
    asm volatile("cp.async.commit_group;\n" ::);
}
#define yl_cp_async_wait_group(n) asm volatile("cp.async.wait_group %0;\n" ::"n"(n))
#elif defined(__CUDACC__)
static __device__ __forceinline__ void yl_cp_async_16(void *smem, const void *gmem)
{
    *static_cast<uint4 *>(smem) = *static_cast<const uint4 *>(gmem);
}
static __device__ __forceinline__ void yl_cp_async_16_zfill(void *smem, const void *gmem,
                                                            bool valid)
{
    *static_cast<uint4 *>(smem) = valid ? *static_cast<const uint4 *>(gmem)
                                        : make_uint4(0, 0, 0, 0);
}
static __device__ __forceinline__ void yl_cp_async_commit(void) {}
#define yl_cp_async_wait_group(n) ((void)(n))
#else
#define yl_cp_async_16(smem, gmem) yl_emu_cp_async((smem), (gmem), 16, __FILE__, __LINE__)
#define yl_cp_async_16_zfill(smem, gmem, valid) \
    yl_emu_cp_async((smem), (gmem), (valid) ? 16 : 0, __FILE__, __LINE__)
#define yl_cp_async_commit() yl_emu_cp_async_commit()
#define yl_cp_async_wait_group(n) yl_emu_cp_async_wait(n)
#endif
static __device__ __forceinline__ void yl_cp_async_wait_all(void)
{
    yl_cp_async_commit();
    yl_cp_async_wait_group(0);
}

/* ---- tensor cores ---------------------------------------------------------------------------
 * yl_mma_m16n8k16_f16f32: D = A * B + C for one warp, A 16x16 and B 16x8 half, C and D 16x8
 * float: mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 on sm_80+, two m16n8k8 on sm_75
 * (the same fragments split in k halves). A warp collective: all 32 lanes of the warp must
 * execute it together. Each lane holds, with g = lane / 4 and t = lane % 4, and each 32-bit
 * register two halves, the lower-indexed one in the low 16 bits:
 *   a[0] = A[g][2t, 2t+1]     a[1] = A[g+8][2t, 2t+1]
 *   a[2] = A[g][2t+8, 2t+9]   a[3] = A[g+8][2t+8, 2t+9]
 *   b[0] = B[2t, 2t+1][g]     b[1] = B[2t+8, 2t+9][g]   (k pairs of column g)
 *   c, d: [0] = (g, 2t)  [1] = (g, 2t+1)  [2] = (g+8, 2t)  [3] = (g+8, 2t+1)
 * The emulation computes each D element from every lane's fragments exactly per this layout
 * (products of halves are exact in float; the 16 are summed in double and added to C, one
 * rounding): tensor cores sum in another order with their own rounding, so a test needs a
 * tolerance of a few float ulps of sum |terms| besides the half rounding of the inputs. d may
 * alias c. */
#if defined(__CUDACC__)
static __device__ __forceinline__ void yl_mma_m16n8k16_f16f32(float d[4], const uint32_t a[4],
                                                               const uint32_t b[2],
                                                               const float c[4])
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    float r0, r1, r2, r3;
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
                 : "=f"(r0), "=f"(r1), "=f"(r2), "=f"(r3)
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]),
                   "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
    d[0] = r0;
    d[1] = r1;
    d[2] = r2;
    d[3] = r3;
#elif defined(__CUDA_ARCH__)
    float t[4];
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5}, {%6}, {%7, %8, %9, %10};\n"
                 : "=f"(t[0]), "=f"(t[1]), "=f"(t[2]), "=f"(t[3])
                 : "r"(a[0]), "r"(a[1]), "r"(b[0]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5}, {%6}, {%7, %8, %9, %10};\n"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[2]), "r"(a[3]), "r"(b[1]), "f"(t[0]), "f"(t[1]), "f"(t[2]), "f"(t[3]));
#else
    (void)d, (void)a, (void)b, (void)c;     /* the host pass of nvcc: never called */
#endif
}
#else
#define yl_mma_m16n8k16_f16f32(d, a, b, c) \
    yl_emu_mma_m16n8k16_f16f32((d), (a), (b), (c), __FILE__, __LINE__)
#endif

/* yl_mma_grid_m16n8k16_f16f32: the warp's mi x ni MMAs over mi A and ni B fragments,
 * accumulating in place: d[i * ni + j] = A_i * B_j + d[i * ni + j] (mi, ni in 1..8, the same
 * in every lane). On the GPU the loop of single MMAs; in the emulation one collective for
 * all of them (a collective costs two fiber switches a lane), with the same results. */
#if defined(__CUDACC__)
static __device__ __forceinline__ void yl_mma_grid_m16n8k16_f16f32(float (*d)[4],
                                                                    const uint32_t (*a)[4],
                                                                    int mi,
                                                                    const uint32_t (*b)[2],
                                                                    int ni)
{
    YL_UNROLL
    for (int i = 0; i < mi; i++) {
        YL_UNROLL
        for (int j = 0; j < ni; j++)
            yl_mma_m16n8k16_f16f32(d[i * ni + j], a[i], b[j], d[i * ni + j]);
    }
}
#else
#define yl_mma_grid_m16n8k16_f16f32(d, a, mi, b, ni) \
    yl_emu_mma_grid_m16n8k16_f16f32((d), (a), (mi), (b), (ni), __FILE__, __LINE__)
#endif

/* yl_ldmatrix_x4: ldmatrix.sync.aligned.m8n8.x4.shared.b16, a warp collective (all 32
 * lanes): four 8x8 matrices of halves from shared memory, each matrix row 16 contiguous,
 * 16-byte aligned bytes. Lane l gives the address of row l % 8 of matrix l / 8 and
 * receives r[i] = halves 2 (l % 4), 2 (l % 4) + 1 of row l / 4 of matrix i: the MMA's A
 * and B fragment layout above, so no shuffles are needed. yl_ldmatrix_x4_grid: count
 * (1..8) of them, rows[c] this lane's address for load c, into r[c]; on the GPU the loop,
 * in the emulation one collective. */
#if defined(__CUDACC__)
static __device__ __forceinline__ void yl_ldmatrix_x4(uint32_t r[4], const void *row)
{
#if defined(__CUDA_ARCH__)
    unsigned s = (unsigned)__cvta_generic_to_shared(row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
#else
    (void)r, (void)row;     /* the host pass of nvcc: never called */
#endif
}
static __device__ __forceinline__ void yl_ldmatrix_x4_grid(uint32_t (*r)[4],
                                                           const void *const *rows, int count)
{
    YL_UNROLL
    for (int c = 0; c < count; c++)
        yl_ldmatrix_x4(r[c], rows[c]);
}
#else
#define yl_ldmatrix_x4_grid(r, rows, count) \
    yl_emu_ldmatrix_x4_grid((r), (rows), (count), __FILE__, __LINE__)
#endif

/* Two floats as the halves of one 32-bit MMA register (lo in the low 16 bits). */
static __device__ __forceinline__ uint32_t yl_pack_half2(float lo, float hi)
{
    return (uint32_t)yl_half_bits(yl_float2half(lo)) |
           (uint32_t)yl_half_bits(yl_float2half(hi)) << 16;
}

#endif
