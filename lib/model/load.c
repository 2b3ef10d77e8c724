/* yolact_model_load: read a checkpoint, pick its preset (given, from the file name as the
 * official eval.py does, or guessed from the shapes), build the model, and apply a class
 * names file. */
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

const yl_preset *yl_preset_untold(const char *path, const yl_tensor_table *table,
                                  yolact_preset_source *source)
{
    const yl_preset *preset = yl_preset_from_file_name(path);
    *source = preset ? YOLACT_PRESET_FROM_FILE_NAME : YOLACT_PRESET_GUESSED;
    return preset ? preset : yl_preset_guess(table);
}

/* One class name a line (trailing CR/LF stripped, empty lines refused); exactly as many as
 * the checkpoint has foreground classes. */
static yolact_status apply_class_names(yolact_model *m, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return yl_fail(YOLACT_ERR_IO, "cannot open class names file '%s'", path);
    int expected = m->num_classes - 1, n = 0;
    char line[512];
    yolact_status s = YOLACT_OK;
    char **names = calloc((size_t)expected, sizeof *names);
    if (!names)
        s = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory");
    while (s == YOLACT_OK && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0')
            s = yl_fail(YOLACT_ERR_FORMAT, "%s: line %d is empty", path, n + 1);
        else if (n >= expected)
            s = yl_fail(YOLACT_ERR_MODEL, "%s has more than the %d class names the checkpoint "
                        "has classes for", path, expected);
        else if (!(names[n++] = strdup(line)))
            s = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (s == YOLACT_OK && ferror(f))
        s = yl_fail(YOLACT_ERR_IO, "error reading '%s'", path);
    if (s == YOLACT_OK && n != expected)
        s = yl_fail(YOLACT_ERR_MODEL, "%s has %d class names, the checkpoint has %d classes",
                    path, n, expected);
    fclose(f);
    for (int i = 0; i < expected; i++) {
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
    if (!preset)
        preset = yl_preset_untold(path, &table, &source);
    s = yl_model_build(&table, preset, source, model);
    yl_tensor_table_free(&table);
    if (s != YOLACT_OK)
        return yl_fail_context(s, "%s (preset %s): ", path, preset->name);
    if (options->class_names_path &&
        (s = apply_class_names(*model, options->class_names_path)) != YOLACT_OK) {
        yolact_model_free(*model);
        *model = NULL;
    }
    return s;
}
