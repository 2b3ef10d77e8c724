/* Device memory for the CUDA backend's host code (lib/cuda/): allocation that fails with a
 * status naming what the memory was for, uploads, and the weights of our convolution kernels
 * packed and uploaded once, when a session is created.
 * The library never uses the legacy default stream (no cudaMemcpy, no cudaMemset, no NULL
 * stream): CUDA refuses it while any blocking stream of the context is being captured and
 * invalidates that capture, so it would break the graph capture of another thread's session
 * or of the caller's own code. Its streams are created with cudaStreamNonBlocking and its
 * copies are ordered on them. */
#ifndef YL_CUDA_UPLOAD_H
#define YL_CUDA_UPLOAD_H

#include <stddef.h>

#include "ops/conv.h"
#include "yolact.h"

struct CUstream_st;

/* cudaMalloc of bytes (1 for 0) into *(void **)ptr; on failure *ptr is NULL, the runtime's
 * error is cleared (not left sticky) and the status is YOLACT_ERR_OUT_OF_MEMORY. */
yolact_status yl_cuda_alloc(void *ptr, size_t bytes, const char *what);

/* The same in page-locked host memory (cudaMallocHost), for downloads that run
 * asynchronously; the caller frees it with cudaFreeHost. */
yolact_status yl_cuda_alloc_host(void *ptr, size_t bytes, const char *what);

/* bytes from host memory to the device, ordered on stream (non-blocking), finished when it
 * returns. */
yolact_status yl_cuda_upload(void *device, const void *host, size_t bytes,
                             struct CUstream_st *stream, const char *what);

/* One convolution's weights to pack: for yl_conv2d_cuda, or for yl_dcn2d_cuda when dcn, at
 * the precision it will run at (FP32 or FP16). */
typedef struct yl_cuda_pack_item {
    const yl_conv_desc *desc;
    const float *weight;        /* OIHW, host memory */
    int dcn;
    yolact_precision precision;
    const void **packed;        /* receives the packed weights' device address */
} yl_cuda_pack_item;

/* Pack every item into one device block (*block of *bytes, the caller cudaFrees it, also on
 * failure when not NULL), each 256-byte aligned, with one upload (yl_cuda_upload). */
yolact_status yl_cuda_pack_weights(const yl_cuda_pack_item *items, int n, void **block,
                                   size_t *bytes, struct CUstream_st *stream, const char *what);

#endif
