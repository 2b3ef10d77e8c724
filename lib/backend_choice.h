/* Which backend a session or a trainer runs on, from the backend and GPU its options ask
 * for: one rule for both (lib/session.c, lib/trainer.c). */
#ifndef YL_BACKEND_CHOICE_H
#define YL_BACKEND_CHOICE_H

#include "yolact.h"

/* *use_cuda for requested: CPU 0; AUTO 1 when the CUDA backend is built (not emulated) and
 * device_index is a usable GPU, else 0; CUDA 1, or the status saying why it cannot be
 * (built without it: YOLACT_ERR_BACKEND_UNAVAILABLE; or the device check's). */
yolact_status yl_use_cuda(yolact_backend requested, int device_index, int *use_cuda);

#endif
