/* The fuzz entry points (see fuzz_entries.h): one input through one library reader, then
 * the invariants every answer must keep — an accepted result is well-formed and fully
 * readable (so ASan sees any short buffer), a refusal leaves nothing behind and says why. */
#include "fuzz_entries.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_io.h"
#include "model/model.h"
#include "weights/weights_internal.h"

/* A broken invariant is a bug the fuzzer must report: abort with the reason. */
#define REQUIRE(cond)                                                                     \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* Reading every value through a volatile sink keeps the loads. */
static volatile float float_sink;
static volatile uint8_t byte_sink;

static void require_refusal_explained(yolact_status s)
{
    REQUIRE(s != YOLACT_OK && s != YOLACT_ERR_INTERNAL);
    REQUIRE(yolact_last_error()[0] != '\0');
}

yolact_status yl_fuzz_weights(const uint8_t *data, size_t size)
{
    yl_tensor_table table;
    yolact_status s = yl_weights_read_memory(data, size, "fuzz.pth", &table);
    if (s != YOLACT_OK) {
        require_refusal_explained(s);
        REQUIRE(table.tensors == NULL && table.count == 0);
        return s;
    }
    for (size_t i = 0; i < table.count; i++) {
        const yl_tensor *t = &table.tensors[i];
        REQUIRE(t->name != NULL);
        REQUIRE(t->ndim >= 0 && t->ndim <= YL_MAX_DIMS);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            REQUIRE(t->shape[d] >= 0);
            numel *= t->shape[d];
        }
        REQUIRE(numel == t->numel);
        float sum = 0;
        if (t->data)
            for (int64_t k = 0; k < t->numel; k++)
                sum += t->data[k];
        float_sink = sum;
    }
    yl_tensor_table_free(&table);
    return s;
}

yolact_status yl_fuzz_image(const uint8_t *data, size_t size)
{
    yolact_image image = {0};
    yolact_status s = yl_image_decode_memory(data, size, "fuzz.img", &image);
    if (s != YOLACT_OK) {
        require_refusal_explained(s);
        REQUIRE(image.data == NULL);
        return s;
    }
    REQUIRE(image.width >= 1 && image.width <= YOLACT_MAX_IMAGE_SIDE);
    REQUIRE(image.height >= 1 && image.height <= YOLACT_MAX_IMAGE_SIDE);
    REQUIRE((int64_t)image.width * image.height <= YOLACT_MAX_IMAGE_PIXELS);
    REQUIRE(image.stride >= 3 * (size_t)image.width);
    uint8_t x = 0;
    for (int y = 0; y < image.height; y++)
        for (size_t i = 0; i < 3 * (size_t)image.width; i++)
            x ^= image.data[(size_t)y * image.stride + i];
    byte_sink = x;
    yolact_image_free_pixels(&image);
    return s;
}

/* ---- yl_fuzz_model: the text description -> a tensor table ---------------------------- */

static int is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\r'; }

/* The next token of the line [*p, end), or length 0 at the end of the line. */
static size_t next_token(const uint8_t **p, const uint8_t *end)
{
    while (*p < end && is_space(**p))
        (*p)++;
    size_t n = 0;
    while (*p + n < end && !is_space((*p)[n]))
        n++;
    return n;
}

/* A dimension: decimal digits, at most 2^40 (beyond any real shape, within int64 products
 * of two dimensions). -1 if the token is not one. */
static int64_t parse_dim(const uint8_t *tok, size_t n)
{
    if (n == 0 || n > 13)
        return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return -1;
        v = v * 10 + (tok[i] - '0');
    }
    return v <= ((int64_t)1 << 40) ? v : -1;
}

/* Parse one tensor line into t (name and shape; data filled by the caller). Returns 0, or
 * -1 when the line is not a tensor description. *values receives its element count,
 * saturated at YL_FUZZ_MODEL_MAX_VALUES + 1. */
static int parse_tensor(const uint8_t *line, const uint8_t *end, yl_tensor *t, int64_t *values)
{
    const uint8_t *p = line;
    size_t n = next_token(&p, end);
    if (n == 0)
        return -1;
    t->dtype = YL_DTYPE_F32;
    if (*p == '!') {
        t->dtype = YL_DTYPE_I64;
        p++;
        n--;
    }
    if (n == 0 || memchr(p, '\0', n))
        return -1;
    t->name = malloc(n + 1);
    if (!t->name)
        return -1;
    memcpy(t->name, p, n);
    t->name[n] = '\0';
    p += n;
    int64_t numel = 1, saturated = 1;
    t->ndim = 0;
    while ((n = next_token(&p, end)) > 0) {
        int64_t d = parse_dim(p, n);
        if (d < 0 || t->ndim == YL_MAX_DIMS)
            return -1;
        t->shape[t->ndim++] = d;
        numel *= d;
        saturated = d == 0 ? 0 : saturated > YL_FUZZ_MODEL_MAX_VALUES / d
                                    ? YL_FUZZ_MODEL_MAX_VALUES + 1 : saturated * d;
        if (saturated > YL_FUZZ_MODEL_MAX_VALUES)
            saturated = YL_FUZZ_MODEL_MAX_VALUES + 1;
        p += n;
    }
    /* numel overflows only when saturated is at the cap; the caller refuses those. */
    t->numel = saturated > YL_FUZZ_MODEL_MAX_VALUES ? 0 : numel;
    *values = saturated;
    return 0;
}

yolact_status yl_fuzz_model(const uint8_t *data, size_t size)
{
    const uint8_t *end = data + size, *nl;
    /* First line: "preset NAME". */
    nl = memchr(data, '\n', size);
    const uint8_t *line_end = nl ? nl : end, *p = data;
    size_t n = next_token(&p, line_end);
    if (n != 6 || memcmp(p, "preset", 6) != 0)
        return YOLACT_ERR_INVALID_ARGUMENT;
    p += n;
    char preset_name[64] = "";
    n = next_token(&p, line_end);
    if (n < sizeof preset_name)
        memcpy(preset_name, p, n);

    size_t lines = 0;
    for (const uint8_t *q = data; q < end; q++)
        lines += *q == '\n';
    yl_tensor_table table = {.tensors = calloc(lines + 1, sizeof(yl_tensor))};
    if (!table.tensors)
        return YOLACT_ERR_OUT_OF_MEMORY;
    yolact_status s = YOLACT_OK;
    int64_t total = 0;
    for (const uint8_t *line = line_end + (nl != NULL); line < end && s == YOLACT_OK;) {
        nl = memchr(line, '\n', (size_t)(end - line));
        line_end = nl ? nl : end;
        const uint8_t *probe = line;
        if (next_token(&probe, line_end) > 0) {
            yl_tensor *t = &table.tensors[table.count++];
            int64_t values;
            if (parse_tensor(line, line_end, t, &values) != 0)
                s = YOLACT_ERR_INVALID_ARGUMENT;
            else if (t->dtype == YL_DTYPE_F32 && (total += values) > YL_FUZZ_MODEL_MAX_VALUES)
                s = YOLACT_ERR_LIMIT;
            else if (t->dtype == YL_DTYPE_F32 &&
                     !(t->data = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float))))
                s = YOLACT_ERR_OUT_OF_MEMORY;
            /* Values do not shape the architecture; BN variances must be positive. */
            for (int64_t k = 0; t->data && k < t->numel; k++)
                t->data[k] = 0.01f;
        }
        line = line_end + (nl != NULL);
    }
    /* Readers never produce two tensors of one name; neither may the description. */
    if (s == YOLACT_OK && yl_tensor_table_check_unique(&table, "fuzz") != YOLACT_OK)
        s = YOLACT_ERR_INVALID_ARGUMENT;
    if (s == YOLACT_OK) {
        const yl_preset *preset = yl_preset_find(preset_name);
        yolact_preset_source source = YOLACT_PRESET_GIVEN;
        if (!preset) {
            preset = yl_preset_guess(&table);
            source = YOLACT_PRESET_GUESSED;
        }
        yolact_model *model = NULL;
        s = preset ? yl_model_build(&table, preset, source, &model) : YOLACT_ERR_MODEL;
        if (s == YOLACT_OK) {
            const yolact_model_info *info = yolact_model_get_info(model);
            REQUIRE(info && info->num_classes >= 2 && info->num_prototypes >= 1);
            REQUIRE(info->num_levels >= 1 && info->num_levels <= YL_MAX_LEVELS);
            REQUIRE(model->num_priors > 0 && model->priors != NULL);
            yolact_model_free(model);
        } else if (preset) {
            require_refusal_explained(s);
            REQUIRE(model == NULL);
        }
    }
    yl_tensor_table_free(&table);
    return s;
}
