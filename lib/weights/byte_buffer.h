/* A growable byte buffer for the writers' small structured parts (a safetensors JSON
 * header, a .pth pickle, a zip's central directory). Failure is sticky: after the first
 * allocation failure every append does nothing and `failed` stays set, so a writer checks
 * once, at the end. */
#ifndef YL_BYTE_BUFFER_H
#define YL_BYTE_BUFFER_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct yl_byte_buffer {
    uint8_t *data;      /* owned */
    size_t size, cap;
    int failed;         /* an allocation failed; data holds what came before */
} yl_byte_buffer;

void yl_buf_put(yl_byte_buffer *b, const void *bytes, size_t n);
void yl_buf_put_str(yl_byte_buffer *b, const char *s);
void yl_buf_put_u8(yl_byte_buffer *b, uint8_t v);
/* v as `bytes` little-endian bytes (1 to 8). */
void yl_buf_put_le(yl_byte_buffer *b, uint64_t v, int bytes);
void yl_buf_printf(yl_byte_buffer *b, const char *fmt, ...) YL_PRINTF(2, 3);
void yl_buf_free(yl_byte_buffer *b);

#endif
