/* Tests of the weight readers: every fixture of test/data/weights read through both entry
 * points and checked value by value against what PyTorch loads, hostile pickles refused,
 * malformed safetensors headers, truncated and corrupted files, and the parity checkpoint. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "weights/tensor_table.h"
#include "yl_test.h"

#include "data/weights/expected_tensors.h"

#define WEIGHTS_DIR YL_TEST_DATA "/weights/"

static int is_floating_name(const char *dtype)
{
    return strcmp(dtype, "float32") == 0 || strcmp(dtype, "float16") == 0 ||
           strcmp(dtype, "bfloat16") == 0 || strcmp(dtype, "float64") == 0;
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void assert_table_empty(const yl_tensor_table *t)
{
    ck_assert_ptr_null(t->tensors);
    ck_assert_uint_eq(t->count, 0);
    ck_assert_ptr_null(t->metadata);
    ck_assert_uint_eq(t->metadata_count, 0);
}

/* The tensors of one fixture file, expected[first .. first+count), in file order. */
static void check_against_expected(const char *file, const yl_tensor_table *table, size_t first,
                                   size_t count)
{
    ck_assert_msg(table->count == count, "%s: %zu tensors, expected %zu", file, table->count,
                  count);
    for (size_t i = 0; i < count; i++) {
        const yl_expected_tensor *e = &expected_tensors[first + i];
        const yl_tensor *t = &table->tensors[i];
        ck_assert_msg(strcmp(t->name, e->name) == 0, "%s: tensor %zu is '%s', expected '%s'",
                      file, i, t->name, e->name);
        ck_assert_msg(strcmp(yl_dtype_name(t->dtype), e->dtype) == 0, "%s: %s is %s, expected %s",
                      file, e->name, yl_dtype_name(t->dtype), e->dtype);
        ck_assert_int_eq(t->ndim, e->ndim);
        for (int d = 0; d < e->ndim; d++)
            ck_assert_msg(t->shape[d] == e->shape[d], "%s: %s dim %d is %lld, expected %lld",
                          file, e->name, d, (long long)t->shape[d], (long long)e->shape[d]);
        ck_assert_int_eq(t->numel, e->numel);
        if (!is_floating_name(e->dtype)) {
            ck_assert_msg(t->data == NULL, "%s: integer tensor %s has data", file, e->name);
            continue;
        }
        ck_assert_ptr_nonnull(t->data);
        for (int64_t k = 0; k < e->numel; k++) {
            uint32_t got = float_bits(t->data[k]);
            ck_assert_msg(got == e->bits[k],
                          "%s: %s[%lld] = %.9g (0x%08x), expected %.9g (0x%08x)", file, e->name,
                          (long long)k, t->data[k], got, bits_float(e->bits[k]), e->bits[k]);
        }
    }
}

START_TEST(every_good_fixture_matches_pytorch)
{
    const size_t n = sizeof expected_tensors / sizeof expected_tensors[0];
    int files = 0;
    for (size_t first = 0; first < n;) {
        size_t count = 1;
        while (first + count < n &&
               strcmp(expected_tensors[first + count].file, expected_tensors[first].file) == 0)
            count++;
        char path[256];
        snprintf(path, sizeof path, WEIGHTS_DIR "%s", expected_tensors[first].file);

        yl_tensor_table table;
        ck_assert_status(yl_weights_read(path, &table), YOLACT_OK);
        check_against_expected(path, &table, first, count);
        yl_tensor_table_free(&table);
        assert_table_empty(&table);

        size_t size;
        uint8_t *bytes = yl_test_read_file(path, &size);
        ck_assert_ptr_nonnull(bytes);
        ck_assert_status(yl_weights_read_memory(bytes, size, path, &table), YOLACT_OK);
        check_against_expected(path, &table, first, count);
        yl_tensor_table_free(&table);
        free(bytes);
        first += count;
        files++;
    }
    ck_assert_int_eq(files, 7);
}
END_TEST

START_TEST(fp16_conversion_is_exact)
{
    yl_tensor_table table;
    ck_assert_status(yl_weights_read(WEIGHTS_DIR "zip_fp16.pth", &table), YOLACT_OK);
    const yl_tensor *s = yl_tensor_table_find(&table, "special.f16");
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(s->dtype, YL_DTYPE_F16);
    ck_assert_int_eq(s->numel, 14);
    const float *v = s->data;
    ck_assert(v[0] == 0.0f && !signbit(v[0]));
    ck_assert(v[1] == 0.0f && signbit(v[1]));
    ck_assert(v[2] == 1.0f && v[3] == -2.0f);
    ck_assert(v[4] == 65504.0f);                          /* largest half */
    ck_assert(v[5] == 0x1p-14f);                          /* smallest normal */
    ck_assert(v[6] == 0x1p-24f && v[7] == -0x1p-24f);     /* smallest subnormals */
    ck_assert(v[8] == 0x3ffp-24f && v[9] == 0x1p-15f);    /* largest / a middle subnormal */
    ck_assert(isinf(v[10]) && v[10] > 0 && isinf(v[11]) && v[11] < 0);
    ck_assert(isnan(v[12]));
    ck_assert(v[13] == 0x1.554p-2f);                      /* 0.333... in half precision */

    const yl_tensor *bf = yl_tensor_table_find(&table, "extra.bf16");
    ck_assert_ptr_nonnull(bf);
    ck_assert(bf->data[0] == 1.0f && bf->data[1] == -3.5f && isinf(bf->data[4]));
    const yl_tensor *i32 = yl_tensor_table_find(&table, "extra.i32");
    ck_assert_ptr_nonnull(i32);
    ck_assert(i32->dtype == YL_DTYPE_I32 && i32->ndim == 2 && i32->data == NULL);
    const yl_tensor *nbt = yl_tensor_table_find(&table, "bn.num_batches_tracked");
    ck_assert_ptr_nonnull(nbt);
    ck_assert(nbt->dtype == YL_DTYPE_I64 && nbt->ndim == 0 && nbt->numel == 1 && !nbt->data);
    ck_assert_ptr_null(yl_tensor_table_find(&table, "missing"));
    yl_tensor_table_free(&table);
}
END_TEST

/* The 'cuda:0' location changes nothing: same tensors as the CPU-saved legacy file. */
START_TEST(cuda_location_reads_like_cpu)
{
    yl_tensor_table cpu, cuda;
    ck_assert_status(yl_weights_read(WEIGHTS_DIR "legacy_fp32.pth", &cpu), YOLACT_OK);
    ck_assert_status(yl_weights_read(WEIGHTS_DIR "legacy_cuda0.pth", &cuda), YOLACT_OK);
    ck_assert_uint_eq(cpu.count, 7);
    ck_assert_uint_eq(cuda.count, cpu.count);
    for (size_t i = 0; i < cpu.count; i++) {
        ck_assert_str_eq(cuda.tensors[i].name, cpu.tensors[i].name);
        ck_assert_int_eq(cuda.tensors[i].numel, cpu.tensors[i].numel);
        if (cpu.tensors[i].data)
            ck_assert(memcmp(cuda.tensors[i].data, cpu.tensors[i].data,
                             (size_t)cpu.tensors[i].numel * sizeof(float)) == 0);
    }
    const yl_tensor *w = yl_tensor_table_find(&cuda, "conv.weight");
    ck_assert(w && w->ndim == 4 && w->shape[0] == 4 && w->shape[3] == 3);
    ck_assert(w->data[0] == -54.0f / 16 && w->data[107] == 53.0f / 16);
    yl_tensor_table_free(&cpu);
    yl_tensor_table_free(&cuda);
}
END_TEST

/* Views of one storage, in both containers, checked against the base tensor by index. */
START_TEST(views_share_storage)
{
    const char *files[] = {WEIGHTS_DIR "views_zip.pth", WEIGHTS_DIR "views_legacy.pth"};
    for (int f = 0; f < 2; f++) {
        yl_tensor_table t;
        ck_assert_status(yl_weights_read(files[f], &t), YOLACT_OK);
        const yl_tensor *full = yl_tensor_table_find(&t, "full"),
                        *tr = yl_tensor_table_find(&t, "transposed"),
                        *row = yl_tensor_table_find(&t, "row2"),
                        *cols = yl_tensor_table_find(&t, "cols"),
                        *el = yl_tensor_table_find(&t, "element"),
                        *empty = yl_tensor_table_find(&t, "empty");
        ck_assert(full && tr && row && cols && el && empty);
        ck_assert(tr->shape[0] == 6 && tr->shape[1] == 4);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 6; j++) {
                float x = full->data[i * 6 + j];
                ck_assert(x == (float)(i * 6 + j) * 0.5f - 3);
                ck_assert_msg(tr->data[j * 4 + i] == x, "%s: transposed[%d][%d]", files[f], j, i);
                if (i == 2)
                    ck_assert(row->data[j] == x);
                if (j == 1 || j == 3)
                    ck_assert(cols->data[i * 2 + j / 2] == x);
            }
        ck_assert(el->ndim == 0 && el->numel == 1 && el->data[0] == full->data[7]);
        ck_assert(empty->ndim == 2 && empty->shape[0] == 0 && empty->numel == 0);
        yl_tensor_table_free(&t);
    }
}
END_TEST

static const struct hostile_case {
    const char *file;
    yolact_status status;
    const char *message;
} hostile_cases[] = {
    {"hostile_os_system.pth", YOLACT_ERR_UNSAFE_PICKLE, "refused global 'posix.system'"},
    {"hostile_in_state_dict.pth", YOLACT_ERR_UNSAFE_PICKLE, "refused global 'posix.system'"},
    {"hostile_eval.pth", YOLACT_ERR_UNSAFE_PICKLE, "refused global 'builtins.eval'"},
    {"hostile_popen.pth", YOLACT_ERR_UNSAFE_PICKLE, "refused global 'subprocess.Popen'"},
    {"hostile_reconstructor.pth", YOLACT_ERR_UNSAFE_PICKLE, "refused global 'copyreg._reconstructor'"},
    {"hostile_unknown_opcode.pth", YOLACT_ERR_UNSAFE_PICKLE, "refused opcode 0xff (not a pickle opcode)"},
    {"hostile_inst_opcode.pth", YOLACT_ERR_UNSAFE_PICKLE, "refused opcode 0x69 (INST)"},
    {"hostile_call_storage.pth", YOLACT_ERR_UNSAFE_PICKLE, "refused opcode 0x52 (REDUCE) at offset 23: call of 'torch.FloatStorage'"},
    {"hostile_newobj.pth", YOLACT_ERR_UNSAFE_PICKLE, "refused opcode 0x81 (NEWOBJ) at offset 28"},
    {"hostile_build_list.pth", YOLACT_ERR_UNSAFE_PICKLE, "refused opcode 0x62 (BUILD) at offset 4: BUILD of a list"},
    {"hostile_deep_marks.pth", YOLACT_ERR_UNSAFE_PICKLE, "(MARK) at offset 66: MARKs nested deeper than 64"},
    {"hostile_deep_tuples.pth", YOLACT_ERR_UNSAFE_PICKLE, "(TUPLE1) at offset 34: objects nested deeper than 32"},
    {"hostile_memo_get.pth", YOLACT_ERR_UNSAFE_PICKLE, "(LONG_BINGET) at offset 5: memo index 2147483647 was never defined"},
    {"hostile_memo_put.pth", YOLACT_ERR_UNSAFE_PICKLE, "(LONG_BINPUT) at offset 3: memo index 4294967295 out of range"},
    {"hostile_huge_string.pth", YOLACT_ERR_UNSAFE_PICKLE, "(BINUNICODE) at offset 2: declares 4294967295 bytes, only 4 remain"},
    {"hostile_huge_unicode8.pth", YOLACT_ERR_UNSAFE_PICKLE, "(BINUNICODE8) at offset 2: declares 4611686018427387904 bytes"},
    {"hostile_zip_bomb.pth", YOLACT_ERR_FORMAT, "'archive/data/0' inflates to more than its declared 16 bytes"},
    {"hostile_zip_bomb_declared.pth", YOLACT_ERR_LIMIT, "'archive/data.pkl' declares 3221225472 bytes"},
    {"wrapped_state_dict.pth", YOLACT_ERR_FORMAT, "entry 'model' is a dict, not a tensor"},
    {"list_top.pth", YOLACT_ERR_FORMAT, "the pickle holds a list, not a state_dict"},
};

START_TEST(hostile_files_are_refused)
{
    const struct hostile_case *c = &hostile_cases[_i];
    char path[256];
    snprintf(path, sizeof path, WEIGHTS_DIR "%s", c->file);
    /* must be reset on failure */
    yl_tensor_table table = {.tensors = (yl_tensor *)&table, .count = 99};
    ck_assert_status(yl_weights_read(path, &table), c->status);
    ck_assert_msg(strstr(yolact_last_error(), c->message) != NULL,
                  "%s: message '%s' does not contain '%s'", c->file, yolact_last_error(),
                  c->message);
    ck_assert_msg(strstr(yolact_last_error(), c->file) != NULL, "message does not name the file");
    assert_table_empty(&table);
}
END_TEST

/* ---- safetensors headers built here, one defect each --------------------------------- */

/* header JSON + data bytes -> a safetensors file in memory, read; returns the status. */
static yolact_status read_safetensors(const char *json, const void *data, size_t data_size,
                                      yl_tensor_table *table)
{
    size_t n = strlen(json);
    uint8_t *buf = malloc(8 + n + data_size);
    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, json, n);
    if (data_size)
        memcpy(buf + 8 + n, data, data_size);
    yolact_status s = yl_weights_read_memory(buf, 8 + n + data_size, "test.safetensors", table);
    free(buf);
    return s;
}

static const float st_data[6] = {1, 2, 3, 4, 5, 6};

START_TEST(safetensors_good_header_variants)
{
    yl_tensor_table t;
    /* escapes in names, metadata, whitespace, keys in any order, a 0-d tensor */
    ck_assert_status(read_safetensors(
        " {\"caf\\u00e9.\\ud83d\\ude00\\n\" : {\"shape\":[2,2],\"data_offsets\":[8,24],"
        "\"dtype\":\"F32\"},\r\n\"__metadata__\":{\"a\":\"\\\"b\\\\\"},"
        "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}  ",
        st_data, sizeof st_data, &t), YOLACT_OK);
    ck_assert_uint_eq(t.count, 2);
    ck_assert_str_eq(t.tensors[0].name, "caf\xc3\xa9.\xf0\x9f\x98\x80\n");
    ck_assert(t.tensors[0].data[0] == 3 && t.tensors[0].data[3] == 6);
    ck_assert(t.tensors[1].ndim == 0 && t.tensors[1].numel == 1 && t.tensors[1].data[0] == 1);
    ck_assert_uint_eq(t.metadata_count, 1);
    ck_assert_str_eq(yl_tensor_table_metadata(&t, "a"), "\"b\\");
    ck_assert_ptr_null(yl_tensor_table_metadata(&t, "b"));
    yl_tensor_table_free(&t);
    /* Empty tensors where another begins (either order), as the writers lay them out. */
    ck_assert_status(read_safetensors(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0,2],\"data_offsets\":[4,4]},"
        "\"f\":{\"dtype\":\"F16\",\"shape\":[0],\"data_offsets\":[4,4]},"
        "\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        st_data, 8, &t), YOLACT_OK);
    ck_assert(t.count == 4 && t.tensors[0].data[0] == 2 && t.tensors[1].numel == 0);
    yl_tensor_table_free(&t);
}
END_TEST

static const struct st_case {
    const char *json;
    size_t data_size;
    yolact_status status;
    const char *message;
} st_cases[] = {
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 24, YOLACT_ERR_FORMAT,
     "expected ',' or '}' at byte 53"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,],\"data_offsets\":[0,8]}}", 24, YOLACT_ERR_FORMAT,
     "unexpected character 0x5d"},
    {"{\"a\\x\":{}}", 24, YOLACT_ERR_FORMAT, "bad escape '\\x'"},
    {"{\"a\tb\":{}}", 24, YOLACT_ERR_FORMAT, "control character 0x09 in a string"},
    {"{\"\\ud800x\":{}}", 24, YOLACT_ERR_FORMAT, "high surrogate \\ud800 without its pair"},
    {"{\"a\":{}} x", 24, YOLACT_ERR_FORMAT, "trailing characters"},
    {"{\"a\":[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]}", 24, YOLACT_ERR_FORMAT, "nested deeper than 16"},
    {" [1]", 24, YOLACT_ERR_FORMAT, "header is an array, not an object"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 24, YOLACT_ERR_FORMAT,
     "'a': shape[0] is not a non-negative integer"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-1,8]}}", 24, YOLACT_ERR_FORMAT,
     "'a': data_offsets is not [begin, end]"},
    {"{\"a\":{\"dtype\":\"F8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 24, YOLACT_ERR_UNSUPPORTED,
     "'a' has dtype F8"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 24,
     YOLACT_ERR_FORMAT, "'a' has an unknown field 'x'"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 24, YOLACT_ERR_FORMAT, "'a' lacks data_offsets"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 24, YOLACT_ERR_FORMAT,
     "'a' (float32, 3 elements) spans 8 bytes, not 3 x 4"},
    {"{\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[16,24]},"
     "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[8,20]}}", 24, YOLACT_ERR_FORMAT,
     "entries 'b' [8, 20] and 'a' [16, 24] overlap"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 20, YOLACT_ERR_FORMAT,
     "'a': data_offsets [8, 24] outside the 20 data bytes"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 24,
     YOLACT_ERR_LIMIT, "element count overflows"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}}", 24,
     YOLACT_ERR_FORMAT, "data_offsets is not [begin, end]"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 24, YOLACT_ERR_FORMAT,
     "tensor 'a' appears twice"},
    {"{\"__metadata__\":{\"k\":1}}", 24, YOLACT_ERR_FORMAT, "__metadata__ 'k' is a number, not a string"},
    {"{\"__metadata__\":{},\"__metadata__\":{}}", 24, YOLACT_ERR_FORMAT,
     "__metadata__ appears twice"},
    {"{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 24, YOLACT_ERR_FORMAT,
     "__metadata__ 'k' holds a NUL character"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 0, YOLACT_ERR_FORMAT,
     "expected ',' or '}'"},
};

START_TEST(safetensors_defects_are_refused)
{
    const struct st_case *c = &st_cases[_i];
    yl_tensor_table t;
    ck_assert_status(read_safetensors(c->json, st_data, c->data_size, &t), c->status);
    ck_assert_msg(strstr(yolact_last_error(), c->message) != NULL,
                  "case %d: message '%s' does not contain '%s'", _i, yolact_last_error(),
                  c->message);
    assert_table_empty(&t);
}
END_TEST

/* A header length beyond the file, and a file cut inside the data. */
START_TEST(safetensors_truncated)
{
    size_t size;
    uint8_t *bytes = yl_test_read_file(WEIGHTS_DIR "model.safetensors", &size);
    ck_assert_ptr_nonnull(bytes);
    yl_tensor_table t;
    ck_assert_status(yl_weights_read_memory(bytes, size - 1, "cut.safetensors", &t),
                     YOLACT_ERR_FORMAT);
    ck_assert_msg(strstr(yolact_last_error(), "outside the") != NULL, "%s", yolact_last_error());
    uint64_t header = 0;
    memcpy(&header, bytes, 8);
    ck_assert_status(yl_weights_read_memory(bytes, 8 + header - 1, "cut.safetensors", &t),
                     YOLACT_ERR_FORMAT);
    ck_assert_msg(strstr(yolact_last_error(), "header of") != NULL, "%s", yolact_last_error());
    assert_table_empty(&t);
    free(bytes);
}
END_TEST

/* ---- robustness on every fixture ---------------------------------------------------------- */

static const char *const good_files[] = {
    "legacy_fp32.pth", "zip_fp16.pth", "views_zip.pth", "views_legacy.pth",
    "legacy_cuda0.pth", "zip_deflated.pth", "model.safetensors",
};

/* Every proper prefix of a good file is refused, and leaves nothing allocated. */
START_TEST(every_truncation_is_refused)
{
    char path[256];
    snprintf(path, sizeof path, WEIGHTS_DIR "%s", good_files[_i]);
    size_t size;
    uint8_t *bytes = yl_test_read_file(path, &size);
    ck_assert_ptr_nonnull(bytes);
    for (size_t n = 0; n < size; n++) {
        uint8_t *copy = malloc(n ? n : 1);   /* exact size, so overreads are caught by ASan */
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, bytes, n);
        yl_tensor_table t;
        yolact_status s = yl_weights_read_memory(copy, n, path, &t);
        ck_assert_msg(s != YOLACT_OK, "%s cut to %zu of %zu bytes was accepted", path, n, size);
        assert_table_empty(&t);
        free(copy);
    }
    free(bytes);
}
END_TEST

/* Random byte corruption never crashes; whatever is accepted is a well-formed table. */
START_TEST(corrupted_bytes_do_not_crash)
{
    char path[256];
    snprintf(path, sizeof path, WEIGHTS_DIR "%s", good_files[_i]);
    size_t size;
    uint8_t *bytes = yl_test_read_file(path, &size);
    ck_assert_ptr_nonnull(bytes);
    uint64_t rng = 0x9e3779b97f4a7c15ull + (uint64_t)_i;
    for (int trial = 0; trial < 3000; trial++) {
        uint8_t *copy = malloc(size);
        ck_assert_ptr_nonnull(copy);
        memcpy(copy, bytes, size);
        int flips = 1 + (int)yl_test_rand(&rng, 0, 3);
        for (int k = 0; k < flips; k++)
            copy[(size_t)yl_test_rand(&rng, 0, (float)size) % size] =
                (uint8_t)yl_test_rand(&rng, 0, 256);
        yl_tensor_table t;
        if (yl_weights_read_memory(copy, size, path, &t) == YOLACT_OK) {
            for (size_t i = 0; i < t.count; i++) {
                ck_assert_ptr_nonnull(t.tensors[i].name);
                ck_assert(t.tensors[i].numel >= 0 && t.tensors[i].ndim <= YL_MAX_DIMS);
            }
            yl_tensor_table_free(&t);
        } else {
            assert_table_empty(&t);
        }
        free(copy);
    }
    free(bytes);
}
END_TEST

START_TEST(bad_arguments_and_limits)
{
    yl_tensor_table t;
    ck_assert_status(yl_weights_read(WEIGHTS_DIR "no_such_file.pth", &t), YOLACT_ERR_IO);
    ck_assert_msg(strstr(yolact_last_error(), "no_such_file.pth") != NULL, "%s",
                  yolact_last_error());
    ck_assert_status(yl_weights_read(NULL, &t), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_weights_read_memory((const uint8_t *)"", 0, "empty", &t),
                     YOLACT_ERR_FORMAT);
    ck_assert_status(yl_weights_read_memory((const uint8_t *)"hello world", 11, "text", &t),
                     YOLACT_ERR_FORMAT);
    /* the size is refused before a single byte is looked at */
    uint8_t one = 0;
    ck_assert_status(yl_weights_read_memory(&one, (size_t)YOLACT_MAX_WEIGHTS_BYTES + 1, "big", &t),
                     YOLACT_ERR_LIMIT);
    assert_table_empty(&t);
    yl_tensor_table_free(NULL);
    ck_assert_ptr_null(yl_tensor_table_find(NULL, "x"));
}
END_TEST

/* The parity checkpoint (zip, fp16, 138 entries; see test/data/parity/README.md). */
START_TEST(parity_checkpoint)
{
    yl_tensor_table t;
    ck_assert_status(yl_weights_read(YL_TEST_DATA "/parity/yolact_tiny_seed1_fp16_zip.pth", &t),
                     YOLACT_OK);
    ck_assert_uint_eq(t.count, 138);
    ck_assert_str_eq(t.tensors[0].name, "backbone.layers.0.0.conv1.weight");
    ck_assert_str_eq(t.tensors[137].name, "semantic_seg_conv.bias");

    const yl_tensor *w = yl_tensor_table_find(&t, "backbone.conv1.weight");
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(w->dtype, YL_DTYPE_F16);
    ck_assert(w->ndim == 4 && w->shape[0] == 64 && w->shape[1] == 3 && w->shape[2] == 7 &&
              w->shape[3] == 7 && w->numel == 64 * 3 * 7 * 7);
    /* values as torch.load(...)['backbone.conv1.weight'].float() gives them */
    const uint32_t first[4] = {3189932032u, 1042096128u, 3184484352u, 3172655104u};
    for (int i = 0; i < 4; i++)
        ck_assert_msg(float_bits(w->data[i]) == first[i], "conv1.weight[%d] = 0x%08x, expected "
                      "0x%08x", i, float_bits(w->data[i]), first[i]);
    ck_assert_uint_eq(float_bits(w->data[w->numel - 1]), 3198173184u);
    double sum = 0;
    for (int64_t i = 0; i < w->numel; i++)
        sum += w->data[i];
    ck_assert_msg(fabs(sum - 14.075384676456451) < 1e-9, "sum %.12f", sum);

    const struct { const char *name; int ndim; int64_t shape[4]; } shapes[] = {
        {"fpn.lat_layers.0.weight", 4, {64, 2048, 1, 1}},
        {"prediction_layers.0.conf_layer.weight", 4, {243, 64, 3, 3}},
        {"prediction_layers.0.mask_layer.bias", 1, {96}},
        {"proto_net.10.weight", 4, {32, 64, 1, 1}},
        {"backbone.layers.3.0.bn3.running_var", 1, {2048}},
        {"semantic_seg_conv.weight", 4, {80, 64, 1, 1}},
        {"backbone.bn1.num_batches_tracked", 0, {0}},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const yl_tensor *x = yl_tensor_table_find(&t, shapes[i].name);
        ck_assert_msg(x != NULL, "%s missing", shapes[i].name);
        ck_assert_int_eq(x->ndim, shapes[i].ndim);
        for (int d = 0; d < x->ndim; d++)
            ck_assert_msg(x->shape[d] == shapes[i].shape[d], "%s dim %d", shapes[i].name, d);
    }
    const yl_tensor *nbt = yl_tensor_table_find(&t, "backbone.bn1.num_batches_tracked");
    ck_assert(nbt->dtype == YL_DTYPE_I64 && nbt->data == NULL);
    int ints = 0;
    for (size_t i = 0; i < t.count; i++)
        ints += t.tensors[i].dtype == YL_DTYPE_I64;
    ck_assert_int_eq(ints, 17);
    yl_tensor_table_free(&t);
}
END_TEST

Suite *weights_suite(void)
{
    Suite *s = suite_create("weights");
    TCase *tc = tcase_create("readers");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_good_fixture_matches_pytorch);
    tcase_add_test(tc, fp16_conversion_is_exact);
    tcase_add_test(tc, cuda_location_reads_like_cpu);
    tcase_add_test(tc, views_share_storage);
    tcase_add_loop_test(tc, hostile_files_are_refused, 0,
                        sizeof hostile_cases / sizeof hostile_cases[0]);
    tcase_add_test(tc, safetensors_good_header_variants);
    tcase_add_loop_test(tc, safetensors_defects_are_refused, 0,
                        sizeof st_cases / sizeof st_cases[0]);
    tcase_add_test(tc, safetensors_truncated);
    tcase_add_loop_test(tc, every_truncation_is_refused, 0,
                        sizeof good_files / sizeof good_files[0]);
    tcase_add_loop_test(tc, corrupted_bytes_do_not_crash, 0,
                        sizeof good_files / sizeof good_files[0]);
    tcase_add_test(tc, bad_arguments_and_limits);
    tcase_add_test(tc, parity_checkpoint);
    suite_add_tcase(s, tc);
    return s;
}
