/* yolact_model_load: read a checkpoint, pick its preset (given, from the file name as the
 * official eval.py does, or guessed from the shapes), build the model, and apply the class
 * names the file stores or a class names file gives. */
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

static yolact_status unknown_preset(const char *name)
{
    char known[256] = "";
    for (const char *const *p = yolact_preset_names(); *p; p++) {
        strncat(known, *p, sizeof known - strlen(known) - 1);
        if (p[1])
            strncat(known, ", ", sizeof known - strlen(known) - 1);
    }
    return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "unknown preset '%s' (known: %s)", name, known);
}

/* One class name a line of text (trailing CR stripped, empty lines refused, a final newline
 * allowed); exactly as many as the checkpoint has foreground classes. source names the text
 * in messages. The model's names change only when all are good. */
static yolact_status apply_class_names(yolact_model *m, const char *text, const char *source)
{
    int expected = m->num_classes - 1, n = 0;
    yolact_status s = YOLACT_OK;
    char **names = calloc((size_t)expected, sizeof *names);
    if (!names)
        s = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory");
    for (const char *at = text; s == YOLACT_OK && *at;) {
        size_t len = strcspn(at, "\n"), kept = len;
        if (kept && at[kept - 1] == '\r')
            kept--;
        if (kept == 0)
            s = yl_fail(YOLACT_ERR_FORMAT, "%s: line %d is empty", source, n + 1);
        else if (n >= expected)
            s = yl_fail(YOLACT_ERR_MODEL, "%s has more than the %d class names the checkpoint "
                        "has classes for", source, expected);
        else if (!(names[n++] = strndup(at, kept)))
            s = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory");
        at += len + (at[len] == '\n');
    }
    if (s == YOLACT_OK && n != expected)
        s = yl_fail(YOLACT_ERR_MODEL, "%s has %d class names, the checkpoint has %d classes",
                    source, n, expected);
    for (int i = 0; names && i < expected; i++) {
        char **keep = s == YOLACT_OK ? &m->class_names[i] : &names[i];
        free(*keep);
        if (s == YOLACT_OK) {
            *keep = names[i];
            m->category_ids[i] = i + 1;
        }
    }
    free(names);
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
    if (options->preset) {
        if (!(preset = yl_preset_find(options->preset)))
            return unknown_preset(options->preset);
    }

    yl_tensor_table table = {0};
    yolact_status s = yl_weights_read(path, &table);
    if (s != YOLACT_OK)
        return s;
    if (!preset && (preset = yl_preset_from_file_name(path)))
        source = YOLACT_PRESET_FROM_FILE_NAME;
    if (!preset) {
        preset = yl_preset_guess(&table);
        source = YOLACT_PRESET_GUESSED;
    }
    s = yl_model_build(&table, preset, source, model);
    if (s != YOLACT_OK) {
        yl_tensor_table_free(&table);
        return yl_fail_context(s, "%s (preset %s): ", path, preset->name);
    }
    /* A model trained here keeps its class names in the file (yolact-train writes them);
     * a names file given in the options replaces them. */
    const char *stored_names = yl_tensor_table_metadata(&table, YOLACT_CLASS_NAMES_METADATA);
    char source_name[512];
    snprintf(source_name, sizeof source_name, "%s's metadata \"%s\"", path,
             YOLACT_CLASS_NAMES_METADATA);
    if (stored_names)
        s = apply_class_names(*model, stored_names, source_name);
    yl_tensor_table_free(&table);
    if (s == YOLACT_OK && options->class_names_path)
        s = apply_class_names_file(*model, options->class_names_path);
    if (s != YOLACT_OK) {
        yolact_model_free(*model);
        *model = NULL;
    }
    return s;
}
