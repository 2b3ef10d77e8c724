/* Tests of the weight writers: .safetensors and .pth written from a table and read back
 * through yl_weights_read bit for bit, the safetensors header's exact bytes, float16
 * rounding over every half value, the .pth zip's layout as torch.save lays it out, and the
 * all-or-nothing promise: a write that fails leaves no file, no temporary file, and an
 * earlier file at the path as it was. (torch.load and the official code read the .pth:
 * test/fixtures/torch_write_check.py, `make check-torch-write`.) */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/model.h"
#include "weights/tensor_table.h"
#include "weights/weights_internal.h"
#include "yl_test.h"

/* A folder of its own for each test, emptied and removed at the end. */
static char temp_dir[64];

static void make_temp_dir(void)
{
    snprintf(temp_dir, sizeof temp_dir, "/tmp/yl_write_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(temp_dir));
}

static const char *temp_path(const char *name)
{
    static char path[320];
    snprintf(path, sizeof path, "%s/%s", temp_dir, name);
    return path;
}

/* How many files the temporary folder holds. */
static int count_files(void)
{
    DIR *d = opendir(temp_dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void remove_temp_dir(void)
{
    DIR *d = opendir(temp_dir);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlink(temp_path(e->d_name));
    closedir(d);
    ck_assert_int_eq(rmdir(temp_dir), 0);
}

/* A hand-made table: a 4-d weight, a vector, a 0-d scalar, an empty tensor, an int64
 * num_batches_tracked; values with every float bit pattern worth keeping. */
typedef struct small_table {
    yl_tensor tensors[5];
    float w[2 * 3 * 1 * 2], v[4], s[1];
    yl_tensor_table table;
} small_table;

static void make_small(small_table *st)
{
    memset(st, 0, sizeof *st);
    static const float w[12] = {1.0f, -0.0f, 0x1p-149f, -3.4e38f, 0.1f, 65504.0f,
                                1e-8f, -1.0f / 3, 7.0f, INFINITY, -INFINITY, 2.5f};
    memcpy(st->w, w, sizeof w);
    st->v[0] = 1, st->v[1] = 2, st->v[2] = 3, st->v[3] = 4;
    st->s[0] = 0.0009765625f;
    st->tensors[0] = (yl_tensor){"conv.weight", YL_DTYPE_F32, 4, {2, 3, 1, 2}, 12, st->w};
    st->tensors[1] = (yl_tensor){"bn.bias", YL_DTYPE_F16, 1, {4}, 4, st->v};
    st->tensors[2] = (yl_tensor){"scalar", YL_DTYPE_F32, 0, {0}, 1, st->s};
    st->tensors[3] = (yl_tensor){"empty", YL_DTYPE_F32, 2, {0, 3}, 0, NULL};
    st->tensors[4] = (yl_tensor){"bn.num_batches_tracked", YL_DTYPE_I64, 0, {0}, 1, NULL};
    st->table = (yl_tensor_table){st->tensors, 5, NULL, 0};
}

static void assert_same_table(const yl_tensor_table *got, const yl_tensor_table *want,
                              yl_dtype floating)
{
    ck_assert_uint_eq(got->count, want->count);
    for (size_t i = 0; i < want->count; i++) {
        const yl_tensor *g = &got->tensors[i], *w = &want->tensors[i];
        ck_assert_str_eq(g->name, w->name);
        ck_assert_int_eq(g->dtype, yl_dtype_is_floating(w->dtype) ? floating : w->dtype);
        ck_assert_int_eq(g->ndim, w->ndim);
        for (int d = 0; d < w->ndim; d++)
            ck_assert_int_eq(g->shape[d], w->shape[d]);
        ck_assert_int_eq(g->numel, w->numel);
        if (!yl_dtype_is_floating(w->dtype)) {
            ck_assert_ptr_null(g->data);
            continue;
        }
        /* the first mismatch only: an assertion an element would cost Check a write each */
        for (int64_t k = 0; k < w->numel; k++) {
            float expect = floating == YL_DTYPE_F16
                               ? yl_half_to_float(yl_float_to_half(w->data[k])) : w->data[k];
            if (memcmp(&g->data[k], &expect, sizeof expect) != 0)
                ck_abort_msg("%s[%lld] = %a, expected %a", w->name, (long long)k, g->data[k],
                             expect);
        }
    }
}

START_TEST(safetensors_round_trip)
{
    make_temp_dir();
    small_table st;
    make_small(&st);
    const char *meta[] = {"format", "pt", "note", "tab\there \"quoted\" \\ caf\xc3\xa9", NULL};
    for (int f16 = 0; f16 < 2; f16++) {
        yl_dtype dtype = f16 ? YL_DTYPE_F16 : YL_DTYPE_F32;
        const char *path = temp_path("w.safetensors");
        ck_assert_status(yl_weights_write_safetensors(&st.table, dtype, meta, path), YOLACT_OK);
        yl_tensor_table got;
        ck_assert_status(yl_weights_read(path, &got), YOLACT_OK);
        assert_same_table(&got, &st.table, dtype);
        ck_assert_uint_eq(got.metadata_count, 2);
        ck_assert_str_eq(got.metadata[0], "format");
        ck_assert_str_eq(got.metadata[1], "pt");
        ck_assert_str_eq(yl_tensor_table_metadata(&got, "note"), meta[3]);
        yl_tensor_table_free(&got);
        ck_assert_int_eq(count_files(), 1);
    }
    /* No metadata, no tensors: still a file every reader takes. */
    yl_tensor_table none = {0}, got;
    ck_assert_status(yl_weights_write_safetensors(&none, YL_DTYPE_F32, NULL,
                                                  temp_path("e.safetensors")), YOLACT_OK);
    ck_assert_status(yl_weights_read(temp_path("e.safetensors"), &got), YOLACT_OK);
    ck_assert(got.count == 0 && got.metadata_count == 0);
    yl_tensor_table_free(&got);
    remove_temp_dir();
}
END_TEST

/* The header byte for byte: __metadata__ first, tensors in table order, data_offsets back to
 * back, integer tensors in their own dtype, spaces up to a multiple of 8. */
START_TEST(safetensors_header_layout)
{
    make_temp_dir();
    float a[2] = {1.0f, -2.0f};
    yl_tensor t[2] = {{"a\"b", YL_DTYPE_F32, 1, {2}, 2, a},
                      {"n", YL_DTYPE_I64, 0, {0}, 1, NULL}};
    yl_tensor_table table = {t, 2, NULL, 0};
    const char *meta[] = {"k", "v\n\x01", NULL};
    const char *path = temp_path("h.safetensors");
    ck_assert_status(yl_weights_write_safetensors(&table, YL_DTYPE_F16, meta, path), YOLACT_OK);
    size_t size;
    uint8_t *bytes = yl_test_read_file(path, &size);
    ck_assert_ptr_nonnull(bytes);
    const char *json = "{\"__metadata__\":{\"k\":\"v\\n\\u0001\"},"
                       "\"a\\\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                       "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[4,12]}}";
    size_t header = (strlen(json) + 7) / 8 * 8;
    uint64_t stored;
    memcpy(&stored, bytes, 8);
    ck_assert_uint_eq(stored, header);
    ck_assert_uint_eq(size, 8 + header + 12);
    ck_assert(memcmp(bytes + 8, json, strlen(json)) == 0);
    for (size_t i = strlen(json); i < header; i++)
        ck_assert_int_eq(bytes[8 + i], ' ');
    static const uint8_t data[12] = {0x00, 0x3c, 0x00, 0xc0};   /* 1.0, -2.0 in half; zeros */
    ck_assert(memcmp(bytes + 8 + header, data, sizeof data) == 0);
    free(bytes);
    remove_temp_dir();
}
END_TEST

static uint16_t half_bits(float f) { return yl_float_to_half(f); }

/* Every half value converts back to itself, every midpoint between neighbours rounds to the
 * even one, and the edges: overflow, the subnormal range, underflow, NaN. */
START_TEST(float16_rounding)
{
    for (uint32_t h = 0; h < 0x10000; h++) {     /* (plain ifs: Check's asserts are slow) */
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue;                                          /* NaN: below */
        float f = yl_half_to_float((uint16_t)h);
        if (half_bits(f) != h)
            ck_abort_msg("0x%04x -> %a -> 0x%04x", h, f, half_bits(f));
        if ((h & 0x7fff) >= 0x7bff)
            continue;                                          /* no finite neighbour above */
        float next = yl_half_to_float((uint16_t)(h + 1));
        float mid = (float)(((double)f + (double)next) / 2);   /* exact in float32 */
        uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        if (half_bits(mid) != even || half_bits(nextafterf(mid, 0.0f)) != h ||
            half_bits(nextafterf(mid, copysignf(INFINITY, mid))) != h + 1)
            ck_abort_msg("around the midpoint %a of 0x%04x: 0x%04x", mid, h, half_bits(mid));
    }
    ck_assert_uint_eq(half_bits(65519.996f), 0x7bff);
    ck_assert_uint_eq(half_bits(65520.0f), 0x7c00);           /* ties away from 65504 to inf */
    ck_assert_uint_eq(half_bits(-1e10f), 0xfc00);
    ck_assert_uint_eq(half_bits(0x1p-25f), 0x0000);           /* tie to even zero */
    ck_assert_uint_eq(half_bits(0x1.8p-25f), 0x0001);
    ck_assert_uint_eq(half_bits(0x1p-26f), 0x0000);
    ck_assert_uint_eq(half_bits(-0x1p-149f), 0x8000);
    ck_assert_uint_eq(half_bits(0.1f), 0x2e66);
    ck_assert(isnan(yl_half_to_float(half_bits(NAN))));
    ck_assert_uint_eq(half_bits(-NAN) & 0x8000, 0x8000);
}
END_TEST

/* The bundled parity checkpoint (float16 storages) through both writers: float16 safetensors
 * and the .pth (float32) give back every value bit for bit. */
START_TEST(parity_checkpoint_round_trips)
{
    make_temp_dir();
    yl_tensor_table orig, got;
    ck_assert_status(yl_weights_read(YL_TEST_PARITY_CHECKPOINT, &orig), YOLACT_OK);
    ck_assert_uint_gt(orig.count, 100);
    ck_assert_status(yl_weights_write_safetensors(&orig, YL_DTYPE_F16, NULL,
                                                  temp_path("p.safetensors")), YOLACT_OK);
    ck_assert_status(yl_weights_read(temp_path("p.safetensors"), &got), YOLACT_OK);
    assert_same_table(&got, &orig, YL_DTYPE_F16);
    yl_tensor_table_free(&got);
    ck_assert_status(yl_weights_write_pth(&orig, temp_path("p.pth")), YOLACT_OK);
    ck_assert_status(yl_weights_read(temp_path("p.pth"), &got), YOLACT_OK);
    assert_same_table(&got, &orig, YL_DTYPE_F32);
    yl_tensor_table_free(&got);
    yl_tensor_table_free(&orig);
    ck_assert_int_eq(count_files(), 2);
    remove_temp_dir();
}
END_TEST

/* A .safetensors file's class names and category ids (one a line in its metadata) name the
 * model's classes and number its detections' categories; a names file in the options wins
 * over the names; a list of the wrong length is refused, naming the file's metadata. */
START_TEST(stored_class_names_are_applied)
{
    make_temp_dir();
    yl_tensor_table table;
    ck_assert_status(yl_weights_read(YL_TEST_PARITY_CHECKPOINT, &table), YOLACT_OK);
    char names[80 * 12] = "", *at = names;
    for (int i = 0; i < 80; i++)
        at += sprintf(at, "shape%d%s", i, i < 79 ? "\r\n" : "\n");
    char ids[80 * 8] = "";
    for (int i = 0, n = 0; i < 80; i++)
        n += sprintf(ids + n, "%d\n", 1000 + i);
    const char *meta[] = {YOLACT_CLASS_NAMES_METADATA, names, YOLACT_CATEGORY_IDS_METADATA, ids,
                          NULL};
    ck_assert_status(yl_weights_write_safetensors(&table, YL_DTYPE_F16, meta,
                                                  temp_path("named.safetensors")), YOLACT_OK);
    yolact_model_options opt;
    yolact_model_options_init(&opt);
    opt.preset = "yolact_resnet50";
    yolact_model *m;
    ck_assert_status(yolact_model_load(temp_path("named.safetensors"), &opt, &m), YOLACT_OK);
    const yolact_model_info *info = yolact_model_get_info(m);
    ck_assert_str_eq(info->class_names[0], "shape0");
    ck_assert_str_eq(info->class_names[79], "shape79");
    /* the stored category ids, which the detections carry */
    for (int i = 0; i < 80; i++)
        ck_assert_int_eq(m->category_ids[i], 1000 + i);
    yolact_model_free(m);

    FILE *f = fopen(temp_path("names.txt"), "w");
    for (int i = 0; i < 80; i++)
        fprintf(f, "given%d\n", i);
    fclose(f);
    char names_path[512];   /* temp_path's buffer is reused by the next call */
    snprintf(names_path, sizeof names_path, "%s", temp_path("names.txt"));
    opt.class_names_path = names_path;
    ck_assert_status(yolact_model_load(temp_path("named.safetensors"), &opt, &m), YOLACT_OK);
    ck_assert_str_eq(yolact_model_get_info(m)->class_names[5], "given5");
    yolact_model_free(m);

    const char *short_meta[] = {YOLACT_CLASS_NAMES_METADATA, "a\nb\nc", NULL};
    ck_assert_status(yl_weights_write_safetensors(&table, YL_DTYPE_F16, short_meta,
                                                  temp_path("short.safetensors")), YOLACT_OK);
    opt.class_names_path = NULL;
    ck_assert_status(yolact_model_load(temp_path("short.safetensors"), &opt, &m),
                     YOLACT_ERR_MODEL);
    ck_assert_ptr_null(m);
    ck_assert_msg(strstr(yolact_last_error(), "short.safetensors's metadata \"class_names\" "
                         "has 3 class names"), "%s", yolact_last_error());
    const char *bad_ids[] = {YOLACT_CATEGORY_IDS_METADATA, "1\n2\nx", NULL};
    ck_assert_status(yl_weights_write_safetensors(&table, YL_DTYPE_F16, bad_ids,
                                                  temp_path("ids.safetensors")), YOLACT_OK);
    ck_assert_status(yolact_model_load(temp_path("ids.safetensors"), &opt, &m),
                     YOLACT_ERR_MODEL);
    ck_assert_msg(strstr(yolact_last_error(), "has 3 category ids, the checkpoint has 80"),
                  "%s", yolact_last_error());
    yl_tensor_table_free(&table);
    remove_temp_dir();
}
END_TEST

static uint32_t u32_at(const uint8_t *p) { return yl_load_u32le(p); }

/* The zip as torch.save writes it: every local header (flags 0x0808, zero sizes, an "FB"
 * extra of 'Z's) puts its data on a 64-byte boundary and a data descriptor follows; the
 * entries are archive/data.pkl, archive/data/<i>, archive/version; the zip64 end records. */
START_TEST(pth_layout)
{
    make_temp_dir();
    small_table st;
    make_small(&st);
    const char *path = temp_path("s.pth");
    ck_assert_status(yl_weights_write_pth(&st.table, path), YOLACT_OK);
    size_t size;
    uint8_t *b = yl_test_read_file(path, &size);
    ck_assert_ptr_nonnull(b);

    const char *names[] = {"archive/data.pkl", "archive/data/0", "archive/data/1",
                           "archive/data/2", "archive/data/3", "archive/data/4",
                           "archive/version"};
    const uint32_t sizes[] = {0, 48, 16, 4, 0, 8, 2};          /* data.pkl: not checked */
    size_t at = 0;
    for (int e = 0; e < 7; e++) {
        ck_assert_uint_eq(u32_at(b + at), 0x04034b50);
        ck_assert_uint_eq(yl_load_u16le(b + at + 6), 0x0808);
        ck_assert_uint_eq(u32_at(b + at + 14), 0);             /* crc: in the descriptor */
        size_t name_len = yl_load_u16le(b + at + 26), extra = yl_load_u16le(b + at + 28);
        ck_assert_uint_eq(name_len, strlen(names[e]));
        ck_assert(memcmp(b + at + 30, names[e], name_len) == 0);
        const uint8_t *x = b + at + 30 + name_len;
        ck_assert(x[0] == 'F' && x[1] == 'B' && yl_load_u16le(x + 2) == extra - 4);
        size_t data = at + 30 + name_len + extra;
        ck_assert_uint_eq(data % 64, 0);
        /* The descriptor after the data; data.pkl's length: up to the descriptor that the
         * next local header follows. */
        size_t len = sizes[e];
        if (e == 0) {
            while (u32_at(b + data + len) != 0x08074b50 ||
                   u32_at(b + data + len + 16) != 0x04034b50)
                len++;
            ck_assert(b[data] == 0x80 && b[data + 1] == 2 && b[data + len - 1] == '.');
        }
        ck_assert_uint_eq(u32_at(b + data + len), 0x08074b50);
        ck_assert_uint_eq(u32_at(b + data + len + 8), len);
        ck_assert_uint_eq(u32_at(b + data + len + 12), len);
        at = data + len + 16;
    }
    ck_assert(memcmp(b + at - 18, "3\n", 2) == 0);
    ck_assert_uint_eq(u32_at(b + at), 0x02014b50);            /* the central directory */
    ck_assert_uint_eq(u32_at(b + size - 22), 0x06054b50);
    ck_assert_uint_eq(yl_load_u16le(b + size - 22 + 10), 7);
    ck_assert_uint_eq(u32_at(b + size - 42), 0x07064b50);
    ck_assert_uint_eq(u32_at(b + size - 98), 0x06064b50);
    free(b);
    remove_temp_dir();
}
END_TEST

/* Failures leave no file behind and an earlier file as it was. */
static void assert_untouched(const char *path, const char *content)
{
    size_t size;
    uint8_t *b = yl_test_read_file(path, &size);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(size, strlen(content));
    ck_assert(memcmp(b, content, size) == 0);
    free(b);
}

START_TEST(failed_writes_leave_nothing)
{
    make_temp_dir();
    small_table st;
    make_small(&st);
    char path[320];
    snprintf(path, sizeof path, "%s", temp_path("keep.pth"));
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("earlier", f);
    fclose(f);

    /* A folder that does not exist; a folder where the file should be. */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such/dir/w.pth", temp_dir);
    ck_assert_status(yl_weights_write_pth(&st.table, missing), YOLACT_ERR_IO);
    ck_assert_msg(strstr(yolact_last_error(), missing) && strstr(yolact_last_error(),
                  "No such file"), "%s", yolact_last_error());
    ck_assert_status(yl_weights_write_safetensors(&st.table, YL_DTYPE_F32, NULL, missing),
                     YOLACT_ERR_IO);
    ck_assert_int_eq(mkdir(temp_path("adir"), 0700), 0);
    ck_assert_status(yl_weights_write_safetensors(&st.table, YL_DTYPE_F32, NULL,
                                                  temp_path("adir")), YOLACT_ERR_IO);
    ck_assert_msg(strstr(yolact_last_error(), "cannot replace"), "%s", yolact_last_error());
    ck_assert_int_eq(rmdir(temp_path("adir")), 0);

    /* The disk fills up (a file size limit) in the middle of the data. */
    struct rlimit old, small = {4096, 0};
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small.rlim_max = old.rlim_max;
    float big[4096] = {0};
    yl_tensor t = {"big", YL_DTYPE_F32, 1, {4096}, 4096, big};
    yl_tensor_table table = {&t, 1, NULL, 0};
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    yolact_status pth = yl_weights_write_pth(&table, path);
    yolact_status sft = yl_weights_write_safetensors(&table, YL_DTYPE_F32, NULL, path);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, was);
    ck_assert_status(pth, YOLACT_ERR_IO);
    ck_assert_status(sft, YOLACT_ERR_IO);
    ck_assert_msg(strstr(yolact_last_error(), "cannot write"), "%s", yolact_last_error());
    assert_untouched(path, "earlier");
    ck_assert_int_eq(count_files(), 1);
    remove_temp_dir();
}
END_TEST

/* Tables and arguments the writers refuse before touching the disk. */
START_TEST(bad_tables_are_refused)
{
    make_temp_dir();
    const char *path = temp_path("bad.safetensors");
    small_table st;
    make_small(&st);
    ck_assert_status(yl_weights_write_safetensors(&st.table, YL_DTYPE_BF16, NULL, path),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_weights_write_safetensors(NULL, YL_DTYPE_F32, NULL, path),
                     YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_status(yl_weights_write_pth(&st.table, NULL), YOLACT_ERR_INVALID_ARGUMENT);
    const char *dup_meta[] = {"k", "1", "k", "2", NULL};
    ck_assert_status(yl_weights_write_safetensors(&st.table, YL_DTYPE_F32, dup_meta, path),
                     YOLACT_ERR_INVALID_ARGUMENT);
    const char *no_value[] = {"k", NULL};
    ck_assert_status(yl_weights_write_safetensors(&st.table, YL_DTYPE_F32, no_value, path),
                     YOLACT_ERR_INVALID_ARGUMENT);

    static const struct {
        int tensor;
        yl_tensor bad;
        const char *message;
    } cases[] = {
        {1, {"conv.weight", YL_DTYPE_F32, 1, {4}, 4, NULL}, "'conv.weight' appears twice"},
        {1, {"__metadata__", YL_DTYPE_F32, 1, {4}, 4, NULL}, "a tensor named __metadata__"},
        {1, {"", YL_DTYPE_F32, 1, {4}, 4, NULL}, "a tensor has no name"},
        {1, {"x", YL_DTYPE_F32, 1, {5}, 4, NULL}, "'x' says 4 elements, its shape holds 5"},
        {1, {"x", YL_DTYPE_F32, 1, {-4}, 4, NULL}, "'x' has a bad shape"},
        {1, {"x", YL_DTYPE_F32, 9, {4}, 4, NULL}, "'x' has 9 dimensions"},
        {1, {"x", (yl_dtype)42, 1, {4}, 4, NULL}, "'x' has an unknown dtype 42"},
        {1, {"x", YL_DTYPE_F32, 1, {4}, 4, NULL}, "floating tensor 'x' has no data"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        make_small(&st);
        st.tensors[cases[c].tensor] = cases[c].bad;
        if (c == 0 || c == 1)
            st.tensors[cases[c].tensor].data = st.v;
        for (int pth = 0; pth < 2; pth++) {
            if (pth && c == 1)
                continue;                     /* __metadata__ is only the header's key */
            yolact_status s = pth ? yl_weights_write_pth(&st.table, temp_path("bad.pth"))
                                  : yl_weights_write_safetensors(&st.table, YL_DTYPE_F32,
                                                                 NULL, path);
            ck_assert_status(s, YOLACT_ERR_INVALID_ARGUMENT);
            ck_assert_msg(strstr(yolact_last_error(), cases[c].message), "case %zu: %s", c,
                          yolact_last_error());
        }
    }
    ck_assert_int_eq(count_files(), 0);
    remove_temp_dir();
}
END_TEST

Suite *weights_write_suite(void)
{
    Suite *s = suite_create("weights_write");
    TCase *tc = tcase_create("writers");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, safetensors_round_trip);
    tcase_add_test(tc, safetensors_header_layout);
    tcase_add_test(tc, float16_rounding);
    tcase_add_test(tc, parity_checkpoint_round_trips);
    tcase_add_test(tc, stored_class_names_are_applied);
    tcase_add_test(tc, pth_layout);
    tcase_add_test(tc, failed_writes_leave_nothing);
    tcase_add_test(tc, bad_tables_are_refused);
    suite_add_tcase(s, tc);
    return s;
}
