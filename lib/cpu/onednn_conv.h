/* One convolution run by oneDNN (Debian's libdnnl 2.6), a candidate of the CPU's
 * per-layer algorithm choice (conv_choice.h): made for one layer's shape (oneDNN's Winograd
 * for a 3x3 stride-1 layer where it has a kernel for the shape, else its direct kernels),
 * its weights reordered once into the layout oneDNN's kernel picked, bias, the residual add
 * (a "sum" post-op) and the activation fused. Its input and output are each either PyTorch's
 * plain CHW, which the primitive reorders into and out of its blocked layout in the caller's
 * scratch, or already in that blocked layout, so that consecutive oneDNN convolutions hand
 * their activations on without a reorder between them. */
#ifndef YL_CPU_ONEDNN_CONV_H
#define YL_CPU_ONEDNN_CONV_H

#include <stddef.h>

#include "ops/conv.h"
#include "yolact.h"

typedef struct yl_onednn_conv yl_onednn_conv;

/* 1 when the build has oneDNN (ONEDNN=1). */
int yl_onednn_available(void);

/* The oneDNN linked at run time, its version and the instruction set its kernels use
 * ("2.6.0 (52b5f107) isa 1023"), or "none" without it; into out of n bytes (cut short,
 * always terminated). */
void yl_onednn_describe(char *out, size_t n);

/* The channel block of the layout oneDNN's convolutions prefer on this machine (16 where its
 * kernels use AVX-512, 8 with AVX2): images in it are nChw<block>c, channel c of pixel (y, x)
 * at ((c / block) * H * W + y * W + x) * block + c % block. 0 where oneDNN prefers a plain
 * layout or the build has none. */
int yl_onednn_block(void);

/* Which of a convolution's images are in the blocked layout (yl_onednn_block; their channel
 * counts must be multiples of the block) rather than plain CHW. The residual, when there is
 * one, is in the output's layout. */
enum { YL_ONEDNN_SRC_BLOCKED = 1, YL_ONEDNN_DST_BLOCKED = 2 };

/* The convolution d on (in_h, in_w) images: out = act(conv(in, weight) + bias (+ residual
 * when has_residual)), in and out laid out as layouts says (YL_ONEDNN_*_BLOCKED flags; 0:
 * both plain). weight (OIHW) is copied; bias (NULL or out_channels floats) is borrowed until
 * destroy. YOLACT_ERR_UNSUPPORTED where the build has no oneDNN or oneDNN has no kernel for
 * the shape and layouts; *conv is NULL then. */
yolact_status yl_onednn_conv_create(const yl_conv_desc *d, int in_h, int in_w,
                                    const float *weight, const float *bias, int has_residual,
                                    yl_activation act, int layouts, yl_onednn_conv **conv);

/* Bytes of scratch a run needs: the input and output in the primitive's layout where the
 * caller's is another, and oneDNN's own scratchpad. */
size_t yl_onednn_conv_scratch_bytes(const yl_onednn_conv *conv);

/* One image: in (in_channels, in_h, in_w), residual (out's shape; may alias out, NULL when
 * made without one), out (out_channels, out_h, out_w). Threads: the calling thread's OpenMP
 * team size (omp_set_num_threads). scratch: yl_onednn_conv_scratch_bytes, 64-byte aligned. */
yolact_status yl_onednn_conv_run(const yl_onednn_conv *conv, const float *in,
                                 const float *residual, float *out, void *scratch);

void yl_onednn_conv_destroy(yl_onednn_conv *conv);

#endif
