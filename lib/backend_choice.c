/* The backend choice (backend_choice.h). */
#include "backend_choice.h"

#include "backend.h"
#include "status.h"

yolact_status yl_use_cuda(yolact_backend requested, int device_index, int *use_cuda)
{
    const yl_cuda_backend_entry *cuda = &yl_cuda_backend;
    *use_cuda = 0;
    if (requested == YOLACT_BACKEND_CPU ||
        (requested == YOLACT_BACKEND_AUTO && (!cuda->vtable || cuda->emulated)))
        return YOLACT_OK;
    if (!cuda->vtable)
        return yl_fail(YOLACT_ERR_BACKEND_UNAVAILABLE, "this libyolact was built without the "
                       "CUDA backend (it needs the CUDA toolkit and cuDNN at build time)");
    yolact_status st = cuda->device_check(device_index);
    if (requested == YOLACT_BACKEND_AUTO) {
        *use_cuda = st == YOLACT_OK;
        yl_clear_error();
        return YOLACT_OK;
    }
    YL_TRY(st);
    *use_cuda = 1;
    return YOLACT_OK;
}
