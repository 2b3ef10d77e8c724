/* yolact-convert: rewrite a checkpoint in another format. Reads whatever the library reads
 * (.pth zip or legacy, .safetensors) and writes, by OUT's extension, .safetensors (float32,
 * or float16 with --fp16) or .pth as torch.save writes it (float32), all or nothing.
 *   yolact-convert IN OUT [--fp16] */
#include <stdio.h>
#include <string.h>

#include "weights/tensor_table.h"

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
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
        s = pth ? yl_weights_write_pth(&table, out)
                : yl_weights_write_safetensors(&table, fp16 ? YL_DTYPE_F16 : YL_DTYPE_F32,
                                               NULL, out);
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
