/* COCO compressed RLE of packed bitmasks, byte-identical to pycocotools' rleEncode +
 * rleToString and the inverse of rleFrString (column-major runs, first run of zeros). */
#include <string.h>

#include "rle.h"
#include "yolact.h"

static inline int bit_at(const uint8_t *bits, size_t stride, int x, int y)
{
    return (bits[(size_t)y * stride + (size_t)(x >> 3)] >> (7 - (x & 7))) & 1;
}

/* The string writer: runs are emitted one by one; value i > 2 is written as the difference
 * to run i - 2, in 5-bit groups, low first, 0x20 = more follows, +48. */
typedef struct rle_writer {
    char *out;
    size_t cap, len;
    long long runs;             /* runs emitted so far */
    long long prev2, prev1;     /* the last two runs */
} rle_writer;

static void rle_emit(rle_writer *w, long long run)
{
    long long x = w->runs > 2 ? run - w->prev2 : run;
    w->prev2 = w->prev1;
    w->prev1 = run;
    w->runs++;
    for (int more = 1; more;) {
        long long c = x & 0x1f;
        x = (x - c) / 32;       /* an arithmetic shift by 5, without relying on >> of negatives */
        more = (c & 0x10) ? x != -1 : x != 0;
        if (more)
            c |= 0x20;
        if (w->len + 1 < w->cap)
            w->out[w->len] = (char)(c + 48);
        w->len++;
    }
}

size_t yl_rle_encode(const uint8_t *bits, int width, int height, size_t stride, char *out,
                     size_t cap)
{
    rle_writer w = {out, cap, 0, 0, 0, 0};
    long long run = 0;
    int value = 0;
    const int byte_cols = width > 0 ? (width + 7) / 8 : 0;
    for (int bx = 0; bx < byte_cols && height > 0; bx++) {
        /* Rows [first, last] of this 8-column strip hold every set bit; the rest are zeros
         * and extend the run in bulk (masks are mostly empty). */
        int first = 0, last = height - 1;
        while (first < height && !bits[(size_t)first * stride + bx])
            first++;
        while (last > first && !bits[(size_t)last * stride + bx])
            last--;
        const int x_end = bx * 8 + 8 < width ? bx * 8 + 8 : width;
        for (int x = bx * 8; x < x_end; x++) {
            if (first == height) {
                if (value) {
                    rle_emit(&w, run);
                    run = 0;
                    value = 0;
                }
                run += height;
                continue;
            }
            int y = 0;
            if (!value) {
                run += first;
                y = first;
            }
            for (; y <= last; y++) {
                int v = bit_at(bits, stride, x, y);
                if (v != value) {
                    rle_emit(&w, run);
                    run = 0;
                    value = v;
                }
                run++;
            }
            if (last + 1 < height) {
                if (value) {
                    rle_emit(&w, run);
                    run = 0;
                    value = 0;
                }
                run += height - 1 - last;
            }
        }
    }
    rle_emit(&w, run);
    if (cap > 0)
        out[w.len < cap ? w.len : cap - 1] = '\0';
    return w.len;
}

int yl_rle_decode(const char *rle, int width, int height, uint8_t *bits, size_t stride)
{
    if (width < 0 || height < 0)
        return -1;
    const unsigned long long total = (unsigned long long)width * (unsigned long long)height;
    const size_t row_bytes = ((size_t)width + 7) / 8;
    for (int y = 0; y < height; y++)
        memset(bits + (size_t)y * stride, 0, row_bytes);

    unsigned long long pos = 0;
    long long prev2 = 0, prev1 = 0, runs = 0;
    for (const unsigned char *p = (const unsigned char *)rle; *p;) {
        /* One value: at most 12 groups (60 bits), far more than any run needs. */
        unsigned long long x = 0;
        int k = 0, more = 1;
        while (more) {
            if (k == 12 || *p < 48 || *p > 48 + 63)
                return -1;
            unsigned c = *p++ - 48u;
            x |= (unsigned long long)(c & 0x1f) << (5 * k);
            more = (c & 0x20) != 0;
            k++;
            if (!more && (c & 0x10))
                x |= ~0ull << (5 * k);      /* sign-extend */
        }
        long long run = (long long)x;
        if (runs > 2)
            run += prev2;
        prev2 = prev1;
        prev1 = run;
        if (run < 0 || (unsigned long long)run > total - pos)
            return -1;
        if (runs & 1) {         /* a run of ones */
            for (unsigned long long i = pos; i < pos + (unsigned long long)run; i++) {
                int x_ = (int)(i / (unsigned)height), y_ = (int)(i % (unsigned)height);
                bits[(size_t)y_ * stride + (size_t)(x_ >> 3)] |= (uint8_t)(0x80 >> (x_ & 7));
            }
        }
        pos += (unsigned long long)run;
        runs++;
    }
    return pos == total ? 0 : -1;
}

YOLACT_API size_t yolact_mask_rle(const uint8_t *mask, int width, int height, size_t stride,
                                  char *out, size_t cap)
{
    if (width < 0 || height < 0 || (!mask && width > 0 && height > 0)) {
        if (out && cap)
            out[0] = '\0';
        return 0;
    }
    return yl_rle_encode(mask, width, height, stride, out, cap);
}
