/* The training forward pass (training_forward.h). */
#include "cpu/training_forward.h"

#include <omp.h>
#include <stdlib.h>

#include "status.h"

void yl_cpu_training_forward_destroy(yl_training_forward *f)
{
    if (!f)
        return;
    for (int b = 0; f->buffers && b < f->model->num_buffers; b++)
        free(f->buffers[b]);
    free(f->buffers);
    free(f->loc);
    free(f->conf);
    free(f->coeff);
    free(f->proto);
    free(f->scratch.conv);
    free(f->scratch.resize);
    yl_cpu_prepared_release(f->model, f->prepared);
    free(f);
}

int yl_training_p3(const yolact_model *m)
{
    for (int i = 0; i < m->num_ops; i++)
        if (m->ops[i].part == YL_PART_PROTONET)
            return m->ops[i].in;
    return -1;
}

yolact_status yl_cpu_training_forward_create(const yolact_model *m, int threads,
                                             yl_training_forward **out)
{
    yl_training_forward *f = calloc(1, sizeof *f);
    if (!f)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a training forward");
    f->model = m;
    f->threads = threads > 0 ? threads : omp_get_num_procs();
    f->p3 = yl_training_p3(m);
    yolact_status s = yl_cpu_prepared_acquire(m, &f->prepared);
    if (s != YOLACT_OK) {
        yl_cpu_training_forward_destroy(f);
        return s;
    }
    size_t conv_ws, resize_ws, P = (size_t)m->num_priors;
    yl_cpu_op_scratch_sizes(m, &conv_ws, &resize_ws);
    f->scratch.conv = malloc((conv_ws + 1) * sizeof(float));
    f->scratch.resize = malloc(resize_ws + 1);
    f->loc = malloc(P * 4 * sizeof(float));
    f->conf = malloc(P * m->num_classes * sizeof(float));
    f->coeff = malloc(P * m->num_prototypes * sizeof(float));
    f->proto = malloc((size_t)m->proto_h * m->proto_w * m->num_prototypes * sizeof(float));
    f->buffers = calloc((size_t)m->num_buffers, sizeof *f->buffers);
    int ok = f->scratch.conv && f->scratch.resize && f->loc && f->conf && f->coeff && f->proto &&
             f->buffers;
    for (int b = 0; ok && b < m->num_buffers; b++) {
        ok = (f->buffers[b] = malloc(yl_buffer_floats(&m->buffers[b]) * sizeof(float) + 1)) !=
             NULL;
    }
    if (!ok || f->p3 < 0) {
        yl_cpu_training_forward_destroy(f);
        return ok ? yl_fail(YOLACT_ERR_UNSUPPORTED, "the model has no protonet to train")
                  : yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a training forward");
    }
    *out = f;
    return YOLACT_OK;
}

yolact_status yl_cpu_training_forward_op(yl_training_forward *f, int i)
{
    const yl_cpu_head_outputs heads = {f->loc, f->conf, f->coeff, f->proto, 1};
    omp_set_num_threads(f->threads);
    /* The fixed convolution rule, not the session's timed choice: the gradients' parity
     * tolerances were measured on it. After an SGD step the trainer refills the model's
     * weights and the pass transforms the prepared ones again (train_pass.c). */
    return yl_cpu_run_op(f->model, i, f->buffers, f->prepared, NULL, &f->scratch, &heads,
                         f->threads);
}

yolact_status yl_cpu_training_forward(yl_training_forward *f)
{
    for (int i = 0; i < f->model->num_ops; i++)
        YL_TRY(yl_cpu_training_forward_op(f, i));
    return YOLACT_OK;
}
