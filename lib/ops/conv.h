/* A convolution as every layer sees it: its shape, the activation fused after it and
 * PyTorch's output-size rule. The model describes its convolutions with these, and each
 * backend runs them (lib/cpu/conv.h, cuDNN through lib/cuda/dnn.h, kernels/yl_kernels.h). */
#ifndef YL_OPS_CONV_H
#define YL_OPS_CONV_H

typedef enum yl_activation {
    YL_ACT_NONE = 0,
    YL_ACT_RELU,
    YL_ACT_LEAKY_RELU_0_1       /* DarkNet: x > 0 ? x : 0.1 * x */
} yl_activation;

typedef struct yl_conv_desc {
    int in_channels, out_channels;
    int kernel_h, kernel_w;
    int stride, pad, dilation;
} yl_conv_desc;

/* Output side for an input side (PyTorch's formula); 0 for a shape with no output. */
int yl_conv_out_size(int in, int kernel, int stride, int pad, int dilation);

#endif
