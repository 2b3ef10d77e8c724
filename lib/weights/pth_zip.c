/* The zip .pth container of current PyTorch: <top>/data.pkl holds the state_dict pickle and
 * <top>/data/<key> each storage's bytes (usually STORED; DEFLATED is inflated with a bound).
 * Every offset and size in the archive is checked against the file before use. */
#include "weights/weights_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "input_limits.h"
#include "status.h"

enum {
    EOCD_SIZE = 22,
    ZIP64_LOCATOR_SIZE = 20,
    ZIP64_EOCD_SIZE = 56,
    CENTRAL_SIZE = 46,
    LOCAL_SIZE = 30,
    METHOD_STORED = 0,
    METHOD_DEFLATED = 8,
    /* deflate cannot expand data more than ~1032:1; a larger declared ratio is a bomb */
    MAX_DEFLATE_RATIO = 1032
};

typedef struct zip_entry {
    const uint8_t *name;
    size_t name_len;
    uint16_t method, flags;
    uint64_t csize, usize, local_offset;
} zip_entry;

typedef struct zip_archive {
    const uint8_t *data;
    size_t size;
    const char *name;
    zip_entry *entries;            /* sorted by name */
    size_t count;
} zip_archive;

static int compare_entries(const void *pa, const void *pb)
{
    const zip_entry *a = pa, *b = pb;
    int c = memcmp(a->name, b->name, a->name_len < b->name_len ? a->name_len : b->name_len);
    return c ? c : (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

static const zip_entry *find_entry(const zip_archive *z, const uint8_t *name, size_t len)
{
    zip_entry key = {.name = name, .name_len = len};
    return bsearch(&key, z->entries, z->count, sizeof *z->entries, compare_entries);
}

/* Where the central directory is, from the end-of-central-directory record (and its zip64
 * form, which PyTorch always writes). */
static yolact_status find_central_directory(const zip_archive *z, uint64_t *offset,
                                            uint64_t *length, uint64_t *count)
{
    *offset = *length = *count = 0;
    const uint8_t *d = z->data;
    if (z->size < EOCD_SIZE)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: zip archive truncated", z->name);
    size_t lowest = z->size - EOCD_SIZE > 0xffff ? z->size - EOCD_SIZE - 0xffff : 0;
    size_t eocd = z->size - EOCD_SIZE;
    while (!(d[eocd] == 'P' && d[eocd + 1] == 'K' && d[eocd + 2] == 5 && d[eocd + 3] == 6)) {
        if (eocd == lowest)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: no zip end-of-central-directory record",
                           z->name);
        eocd--;
    }
    if (yl_load_u16le(d + eocd + 4) != 0 || yl_load_u16le(d + eocd + 6) != 0)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s: multi-disk zip archive", z->name);
    *count = yl_load_u16le(d + eocd + 10);
    *length = yl_load_u32le(d + eocd + 12);
    *offset = yl_load_u32le(d + eocd + 16);
    if (eocd >= ZIP64_LOCATOR_SIZE) {
        const uint8_t *loc = d + eocd - ZIP64_LOCATOR_SIZE;
        if (loc[0] == 'P' && loc[1] == 'K' && loc[2] == 6 && loc[3] == 7) {
            uint64_t at = yl_load_u64le(loc + 8);
            if (z->size < ZIP64_EOCD_SIZE || at > z->size - ZIP64_EOCD_SIZE ||
                memcmp(d + at, "PK\6\6", 4) != 0)
                return yl_fail(YOLACT_ERR_FORMAT, "%s: bad zip64 end-of-central-directory offset",
                               z->name);
            *count = yl_load_u64le(d + at + 32);
            *length = yl_load_u64le(d + at + 40);
            *offset = yl_load_u64le(d + at + 48);
        }
    }
    if (*offset > z->size || *length > z->size - *offset)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: zip central directory outside the file", z->name);
    if (*count > *length / CENTRAL_SIZE)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: zip declares %llu entries in %llu bytes", z->name,
                       (unsigned long long)*count, (unsigned long long)*length);
    return YOLACT_OK;
}

/* Sizes and offset saturated at 0xffffffff are in the zip64 extra field, in this order. */
static yolact_status apply_zip64_extra(const zip_archive *z, const uint8_t *extra, size_t n,
                                       zip_entry *e)
{
    uint64_t *fields[3] = {&e->usize, &e->csize, &e->local_offset};
    for (size_t at = 0; at + 4 <= n;) {
        uint16_t id = yl_load_u16le(extra + at), len = yl_load_u16le(extra + at + 2);
        if (len > n - at - 4)
            break;
        if (id == 1) {
            const uint8_t *p = extra + at + 4;
            size_t used = 0;
            for (int f = 0; f < 3; f++) {
                if (*fields[f] != 0xffffffffu)
                    continue;
                if (used + 8 > len)
                    return yl_fail(YOLACT_ERR_FORMAT, "%s: short zip64 field for '%.*s'", z->name,
                                   (int)e->name_len, (const char *)e->name);
                *fields[f] = yl_load_u64le(p + used);
                used += 8;
            }
            return YOLACT_OK;
        }
        at += 4 + (size_t)len;
    }
    return YOLACT_OK;
}

static yolact_status read_central_directory(zip_archive *z)
{
    uint64_t offset, length, count;
    YL_TRY(find_central_directory(z, &offset, &length, &count));
    z->entries = calloc(count ? count : 1, sizeof *z->entries);
    if (!z->entries)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for %llu zip entries", z->name,
                       (unsigned long long)count);
    const uint8_t *p = z->data + offset, *end = p + length;
    for (uint64_t i = 0; i < count; i++) {
        if ((size_t)(end - p) < CENTRAL_SIZE || memcmp(p, "PK\1\2", 4) != 0)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: zip central directory entry %llu is damaged",
                           z->name, (unsigned long long)i);
        size_t name_len = yl_load_u16le(p + 28), extra_len = yl_load_u16le(p + 30),
               comment_len = yl_load_u16le(p + 32);
        if (name_len + extra_len + comment_len > (size_t)(end - p) - CENTRAL_SIZE)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: zip central directory entry %llu overruns it",
                           z->name, (unsigned long long)i);
        zip_entry *e = &z->entries[z->count++];
        e->flags = yl_load_u16le(p + 8);
        e->method = yl_load_u16le(p + 10);
        e->csize = yl_load_u32le(p + 20);
        e->usize = yl_load_u32le(p + 24);
        e->local_offset = yl_load_u32le(p + 42);
        e->name = p + CENTRAL_SIZE;
        e->name_len = name_len;
        YL_TRY(apply_zip64_extra(z, p + CENTRAL_SIZE + name_len, extra_len, e));
        p += CENTRAL_SIZE + name_len + extra_len + comment_len;
    }
    qsort(z->entries, z->count, sizeof *z->entries, compare_entries);
    for (size_t i = 1; i < z->count; i++)
        if (compare_entries(&z->entries[i - 1], &z->entries[i]) == 0)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: zip entry '%.*s' appears twice", z->name,
                           (int)z->entries[i].name_len, (const char *)z->entries[i].name);
    return YOLACT_OK;
}

/* inflate a raw deflate stream into exactly out_size bytes; more output is an error. */
static yolact_status inflate_bounded(const zip_archive *z, const zip_entry *e, const uint8_t *in,
                                     uint8_t *out, size_t out_size)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: cannot start zlib", z->name);
    size_t in_left = (size_t)e->csize, out_left = out_size;
    uint8_t spill;                                   /* catches output past the bound */
    int rc = Z_OK;
    zs.next_in = (Bytef *)in;
    zs.next_out = out;
    while (rc == Z_OK) {
        /* zlib counts in 32 bits: feed both sides in chunks */
        if (zs.avail_in == 0) {
            zs.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
            in_left -= zs.avail_in;
        }
        if (zs.avail_out == 0) {
            if (out_left == 0) {
                if (zs.next_out == &spill + 1)
                    break;                           /* wrote past the declared size */
                zs.next_out = &spill;
                zs.avail_out = 1;
            } else {
                zs.avail_out = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
                out_left -= zs.avail_out;
            }
        }
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0)
            break;                                   /* input exhausted before the end */
        if (rc == Z_BUF_ERROR)
            rc = Z_OK;
    }
    /* total_out counts the spill byte too */
    int overflowed = zs.total_out > out_size;
    int complete = rc == Z_STREAM_END && zs.total_out == out_size;
    inflateEnd(&zs);
    if (overflowed)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: zip entry '%.*s' inflates to more than its "
                       "declared %zu bytes", z->name, (int)e->name_len, (const char *)e->name,
                       out_size);
    if (!complete)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: zip entry '%.*s' is not a valid deflate stream "
                       "of %zu bytes", z->name, (int)e->name_len, (const char *)e->name, out_size);
    return YOLACT_OK;
}

/* The bytes of an entry: in the file when STORED, else inflated into *owned. */
static yolact_status entry_bytes(const zip_archive *z, const zip_entry *e, const uint8_t **bytes,
                                 uint8_t **owned)
{
    const char *name = z->name;
    int nl = (int)e->name_len;
    const char *en = (const char *)e->name;
    *owned = NULL;
    if (e->flags & 1)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s: zip entry '%.*s' is encrypted", name, nl, en);
    if (e->local_offset > z->size || z->size - e->local_offset < LOCAL_SIZE ||
        memcmp(z->data + e->local_offset, "PK\3\4", 4) != 0)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: zip entry '%.*s' has no local header", name, nl, en);
    const uint8_t *lh = z->data + e->local_offset;
    uint64_t start = e->local_offset + LOCAL_SIZE + yl_load_u16le(lh + 26) + yl_load_u16le(lh + 28);
    if (start > z->size || e->csize > z->size - start)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: zip entry '%.*s' runs past the end of the file",
                       name, nl, en);
    if (e->method == METHOD_STORED) {
        if (e->csize != e->usize)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: stored zip entry '%.*s' has two sizes", name,
                           nl, en);
        *bytes = z->data + start;
        return YOLACT_OK;
    }
    if (e->method != METHOD_DEFLATED)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s: zip entry '%.*s' uses compression method %u",
                       name, nl, en, e->method);
    if (e->usize > (uint64_t)yl_limit_weights_bytes() ||
        e->usize > e->csize * MAX_DEFLATE_RATIO + 64)
        return yl_fail(YOLACT_ERR_LIMIT, "%s: zip entry '%.*s' declares %llu bytes from %llu "
                       "compressed (beyond deflate's ratio or the size limit)", name, nl, en,
                       (unsigned long long)e->usize, (unsigned long long)e->csize);
    *owned = malloc(e->usize ? (size_t)e->usize : 1);
    if (!*owned)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory to inflate '%.*s'", name, nl, en);
    yolact_status s = inflate_bounded(z, e, z->data + start, *owned, (size_t)e->usize);
    if (s != YOLACT_OK) {
        free(*owned);
        *owned = NULL;
        return s;
    }
    *bytes = *owned;
    return YOLACT_OK;
}

/* The one "<top>/data.pkl" entry, whatever the top folder is called. */
static yolact_status find_pickle(const zip_archive *z, const zip_entry **pkl, size_t *top_len)
{
    static const char suffix[] = "/data.pkl";
    const size_t sl = sizeof suffix - 1;
    *pkl = NULL;
    for (size_t i = 0; i < z->count; i++) {
        const zip_entry *e = &z->entries[i];
        if (e->name_len <= sl || memcmp(e->name + e->name_len - sl, suffix, sl) != 0 ||
            memchr(e->name, '/', e->name_len - sl))
            continue;
        if (*pkl)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: zip holds more than one */data.pkl", z->name);
        *pkl = e;
        *top_len = e->name_len - sl;
    }
    if (!*pkl)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: zip without a <folder>/data.pkl entry (not a "
                       "PyTorch checkpoint)", z->name);
    return YOLACT_OK;
}

/* Find, check and (if needed) inflate the bytes of every storage: <top>/data/<key>. */
static yolact_status load_storages(const zip_archive *z, const uint8_t *top, size_t top_len,
                                   yl_pth_state_dict *sd)
{
    size_t longest = 0;
    for (size_t i = 0; i < sd->storage_count; i++)
        if (sd->storages[i].key_len > longest)
            longest = sd->storages[i].key_len;
    char *path = malloc(top_len + 6 + longest + 1);
    if (!path)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for entry names", z->name);
    memcpy(path, top, top_len);
    memcpy(path + top_len, "/data/", 6);
    yolact_status s = YOLACT_OK;
    /* Entries may overlap (many names, one compressed stream): bound what all the
     * inflations together may allocate, not just each one. */
    int64_t inflate_budget = yl_weights_output_budget(z->size);
    for (size_t i = 0; s == YOLACT_OK && i < sd->storage_count; i++) {
        yl_pth_storage *st = &sd->storages[i];
        memcpy(path + top_len + 6, st->key, st->key_len);
        size_t len = top_len + 6 + st->key_len;
        const zip_entry *e = find_entry(z, (const uint8_t *)path, len);
        uint64_t want = (uint64_t)st->numel * yl_dtype_size(st->dtype);
        if (!e)
            s = yl_fail(YOLACT_ERR_FORMAT, "%s: no zip entry '%.*s' for storage '%s'", z->name,
                        (int)len, path, st->key);
        else if ((uint64_t)st->numel > z->size || e->usize != want)
            s = yl_fail(YOLACT_ERR_FORMAT, "%s: zip entry '%.*s' holds %llu bytes, the storage "
                        "(%lld x %s) needs %llu", z->name, (int)len, path,
                        (unsigned long long)e->usize, (long long)st->numel,
                        yl_dtype_name(st->dtype), (unsigned long long)want);
        else if (e->method != METHOD_STORED && (inflate_budget -= (int64_t)e->usize) < 0)
            s = yl_fail(YOLACT_ERR_LIMIT, "%s: zip storages inflate to more than the file's "
                        "size allows (at '%.*s')", z->name, (int)len, path);
        else
            s = entry_bytes(z, e, &st->bytes, &st->owned);
    }
    free(path);
    return s;
}

/* A "<top>/byteorder" entry, written by PyTorch >= 2.1, must say little. */
static yolact_status check_byteorder(const zip_archive *z, const uint8_t *top, size_t top_len)
{
    static const char rest[] = "/byteorder";
    char *path = malloc(top_len + sizeof rest);
    if (!path)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for entry names", z->name);
    memcpy(path, top, top_len);
    memcpy(path + top_len, rest, sizeof rest - 1);
    const zip_entry *e = find_entry(z, (const uint8_t *)path, top_len + sizeof rest - 1);
    free(path);
    if (!e)
        return YOLACT_OK;
    const uint8_t *bytes;
    uint8_t *owned;
    YL_TRY(entry_bytes(z, e, &bytes, &owned));
    int little = e->usize == 6 && memcmp(bytes, "little", 6) == 0;
    free(owned);
    if (!little)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s: saved with big-endian byte order", z->name);
    return YOLACT_OK;
}

yolact_status yl_pth_zip_read(const uint8_t *data, size_t size, const char *name,
                              yl_tensor_table *table)
{
    zip_archive z = {.data = data, .size = size, .name = name};
    const zip_entry *pkl_entry = NULL;
    const uint8_t *pkl = NULL;
    uint8_t *pkl_owned = NULL;
    size_t top_len = 0;
    yl_pth_state_dict sd = {0};
    char what[512];

    yolact_status s = read_central_directory(&z);
    if (s == YOLACT_OK)
        s = find_pickle(&z, &pkl_entry, &top_len);
    if (s == YOLACT_OK)
        s = check_byteorder(&z, pkl_entry->name, top_len);
    if (s == YOLACT_OK)
        s = entry_bytes(&z, pkl_entry, &pkl, &pkl_owned);
    if (s == YOLACT_OK) {
        snprintf(what, sizeof what, "%s: %.*s", name, (int)pkl_entry->name_len,
                 (const char *)pkl_entry->name);
        s = yl_pickle_read_state_dict(pkl, (size_t)pkl_entry->usize, what, NULL, &sd);
    }
    if (s == YOLACT_OK)
        s = load_storages(&z, pkl_entry->name, top_len, &sd);
    if (s == YOLACT_OK)
        s = yl_pth_state_dict_to_table(&sd, name, size, table);
    yl_pth_state_dict_free(&sd);
    free(pkl_owned);
    free(z.entries);
    return s;
}
