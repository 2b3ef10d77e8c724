/* Reference detections from the parity JSON files: each top-level object's span is found
 * with a string-aware brace scan, then each key is looked up inside that span. */
#include "ref_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yl_test.h"

/* End of the object starting at s ('{'), string-aware; NULL if unterminated. */
static const char *object_end(const char *s)
{
    int depth = 0, in_string = 0;
    for (; *s; s++) {
        if (in_string) {
            if (*s == '\\' && s[1])
                s++;
            else if (*s == '"')
                in_string = 0;
        } else if (*s == '"') {
            in_string = 1;
        } else if (*s == '{') {
            depth++;
        } else if (*s == '}' && --depth == 0) {
            return s + 1;
        }
    }
    return NULL;
}

/* The value after "key": inside [begin, end), or NULL. */
static const char *value_of(const char *begin, const char *end, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    size_t n = strlen(pattern);
    for (const char *p = begin; p + n <= end; p++)
        if (memcmp(p, pattern, n) == 0) {
            p += n;
            while (*p == ' ')
                p++;
            return p;
        }
    return NULL;
}

static int numbers(const char *v, double *out, int count)
{
    if (!v || *v != '[')
        return -1;
    v++;
    for (int i = 0; i < count; i++) {
        char *next;
        out[i] = strtod(v, &next);
        if (next == v)
            return -1;
        v = next;
        while (*v == ',' || *v == ' ')
            v++;
    }
    return 0;
}

static char *json_string_value(const char *v)
{
    if (!v || *v != '"')
        return NULL;
    size_t n = 0;
    char *out = malloc(strlen(v));
    for (v++; out && *v && *v != '"'; v++) {
        if (*v == '\\' && v[1])
            v++;
        out[n++] = *v;
    }
    if (out)
        out[n] = '\0';
    return out;
}

int ref_json_read(const char *path, ref_detection **out)
{
    size_t size;
    char *text = (char *)yl_test_read_file(path, &size);
    if (!text)
        return -1;
    char *z = realloc(text, size + 1);
    if (!z) {
        free(text);
        return -1;
    }
    text = z;
    text[size] = '\0';
    int n = 0, cap = 0, ok = 1;
    ref_detection *d = NULL;
    for (const char *p = strchr(text, '{'); p && ok; p = strchr(p, '{')) {
        const char *end = object_end(p);
        if (!end)
            break;
        if (n == cap) {
            cap = cap ? 2 * cap : 128;
            ref_detection *g = realloc(d, (size_t)cap * sizeof *d);
            if (!g) {
                ok = 0;
                break;
            }
            d = g;
        }
        ref_detection *r = &d[n];
        memset(r, 0, sizeof *r);
        const char *v;
        double size2[2];
        r->mask_score = -1;
        ok = (v = value_of(p, end, "category_id")) && sscanf(v, "%d", &r->category_id) == 1 &&
             (v = value_of(p, end, "coco_category_id")) &&
             sscanf(v, "%d", &r->coco_category_id) == 1 &&
             (v = value_of(p, end, "score")) && sscanf(v, "%lf", &r->score) == 1 &&
             numbers(value_of(p, end, "bbox"), r->bbox, 4) == 0 &&
             numbers(value_of(p, end, "box_rel_xyxy"), r->box_rel, 4) == 0 &&
             numbers(value_of(p, end, "size"), size2, 2) == 0 &&
             (r->counts = json_string_value(value_of(p, end, "counts"))) != NULL;
        if ((v = value_of(p, end, "mask_score")))
            sscanf(v, "%lf", &r->mask_score);
        r->height = (int)size2[0];
        r->width = (int)size2[1];
        if (ok)
            n++;
        p = end;
    }
    free(text);
    if (!ok) {
        ref_json_free(d, n);
        return -1;
    }
    *out = d;
    return n;
}

void ref_json_free(ref_detection *d, int n)
{
    for (int i = 0; i < n; i++)
        free(d[i].counts);
    free(d);
}
