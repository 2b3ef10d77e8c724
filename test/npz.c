/* Test helper: read one array out of a NumPy .npz (zip of .npy files); see npz.h. */
#include "npz.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "yl_test.h"

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* A zip member located through the central directory. */
typedef struct zip_entry {
    uint32_t method;
    uint64_t compressed, size, local_offset;
} zip_entry;

/* Replace the 0xFFFFFFFF fields of a central-directory entry from its zip64 extra field. */
static const char *zip64_fix(const uint8_t *extra, size_t len, zip_entry *e)
{
    while (len >= 4) {
        uint32_t id = rd16(extra), n = rd16(extra + 2);
        if (n > len - 4)
            return "zip: extra field overruns the entry";
        if (id == 1) {
            const uint8_t *q = extra + 4, *end = q + n;
            uint64_t *fields[3] = {&e->size, &e->compressed, &e->local_offset};
            for (int i = 0; i < 3; i++) {
                if (*fields[i] != 0xFFFFFFFFu)
                    continue;
                if (end - q < 8)
                    return "zip: short zip64 extra field";
                *fields[i] = rd64(q);
                q += 8;
            }
            return NULL;
        }
        extra += 4 + n;
        len -= 4 + n;
    }
    return NULL;
}

static const char *zip_find(const uint8_t *z, size_t size, const char *name, zip_entry *e)
{
    if (size < 22)
        return "zip: file too small";
    size_t eocd = size - 22;
    for (;;) {
        if (rd32(z + eocd) == 0x06054b50u)
            break;
        if (eocd == 0 || size - eocd > 22 + 65535)
            return "zip: no end of central directory";
        eocd--;
    }
    uint64_t entries = rd16(z + eocd + 10), cd = rd32(z + eocd + 16);
    if ((entries == 0xFFFF || cd == 0xFFFFFFFFu) && eocd >= 20 &&
        rd32(z + eocd - 20) == 0x07064b50u) {
        uint64_t z64 = rd64(z + eocd - 20 + 8);
        if (z64 > size - 56 || rd32(z + z64) != 0x06064b50u)
            return "zip: bad zip64 end of central directory";
        entries = rd64(z + z64 + 32);
        cd = rd64(z + z64 + 48);
    }
    size_t name_len = strlen(name);
    for (uint64_t i = 0, p = cd; i < entries; i++) {
        if (p > size - 46 || rd32(z + p) != 0x02014b50u)
            return "zip: bad central directory entry";
        uint32_t n = rd16(z + p + 28), x = rd16(z + p + 30), c = rd16(z + p + 32);
        if (46 + (uint64_t)n + x + c > size - p)
            return "zip: central directory entry overruns the file";
        if (n == name_len && memcmp(z + p + 46, name, n) == 0) {
            e->method = rd16(z + p + 10);
            e->compressed = rd32(z + p + 20);
            e->size = rd32(z + p + 24);
            e->local_offset = rd32(z + p + 42);
            return zip64_fix(z + p + 46 + n, x, e);
        }
        p += 46 + (uint64_t)n + x + c;
    }
    return "zip: no such member";
}

/* The member's bytes, malloc'ed. */
static const char *zip_extract(const uint8_t *z, size_t size, const zip_entry *e,
                               uint8_t **out)
{
    uint64_t lo = e->local_offset;
    if (lo > size - 30 || rd32(z + lo) != 0x04034b50u)
        return "zip: bad local header";
    uint64_t data = lo + 30 + rd16(z + lo + 26) + rd16(z + lo + 28);
    if (data > size || e->compressed > size - data || e->size > SIZE_MAX - 1)
        return "zip: member overruns the file";
    uint8_t *buf = malloc(e->size ? e->size : 1);
    if (!buf)
        return "out of memory";
    if (e->method == 0) {
        if (e->compressed != e->size) {
            free(buf);
            return "zip: stored member with two sizes";
        }
        memcpy(buf, z + data, e->size);
    } else if (e->method == 8) {
        z_stream s;
        memset(&s, 0, sizeof s);
        if (inflateInit2(&s, -MAX_WBITS) != Z_OK) {
            free(buf);
            return "zip: inflateInit2 failed";
        }
        int rc = Z_OK;
        /* zlib counts in uInt: feed and drain in chunks so members over 4 GiB work too. */
        uint64_t in_left = e->compressed, out_left = e->size;
        s.next_in = (Bytef *)(z + data);
        s.next_out = buf;
        while (rc == Z_OK) {
            if (s.avail_in == 0) {
                s.avail_in = in_left > 1u << 30 ? 1u << 30 : (uInt)in_left;
                in_left -= s.avail_in;
            }
            if (s.avail_out == 0) {
                s.avail_out = out_left > 1u << 30 ? 1u << 30 : (uInt)out_left;
                out_left -= s.avail_out;
            }
            rc = inflate(&s, Z_NO_FLUSH);
            if (rc == Z_BUF_ERROR && s.avail_in == 0 && in_left == 0)
                break;
        }
        int ok = rc == Z_STREAM_END && s.total_out == e->size;
        inflateEnd(&s);
        if (!ok) {
            free(buf);
            return "zip: corrupt deflate data";
        }
    } else {
        free(buf);
        return "zip: unsupported compression method";
    }
    *out = buf;
    return NULL;
}

/* Parse a .npy header dict: 'descr', 'fortran_order', 'shape'. */
static const char *npy_header(const char *h, size_t len, yl_npy *a)
{
    char dict[1024];
    if (len >= sizeof dict)
        return "npy: header too long";
    memcpy(dict, h, len);
    dict[len] = '\0';
    const char *d = strstr(dict, "'descr':"), *f = strstr(dict, "'fortran_order':");
    const char *s = strstr(dict, "'shape':");
    if (!d || !f || !s)
        return "npy: header lacks descr, fortran_order or shape";
    static const struct { const char *name; size_t size; } types[] = {
        {"<f4", 4}, {"<f8", 8}, {"<i4", 4}, {"<i8", 8}, {"|u1", 1}, {"|b1", 1}};
    d = strchr(d + 8, '\'');
    a->item_size = 0;
    for (size_t i = 0; d && i < sizeof types / sizeof types[0]; i++) {
        if (strncmp(d + 1, types[i].name, 3) == 0 && d[4] == '\'') {
            memcpy(a->dtype, types[i].name, 4);
            a->item_size = types[i].size;
        }
    }
    if (!a->item_size)
        return "npy: unsupported dtype";
    f += 16;
    while (*f == ' ')
        f++;
    if (strncmp(f, "False", 5) != 0)
        return "npy: Fortran order is not supported";
    s = strchr(s, '(');
    if (!s)
        return "npy: bad shape";
    a->ndim = 0;
    a->count = 1;
    for (s++;;) {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == ')')
            break;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s || a->ndim == YL_NPY_MAX_DIMS)
            return "npy: bad shape";
        if (v && a->count > SIZE_MAX / v)
            return "npy: shape too large";
        a->shape[a->ndim++] = (size_t)v;
        a->count *= (size_t)v;
        s = end;
    }
    return NULL;
}

static const char *npy_parse(const uint8_t *b, size_t size, yl_npy *a)
{
    if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return "npy: bad magic";
    size_t header, start;
    if (b[6] == 1) {
        header = rd16(b + 8);
        start = 10;
    } else if ((b[6] == 2 || b[6] == 3) && size >= 12) {
        header = rd32(b + 8);
        start = 12;
    } else {
        return "npy: unsupported format version";
    }
    if (header > size - start)
        return "npy: header overruns the data";
    const char *err = npy_header((const char *)b + start, header, a);
    if (err)
        return err;
    size_t bytes = a->count * a->item_size;
    if (a->item_size && bytes / a->item_size != a->count)
        return "npy: shape too large";
    if (bytes != size - start - header)
        return "npy: data size does not match the shape";
    a->data = malloc(bytes ? bytes : 1);
    if (!a->data)
        return "out of memory";
    memcpy(a->data, b + start + header, bytes);
    return NULL;
}

const char *yl_npz_read(const char *path, const char *key, yl_npy *out)
{
    memset(out, 0, sizeof *out);
    char name[256];
    if (strlen(key) + 5 > sizeof name)
        return "npz: key too long";
    strcpy(name, key);
    strcat(name, ".npy");
    size_t size;
    uint8_t *zip = yl_test_read_file(path, &size);
    if (!zip)
        return "npz: cannot read the file";
    zip_entry e;
    uint8_t *member = NULL;
    const char *err = zip_find(zip, size, name, &e);
    if (!err)
        err = zip_extract(zip, size, &e, &member);
    if (!err)
        err = npy_parse(member, e.size, out);
    free(member);
    free(zip);
    if (err)
        yl_npy_free(out);
    return err;
}

void yl_npy_free(yl_npy *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}
