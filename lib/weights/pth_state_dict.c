/* A .pth state_dict after its pickle was read: once the container reader has found every
 * storage's bytes, its tensors become table entries, in the pickle's order. */
#include "weights/weights_internal.h"

#include <stdlib.h>

#include "status.h"

yolact_status yl_pth_state_dict_to_table(const yl_pth_state_dict *sd, const char *what,
                                         size_t file_size, yl_tensor_table *table)
{
    YL_TRY(yl_tensor_table_reserve(table, sd->tensor_count, what));
    int64_t budget = yl_weights_output_budget(file_size);
    for (size_t i = 0; i < sd->tensor_count; i++) {
        const yl_pth_tensor *t = &sd->tensors[i];
        const yl_pth_storage *st = &sd->storages[t->storage];
        yl_tensor_view view = {
            .dtype = st->dtype,
            .ndim = t->ndim,
            .offset = t->offset,
            .base = st->bytes,
            .base_numel = st->numel,
        };
        for (int d = 0; d < t->ndim; d++) {
            view.shape[d] = t->shape[d];
            view.stride[d] = t->stride[d];
        }
        YL_TRY(yl_tensor_table_append(table, what, t->name, t->name_len, &view, &budget));
    }
    return YOLACT_OK;
}

void yl_pth_state_dict_free(yl_pth_state_dict *sd)
{
    for (size_t i = 0; i < sd->storage_count; i++) {
        free(sd->storages[i].key);
        free(sd->storages[i].owned);
    }
    free(sd->storages);
    free(sd->tensors);
    sd->storages = NULL;
    sd->tensors = NULL;
    sd->storage_count = sd->tensor_count = 0;
}
