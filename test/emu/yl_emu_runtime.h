/* The CUDA runtime API subset libyolact uses, emulated on the host for CI without a GPU:
 * "device" memory is host memory, every stream is synchronous, and counters record the
 * device allocations, copies and synchronisations so tests can assert that a frame makes
 * none. Plain C, so C tests include it as they would include cuda_runtime_api.h. */
#ifndef YL_EMU_RUNTIME_H
#define YL_EMU_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The values of the real cudaError_t for the codes that exist there. */
typedef enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidMemcpyDirection = 21,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorIllegalState = 401,
    cudaErrorIllegalAddress = 700,
    cudaErrorMisalignedAddress = 716,
    cudaErrorLaunchFailure = 719,
    cudaErrorStreamCaptureUnsupported = 900,
    cudaErrorStreamCaptureInvalidated = 901,
    cudaErrorStreamCaptureImplicit = 906
} cudaError_t;

typedef enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
} cudaMemcpyKind;

/* The same incomplete types as the real runtime, so cudaStream_t is `struct CUstream_st *`
 * here too and the public API's stream parameters mean the same in both builds. */
typedef struct CUstream_st *cudaStream_t;
typedef struct CUevent_st *cudaEvent_t;
typedef struct CUgraph_st *cudaGraph_t;
typedef struct CUgraphExec_st *cudaGraphExec_t;
typedef void (*cudaHostFn_t)(void *user_data);

typedef enum cudaStreamCaptureMode {
    cudaStreamCaptureModeGlobal = 0,
    cudaStreamCaptureModeThreadLocal = 1,
    cudaStreamCaptureModeRelaxed = 2
} cudaStreamCaptureMode;

typedef enum cudaStreamCaptureStatus {
    cudaStreamCaptureStatusNone = 0,
    cudaStreamCaptureStatusActive = 1,
    cudaStreamCaptureStatusInvalidated = 2
} cudaStreamCaptureStatus;

/* What a pointer is, as the real runtime (CUDA 11 and later) reports it: unregistered host
 * memory is cudaSuccess with type cudaMemoryTypeUnregistered. */
typedef enum cudaMemoryType {
    cudaMemoryTypeUnregistered = 0,
    cudaMemoryTypeHost = 1,
    cudaMemoryTypeDevice = 2,
    cudaMemoryTypeManaged = 3
} cudaMemoryType;

typedef struct cudaPointerAttributes {
    enum cudaMemoryType type;
    int device;
    void *devicePointer;
    void *hostPointer;
} cudaPointerAttributes;

cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes *attributes, const void *ptr);
cudaError_t cudaMalloc(void **ptr, size_t size);
cudaError_t cudaFree(void *ptr);
/* Page-locked host memory: host memory to the emulation (copies check direction by it). */
cudaError_t cudaMallocHost(void **ptr, size_t size);
cudaError_t cudaFreeHost(void *ptr);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t count, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, cudaMemcpyKind kind,
                            cudaStream_t stream);
cudaError_t cudaMemset(void *ptr, int value, size_t count);
cudaError_t cudaMemsetAsync(void *ptr, int value, size_t count, cudaStream_t stream);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaStreamCreate(cudaStream_t *stream);
#define cudaStreamDefault 0x00
#define cudaStreamNonBlocking 0x01
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaEventCreate(cudaEvent_t *event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);
/* A host function in stream order: run now, or recorded while the stream is captured. */
cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void *user_data);

/* Graphs by stream capture: between Begin and End, launches, async copies and memsets, event
 * records and host functions on the stream are recorded instead of run; a synchronous call
 * (cudaMemcpy, cudaMemset, a synchronisation, cudaMalloc, cudaFree) made by the capturing
 * thread fails with cudaErrorStreamCaptureUnsupported and invalidates the capture, as the
 * thread-local mode does. cudaGraphLaunch replays the recorded operations in order. */
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus *status);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph,
                                 unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);

/* The last error of this thread, cleared by cudaGetLastError (launch errors included). */
cudaError_t cudaGetLastError(void);
cudaError_t cudaPeekAtLastError(void);
const char *cudaGetErrorName(cudaError_t error);
const char *cudaGetErrorString(cudaError_t error);

/* What the emulation adds: the detail of this thread's last error ("__syncthreads() at
 * masks.cu:88 reached by 31 of 256 threads of block (2,0,0) of mask_assemble_kernel"),
 * "" when there is none. */
const char *yl_emu_error_detail(void);

/* Process-wide counts of runtime calls since the last reset. */
typedef struct yl_emu_counters {
    long allocations, frees;        /* cudaMalloc / cudaFree that succeeded */
    long pinned_allocations, pinned_frees; /* cudaMallocHost / cudaFreeHost */
    long live_allocations;          /* not reset: allocations alive now */
    size_t live_bytes;              /* not reset: their bytes, as cudaMalloc was asked */
    long h2d_copies, d2h_copies, d2d_copies;
    size_t h2d_bytes, d2h_bytes;
    long memsets;
    long synchronizations;          /* stream, device and event synchronisations */
    long launches;                  /* kernel launches made directly, failed ones included */
    long graph_kernels;             /* kernels run by graph launches */
    long blocks;                    /* thread blocks run: the work launches did */
    long graph_launches;            /* cudaGraphLaunch calls */
    long captures;                  /* stream captures begun */
    long fiber_blocks;              /* blocks that needed fibers (__syncthreads, warp ops) */
    long legacy_stream_uses;        /* work on or synchronisation of the legacy default
                                       stream (cudaMemcpy and cudaMemset included) */
    long blocking_streams;          /* streams made without cudaStreamNonBlocking */
} yl_emu_counters;

void yl_emu_counters_get(yl_emu_counters *out);
void yl_emu_counters_reset(void);

/* Fault injection, for out-of-memory paths: after `after` more successful allocations
 * (cudaMalloc or cudaMallocHost), the next one fails with cudaErrorMemoryAllocation, once;
 * -1 cancels. */
void yl_emu_fail_allocation(long after);

/* The order a launch runs its blocks, and each block its threads, in. A GPU keeps to no
 * order, so a kernel must give the same results in both; a thread that reads another's
 * write with no barrier between them gets it in one order by luck and fails in the other.
 * YL_EMU_ORDER_ENVIRONMENT (the start): reverse when the environment has
 * YL_EMU_ORDER=reverse, else forward. Returns the order set before. */
typedef enum yl_emu_order {
    YL_EMU_ORDER_ENVIRONMENT,
    YL_EMU_ORDER_FORWARD,       /* block (0,0,0) and thread 0 first */
    YL_EMU_ORDER_REVERSE        /* the last block and thread first */
} yl_emu_order;
yl_emu_order yl_emu_set_order(yl_emu_order order);

/* Whether every operation enqueued on a stream being captured is refused with
 * cudaErrorStreamCaptureUnsupported, the capture invalidated (cudaStreamEndCapture then
 * fails with cudaErrorStreamCaptureInvalidated), as a GPU refuses an operation that cannot
 * be captured (a library call, in the thread-local mode). 1 refuses, 0 does not, -1 (the
 * start) asks the environment: YL_EMU_REFUSE_CAPTURE=1 refuses. Returns the setting before. */
int yl_emu_set_refuse_capture(int refuse);

/* The device's half rounding for host code: f to the nearest half (ties to even), as a
 * float (the emulated cuDNN's FP16 model, lib/cuda/dnn_emulated.c). */
float yl_emu_round_to_half(float f);

#ifdef __cplusplus
}
#endif

#endif
