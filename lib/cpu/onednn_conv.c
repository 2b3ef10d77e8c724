/* A convolution through oneDNN's C API (onednn_conv.h). Each one owns its engine, stream,
 * primitives and reordered weights, so a session's convolutions share nothing with
 * another session's: sessions run in threads of their own. The scratchpad is the caller's
 * (user mode), for the same reason. Without oneDNN in the build every call says so. */
#include "cpu/onednn_conv.h"

#include "status.h"

#ifdef YL_HAVE_ONEDNN
#include <dnnl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a convolution adds its residual: none, a "sum" post-op (onto what the output holds
 * when it starts, so the residual is copied there first), or a "binary" add reading it from
 * a memory of its own (no copy; oneDNN has it for a blocked output). */
typedef enum residual_add { NO_RESIDUAL, RESIDUAL_SUM, RESIDUAL_BINARY } residual_add;

struct yl_onednn_conv {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_t conv;
    /* Reorders between the caller's layouts (plain or blocked, onednn_conv.h) and the
     * primitive's, NULL where they are the same: the input in, the residual into the output,
     * the output back out. */
    dnnl_primitive_t src_in, residual_in, dst_out;
    dnnl_memory_t src_user, src, weights, bias, dst, dst_user, residual_user, scratchpad;
    size_t src_bytes, dst_bytes, scratchpad_bytes, out_bytes;
    size_t residual_bytes;     /* a binary add's copy of a residual that is the output */
    int has_residual;
    residual_add add;
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
    dnnl_memory_t mems[] = {c->src_user, c->src,      c->weights,       c->bias,
                            c->dst,      c->dst_user, c->residual_user, c->scratchpad};
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

/* The primitive of cd with the fused operations: the residual as add says (residual_md: the
 * binary add's), then the activation; the scratchpad is the caller's. */
static dnnl_status_t with_post_ops(const dnnl_convolution_desc_t *cd, residual_add add,
                                   const dnnl_memory_desc_t *residual_md, yl_activation act,
                                   dnnl_engine_t engine, dnnl_primitive_desc_t *pd)
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
    if (add == RESIDUAL_SUM)
        s = dnnl_post_ops_append_sum(ops, 1.0f);
    else if (add == RESIDUAL_BINARY)
        s = dnnl_post_ops_append_binary(ops, dnnl_binary_add, residual_md);
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

/* The tag of the layout blocked by block channels, or plain CHW where flag is not in
 * layouts. */
static dnnl_format_tag_t user_tag(int layouts, int flag, int block)
{
    if (!(layouts & flag))
        return dnnl_nchw;
    return block == 16 ? dnnl_nChw16c : dnnl_nChw8c;
}

/* The convolution's primitive descriptor: an image the caller hands over blocked in that
 * layout, every other layout left to oneDNN ("any"), the bias, the residual and the
 * activation fused as post-ops in the order the epilogue applies them (conv + bias,
 * + residual, then the activation). *add: how it adds the residual. */
static dnnl_status_t describe(const yl_conv_desc *d, int in_h, int in_w, int has_bias,
                              int has_residual, yl_activation act, int layouts, int block,
                              dnnl_engine_t engine, dnnl_primitive_desc_t *pd,
                              residual_add *add)
{
    const int oh = yl_conv_out_size(in_h, d->kernel_h, d->stride, d->pad, d->dilation);
    const int ow = yl_conv_out_size(in_w, d->kernel_w, d->stride, d->pad, d->dilation);
    const dnnl_dims_t src_dims = {1, d->in_channels, in_h, in_w};
    const dnnl_dims_t w_dims = {d->out_channels, d->in_channels, d->kernel_h, d->kernel_w};
    const dnnl_dims_t b_dims = {d->out_channels};
    const dnnl_dims_t dst_dims = {1, d->out_channels, oh, ow};
    const dnnl_dims_t strides = {d->stride, d->stride}, pad = {d->pad, d->pad};
    const dnnl_dims_t dilates = {d->dilation - 1, d->dilation - 1}; /* oneDNN counts gaps */
    const dnnl_format_tag_t src_tag = layouts & YL_ONEDNN_SRC_BLOCKED
                                          ? user_tag(layouts, YL_ONEDNN_SRC_BLOCKED, block)
                                          : dnnl_format_tag_any;
    const dnnl_format_tag_t dst_tag = layouts & YL_ONEDNN_DST_BLOCKED
                                          ? user_tag(layouts, YL_ONEDNN_DST_BLOCKED, block)
                                          : dnnl_format_tag_any;
    dnnl_memory_desc_t src_md, w_md, b_md, dst_md;
    dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32, src_tag);
    dnnl_memory_desc_init_by_tag(&w_md, 4, w_dims, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&b_md, 1, b_dims, dnnl_f32, dnnl_x);
    dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, dst_tag);
    /* 3x3 stride-1 layers take oneDNN's Winograd where it has one for the shape (F(4x4, 3x3)
     * on the networks' layers, 1.9-2.6x faster than its direct kernel there; F(2x2, 3x3) on
     * some small ones); any other, direct */
    const int winograd = d->kernel_h == 3 && d->kernel_w == 3 && d->stride == 1 &&
                         d->dilation == 1;
    const dnnl_alg_kind_t algs[] = {dnnl_convolution_winograd, dnnl_convolution_direct};
    /* a residual in the blocked layout is read where it lies, where oneDNN can */
    const residual_add adds[] = {
        !has_residual ? NO_RESIDUAL
                      : layouts & YL_ONEDNN_DST_BLOCKED ? RESIDUAL_BINARY : RESIDUAL_SUM,
        has_residual ? RESIDUAL_SUM : NO_RESIDUAL};
    dnnl_status_t s = dnnl_unimplemented;
    for (int k = winograd ? 0 : 1; k < 2 && s != dnnl_success; k++) {
        dnnl_convolution_desc_t cd;
        s = dnnl_dilated_convolution_forward_desc_init(
            &cd, dnnl_forward_inference, algs[k], &src_md, &w_md, has_bias ? &b_md : NULL,
            &dst_md, strides, dilates, pad, pad);
        for (int a = 0; s == dnnl_success && a < 2; a++) {
            *add = adds[a];
            if ((s = with_post_ops(&cd, adds[a], &dst_md, act, engine, pd)) == dnnl_success)
                break;
        }
    }
    return s;
}

/* The block whose layout oneDNN's vector kernels take on this machine: 16 where a 1x1
 * convolution on nChw16c runs AVX-512 code, else 8 where one on nChw8c runs AVX or AVX2
 * code, else 0 (its reference code alone). Left free ("any") oneDNN 2.6 picks NHWC for
 * its brgemm kernels, but its Winograd takes nChw16c alone, and its direct kernels run at
 * 89-100% of the FMA peak on it. */
static int probe_block(void)
{
    dnnl_engine_t engine;
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success)
        return 0;
    const yl_conv_desc d = {64, 64, 1, 1, 1, 0, 1};
    const struct { int block; const char *isa; } tries[] = {{16, "avx512"}, {8, "avx"}};
    int block = 0;
    for (size_t k = 0; k < sizeof tries / sizeof *tries && !block; k++) {
        dnnl_primitive_desc_t pd;
        residual_add add;
        if (describe(&d, 16, 16, 0, 0, YL_ACT_NONE,
                     YL_ONEDNN_SRC_BLOCKED | YL_ONEDNN_DST_BLOCKED, tries[k].block, engine,
                     &pd, &add) != dnnl_success)
            continue;
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) ==
                dnnl_success && impl && strstr(impl, tries[k].isa))
            block = tries[k].block;
        dnnl_primitive_desc_destroy(pd);
    }
    dnnl_engine_destroy(engine);
    return block;
}

int yl_onednn_block(void)
{
    static atomic_int cached = -1; /* probed once; a race probes twice to the same answer */
    int block = atomic_load(&cached);
    if (block < 0) {
        block = probe_block();
        atomic_store(&cached, block);
    }
    return block;
}

/* The primitive, its memories (the data handles of those the caller's buffers back are set
 * at each run) and the weights reordered into the primitive's layout. */
static dnnl_status_t build(yl_onednn_conv *c, const yl_conv_desc *d, int in_h, int in_w,
                           const float *weight, const float *bias, yl_activation act,
                           int layouts)
{
    const int oh = yl_conv_out_size(in_h, d->kernel_h, d->stride, d->pad, d->dilation);
    const int ow = yl_conv_out_size(in_w, d->kernel_w, d->stride, d->pad, d->dilation);
    dnnl_status_t s;
    if ((s = dnnl_engine_create(&c->engine, dnnl_cpu, 0)) != dnnl_success ||
        (s = dnnl_stream_create(&c->stream, c->engine, dnnl_stream_default_flags)) !=
            dnnl_success)
        return s;
    dnnl_primitive_desc_t pd;
    const int block = yl_onednn_block();
    if ((s = describe(d, in_h, in_w, bias != NULL, c->has_residual, act, layouts, block,
                      c->engine, &pd, &c->add)) != dnnl_success)
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
    dnnl_memory_desc_t src_user, w_plain, dst_user, b_md;
    dnnl_memory_desc_init_by_tag(&src_user, 4, src_dims, dnnl_f32,
                                 user_tag(layouts, YL_ONEDNN_SRC_BLOCKED, block));
    dnnl_memory_desc_init_by_tag(&w_plain, 4, w_dims, dnnl_f32, dnnl_oihw);
    dnnl_memory_desc_init_by_tag(&dst_user, 4, dst_dims, dnnl_f32,
                                 user_tag(layouts, YL_ONEDNN_DST_BLOCKED, block));
    dnnl_memory_desc_init_by_tag(&b_md, 1, b_dims, dnnl_f32, dnnl_x);
    c->scratchpad_bytes = aligned(dnnl_memory_desc_get_size(pad_md));
    c->out_bytes = dnnl_memory_desc_get_size(&dst_user);

    dnnl_memory_t w_user = NULL;
    dnnl_primitive_t w_reorder = NULL;
    (void)((s = dnnl_primitive_create(&c->conv, pd)) ||
           (s = dnnl_memory_create(&c->src_user, &src_user, c->engine, DNNL_MEMORY_NONE)) ||
           (s = dnnl_memory_create(&c->src, src_md, c->engine, DNNL_MEMORY_NONE)) ||
           (s = dnnl_memory_create(&c->dst, dst_md, c->engine, DNNL_MEMORY_NONE)) ||
           (s = dnnl_memory_create(&c->dst_user, &dst_user, c->engine, DNNL_MEMORY_NONE)) ||
           (s = dnnl_memory_create(&c->residual_user, &dst_user, c->engine,
                                   DNNL_MEMORY_NONE)) ||
           (s = dnnl_memory_create(&c->scratchpad, pad_md, c->engine, DNNL_MEMORY_NONE)) ||
           (bias && (s = dnnl_memory_create(&c->bias, &b_md, c->engine, (void *)bias))) ||
           (s = make_reorder(c->engine, &src_user, src_md, &c->src_in)) ||
           (s = make_reorder(c->engine, &dst_user, dst_md, &c->residual_in)) ||
           (s = make_reorder(c->engine, dst_md, &dst_user, &c->dst_out)) ||
           (s = dnnl_memory_create(&c->weights, w_md, c->engine, DNNL_MEMORY_ALLOCATE)) ||
           (s = dnnl_memory_create(&w_user, &w_plain, c->engine, (void *)weight)) ||
           (s = make_reorder(c->engine, &w_plain, w_md, &w_reorder)));
    /* scratch holds the primitive's input and output only where they are reordered */
    c->src_bytes = c->src_in ? aligned(dnnl_memory_desc_get_size(src_md)) : 0;
    c->dst_bytes = c->dst_out ? aligned(dnnl_memory_desc_get_size(dst_md)) : 0;
    c->residual_bytes = c->add == RESIDUAL_BINARY ? aligned(c->out_bytes) : 0;
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
                                    yl_activation act, int layouts, yl_onednn_conv **conv)
{
    *conv = NULL;
    const int block = yl_onednn_block();
    if (((layouts & YL_ONEDNN_SRC_BLOCKED) && (!block || d->in_channels % block)) ||
        ((layouts & YL_ONEDNN_DST_BLOCKED) && (!block || d->out_channels % block)))
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "a blocked layout needs channel counts that are "
                       "multiples of oneDNN's block (%d), not %d->%d", block, d->in_channels,
                       d->out_channels);
    yl_onednn_conv *c = calloc(1, sizeof *c);
    if (!c)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a oneDNN convolution");
    c->has_residual = has_residual;
    dnnl_status_t s = build(c, d, in_h, in_w, weight, bias, act, layouts);
    if (s != dnnl_success) {
        yl_onednn_conv_destroy(c);
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "oneDNN has no convolution %d->%d %dx%d stride "
                       "%d on %dx%d, layouts %d (dnnl status %d)", d->in_channels,
                       d->out_channels, d->kernel_h, d->kernel_w, d->stride, in_h, in_w,
                       layouts, (int)s);
    }
    *conv = c;
    return YOLACT_OK;
}

size_t yl_onednn_conv_scratch_bytes(const yl_onednn_conv *c)
{
    return c->src_bytes + c->dst_bytes + c->scratchpad_bytes + c->residual_bytes;
}

static dnnl_status_t run(const yl_onednn_conv *c, const float *in, const float *residual,
                         float *out, char *scratch)
{
    dnnl_status_t s;
    dnnl_memory_t src = c->src_in ? c->src : c->src_user;
    dnnl_memory_t dst = c->dst_out ? c->dst : c->dst_user;
    if ((s = dnnl_memory_set_data_handle(c->src_user, (void *)in)) ||
        (s = dnnl_memory_set_data_handle(c->dst_user, out)) ||
        (s = dnnl_memory_set_data_handle(c->src, scratch)) ||
        (s = dnnl_memory_set_data_handle(c->dst, scratch + c->src_bytes)) ||
        (s = dnnl_memory_set_data_handle(c->scratchpad,
                                         scratch + c->src_bytes + c->dst_bytes)))
        return s;
    /* The binary add reads the residual as it writes the output, so one that is the output
     * is read from a copy; the sum post-op adds what the output holds when it starts. */
    if (c->add == RESIDUAL_BINARY) {
        if (residual == out) {
            char *copy = scratch + c->src_bytes + c->dst_bytes + c->scratchpad_bytes;
            memcpy(copy, residual, c->out_bytes);
            residual = (const float *)copy;
        }
        if ((s = dnnl_memory_set_data_handle(c->residual_user, (void *)residual)))
            return s;
    } else if (c->has_residual && c->residual_in) {
        if ((s = dnnl_memory_set_data_handle(c->residual_user, (void *)residual)) ||
            (s = run_reorder(c, c->residual_in, c->residual_user, c->dst)))
            return s;
    } else if (c->has_residual && residual != out) {
        memcpy(out, residual, c->out_bytes);
    }
    if (c->src_in && (s = run_reorder(c, c->src_in, c->src_user, c->src)))
        return s;
    dnnl_exec_arg_t args[6] = {{DNNL_ARG_SRC, src},
                               {DNNL_ARG_WEIGHTS, c->weights},
                               {DNNL_ARG_DST, dst},
                               {DNNL_ARG_SCRATCHPAD, c->scratchpad}};
    int n = 4;
    if (c->bias)
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, c->bias};
    if (c->add == RESIDUAL_BINARY)
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                                      c->residual_user};
    if ((s = dnnl_primitive_execute(c->conv, c->stream, n, args)))
        return s;
    if (c->dst_out && (s = run_reorder(c, c->dst_out, c->dst, c->dst_user)))
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

int yl_onednn_block(void) { return 0; }

void yl_onednn_describe(char *out, size_t n)
{
    snprintf(out, n, "none");
}

yolact_status yl_onednn_conv_create(const yl_conv_desc *d, int in_h, int in_w,
                                    const float *weight, const float *bias, int has_residual,
                                    yl_activation act, int layouts, yl_onednn_conv **conv)
{
    (void)d, (void)in_h, (void)in_w, (void)weight, (void)bias, (void)has_residual, (void)act;
    (void)layouts;
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
