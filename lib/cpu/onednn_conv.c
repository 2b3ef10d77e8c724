/* A convolution through oneDNN's C API (onednn_conv.h). Each one owns its engine, stream,
 * primitives and reordered weights, so a session's convolutions share nothing with
 * another session's: sessions run in threads of their own. The scratchpad is the caller's
 * (user mode), for the same reason. Without oneDNN in the build every call says so. */
#include "cpu/onednn_conv.h"

#include "status.h"

#ifdef YL_HAVE_ONEDNN
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct yl_onednn_conv {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_t conv;
    /* Reorders between PyTorch's plain layout and the primitive's, NULL where it takes
     * the plain one: the input in, the residual into the output, the output back out. */
    dnnl_primitive_t src_in, residual_in, dst_out;
    dnnl_memory_t src_plain, src, weights, bias, dst, dst_plain, residual_plain, scratchpad;
    size_t src_bytes, dst_bytes, scratchpad_bytes, out_bytes;
    int has_residual;
};

enum { ALIGN = 64 };

static size_t aligned(size_t bytes) { return (bytes + ALIGN - 1) / ALIGN * ALIGN; }

int yl_onednn_available(void) { return 1; }

void yl_onednn_describe(char *out, size_t n)
{
    const dnnl_version_t *v = dnnl_version();
    snprintf(out, n, "%d.%d.%d (%s) isa %d", v->major, v->minor, v->patch, v->hash,
             (int)dnnl_get_effective_cpu_isa());
}

void yl_onednn_conv_destroy(yl_onednn_conv *c)
{
    if (!c)
        return;
    dnnl_primitive_t prims[] = {c->conv, c->src_in, c->residual_in, c->dst_out};
    for (size_t i = 0; i < sizeof prims / sizeof *prims; i++)
        if (prims[i])
            dnnl_primitive_destroy(prims[i]);
    dnnl_memory_t mems[] = {c->src_plain, c->src,       c->weights,        c->bias,
                            c->dst,       c->dst_plain, c->residual_plain, c->scratchpad};
    for (size_t i = 0; i < sizeof mems / sizeof *mems; i++)
        if (mems[i])
            dnnl_memory_destroy(mems[i]);
    if (c->stream)
        dnnl_stream_destroy(c->stream);
    if (c->engine)
        dnnl_engine_destroy(c->engine);
    free(c);
}

/* A reorder primitive from one layout to another, or NULL where they are the same. */
static dnnl_status_t make_reorder(dnnl_engine_t engine, const dnnl_memory_desc_t *from,
                                  const dnnl_memory_desc_t *to, dnnl_primitive_t *out)
{
    *out = NULL;
    if (dnnl_memory_desc_equal(from, to))
        return dnnl_success;
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, NULL);
    if (s != dnnl_success)
        return s;
    s = dnnl_primitive_create(out, pd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static dnnl_status_t run_reorder(const yl_onednn_conv *c, dnnl_primitive_t r,
                                 dnnl_memory_t from, dnnl_memory_t to)
{
    const dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return dnnl_primitive_execute(r, c->stream, 2, args);
}

/* Bytes into a memory that owns its buffer (weights already in the primitive's layout). */
static dnnl_status_t copy_into(dnnl_memory_t to, const void *from, size_t bytes)
{
    void *data;
    dnnl_status_t s = dnnl_memory_get_data_handle(to, &data);
    if (s == dnnl_success)
        memcpy(data, from, bytes);
    return s;
}

/* The primitive of cd with the fused operations: the residual's sum, then the activation;
 * the scratchpad is the caller's. */
static dnnl_status_t with_post_ops(const dnnl_convolution_desc_t *cd, int has_residual,
                                   yl_activation act, dnnl_engine_t engine,
                                   dnnl_primitive_desc_t *pd)
{
    dnnl_status_t s;
    dnnl_primitive_attr_t attr;
    dnnl_post_ops_t ops;
    if ((s = dnnl_primitive_attr_create(&attr)) != dnnl_success)
        return s;
    if ((s = dnnl_post_ops_create(&ops)) != dnnl_success) {
        dnnl_primitive_attr_destroy(attr);
        return s;
    }
    if (has_residual)
        s = dnnl_post_ops_append_sum(ops, 1.0f);
    if (s == dnnl_success && act != YL_ACT_NONE)
        s = dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_relu,
                                         act == YL_ACT_LEAKY_RELU_0_1 ? 0.1f : 0.0f, 0.0f);
    if (s == dnnl_success)
        s = dnnl_primitive_attr_set_post_ops(attr, ops);
    if (s == dnnl_success)
        s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success)
        s = dnnl_primitive_desc_create(pd, cd, attr, engine, NULL);
    dnnl_post_ops_destroy(ops);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

/* The convolution's primitive descriptor: every layout left to oneDNN ("any"), the bias,
 * the residual and the activation fused as post-ops in the order the epilogue applies
 * them (conv + bias, + residual, then the activation). */
static dnnl_status_t describe(const yl_conv_desc *d, int in_h, int in_w, int has_bias,
                              int has_residual, yl_activation act, dnnl_engine_t engine,
                              dnnl_primitive_desc_t *pd)
{
    const int oh = yl_conv_out_size(in_h, d->kernel_h, d->stride, d->pad, d->dilation);
    const int ow = yl_conv_out_size(in_w, d->kernel_w, d->stride, d->pad, d->dilation);
    const dnnl_dims_t src_dims = {1, d->in_channels, in_h, in_w};
    const dnnl_dims_t w_dims = {d->out_channels, d->in_channels, d->kernel_h, d->kernel_w};
    const dnnl_dims_t b_dims = {d->out_channels};
    const dnnl_dims_t dst_dims = {1, d->out_channels, oh, ow};
    const dnnl_dims_t strides = {d->stride, d->stride}, pad = {d->pad, d->pad};
    const dnnl_dims_t dilates = {d->dilation - 1, d->dilation - 1}; /* oneDNN counts gaps */
    dnnl_memory_desc_t src_md, w_md, b_md, dst_md;
    dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&w_md, 4, w_dims, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&b_md, 1, b_dims, dnnl_f32, dnnl_x);
    dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, dnnl_format_tag_any);
    /* 3x3 stride-1 layers take oneDNN's Winograd where it has one for the shape (F(4x4, 3x3)
     * on the networks' layers, 1.9-2.6x faster than its direct kernel there; F(2x2, 3x3) on
     * some small ones); any other, direct */
    const int winograd = d->kernel_h == 3 && d->kernel_w == 3 && d->stride == 1 &&
                         d->dilation == 1;
    dnnl_convolution_desc_t cd;
    dnnl_status_t s = dnnl_unimplemented;
    if (winograd)
        s = dnnl_dilated_convolution_forward_desc_init(
            &cd, dnnl_forward_inference, dnnl_convolution_winograd, &src_md, &w_md,
            has_bias ? &b_md : NULL, &dst_md, strides, dilates, pad, pad);
    if (s == dnnl_success) {
        s = with_post_ops(&cd, has_residual, act, engine, pd);
        if (s == dnnl_success)
            return s;
    }
    s = dnnl_dilated_convolution_forward_desc_init(
        &cd, dnnl_forward_inference, dnnl_convolution_direct, &src_md, &w_md,
        has_bias ? &b_md : NULL, &dst_md, strides, dilates, pad, pad);
    if (s != dnnl_success)
        return s;
    return with_post_ops(&cd, has_residual, act, engine, pd);
}

/* The primitive, its memories (the data handles of those the caller's buffers back are set
 * at each run) and the weights reordered into the primitive's layout. */
static dnnl_status_t build(yl_onednn_conv *c, const yl_conv_desc *d, int in_h, int in_w,
                           const float *weight, const float *bias, yl_activation act)
{
    const int oh = yl_conv_out_size(in_h, d->kernel_h, d->stride, d->pad, d->dilation);
    const int ow = yl_conv_out_size(in_w, d->kernel_w, d->stride, d->pad, d->dilation);
    dnnl_status_t s;
    if ((s = dnnl_engine_create(&c->engine, dnnl_cpu, 0)) != dnnl_success ||
        (s = dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags)) !=
            dnnl_success)
        return s;
    dnnl_primitive_desc_t pd;
    if ((s = describe(d, in_h, in_w, bias != NULL, c->has_residual, act, c->engine, &pd)) !=
        dnnl_success)
        return s;
    const dnnl_memory_desc_t *src_md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *w_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dst_md = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *pad_md =
        dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    const dnnl_dims_t src_dims = {1, d->in_channels, in_h, in_w};
    const dnnl_dims_t w_dims = {d->out_channels, d->in_channels, d->kernel_h, d->kernel_w};
    const dnnl_dims_t dst_dims = {1, d->out_channels, oh, ow};
    const dnnl_dims_t b_dims = {d->out_channels};
    dnnl_memory_desc_t src_plain, w_plain, dst_plain, b_md;
    dnnl_memory_desc_init_by_tag(&src_plain, 4, src_dims, dnnl_f32, dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&w_plain, 4, w_dims, dnnl_f32, dnnl_oihw);
    dnnl_memory_desc_init_by_tag(&dst_plain, 4, dst_dims, dnnl_f32, dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&b_md, 1, b_dims, dnnl_f32, dnnl_x);
    c->src_bytes = aligned(dnnl_memory_desc_get_size(src_md));
    c->dst_bytes = aligned(dnnl_memory_desc_get_size(dst_md));
    c->scratchpad_bytes = aligned(dnnl_memory_desc_get_size(pad_md));
    c->out_bytes = dnnl_memory_desc_get_size(&dst_plain);

    dnnl_memory_t w_user = NULL;
    dnnl_primitive_t w_reorder = NULL;
    (void)((s = dnnl_primitive_create(&c->conv, pd)) ||
           (s = dnnl_memory_create(&c->src_plain, &src_plain, c->engine, DNNL_MEMORY_NONE)) ||
           (s = dnnl_memory_create(&c->src, src_md, c->engine, DNNL_MEMORY_NONE)) ||
           (s = dnnl_memory_create(&c->dst, dst_md, c->engine, DNNL_MEMORY_NONE)) ||
           (s = dnnl_memory_create(&c->dst_plain, &dst_plain, c->engine, DNNL_MEMORY_NONE)) ||
           (s = dnnl_memory_create(&c->residual_plain, &dst_plain, c->engine,
                                   DNNL_MEMORY_NONE)) ||
           (s = dnnl_memory_create(&c->scratchpad, pad_md, c->engine, DNNL_MEMORY_NONE)) ||
           (bias && (s = dnnl_memory_create(&c->bias, &b_md, c->engine, (void *)bias))) ||
           (s = make_reorder(c->engine, &src_plain, src_md, &c->src_in)) ||
           (s = make_reorder(c->engine, &dst_plain, dst_md, &c->residual_in)) ||
           (s = make_reorder(c->engine, dst_md, &dst_plain, &c->dst_out)) ||
           (s = dnnl_memory_create(&c->weights, w_md, c->engine, DNNL_MEMORY_ALLOCATE)) ||
           (s = dnnl_memory_create(&w_user, &w_plain, c->engine, (void *)weight)) ||
           (s = make_reorder(c->engine, &w_plain, w_md, &w_reorder)));
    if (s == dnnl_success && w_reorder)
        s = run_reorder(c, w_reorder, w_user, c->weights);
    else if (s == dnnl_success)
        s = copy_into(c->weights, weight, dnnl_memory_desc_get_size(&w_plain));
    if (s == dnnl_success)
        s = dnnl_stream_wait(c->stream);
    if (w_reorder)
        dnnl_primitive_destroy(w_reorder);
    if (w_user)
        dnnl_memory_destroy(w_user);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

yolact_status yl_onednn_conv_create(const yl_conv_desc *d, int in_h, int in_w,
                                    const float *weight, const float *bias, int has_residual,
                                    yl_activation act, yl_onednn_conv **conv)
{
    *conv = NULL;
    yl_onednn_conv *c = calloc(1, sizeof *c);
    if (!c)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a oneDNN convolution");
    c->has_residual = has_residual;
    dnnl_status_t s = build(c, d, in_h, in_w, weight, bias, act);
    if (s != dnnl_success) {
        yl_onednn_conv_destroy(c);
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "oneDNN has no convolution %d->%d %dx%d stride "
                       "%d on %dx%d (dnnl status %d)", d->in_channels, d->out_channels,
                       d->kernel_h, d->kernel_w, d->stride, in_h, in_w, (int)s);
    }
    *conv = c;
    return YOLACT_OK;
}

size_t yl_onednn_conv_scratch_bytes(const yl_onednn_conv *c)
{
    return c->src_bytes + c->dst_bytes + c->scratchpad_bytes;
}

static dnnl_status_t run(const yl_onednn_conv *c, const float *in, const float *residual,
                         float *out, char *scratch)
{
    dnnl_status_t s;
    dnnl_memory_t src = c->src_in ? c->src : c->src_plain;
    dnnl_memory_t dst = c->dst_out ? c->dst : c->dst_plain;
    if ((s = dnnl_memory_set_data_handle(c->src_plain, (void *)in)) ||
        (s = dnnl_memory_set_data_handle(c->dst_plain, out)) ||
        (s = dnnl_memory_set_data_handle(c->src, scratch)) ||
        (s = dnnl_memory_set_data_handle(c->dst, scratch + c->src_bytes)) ||
        (s = dnnl_memory_set_data_handle(c->scratchpad,
                                         scratch + c->src_bytes + c->dst_bytes)))
        return s;
    /* The sum post-op adds what the output holds when the convolution starts. */
    if (c->has_residual && c->residual_in) {
        if ((s = dnnl_memory_set_data_handle(c->residual_plain, (void *)residual)) ||
            (s = run_reorder(c, c->residual_in, c->residual_plain, c->dst)))
            return s;
    } else if (c->has_residual && residual != out) {
        memcpy(out, residual, c->out_bytes);
    }
    if (c->src_in && (s = run_reorder(c, c->src_in, c->src_plain, c->src)))
        return s;
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src},
                               {DNNL_ARG_WEIGHTS, c->weights},
                               {DNNL_ARG_DST, dst},
                               {DNNL_ARG_SCRATCHPAD, c->scratchpad}};
    int n = 4;
    if (c->bias)
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, c->bias};
    if ((s = dnnl_primitive_execute(c->conv, c->stream, n, args)))
        return s;
    if (c->dst_out && (s = run_reorder(c, c->dst_out, c->dst, c->dst_plain)))
        return s;
    return dnnl_stream_wait(c->stream);
}

yolact_status yl_onednn_conv_run(const yl_onednn_conv *c, const float *in,
                                 const float *residual, float *out, void *scratch)
{
    dnnl_status_t s = run(c, in, residual, out, scratch);
    if (s != dnnl_success)
        return yl_fail(YOLACT_ERR_INTERNAL, "a oneDNN convolution failed (dnnl status %d)",
                       (int)s);
    return YOLACT_OK;
}

#else /* built without oneDNN */
#include <stdio.h>

int yl_onednn_available(void) { return 0; }

void yl_onednn_describe(char *out, size_t n)
{
    snprintf(out, n, "none");
}

yolact_status yl_onednn_conv_create(const yl_conv_desc *d, int in_h, int in_w,
                                    const float *weight, const float *bias, int has_residual,
                                    yl_activation act, yl_onednn_conv **conv)
{
    (void)d, (void)in_h, (void)in_w, (void)weight, (void)bias, (void)has_residual, (void)act;
    *conv = NULL;
    return yl_fail(YOLACT_ERR_UNSUPPORTED, "this build has no oneDNN (build with ONEDNN=1)");
}

size_t yl_onednn_conv_scratch_bytes(const yl_onednn_conv *conv)
{
    (void)conv;
    return 0;
}

yolact_status yl_onednn_conv_run(const yl_onednn_conv *conv, const float *in,
                                 const float *residual, float *out, void *scratch)
{
    (void)conv, (void)in, (void)residual, (void)out, (void)scratch;
    return yl_fail(YOLACT_ERR_UNSUPPORTED, "this build has no oneDNN (build with ONEDNN=1)");
}

void yl_onednn_conv_destroy(yl_onednn_conv *conv) { (void)conv; }

#endif
