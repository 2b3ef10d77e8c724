/* The writers' growable byte buffer (byte_buffer.h). */
#include "weights/byte_buffer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes; 0 (and failed set) when there is none. */
static int reserve(yl_byte_buffer *b, size_t n)
{
    if (b->failed)
        return 0;
    if (b->cap - b->size >= n)
        return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->size < n) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            return 0;
        }
        cap *= 2;
    }
    uint8_t *grown = realloc(b->data, cap);
    if (!grown) {
        b->failed = 1;
        return 0;
    }
    b->data = grown;
    b->cap = cap;
    return 1;
}

void yl_buf_put(yl_byte_buffer *b, const void *bytes, size_t n)
{
    if (n && reserve(b, n)) {
        memcpy(b->data + b->size, bytes, n);
        b->size += n;
    }
}

void yl_buf_put_str(yl_byte_buffer *b, const char *s) { yl_buf_put(b, s, strlen(s)); }

void yl_buf_put_u8(yl_byte_buffer *b, uint8_t v) { yl_buf_put(b, &v, 1); }

void yl_buf_put_le(yl_byte_buffer *b, uint64_t v, int bytes)
{
    uint8_t le[8];
    for (int i = 0; i < bytes; i++)
        le[i] = (uint8_t)(v >> 8 * i);
    yl_buf_put(b, le, (size_t)bytes);
}

void yl_buf_printf(yl_byte_buffer *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if (!reserve(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->size, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->size += (size_t)n;
}

void yl_buf_free(yl_byte_buffer *b)
{
    free(b->data);
    *b = (yl_byte_buffer){0};
}
