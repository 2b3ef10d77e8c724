/* The CPU's prepared (Winograd) weights, made once per model by its first CPU session and
 * kept in the model, which frees them (prepared_weights.h). */
#include <pthread.h>
#include <stdlib.h>

#include "cpu/dense_ops.h"
#include "cpu/prepared_weights.h"
#include "status.h"

/* Transform each convolution's weights once into the CPU's fast layout (ops sharing a
 * module share its prepared weights), so no session repeats the work. */
static yolact_status prepare_weights(yolact_model *m)
{
    size_t total = 0;
    for (int i = 0; i < m->num_ops; i++)
        if (m->ops[i].kind == YL_OP_CONV)
            total += yl_conv2d_prepared_floats(&m->ops[i].conv);
    if (total == 0)
        return YOLACT_OK;
    m->prepared_params = malloc(total * sizeof *m->prepared_params);
    if (!m->prepared_params)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for %zu MB of prepared weights",
                       total * sizeof(float) >> 20);
    size_t at = 0;
    for (int i = 0; i < m->num_ops; i++) {
        yl_op *op = &m->ops[i];
        size_t n = op->kind == YL_OP_CONV ? yl_conv2d_prepared_floats(&op->conv) : 0;
        if (n == 0)
            continue;
        for (int j = 0; j < i && !op->prepared; j++)
            if (m->ops[j].weight == op->weight && m->ops[j].prepared)
                op->prepared = m->ops[j].prepared;
        if (op->prepared)
            continue;
        yl_conv2d_prepare_cpu(&op->conv, op->weight, m->prepared_params + at);
        op->prepared = m->prepared_params + at;
        at += n;
    }
    return YOLACT_OK;
}

/* The model's one part built after loading: the CPU's prepared weights, by the first CPU
 * session (CUDA-only users never hold them, 4x a 3x3 convolution's weights). Under the
 * model's lock, so sessions created on several threads prepare once; a CPU session reads
 * op->prepared only after its own creation returned from here. */
yolact_status yl_model_prepare_cpu(const yolact_model *model)
{
    yolact_model *m = (yolact_model *)model;
    if (pthread_mutex_lock(&m->prepare_lock) != 0)
        return yl_fail(YOLACT_ERR_INTERNAL, "the model's lock failed");
    yolact_status s = YOLACT_OK;
    if (!m->cpu_prepared) {
        s = prepare_weights(m);
        if (s == YOLACT_OK) {
            m->cpu_prepared = 1;
        } else { /* nothing half-made stays: the next session tries again */
            for (int i = 0; i < m->num_ops; i++)
                m->ops[i].prepared = NULL;
            free(m->prepared_params);
            m->prepared_params = NULL;
        }
    }
    pthread_mutex_unlock(&m->prepare_lock);
    return s;
}
