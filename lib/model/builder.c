/* The model builder's steps (builder.h): buffers, ops and the parameter block, tensor
 * look-up with every shape checked, and adding a convolution with its BatchNorm folded (by
 * refill.c, which a trainer repeats), so a contradicting checkpoint is refused with the
 * name of the tensor at fault. */
#include "builder.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growable arrays --------------------------------------------------------------- */

static yolact_status grow(void **p, int *cap, int need, size_t item)
{
    if (need <= *cap)
        return YOLACT_OK;
    int n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, (size_t)n * item);
    if (!q)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory building the network");
    *p = q;
    *cap = n;
    return YOLACT_OK;
}

yolact_status yl_new_buffer(builder *b, int channels, int height, int width, int *index)
{
    yolact_model *m = b->m;
    YL_TRY(grow((void **)&m->buffers, &b->cap_buffers, m->num_buffers + 1, sizeof *m->buffers));
    m->buffers[m->num_buffers] = (yl_buffer_desc){channels, height, width};
    *index = m->num_buffers++;
    return YOLACT_OK;
}

yolact_status yl_new_op(builder *b, const yl_op *op)
{
    yolact_model *m = b->m;
    YL_TRY(grow((void **)&m->ops, &b->cap_ops, m->num_ops + 1, sizeof *m->ops));
    m->ops[m->num_ops] = *op;
    m->ops[m->num_ops].name = op->name ? strdup(op->name) : NULL;
    m->ops[m->num_ops].part = b->part;
    m->ops[m->num_ops].engine = op->kind == YL_OP_CONV && (b->part == YL_PART_BACKBONE ||
                                                           b->part == YL_PART_FPN)
                                    ? YL_ENGINE_LIBRARY
                                    : YL_ENGINE_OWN;
    if (op->name && !m->ops[m->num_ops].name)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory building the network");
    m->num_ops++;
    return YOLACT_OK;
}

yolact_status yl_reserve_params(builder *b, size_t count, size_t *offset)
{
    if (b->num_params + count > b->cap_params) {
        size_t n = b->cap_params ? b->cap_params * 2 : (size_t)1 << 20;
        while (n < b->num_params + count)
            n *= 2;
        float *q = realloc(b->params, n * sizeof *q);
        if (!q)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the weights");
        b->params = q;
        b->cap_params = n;
    }
    *offset = b->num_params;
    b->num_params += count;
    return YOLACT_OK;
}

yolact_status yl_add_param_ref(builder *b, size_t weight, size_t bias, size_t bn_scale)
{
    YL_TRY(grow((void **)&b->refs, &b->cap_refs, b->num_refs + 1, sizeof *b->refs));
    b->refs[b->num_refs++] = (param_ref){b->m->num_ops, weight, bias, bn_scale};
    return YOLACT_OK;
}

yolact_status yl_add_fill(builder *b, const yl_param_fill *fill)
{
    yolact_model *m = b->m;
    YL_TRY(grow((void **)&m->fills, &b->cap_fills, m->num_fills + 1, sizeof *m->fills));
    yl_param_fill *f = &m->fills[m->num_fills];
    *f = *fill;
    f->module = strdup(fill->module);
    f->bn = fill->bn ? strdup(fill->bn) : NULL;
    if (!f->module || (fill->bn && !f->bn)) {
        free((char *)f->module);
        free((char *)f->bn);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory building the network");
    }
    m->num_fills++;
    return yl_param_fill_run(f, b->table, 1, b->params);
}

/* The parameters of an op already built from the same module, or NULL. */
static const param_ref *find_ref(const builder *b, const char *module)
{
    for (int i = 0; i < b->num_refs; i++)
        if (strcmp(b->m->ops[b->refs[i].op].name, module) == 0)
            return &b->refs[i];
    return NULL;
}

/* ---- tensor look-up ------------------------------------------------------------------ */

static const yl_tensor *lookup(builder *b, const char *name)
{
    const yl_tensor *t = yl_tensor_table_find(b->table, name);
    if (t)
        b->used[t - b->table->tensors] = 1;
    return t;
}

int yl_tensor_exists(const builder *b, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return yl_tensor_table_find(b->table, name) != NULL;
}

/* A required floating tensor of the given rank; shape[0] checked when expect0 >= 0. */
yolact_status yl_require_tensor(builder *b, const char *name, int ndim, int64_t expect0,
                                const yl_tensor **out)
{
    const yl_tensor *t = lookup(b, name);
    if (!t)
        return yl_fail(YOLACT_ERR_MODEL, "missing tensor '%s'", name);
    if (!t->data)
        return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' is %s, expected floating point", name,
                       yl_dtype_name(t->dtype));
    if (t->ndim != ndim)
        return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' has %d dimensions, expected %d", name,
                       t->ndim, ndim);
    if (expect0 >= 0 && t->shape[0] != expect0)
        return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' has %lld elements in dimension 0, "
                       "expected %lld", name, (long long)t->shape[0], (long long)expect0);
    *out = t;
    return YOLACT_OK;
}

/* ---- ops ---------------------------------------------------------------------------- */


/* The BatchNorm's four tensors are there, one value per output channel. */
static yolact_status require_bn(builder *b, const char *bn, int out_channels)
{
    static const char *const parts[] = {"weight", "bias", "running_mean", "running_var"};
    const yl_tensor *t;
    char name[256];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.%s", bn, parts[i]);
        YL_TRY(yl_require_tensor(b, name, 1, out_channels, &t));
    }
    b->m->info.num_parameters += 2 * out_channels;
    return YOLACT_OK;
}

/* Add a convolution reading buffer `in`; its output buffer index goes to *out. The weight's
 * input channels must match the buffer; padding is "same" for odd kernels as every YOLACT
 * convolution uses. offsets > 0 makes it a DCN sampling where that buffer (its offset/mask
 * convolution's output) says; 0 a plain convolution (buffer 0 is the image, never that). */
yolact_status yl_add_conv_or_dcn(builder *b, const conv_spec *s, int in, int offsets,
                                 int *out)
{
    char name[256];
    const yl_tensor *w;
    snprintf(name, sizeof name, "%s.weight", s->conv);
    YL_TRY(yl_require_tensor(b, name, 4, -1, &w));
    const yl_buffer_desc src = b->m->buffers[in];
    int o = (int)w->shape[0], kh = (int)w->shape[2], kw = (int)w->shape[3];
    if (w->shape[1] != src.channels)
        return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' expects %lld input channels but its "
                       "input has %d", name, (long long)w->shape[1], src.channels);
    if (kh != kw || kh % 2 == 0)
        return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' has a %dx%d kernel; only square odd "
                       "kernels occur in YOLACT", name, kh, kw);

    const param_ref *shared = find_ref(b, s->conv);
    size_t woff = 0, boff = 0, soff = YL_NO_BN_SCALE;
    if (shared) {
        woff = shared->weight;
        boff = shared->bias;
        soff = shared->bn_scale;
    } else {
        YL_TRY(yl_reserve_params(b, (size_t)w->numel, &woff));
        YL_TRY(yl_reserve_params(b, (size_t)o, &boff));
        b->m->info.num_parameters += w->numel;
        /* Plain convolutions before a BN have no bias; DCN layers do. */
        const yl_tensor *bt = NULL;
        if (!s->bn || offsets > 0) {
            snprintf(name, sizeof name, "%s.bias", s->conv);
            YL_TRY(yl_require_tensor(b, name, 1, o, &bt));
            b->m->info.num_parameters += o;
        }
        if (s->bn) {
            YL_TRY(yl_reserve_params(b, (size_t)o, &soff));
            YL_TRY(require_bn(b, s->bn, o));
        }
        YL_TRY(yl_add_fill(b, &(yl_param_fill){s->conv, s->bn, bt != NULL, o,
                                               (size_t)(w->numel / o), woff, boff, soff}));
    }

    yl_op op = {.kind = offsets > 0 ? YL_OP_DCN : YL_OP_CONV, .name = s->conv, .in = in,
                .residual = s->residual, .offsets = offsets, .act = s->act,
                .conv = {.in_channels = src.channels, .out_channels = o, .kernel_h = kh,
                         .kernel_w = kw, .stride = s->stride, .pad = kh / 2, .dilation = 1}};
    int oh = yl_conv_out_size(src.height, kh, s->stride, kh / 2, 1);
    int ow = yl_conv_out_size(src.width, kw, s->stride, kw / 2, 1);
    if (offsets > 0) {
        const yl_buffer_desc om = b->m->buffers[offsets];
        if (om.channels != 3 * kh * kw || om.height != oh || om.width != ow)
            return yl_fail(YOLACT_ERR_MODEL, "'%s.conv_offset_mask.weight' gives %dx%dx%d but "
                           "the %dx%d deformable convolution '%s.weight' needs %dx%dx%d "
                           "(offsets and modulation of every tap)", s->conv, om.channels,
                           om.height, om.width, kh, kw, s->conv, 3 * kh * kw, oh, ow);
    }
    if (s->residual >= 0) {
        const yl_buffer_desc r = b->m->buffers[s->residual];
        if (r.channels != o || r.height != oh || r.width != ow)
            return yl_fail(YOLACT_ERR_MODEL, "tensor '%s' gives %dx%dx%d but the residual it "
                           "is added to is %dx%dx%d", name, o, oh, ow, r.channels, r.height,
                           r.width);
    }
    YL_TRY(yl_new_buffer(b, o, oh, ow, &op.out));
    YL_TRY(yl_add_param_ref(b, woff, boff, soff));
    YL_TRY(yl_new_op(b, &op));
    *out = op.out;
    return YOLACT_OK;
}

yolact_status yl_add_conv(builder *b, const conv_spec *s, int in, int *out)
{
    return yl_add_conv_or_dcn(b, s, in, 0, out);
}

yolact_status yl_add_simple(builder *b, yl_op op, int channels, int height, int width,
                            int *out)
{
    YL_TRY(yl_new_buffer(b, channels, height, width, &op.out));
    YL_TRY(yl_new_op(b, &op));
    *out = op.out;
    return YOLACT_OK;
}
