/* A build without the CUDA backend (no CUDA toolkit or cuDNN, or CUDA=0). */
#include "backend.h"

const yl_cuda_backend_entry yl_cuda_backend = {NULL, 0, NULL};
const yl_train_pass_ops *const yl_cuda_train_pass = NULL;
