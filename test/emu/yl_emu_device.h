/* The CUDA C++ language surface, emulated on the host: what kernels/yl_device.h maps onto
 * when a kernel is compiled by the host C++ compiler (`g++ -x c++ -DYL_CUDA_EMULATION`).
 * A launch runs the grid block by block on the calling thread; inside a block the threads
 * run as plain calls until one of them reaches __syncthreads() or a warp collective, and
 * from then on each thread is a fiber (see yl_emu.cc and README.md). Kernels do not include
 * this header directly: they include yl_device.h. */
#ifndef YL_EMU_DEVICE_H
#define YL_EMU_DEVICE_H

#ifndef __cplusplus
#error "yl_emu_device.h is C++: compile kernels with -x c++"
#endif

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>

#include "yl_emu_runtime.h"

struct uint3 {
    unsigned x, y, z;
};

/* 16-byte aligned as CUDA's: a vector access at an address that is not traps on a GPU,
 * so here UBSan reports it, and aligned vector instructions fault. */
struct alignas(16) uint4 {
    unsigned x, y, z, w;
};

struct alignas(16) float4 {
    float x, y, z, w;
};

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

/* The built-in index variables of the thread the emulation is running now. */
struct yl_emu_index {
    uint3 thread_idx, block_idx;
    dim3 block_dim, grid_dim;
};
extern thread_local yl_emu_index yl_emu_idx;

#define threadIdx (yl_emu_idx.thread_idx)
#define blockIdx (yl_emu_idx.block_idx)
#define blockDim (yl_emu_idx.block_dim)
#define gridDim (yl_emu_idx.grid_dim)
static constexpr int warpSize = 32;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
/* One instance, shared by the threads of the block being run: blocks run one after another
 * and launches are serialised process-wide. Every such variable sits in one section, which
 * the emulation fills with 0xff bytes (NaN floats, -1 integers) at each block start, so a
 * read of shared memory the block did not write shows up, as garbage would on a GPU. */
#define __shared__ __attribute__((section("yl_emu_shared"), aligned(16))) static
#define __align__(n) __attribute__((aligned(n)))

/* ---- launch --------------------------------------------------------------------------- */
typedef void (*yl_emu_body)(void *closure);

/* Validates the configuration as the runtime would, then runs every block; the return value
 * is also this thread's last error (cudaGetLastError), its text yl_emu_error_detail(). */
cudaError_t yl_emu_launch(const char *kernel, dim3 grid, dim3 block, size_t smem,
                          cudaStream_t stream, yl_emu_body body, void *closure);

/* The kernel and its arguments, evaluated once at the launch as CUDA does. */
template <class K, class... A> struct yl_emu_closure {
    K kernel;
    std::tuple<A...> args;
    static void run(void *self)
    {
        auto *c = static_cast<yl_emu_closure *>(self);
        std::apply(c->kernel, c->args);
    }
};

/* Stream capture: a launch on a captured stream is recorded (with a copy of its arguments)
 * and runs when the graph is launched. */
bool yl_emu_capturing(cudaStream_t stream);
cudaError_t yl_emu_capture(cudaStream_t stream, std::function<cudaError_t()> op);

template <class K, class... A>
static inline cudaError_t yl_emu_launch_kernel(const char *name, dim3 grid, dim3 block,
                                               size_t smem, cudaStream_t stream, K kernel,
                                               A... args)
{
    yl_emu_closure<K, A...> c{kernel, std::tuple<A...>(args...)};
    if (yl_emu_capturing(stream))
        return yl_emu_capture(stream, [=]() mutable {
            return yl_emu_launch(name, grid, block, smem, nullptr,
                                 &yl_emu_closure<K, A...>::run, &c);
        });
    return yl_emu_launch(name, grid, block, smem, stream, &yl_emu_closure<K, A...>::run, &c);
}

/* ---- synchronisation and warp collectives (sync points: they switch the block to fibers) */
void yl_emu_syncthreads(const char *file, int line);
#define __syncthreads() yl_emu_syncthreads(__FILE__, __LINE__)

enum yl_emu_warp_op {
    YL_EMU_SHFL_IDX, YL_EMU_SHFL_UP, YL_EMU_SHFL_DOWN, YL_EMU_SHFL_XOR,
    YL_EMU_BALLOT, YL_EMU_ANY, YL_EMU_ALL, YL_EMU_SYNCWARP, YL_EMU_MMA_M16N8K16,
    YL_EMU_LDMATRIX_X4
};

/* One lane's part of a warp collective: waits until every lane named in mask that has not
 * exited is at the same collective, then returns this lane's result (bits of the value). */
uint64_t yl_emu_warp(yl_emu_warp_op op, unsigned mask, uint64_t value, int arg, int width,
                     const char *file, int line);

template <class T>
static inline T yl_emu_shfl(yl_emu_warp_op op, unsigned mask, T v, int arg, int width,
                            const char *file, int line)
{
    static_assert(sizeof(T) <= sizeof(uint64_t), "shuffle of more than 8 bytes");
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof v);
    bits = yl_emu_warp(op, mask, bits, arg, width, file, line);
    T r;
    std::memcpy(&r, &bits, sizeof r);
    return r;
}

/* One lane's part of mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 (see yl_device.h for
 * the fragments): a warp collective that all 32 lanes of a full warp must reach; when they
 * have, every lane's D fragment is computed from all lanes' A and B fragments. */
void yl_emu_mma_m16n8k16_f16f32(float d[4], const uint32_t a[4], const uint32_t b[2],
                                const float c[4], const char *file, int line);
/* mi x ni of them in one collective (yl_mma_grid_m16n8k16_f16f32), mi, ni in 1..8. */
void yl_emu_mma_grid_m16n8k16_f16f32(float (*d)[4], const uint32_t (*a)[4], int mi,
                                     const uint32_t (*b)[2], int ni, const char *file,
                                     int line);

/* cp.async (yl_device.h's yl_cp_async_*): 16 bytes into shared memory, from src when
 * src_bytes is 16, zeros when it is 0 (src not read); both addresses 16-byte aligned. The
 * source is read at the issue, the destination written only when a wait covers the copy's
 * group: a thread reading it earlier sees what was there before, as it may on a GPU.
 * commit closes the thread's group of copies; wait(n) completes every committed group but
 * the newest n. A thread that exits with copies no wait covered fails the launch. */
void yl_emu_cp_async(void *dst, const void *src, int src_bytes, const char *file, int line);
void yl_emu_cp_async_commit(void);
void yl_emu_cp_async_wait(int pending_groups);

/* count (1..8) ldmatrix.x4 loads in one warp collective (yl_device.h's
 * yl_ldmatrix_x4_grid): all 32 lanes of a full warp must reach it with the same count;
 * each lane's r[c] is assembled from every lane's rows[c] per the PTX layout, and a row
 * address that is not 16-byte aligned fails the launch. */
void yl_emu_ldmatrix_x4_grid(uint32_t (*r)[4], const void *const *rows, int count,
                             const char *file, int line);

/* Dynamic shared memory of the block: fails the launch when the kernel wants more bytes than
 * the launch gave. Poisoned (0xff bytes: NaN floats, -1 integers) at every block start. */
void *yl_emu_dynamic_smem(size_t bytes, const char *file, int line);

/* ---- numeric types and intrinsics ------------------------------------------------------ */
struct yl_emu_half {
    uint16_t bits;
};
yl_emu_half yl_emu_float2half_rn(float f);
float yl_emu_half2float(yl_emu_half h);

/* Atomics: threads of a block are never preempted by one another (they switch only at sync
 * points) and blocks run one after another, so a plain read-modify-write is atomic here. */
template <class T> static inline T yl_emu_atomic_add(T *p, T v)
{
    T old = *p;
    *p = old + v;
    return old;
}
template <class T> static inline T yl_emu_atomic_max(T *p, T v)
{
    T old = *p;
    *p = old > v ? old : v;
    return old;
}
template <class T> static inline T yl_emu_atomic_or(T *p, T v)
{
    T old = *p;
    *p = old | v;
    return old;
}
template <class T> static inline T yl_emu_atomic_cas(T *p, T compare, T v)
{
    T old = *p;
    if (old == compare)
        *p = v;
    return old;
}

#endif
