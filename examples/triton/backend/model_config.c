/* Reading the model configuration: Triton gives it as protobuf's JSON form, from which the
 * backend needs max_batch_size and the string parameters ("parameters": {"key":
 * {"string_value": "..."}}). A small reader of just that: the server wrote the JSON, so it
 * is well-formed, but every step still checks where it is and fails rather than reading
 * past the end. */
#include "model_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    return p;
}

/* Past the JSON string starting at p (its opening quote), or NULL. */
static const char *skip_string(const char *p)
{
    for (p++; *p && *p != '"'; p++)
        if (*p == '\\' && !*++p)
            return NULL;
    return *p == '"' ? p + 1 : NULL;
}

/* Past the JSON value starting at p, or NULL. Containers are skipped by depth, strings by
 * skip_string so brackets inside them do not count. */
static const char *skip_value(const char *p)
{
    p = skip_space(p);
    if (*p == '"')
        return skip_string(p);
    if (*p != '{' && *p != '[') {
        while (*p && !strchr(",}] \n\r\t", *p))
            p++;
        return p;
    }
    int depth = 0;
    do {
        if (*p == '"') {
            if (!(p = skip_string(p)))
                return NULL;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']')
            depth--;
        else if (!*p)
            return NULL;
        p++;
    } while (depth > 0);
    return p;
}

/* The string at p (its opening quote) unescaped into out; the escapes a path or a number
 * can hold (\" \\ \/), others refused. Returns 0 or -1. */
static int read_string(const char *p, char *out, size_t cap)
{
    size_t n = 0;
    for (p++; *p && *p != '"'; p++) {
        char ch = *p;
        if (ch == '\\') {
            ch = *++p;
            if (ch != '"' && ch != '\\' && ch != '/')
                return -1;
        }
        if (n + 1 >= cap)
            return -1;
        out[n++] = ch;
    }
    out[n] = '\0';
    return *p == '"' ? 0 : -1;
}

/* The value of member key of the object starting at obj, or NULL. */
static const char *member(const char *obj, const char *key)
{
    const char *p = skip_space(obj);
    if (*p != '{')
        return NULL;
    size_t key_len = strlen(key);
    for (p = skip_space(p + 1); *p == '"'; p = skip_space(p + 1)) {
        const char *name = p + 1, *end = skip_string(p);
        if (!end)
            return NULL;
        p = skip_space(end);
        if (*p != ':')
            return NULL;
        const char *value = skip_space(p + 1);
        if ((size_t)(end - 1 - name) == key_len && !memcmp(name, key, key_len))
            return value;
        if (!(p = skip_value(value)))
            return NULL;
        p = skip_space(p);
        if (*p != ',')
            return NULL;
    }
    return NULL;
}

/* parameters.<key>.string_value into out: 1 when present, 0 when absent, -1 when not a
 * string that fits. */
static int parameter(const char *config, const char *key, char *out, size_t cap)
{
    const char *params = member(config, "parameters");
    const char *entry = params ? member(params, key) : NULL;
    const char *value = entry ? member(entry, "string_value") : NULL;
    if (!value)
        return 0;
    return *value == '"' && read_string(value, out, cap) == 0 ? 1 : -1;
}

static int fail(char *error, size_t error_size, const char *what)
{
    snprintf(error, error_size, "model configuration: %s", what);
    return -1;
}

int yt_config_parse(const char *json, size_t size, yt_config *config, char *error,
                    size_t error_size)
{
    *config = (yt_config){.precision = YOLACT_PRECISION_DEFAULT};
    char *text = malloc(size + 1);
    if (!text)
        return fail(error, error_size, "out of memory");
    memcpy(text, json, size);
    text[size] = '\0';

    int status = -1;
    char value[64];
    const char *batch = member(text, "max_batch_size");
    config->max_batch_size = batch ? atoi(batch) : 0;
    if (config->max_batch_size <= 0) {
        fail(error, error_size, "max_batch_size must be above 0 (requests are batched)");
        goto done;
    }
    int found = parameter(text, "weights", config->weights, sizeof config->weights);
    if (found <= 0) {
        fail(error, error_size, found ? "parameter weights is not a path string"
                                      : "parameter weights (the checkpoint) is missing");
        goto done;
    }
    if (parameter(text, "preset", config->preset, sizeof config->preset) < 0) {
        fail(error, error_size, "parameter preset is not a preset name");
        goto done;
    }
    if ((found = parameter(text, "precision", value, sizeof value)) < 0 ||
        (found && strcmp(value, "default") && strcmp(value, "fp32") && strcmp(value, "fp16"))) {
        fail(error, error_size, "parameter precision must be default, fp32 or fp16");
        goto done;
    }
    if (found)
        config->precision = !strcmp(value, "fp32")   ? YOLACT_PRECISION_FP32
                            : !strcmp(value, "fp16") ? YOLACT_PRECISION_FP16
                                                     : YOLACT_PRECISION_DEFAULT;
    char *end;
    if ((found = parameter(text, "score_threshold", value, sizeof value)) != 0) {
        config->score_threshold = strtof(value, &end);
        if (found < 0 || end == value || *end || !(config->score_threshold >= 0.0f) ||
            config->score_threshold >= 1.0f) {
            fail(error, error_size, "parameter score_threshold must be a number in [0, 1)");
            goto done;
        }
    }
    if ((found = parameter(text, "num_threads", value, sizeof value)) != 0) {
        long threads = strtol(value, &end, 10);
        if (found < 0 || end == value || *end || threads < 0 || threads > 1024) {
            fail(error, error_size, "parameter num_threads must be 0 (all cores) to 1024");
            goto done;
        }
        config->num_threads = (int)threads;
    }
    status = 0;
done:
    free(text);
    return status;
}
