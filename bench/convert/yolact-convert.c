/* yolact-convert: rewrite a checkpoint in another format. Reads whatever the library reads
 * (.pth zip or legacy, .safetensors) and writes, by OUT's extension, .safetensors (float32,
 * or float16 with --fp16, with the input's metadata: the class names and ids yolact-train
 * writes) or .pth as torch.save writes it (float32, no metadata: it says what it drops),
 * all or nothing.
 *   yolact-convert IN OUT [--fp16] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weights/tensor_table.h"

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

static yolact_status write_table(const yl_tensor_table *table, const char *out, int pth,
                                 int fp16)
{
    if (pth) {
        if (table->metadata_count)
            fprintf(stderr, "yolact-convert: %s: a .pth has no place for metadata; dropped %zu "
                    "entries (the class names among them, if any)\n", out,
                    table->metadata_count);
        return yl_weights_write_pth(table, out);
    }
    /* The writer takes the metadata as a NULL-terminated list of key, value. */
    const char **metadata = calloc(2 * table->metadata_count + 1, sizeof *metadata);
    if (!metadata)
        return YOLACT_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < 2 * table->metadata_count; i++)
        metadata[i] = table->metadata[i];
    yolact_status s = yl_weights_write_safetensors(table, fp16 ? YL_DTYPE_F16 : YL_DTYPE_F32,
                                                   metadata, out);
    free(metadata);
    return s;
}

int main(int argc, char **argv)
{
    int fp16 = argc == 4 && strcmp(argv[3], "--fp16") == 0;
    if (argc != 3 + fp16) {
        fprintf(stderr, "usage: yolact-convert IN OUT.safetensors|OUT.pth [--fp16]\n");
        return 2;
    }
    const char *in = argv[1], *out = argv[2];
    int pth = ends_with(out, ".pth");
    if (!pth && !ends_with(out, ".safetensors")) {
        fprintf(stderr, "yolact-convert: %s: the output's name ends in .safetensors or .pth\n",
                out);
        return 2;
    }
    if (pth && fp16) {
        fprintf(stderr, "yolact-convert: --fp16 is for .safetensors (a .pth is float32)\n");
        return 2;
    }
    yl_tensor_table table;
    yolact_status s = yl_weights_read(in, &table);
    if (s == YOLACT_OK) {
        s = write_table(&table, out, pth, fp16);
        if (s == YOLACT_OK)
            printf("%s: %zu tensors written\n", out, table.count);
        yl_tensor_table_free(&table);
    }
    if (s != YOLACT_OK) {
        fprintf(stderr, "yolact-convert: %s: %s\n", yolact_status_string(s), yolact_last_error());
        return 1;
    }
    return 0;
}
