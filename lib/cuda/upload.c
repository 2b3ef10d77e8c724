/* Device allocation with a status, and our kernels' weights packed into one device block. */
#include "cuda/upload.h"

#include <stdlib.h>

#include "yl_cuda_api.h"
#include "yl_kernels.h"

yolact_status yl_cuda_alloc(void *ptr, size_t bytes, const char *what)
{
    void **p = ptr;
    if (cudaMalloc(p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError(); /* an allocation failure is reported, not left sticky */
        *p = NULL;
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of GPU memory: %zu bytes for %s", bytes,
                       what);
    }
    return YOLACT_OK;
}

yolact_status yl_cuda_alloc_host(void *ptr, size_t bytes, const char *what)
{
    void **p = ptr;
    if (cudaMallocHost(p, bytes ? bytes : 1) != cudaSuccess) {
        cudaGetLastError();
        *p = NULL;
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of page-locked host memory: %zu bytes for "
                       "%s", bytes, what);
    }
    return YOLACT_OK;
}

yolact_status yl_cuda_upload(void *device, const void *host, size_t bytes,
                             cudaStream_t stream, const char *what)
{
    if (cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream) != cudaSuccess ||
        cudaStreamSynchronize(stream) != cudaSuccess)
        return yl_fail(YOLACT_ERR_DEVICE, "uploading %s: %s", what,
                       cudaGetErrorString(cudaGetLastError()));
    return YOLACT_OK;
}

static size_t packed_bytes(const yl_cuda_pack_item *item)
{
    size_t bytes = item->dcn ? yl_dcn2d_cuda_packed_bytes(item->desc, item->precision)
                             : yl_conv2d_cuda_packed_bytes(item->desc, item->precision);
    return (bytes + 255) & ~(size_t)255;
}

yolact_status yl_cuda_pack_weights(const yl_cuda_pack_item *items, int n, void **block,
                                   size_t *bytes, cudaStream_t stream, const char *what)
{
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += packed_bytes(&items[i]);
    *bytes = total ? total : 1;
    unsigned char *host = malloc(total ? total : 1);
    if (!host)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory packing %s", what);
    yolact_status s = yl_cuda_alloc(block, total, what);
    for (size_t i = 0, at = 0; s == YOLACT_OK && i < (size_t)n; i++) {
        const yl_cuda_pack_item *item = &items[i];
        if (item->dcn)
            yl_dcn2d_cuda_pack(item->desc, item->weight, item->precision, host + at);
        else
            yl_conv2d_cuda_pack(item->desc, item->weight, item->precision, host + at);
        *item->packed = (unsigned char *)*block + at;
        at += packed_bytes(item);
    }
    if (s == YOLACT_OK)
        s = yl_cuda_upload(*block, host, total, stream, what);
    free(host);
    return s;
}
