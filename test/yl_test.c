/* Implementation of the shared test helpers. */
#include "yl_test.h"

#include <stdio.h>
#include <sys/wait.h>

#include "model/model.h"

uint8_t *yl_test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        *size = (size_t)n;
    return buf;
}

yolact_model *yl_test_load_model(const char *path, const char *preset)
{
    yolact_model_options mo;
    yolact_model_options_init(&mo);
    mo.preset = preset;
    yolact_model *m = NULL;
    ck_assert_status(yolact_model_load(path, &mo, &m), YOLACT_OK);
    return m;
}

yolact_model *yl_test_load_model_at(const char *path, const char *preset, int size)
{
    const yl_preset *full = yl_preset_find(preset);
    ck_assert_ptr_nonnull(full);
    yl_preset p = *full;
    size = size ? size : p.input_size;
    for (int l = 0; l < YL_MAX_LEVELS; l++)
        for (int j = 0; j < YL_MAX_SCALES; j++)
            p.scales[l][j] = p.scales[l][j] * (float)size / (float)p.input_size;
    p.input_size = size;
    yl_tensor_table table = {0};
    ck_assert_status(yl_weights_read(path, &table), YOLACT_OK);
    yolact_model *m = NULL;
    yolact_status s = yl_model_build(&table, &p, YOLACT_PRESET_GIVEN, &m);
    yl_tensor_table_free(&table);
    ck_assert_status(s, YOLACT_OK);
    return m;
}

yolact_model *yl_test_parity_model(void)
{
    return yl_test_load_model(YL_TEST_PARITY_CHECKPOINT, "yolact_resnet50");
}

int yl_test_run(const char *cmd, char **out)
{
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = 0, cap = 1 << 16;
    *out = malloc(cap);
    for (size_t got; (got = fread(*out + n, 1, cap - n - 1, p)) > 0;) {
        n += got;
        if (n + 1 == cap)
            *out = realloc(*out, cap *= 2);
    }
    (*out)[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void yl_test_reblock(const float *from, int c, int hw, int block, int to_blocked, float *to)
{
    for (int ch = 0; ch < c; ch++)
        for (int p = 0; p < hw; p++) {
            size_t plain = (size_t)ch * hw + p;
            size_t blocked = ((size_t)(ch / block) * hw + p) * block + ch % block;
            if (to_blocked)
                to[blocked] = from[plain];
            else
                to[plain] = from[blocked];
        }
}
