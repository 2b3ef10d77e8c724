/* The legacy .pth container (torch.save with _use_new_zipfile_serialization=False, used by
 * the official 2019 YOLACT releases): magic, protocol and sys_info pickles, the state_dict
 * pickle, the pickled list of storage keys, then each storage as int64 numel + raw bytes. */
#include "weights/weights_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "status.h"

/* Point every storage at its bytes, walking the data section once in key-list order. */
static yolact_status locate_storages(const uint8_t *data, size_t size, size_t pos,
                                     const yl_byte_span *keys, size_t key_count,
                                     const char *name, yl_pth_state_dict *sd)
{
    for (size_t i = 0; i < key_count; i++) {
        size_t k = yl_pth_find_storage(sd, keys[i].data, keys[i].size);
        if (k == SIZE_MAX)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: storage '%.*s' is listed but used by no tensor",
                           name, (int)keys[i].size, (const char *)keys[i].data);
        yl_pth_storage *st = &sd->storages[k];
        if (st->bytes)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: storage '%s' is listed twice", name, st->key);
        if (size - pos < 8)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: truncated before storage '%s'", name, st->key);
        uint64_t numel = yl_load_u64le(data + pos);
        pos += 8;
        size_t item = yl_dtype_size(st->dtype);
        if (numel != (uint64_t)st->numel)
            return yl_fail(YOLACT_ERR_FORMAT,
                           "%s: storage '%s' holds %llu elements in the file, the pickle says %lld",
                           name, st->key, (unsigned long long)numel, (long long)st->numel);
        if (numel > (size - pos) / item)
            return yl_fail(YOLACT_ERR_FORMAT,
                           "%s: storage '%s' (%llu x %zu bytes) runs past the end of the file",
                           name, st->key, (unsigned long long)numel, item);
        st->bytes = data + pos;
        pos += (size_t)numel * item;
    }
    for (size_t i = 0; i < sd->storage_count; i++)
        if (!sd->storages[i].bytes)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: storage '%s' is not in the file", name,
                           sd->storages[i].key);
    return YOLACT_OK;
}

yolact_status yl_pth_legacy_read(const uint8_t *data, size_t size, const char *name,
                                 yl_tensor_table *table)
{
    size_t pos, n;
    char what[512];   /* pickle offsets in messages count from the pickle's first byte */
    YL_TRY(yl_pickle_read_legacy_header(data, size, name, &pos));

    yl_pth_state_dict sd;
    snprintf(what, sizeof what, "%s: state_dict pickle at byte %zu", name, pos);
    YL_TRY(yl_pickle_read_state_dict(data + pos, size - pos, what, &n, &sd));
    pos += n;

    yl_byte_span *keys;
    size_t key_count;
    snprintf(what, sizeof what, "%s: storage key pickle at byte %zu", name, pos);
    yolact_status s = yl_pickle_read_str_list(data + pos, size - pos, what, &n, &keys, &key_count);
    if (s == YOLACT_OK) {
        s = locate_storages(data, size, pos + n, keys, key_count, name, &sd);
        free(keys);
    }
    if (s == YOLACT_OK)
        s = yl_pth_state_dict_to_table(&sd, name, size, table);
    yl_pth_state_dict_free(&sd);
    return s;
}
