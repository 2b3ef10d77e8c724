/* The .safetensors reader: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and byte range, then the data. The JSON parser here is strict and
 * small: it knows objects, arrays, strings (all escapes), numbers, true/false/null. */
#include "weights/weights_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

enum { JSON_MAX_DEPTH = 16 };

typedef enum json_kind { J_NULL, J_TRUE, J_FALSE, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT } json_kind;

static const char *const json_kind_names[] = {"null", "true", "false", "a number", "a string",
                                              "an array", "an object"};

/* Nodes in document order; an object's members are key, value, key, value... */
typedef struct json_node {
    json_kind kind;
    size_t count;                  /* ARRAY: items, OBJECT: members */
    size_t next;                   /* index of the node after this one's subtree */
    const char *text;              /* STRING: decoded (in the string buffer), NUMBER: raw */
    size_t len;
} json_node;

typedef struct json_doc {
    const char *src;
    size_t size, pos;
    const char *what;
    json_node *nodes;
    size_t count, cap;
    char *strings;                 /* decoded strings; never longer than the source */
    size_t strings_used;
} json_doc;

static yolact_status json_error(json_doc *j, const char *fmt, ...) YL_PRINTF(2, 3);
static yolact_status json_error(json_doc *j, const char *fmt, ...)
{
    char detail[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors header: %s at byte %zu", j->what, detail,
                   j->pos);
}

static void skip_space(json_doc *j)
{
    while (j->pos < j->size && (j->src[j->pos] == ' ' || j->src[j->pos] == '\t' ||
                                j->src[j->pos] == '\n' || j->src[j->pos] == '\r'))
        j->pos++;
}

static yolact_status add_node(json_doc *j, json_kind kind, size_t *index)
{
    *index = 0;
    if (j->count == j->cap) {
        size_t cap = j->cap ? 2 * j->cap : 64;
        json_node *n = realloc(j->nodes, cap * sizeof *n);
        if (!n)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for the JSON header", j->what);
        j->nodes = n;
        j->cap = cap;
    }
    *index = j->count++;
    memset(&j->nodes[*index], 0, sizeof j->nodes[*index]);
    j->nodes[*index].kind = kind;
    return YOLACT_OK;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return 1;
}

static void put_utf8(char *out, size_t *n, unsigned cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xc0 | cp >> 6);
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xe0 | cp >> 12);
        out[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*n)++] = (char)(0xf0 | cp >> 18);
        out[(*n)++] = (char)(0x80 | (cp >> 12 & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

/* A string at j->pos (the opening quote), decoded into the string buffer. */
static yolact_status parse_string(json_doc *j)
{
    size_t idx;
    YL_TRY(add_node(j, J_STRING, &idx));
    char *out = j->strings + j->strings_used;
    size_t n = 0;
    j->pos++;
    for (;;) {
        if (j->pos >= j->size)
            return json_error(j, "unterminated string");
        unsigned char c = (unsigned char)j->src[j->pos];
        if (c == '"')
            break;
        if (c < 0x20)
            return json_error(j, "control character 0x%02x in a string", c);
        if (c != '\\') {
            out[n++] = (char)c;
            j->pos++;
            continue;
        }
        if (j->pos + 1 >= j->size)
            return json_error(j, "unterminated escape");
        char e = j->src[j->pos + 1];
        j->pos += 2;
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (j->size - j->pos < 4 || !hex4(j->src + j->pos, &cp))
                return json_error(j, "bad \\u escape");
            j->pos += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return json_error(j, "lone low surrogate \\u%04x", cp);
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (j->size - j->pos < 6 || j->src[j->pos] != '\\' || j->src[j->pos + 1] != 'u' ||
                    !hex4(j->src + j->pos + 2, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return json_error(j, "high surrogate \\u%04x without its pair", cp);
                j->pos += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(out, &n, cp);   /* at most 4 bytes from at least 6 source bytes */
            break;
        }
        default:
            return json_error(j, "bad escape '\\%c'", e);
        }
    }
    j->pos++;
    j->nodes[idx].text = out;
    j->nodes[idx].len = n;
    j->nodes[idx].next = j->count;
    j->strings_used += n;
    return YOLACT_OK;
}

static int is_digit(json_doc *j) { return j->pos < j->size && j->src[j->pos] >= '0' && j->src[j->pos] <= '9'; }

static yolact_status parse_number(json_doc *j)
{
    size_t start = j->pos, idx;
    if (j->src[j->pos] == '-')
        j->pos++;
    if (!is_digit(j))
        return json_error(j, "bad number");
    if (j->src[j->pos] == '0')
        j->pos++;
    else
        while (is_digit(j))
            j->pos++;
    if (j->pos < j->size && j->src[j->pos] == '.') {
        j->pos++;
        if (!is_digit(j))
            return json_error(j, "bad number");
        while (is_digit(j))
            j->pos++;
    }
    if (j->pos < j->size && (j->src[j->pos] == 'e' || j->src[j->pos] == 'E')) {
        j->pos++;
        if (j->pos < j->size && (j->src[j->pos] == '+' || j->src[j->pos] == '-'))
            j->pos++;
        if (!is_digit(j))
            return json_error(j, "bad number");
        while (is_digit(j))
            j->pos++;
    }
    YL_TRY(add_node(j, J_NUMBER, &idx));
    j->nodes[idx].text = j->src + start;
    j->nodes[idx].len = j->pos - start;
    j->nodes[idx].next = j->count;
    return YOLACT_OK;
}

static yolact_status parse_value(json_doc *j, int depth);

/* An array or object; recursion is bounded by JSON_MAX_DEPTH. */
static yolact_status parse_container(json_doc *j, int depth, int object)
{
    size_t idx;
    if (depth >= JSON_MAX_DEPTH)
        return json_error(j, "nested deeper than %d", JSON_MAX_DEPTH);
    YL_TRY(add_node(j, object ? J_OBJECT : J_ARRAY, &idx));
    char close = object ? '}' : ']';
    size_t count = 0;
    j->pos++;
    skip_space(j);
    if (j->pos < j->size && j->src[j->pos] == close) {
        j->pos++;
    } else {
        for (;;) {
            skip_space(j);
            if (object) {
                if (j->pos >= j->size || j->src[j->pos] != '"')
                    return json_error(j, "expected a member name");
                YL_TRY(parse_string(j));
                skip_space(j);
                if (j->pos >= j->size || j->src[j->pos] != ':')
                    return json_error(j, "expected ':'");
                j->pos++;
            }
            YL_TRY(parse_value(j, depth + 1));
            count++;
            skip_space(j);
            if (j->pos < j->size && j->src[j->pos] == ',') {
                j->pos++;
                continue;
            }
            if (j->pos < j->size && j->src[j->pos] == close) {
                j->pos++;
                break;
            }
            return json_error(j, "expected ',' or '%c'", close);
        }
    }
    j->nodes[idx].count = count;
    j->nodes[idx].next = j->count;
    return YOLACT_OK;
}

static yolact_status parse_literal(json_doc *j, const char *word, json_kind kind)
{
    size_t n = strlen(word), idx;
    if (j->size - j->pos < n || memcmp(j->src + j->pos, word, n) != 0)
        return json_error(j, "unexpected character 0x%02x", (unsigned char)j->src[j->pos]);
    j->pos += n;
    YL_TRY(add_node(j, kind, &idx));
    j->nodes[idx].next = j->count;
    return YOLACT_OK;
}

static yolact_status parse_value(json_doc *j, int depth)
{
    skip_space(j);
    if (j->pos >= j->size)
        return json_error(j, "unexpected end");
    char c = j->src[j->pos];
    switch (c) {
    case '{': return parse_container(j, depth, 1);
    case '[': return parse_container(j, depth, 0);
    case '"': return parse_string(j);
    case 't': return parse_literal(j, "true", J_TRUE);
    case 'f': return parse_literal(j, "false", J_FALSE);
    case 'n': return parse_literal(j, "null", J_NULL);
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return parse_number(j);
        return json_error(j, "unexpected character 0x%02x", (unsigned char)c);
    }
}

static yolact_status json_parse(json_doc *j, const char *src, size_t size, const char *what)
{
    memset(j, 0, sizeof *j);
    j->src = src;
    j->size = size;
    j->what = what;
    j->strings = malloc(size ? size : 1);
    if (!j->strings)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for the JSON header", what);
    YL_TRY(parse_value(j, 0));
    skip_space(j);
    if (j->pos != j->size)
        return json_error(j, "trailing characters after the header object");
    return YOLACT_OK;
}

static void json_free(json_doc *j)
{
    free(j->nodes);
    free(j->strings);
}

static int json_is(const json_node *n, const char *s)
{
    return n->kind == J_STRING && n->len == strlen(s) && memcmp(n->text, s, n->len) == 0;
}

/* A JSON number that is a non-negative integer (no fraction or exponent) within int64. */
static int json_to_count(const json_node *n, int64_t *out)
{
    if (n->kind != J_NUMBER || n->len == 0)
        return 0;
    int64_t v = 0;
    for (size_t i = 0; i < n->len; i++) {
        if (n->text[i] < '0' || n->text[i] > '9' || __builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, n->text[i] - '0', &v))
            return 0;
    }
    *out = v;
    return 1;
}

/* ---- the safetensors layout ------------------------------------------------------------ */

static const struct { const char *name; yl_dtype dtype; } safetensors_dtypes[] = {
    {"F32", YL_DTYPE_F32}, {"F16", YL_DTYPE_F16}, {"BF16", YL_DTYPE_BF16},
    {"F64", YL_DTYPE_F64}, {"I64", YL_DTYPE_I64}, {"I32", YL_DTYPE_I32},
    {"I16", YL_DTYPE_I16}, {"I8", YL_DTYPE_I8},   {"U8", YL_DTYPE_U8},
    {"BOOL", YL_DTYPE_BOOL},
};

const char *yl_safetensors_dtype_name(yl_dtype dtype)
{
    for (size_t d = 0; d < sizeof safetensors_dtypes / sizeof safetensors_dtypes[0]; d++)
        if (safetensors_dtypes[d].dtype == dtype)
            return safetensors_dtypes[d].name;
    return NULL;
}

typedef struct st_entry {
    const json_node *name;
    yl_tensor_view view;
    int64_t begin, end;            /* byte range in the data section */
} st_entry;

static yolact_status parse_entry(const json_doc *j, const json_node *name, size_t at,
                                 int64_t data_size, st_entry *e)
{
    const char *what = j->what;
    int nl = (int)name->len;
    const char *nm = name->text;
    const json_node *obj = &j->nodes[at];
    if (obj->kind != J_OBJECT)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors entry '%.*s' is %s, not an object",
                       what, nl, nm, json_kind_names[obj->kind]);
    const json_node *dtype = NULL, *shape = NULL, *offsets = NULL;
    size_t k = at + 1;
    for (size_t m = 0; m < obj->count; m++) {
        const json_node *key = &j->nodes[k], *val = &j->nodes[k + 1];
        if (json_is(key, "dtype"))
            dtype = val;
        else if (json_is(key, "shape"))
            shape = val;
        else if (json_is(key, "data_offsets"))
            offsets = val;
        else
            return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors entry '%.*s' has an unknown field "
                           "'%.*s'", what, nl, nm, (int)key->len, key->text);
        k = val->next;
    }
    if (!dtype || !shape || !offsets)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors entry '%.*s' lacks %s", what, nl, nm,
                       !dtype ? "dtype" : !shape ? "shape" : "data_offsets");

    memset(e, 0, sizeof *e);
    e->name = name;
    size_t d;
    for (d = 0; d < sizeof safetensors_dtypes / sizeof safetensors_dtypes[0]; d++)
        if (json_is(dtype, safetensors_dtypes[d].name))
            break;
    if (d == sizeof safetensors_dtypes / sizeof safetensors_dtypes[0])
        return yl_fail(dtype->kind == J_STRING ? YOLACT_ERR_UNSUPPORTED : YOLACT_ERR_FORMAT,
                       "%s: safetensors entry '%.*s' has dtype %.*s", what, nl, nm,
                       dtype->kind == J_STRING ? (int)dtype->len : 1,
                       dtype->kind == J_STRING ? dtype->text : "?");
    e->view.dtype = safetensors_dtypes[d].dtype;

    if (shape->kind != J_ARRAY)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors entry '%.*s': shape is %s", what,
                       nl, nm, json_kind_names[shape->kind]);
    if (shape->count > YL_MAX_DIMS)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s: safetensors entry '%.*s' has %zu dimensions",
                       what, nl, nm, shape->count);
    int64_t numel = 1;
    e->view.ndim = (int)shape->count;
    for (size_t i = 0; i < shape->count; i++) {
        const json_node *dim = shape + 1 + i;   /* numbers are single nodes */
        if (!json_to_count(dim, &e->view.shape[i]))
            return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors entry '%.*s': shape[%zu] is not a "
                           "non-negative integer", what, nl, nm, i);
        if (__builtin_mul_overflow(numel, e->view.shape[i], &numel))
            return yl_fail(YOLACT_ERR_LIMIT, "%s: safetensors entry '%.*s': element count "
                           "overflows", what, nl, nm);
    }
    int64_t stride = 1;
    for (int i = e->view.ndim - 1; i >= 0; i--) {
        e->view.stride[i] = stride;
        stride *= e->view.shape[i] ? e->view.shape[i] : 1;   /* <= numel or 1: no overflow */
    }

    if (offsets->kind != J_ARRAY || offsets->count != 2 ||
        !json_to_count(offsets + 1, &e->begin) || !json_to_count(offsets + 2, &e->end))
        return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors entry '%.*s': data_offsets is not "
                       "[begin, end]", what, nl, nm);
    int64_t item = (int64_t)yl_dtype_size(e->view.dtype), bytes;
    if (e->begin > e->end || e->end > data_size)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors entry '%.*s': data_offsets [%lld, %lld] "
                       "outside the %lld data bytes", what, nl, nm, (long long)e->begin,
                       (long long)e->end, (long long)data_size);
    if (__builtin_mul_overflow(numel, item, &bytes) || bytes != e->end - e->begin)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors entry '%.*s' (%s, %lld elements) "
                       "spans %lld bytes, not %lld x %lld", what, nl, nm,
                       yl_dtype_name(e->view.dtype), (long long)numel,
                       (long long)(e->end - e->begin), (long long)numel, (long long)item);
    e->view.base_numel = numel;
    return YOLACT_OK;
}

static int compare_begin(const void *pa, const void *pb)
{
    const st_entry *a = *(const st_entry *const *)pa, *b = *(const st_entry *const *)pb;
    /* by end on a tie: an empty tensor where the next one begins overlaps nothing */
    if (a->begin != b->begin)
        return (a->begin > b->begin) - (a->begin < b->begin);
    return (a->end > b->end) - (a->end < b->end);
}

static yolact_status check_overlaps(const char *what, st_entry *entries, size_t count)
{
    if (count < 2)
        return YOLACT_OK;
    st_entry **sorted = malloc(count * sizeof *sorted);
    if (!sorted)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory to check data offsets", what);
    for (size_t i = 0; i < count; i++)
        sorted[i] = &entries[i];
    qsort(sorted, count, sizeof *sorted, compare_begin);
    yolact_status s = YOLACT_OK;
    for (size_t i = 1; i < count; i++) {
        const st_entry *a = sorted[i - 1], *b = sorted[i];
        if (a->end > b->begin) {
            s = yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors entries '%.*s' [%lld, %lld] and "
                        "'%.*s' [%lld, %lld] overlap", what, (int)a->name->len, a->name->text,
                        (long long)a->begin, (long long)a->end, (int)b->name->len, b->name->text,
                        (long long)b->begin, (long long)b->end);
            break;
        }
    }
    free(sorted);
    return s;
}

/* A NUL-terminated copy of len bytes of the header (strndup would look past them for a NUL
 * that the header need not have). */
static char *copy_text(const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, text, len);
        copy[len] = '\0';
    }
    return copy;
}

/* The __metadata__ object at node `at` (string to string) into the table's pairs. */
static yolact_status store_metadata(const json_doc *j, size_t at, yl_tensor_table *table)
{
    const json_node *obj = &j->nodes[at];
    if (obj->kind != J_OBJECT)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors __metadata__ is %s, not an object",
                       j->what, json_kind_names[obj->kind]);
    table->metadata = calloc(2 * obj->count + 1, sizeof *table->metadata);
    if (!table->metadata)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for the metadata", j->what);
    for (size_t k = at + 1, m = 0; m < obj->count; m++, k = j->nodes[k + 1].next) {
        const json_node *key = &j->nodes[k], *val = &j->nodes[k + 1];
        if (val->kind != J_STRING)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors __metadata__ '%.*s' is %s, not "
                           "a string", j->what, (int)key->len, key->text,
                           json_kind_names[val->kind]);
        if (memchr(key->text, '\0', key->len) || memchr(val->text, '\0', val->len))
            return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors __metadata__ '%.*s' holds a NUL "
                           "character", j->what, (int)key->len, key->text);
        char **pair = &table->metadata[2 * table->metadata_count];
        if (!(pair[0] = copy_text(key->text, key->len)) ||
            !(pair[1] = copy_text(val->text, val->len))) {
            table->metadata_count += pair[0] != NULL;   /* freed with the table */
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for the metadata", j->what);
        }
        table->metadata_count++;
    }
    return YOLACT_OK;
}

static yolact_status read_entries(const json_doc *j, const uint8_t *data, int64_t data_size,
                                  size_t file_size, yl_tensor_table *table)
{
    const json_node *root = &j->nodes[0];
    if (root->kind != J_OBJECT)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors header is %s, not an object", j->what,
                       json_kind_names[root->kind]);
    st_entry *entries = malloc((root->count ? root->count : 1) * sizeof *entries);
    if (!entries)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for %zu entries", j->what,
                       root->count);
    size_t count = 0, metadata = 0;
    yolact_status s = YOLACT_OK;
    for (size_t k = 1, m = 0; s == YOLACT_OK && m < root->count; m++, k = j->nodes[k + 1].next) {
        if (json_is(&j->nodes[k], "__metadata__") && metadata)
            s = yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors __metadata__ appears twice", j->what);
        else if (json_is(&j->nodes[k], "__metadata__"))
            metadata = k + 1;     /* stored once the table exists */
        else
            s = parse_entry(j, &j->nodes[k], k + 1, data_size, &entries[count++]);
    }
    if (s == YOLACT_OK)
        s = check_overlaps(j->what, entries, count);
    if (s == YOLACT_OK)
        s = yl_tensor_table_reserve(table, count, j->what);
    if (s == YOLACT_OK && metadata)
        s = store_metadata(j, metadata, table);
    int64_t budget = yl_weights_output_budget(file_size);
    for (size_t i = 0; s == YOLACT_OK && i < count; i++) {
        entries[i].view.base = data + entries[i].begin;
        s = yl_tensor_table_append(table, j->what, (const uint8_t *)entries[i].name->text,
                                   entries[i].name->len, &entries[i].view, &budget);
    }
    free(entries);
    return s;
}

yolact_status yl_safetensors_read(const uint8_t *data, size_t size, const char *name,
                                  yl_tensor_table *table)
{
    if (size < 8)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors file truncated", name);
    uint64_t header = yl_load_u64le(data);
    if (header > size - 8)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: safetensors header of %llu bytes in a %zu-byte file",
                       name, (unsigned long long)header, size);
    json_doc j;
    yolact_status s = json_parse(&j, (const char *)data + 8, (size_t)header, name);
    if (s == YOLACT_OK)
        s = read_entries(&j, data + 8 + header, (int64_t)(size - 8 - header), size, table);
    json_free(&j);
    return s;
}
