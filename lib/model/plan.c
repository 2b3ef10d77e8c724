/* Buffer planning: one arena for every network buffer of a model, buffers whose lifetimes do
 * not overlap sharing memory. Backends allocate the arena in their own memory. */
#include <stdlib.h>

#include "model/model.h"
#include "status.h"

/* Smallest free slot that fits, else the largest free one (grown), else a new one. */
static int take_slot(size_t *slot_size, char *slot_busy, int *slots, size_t need)
{
    int best = -1;
    for (int k = 0; k < *slots; k++) {
        if (slot_busy[k])
            continue;
        int fits = slot_size[k] >= need, best_fits = best >= 0 && slot_size[best] >= need;
        if (best < 0 || (fits && (!best_fits || slot_size[k] < slot_size[best])) ||
            (!fits && !best_fits && slot_size[k] > slot_size[best]))
            best = k;
    }
    if (best < 0)
        best = (*slots)++;
    if (slot_size[best] < need)
        slot_size[best] = need;
    slot_busy[best] = 1;
    return best;
}

/* Walk the ops in order, give each output a free slot, and free an operand's slot after its
 * last reader (never before the output is placed, so no op writes over its own input). */
static yolact_status plan_offsets(const yolact_model *m, int batch, size_t *offsets,
                                  size_t *total_floats)
{
    int nb = m->num_buffers, slots = 0;
    int *last_use = malloc((size_t)nb * sizeof *last_use);
    int *slot_of = malloc((size_t)nb * sizeof *slot_of);
    size_t *slot_size = calloc((size_t)nb, sizeof *slot_size);
    char *slot_busy = calloc((size_t)nb, 1);
    yolact_status s = YOLACT_OK;
    if (!last_use || !slot_of || !slot_size || !slot_busy) {
        s = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory planning buffers");
        goto done;
    }
    for (int b = 0; b < nb; b++)
        last_use[b] = -1;
    for (int i = 0; i < m->num_ops; i++) {
        last_use[m->ops[i].in] = i;
        if (m->ops[i].residual >= 0)
            last_use[m->ops[i].residual] = i;
        if (m->ops[i].kind == YL_OP_DCN)
            last_use[m->ops[i].offsets] = i;
    }
    slot_of[0] = take_slot(slot_size, slot_busy, &slots,
                           (size_t)batch * 3 * m->buffers[0].height * m->buffers[0].width);
    for (int i = 0; i < m->num_ops; i++) {
        const yl_op *op = &m->ops[i];
        if (op->out >= 0) {
            slot_of[op->out] = take_slot(slot_size, slot_busy, &slots,
                                         (size_t)batch * yl_buffer_floats(&m->buffers[op->out]));
        }
        if (last_use[op->in] == i)
            slot_busy[slot_of[op->in]] = 0;
        if (op->residual >= 0 && last_use[op->residual] == i)
            slot_busy[slot_of[op->residual]] = 0;
        if (op->kind == YL_OP_DCN && last_use[op->offsets] == i)
            slot_busy[slot_of[op->offsets]] = 0;
    }
    size_t total = 0, *slot_offset = slot_size; /* sizes become offsets in place */
    for (int k = 0; k < slots; k++) {
        size_t size = slot_size[k];
        slot_offset[k] = total;
        total += (size + 15) & ~(size_t)15;
    }
    for (int b = 0; b < nb; b++)
        offsets[b] = slot_offset[slot_of[b]];
    *total_floats = total;
done:
    free(last_use);
    free(slot_of);
    free(slot_size);
    free(slot_busy);
    return s;
}

yolact_status yl_plan_arena(const yolact_model *m, int batch, yl_arena_alloc alloc, void *ctx,
                            float **arena, float ***buffers)
{
    *arena = NULL;
    size_t *offsets = malloc((size_t)m->num_buffers * sizeof *offsets), total = 0;
    *buffers = calloc((size_t)m->num_buffers, sizeof **buffers);
    yolact_status s = offsets && *buffers
                          ? plan_offsets(m, batch, offsets, &total)
                          : yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory planning buffers");
    if (s == YOLACT_OK)
        s = alloc(ctx, total * sizeof(float), (void **)arena);
    for (int b = 0; s == YOLACT_OK && b < m->num_buffers; b++)
        (*buffers)[b] = *arena + offsets[b];
    free(offsets);
    return s;
}
