/* yolact_model_load: read a checkpoint, pick its preset (given, from the file name as the
 * official eval.py does, or guessed from the shapes), build the model, and apply the class
 * names the file stores or a class names file gives. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "status.h"

void yolact_model_options_init(yolact_model_options *options)
{
    if (!options)
        return;
    memset(options, 0, sizeof *options);
    options->struct_size = sizeof *options;
}

yolact_status yl_preset_lookup(const char *name, const yl_preset **preset)
{
    if ((*preset = yl_preset_find(name)))
        return YOLACT_OK;
    char known[256] = "";
    for (const char *const *p = yolact_preset_names(); *p; p++) {
        strncat(known, *p, sizeof known - strlen(known) - 1);
        if (p[1])
            strncat(known, ", ", sizeof known - strlen(known) - 1);
    }
    return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "unknown preset '%s' (known: %s)", name, known);
}

yolact_status yl_preset_untold(const char *path, const yl_tensor_table *table,
                               const yl_preset **preset, yolact_preset_source *source)
{
    const char *stored = yl_tensor_table_metadata(table, YOLACT_PRESET_METADATA);
    if (stored) {
        *source = YOLACT_PRESET_FROM_METADATA;
        if (!(*preset = yl_preset_find(stored)))
            return yl_fail(YOLACT_ERR_MODEL, "its metadata \"%s\" names '%.64s', not a "
                           "preset", YOLACT_PRESET_METADATA, stored);
        return YOLACT_OK;
    }
    *preset = yl_preset_from_file_name(path);
    *source = *preset ? YOLACT_PRESET_FROM_FILE_NAME : YOLACT_PRESET_GUESSED;
    if (!*preset)
        *preset = yl_preset_guess(table);
    return YOLACT_OK;
}

/* One item a line of text (trailing CR stripped, empty lines refused, a final newline
 * allowed) into lines[0..expected), each malloc'ed: exactly as many as the checkpoint has
 * foreground classes. what names the items and source the text in messages. On failure the
 * lines read so far stay in lines for the caller to free. */
static yolact_status split_class_lines(const char *text, int expected, const char *what,
                                       const char *source, char **lines)
{
    int n = 0;
    for (const char *at = text; *at;) {
        size_t len = strcspn(at, "\n"), kept = len;
        if (kept && at[kept - 1] == '\r')
            kept--;
        if (kept == 0)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: line %d is empty", source, n + 1);
        if (n >= expected)
            return yl_fail(YOLACT_ERR_MODEL, "%s has more than the %d %s the checkpoint has "
                           "classes for", source, expected, what);
        if (!(lines[n++] = strndup(at, kept)))
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory");
        at += len + (at[len] == '\n');
    }
    if (n != expected)
        return yl_fail(YOLACT_ERR_MODEL, "%s has %d %s, the checkpoint has %d classes", source,
                       n, what, expected);
    return YOLACT_OK;
}

static void free_lines(char **lines, int n)
{
    for (int i = 0; lines && i < n; i++)
        free(lines[i]);
    free(lines);
}

/* The class names, one a line; categories then numbered 1..N. The model's names change only
 * when all are good. */
static yolact_status apply_class_names(yolact_model *m, const char *text, const char *source)
{
    int expected = m->num_classes - 1;
    char **names = calloc((size_t)expected, sizeof *names);
    if (!names)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory");
    yolact_status s = split_class_lines(text, expected, "class names", source, names);
    if (s == YOLACT_OK)
        for (int i = 0; i < expected; i++) {
            char *old = m->class_names[i];
            m->class_names[i] = names[i], names[i] = old;
            m->category_ids[i] = i + 1;
        }
    free_lines(names, expected);
    return s;
}

/* The categories' ids, one positive integer a line, class by class: a data set's own ids
 * (yolact-eval's results then name its categories). */
static yolact_status apply_category_ids(yolact_model *m, const char *text, const char *source)
{
    int expected = m->num_classes - 1;
    char **lines = calloc((size_t)expected, sizeof *lines);
    int *ids = calloc((size_t)expected, sizeof *ids);
    yolact_status s = lines && ids
                          ? split_class_lines(text, expected, "category ids", source, lines)
                          : yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; s == YOLACT_OK && i < expected; i++) {
        char *end;
        long v = strtol(lines[i], &end, 10);
        if (*end || end == lines[i] || v < 1 || v > INT_MAX)
            s = yl_fail(YOLACT_ERR_FORMAT, "%s: line %d, '%s', is not a category id (a "
                        "positive integer)", source, i + 1, lines[i]);
        ids[i] = (int)v;
    }
    if (s == YOLACT_OK)
        memcpy(m->category_ids, ids, (size_t)expected * sizeof *ids);
    free_lines(lines, expected);
    free(ids);
    return s;
}

/* The class names file of the options: read whole (a few KB; more is refused). */
static yolact_status apply_class_names_file(yolact_model *m, const char *path)
{
    enum { MAX_FILE = 1 << 20 };
    FILE *f = fopen(path, "rb");
    if (!f)
        return yl_fail(YOLACT_ERR_IO, "cannot open class names file '%s'", path);
    char *text = malloc(MAX_FILE + 1);
    size_t n = text ? fread(text, 1, MAX_FILE + 1, f) : 0;
    yolact_status s = !text        ? yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory")
                      : ferror(f)  ? yl_fail(YOLACT_ERR_IO, "error reading '%s'", path)
                      : n > MAX_FILE ? yl_fail(YOLACT_ERR_FORMAT, "%s: larger than %d bytes",
                                               path, MAX_FILE)
                      : memchr(text, '\0', n) ? yl_fail(YOLACT_ERR_FORMAT, "%s: holds a NUL "
                                                         "byte", path)
                                             : YOLACT_OK;
    fclose(f);
    if (s == YOLACT_OK) {
        text[n] = '\0';
        s = apply_class_names(m, text, path);
    }
    free(text);
    return s;
}

/* The file's own class names and category ids, where its metadata has them. */
static yolact_status apply_stored_classes(yolact_model *m, const yl_tensor_table *table,
                                          const char *path)
{
    static const char *const keys[2] = {YOLACT_CLASS_NAMES_METADATA,
                                        YOLACT_CATEGORY_IDS_METADATA};
    yolact_status s = YOLACT_OK;
    for (int k = 0; k < 2 && s == YOLACT_OK; k++) {
        const char *text = yl_tensor_table_metadata(table, keys[k]);
        char source[512];
        snprintf(source, sizeof source, "%s's metadata \"%s\"", path, keys[k]);
        if (text)
            s = k == 0 ? apply_class_names(m, text, source) : apply_category_ids(m, text, source);
    }
    return s;
}

yolact_status yolact_model_load(const char *path, const yolact_model_options *options,
                                yolact_model **model)
{
    yl_clear_error();
    yolact_model_options defaults;
    yolact_model_options_init(&defaults);
    if (!options)
        options = &defaults;
    if (!path || !model)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yolact_model_load: %s is NULL",
                       path ? "model" : "path");
    *model = NULL;
    if (options->struct_size != sizeof *options)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "model options not set up by "
                       "yolact_model_options_init");

    const yl_preset *preset = NULL;
    yolact_preset_source source = YOLACT_PRESET_GIVEN;
    if (options->preset)
        YL_TRY(yl_preset_lookup(options->preset, &preset));

    yl_tensor_table table = {0};
    yolact_status s = yl_weights_read(path, &table);
    if (s != YOLACT_OK)
        return s;
    if (!preset && (s = yl_preset_untold(path, &table, &preset, &source)) != YOLACT_OK) {
        yl_tensor_table_free(&table);
        return yl_fail_context(s, "%s: ", path);
    }
    s = yl_model_build(&table, preset, source, model);
    if (s != YOLACT_OK) {
        yl_tensor_table_free(&table);
        return yl_fail_context(s, "%s (preset %s): ", path, preset->name);
    }
    /* A model trained here keeps its class names and category ids in the file (yolact-train
     * writes them); a names file given in the options replaces them. */
    s = apply_stored_classes(*model, &table, path);
    yl_tensor_table_free(&table);
    if (s == YOLACT_OK && options->class_names_path)
        s = apply_class_names_file(*model, options->class_names_path);
    if (s != YOLACT_OK) {
        yolact_model_free(*model);
        *model = NULL;
    }
    return s;
}
