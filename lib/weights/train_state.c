/* The training state file (train_state.h): weights and momentum buffers through the
 * safetensors writer, the iteration and the optimizer's settings in its metadata; read
 * back through the ordinary checkpoint reader and split again. */
#include "weights/train_state.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "weights/weights_internal.h"

static const char FORMAT_NAME[] = "libyolact-train-state";
static const char FORMAT_VERSION[] = "1";
/* format, format_version, iteration and the five settings, then the loss scale and its good
 * steps where the run has them */
enum { OWN_PAIRS = 10 };

static int has_prefix(const char *name)
{
    return strncmp(name, YL_TRAIN_STATE_MOMENTUM_PREFIX,
                   sizeof YL_TRAIN_STATE_MOMENTUM_PREFIX - 1) == 0;
}

/* A buffer needs a floating parameter of its name and shape; bad is the status when it has
 * none (the caller's error on writing, the file's on reading). */
static yolact_status check_buffer(const yl_tensor_table *weights, const yl_tensor *buf,
                                  yolact_status bad, const char *path)
{
    const yl_tensor *p = yl_tensor_table_find(weights, buf->name);
    if (!p)
        return yl_fail(bad, "%s: momentum buffer '%s' has no parameter of that name", path,
                       buf->name);
    int same = p->ndim == buf->ndim && p->numel == buf->numel &&
               yl_dtype_is_floating(p->dtype) && yl_dtype_is_floating(buf->dtype);
    for (int d = 0; same && d < p->ndim; d++)
        same = p->shape[d] == buf->shape[d];
    if (!same)
        return yl_fail(bad, "%s: momentum buffer '%s' is not a floating tensor of its "
                       "parameter's shape", path, buf->name);
    return YOLACT_OK;
}

yolact_status yl_train_state_write(const yl_train_state *state, const char *const *metadata,
                                   const char *path)
{
    yl_clear_error();
    if (!state || !path)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_train_state_write: state or path is NULL");
    if (state->iteration < 0)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: iteration %lld", path,
                       (long long)state->iteration);
    if (!(state->loss_scale >= 0) || !isfinite(state->loss_scale) ||
        state->loss_scale_good_steps < 0)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: loss scale %g after %lld good steps",
                       path, state->loss_scale, (long long)state->loss_scale_good_steps);
    for (size_t i = 0; i < state->weights.count; i++)
        if (state->weights.tensors[i].name && has_prefix(state->weights.tensors[i].name))
            return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: weight '%s' is named as a momentum "
                           "buffer", path, state->weights.tensors[i].name);
    for (size_t i = 0; i < state->momentum.count; i++)
        if (state->momentum.tensors[i].name)
            YL_TRY(check_buffer(&state->weights, &state->momentum.tensors[i],
                                YOLACT_ERR_INVALID_ARGUMENT, path));

    size_t extra = 0;
    while (metadata && metadata[2 * extra] && metadata[2 * extra + 1])
        extra++;
    if (metadata && metadata[2 * extra])
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "%s: metadata '%s' has no value", path,
                       metadata[2 * extra]);
    const char **pairs = calloc(2 * (OWN_PAIRS + extra) + 1, sizeof *pairs);
    if (!pairs)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for the metadata", path);
    char iteration[24], lr[32], momentum[32], dampening[32], decay[32], scale[32], good[24];
    snprintf(iteration, sizeof iteration, "%lld", (long long)state->iteration);
    snprintf(lr, sizeof lr, "%.17g", state->sgd.lr);
    snprintf(momentum, sizeof momentum, "%.17g", state->sgd.momentum);
    snprintf(dampening, sizeof dampening, "%.17g", state->sgd.dampening);
    snprintf(decay, sizeof decay, "%.17g", state->sgd.weight_decay);
    snprintf(scale, sizeof scale, "%.17g", state->loss_scale);
    snprintf(good, sizeof good, "%lld", (long long)state->loss_scale_good_steps);
    const char *own[2 * OWN_PAIRS] = {
        "format", FORMAT_NAME, "format_version", FORMAT_VERSION, "iteration", iteration,
        "lr", lr, "momentum", momentum, "dampening", dampening, "weight_decay", decay,
        "nesterov", state->sgd.nesterov ? "1" : "0",
        "loss_scale", scale, "loss_scale_good_steps", good,
    };
    const size_t written = state->loss_scale > 0 ? OWN_PAIRS : OWN_PAIRS - 2;
    memcpy(pairs, own, 2 * written * sizeof *own);
    for (size_t i = 0; i < 2 * extra; i++)
        pairs[2 * written + i] = metadata[i];
    yl_named_table parts[2] = {{&state->weights, ""},
                               {&state->momentum, YL_TRAIN_STATE_MOMENTUM_PREFIX}};
    yolact_status s = yl_safetensors_write(parts, 2, YL_DTYPE_F32, pairs, path);
    free(pairs);
    return s;
}

/* ---- reading ------------------------------------------------------------------------- */

static yolact_status get_value(const yl_tensor_table *t, const char *key, const char **v,
                               const char *path)
{
    *v = yl_tensor_table_metadata(t, key);
    if (!*v || !(*v)[0])
        return yl_fail(YOLACT_ERR_FORMAT, "%s: training state without its '%s'", path, key);
    return YOLACT_OK;
}

static yolact_status not_a_number(const char *path, const char *key, const char *v)
{
    return yl_fail(YOLACT_ERR_FORMAT, "%s: training state's '%s' is '%.40s', not a number",
                   path, key, v);
}

static yolact_status get_double(const yl_tensor_table *t, const char *key, double *out,
                                const char *path)
{
    const char *v;
    char *end;
    YL_TRY(get_value(t, key, &v, path));
    errno = 0;
    *out = strtod(v, &end);
    if (isspace((unsigned char)v[0]) || *end || errno == ERANGE)
        return not_a_number(path, key, v);
    return YOLACT_OK;
}

static yolact_status read_settings(const yl_tensor_table *t, yl_train_state *state,
                                   const char *path)
{
    const char *v;
    char *end;
    if (!(v = yl_tensor_table_metadata(t, "format")) || strcmp(v, FORMAT_NAME) != 0)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: not a training state (no metadata \"format\": "
                       "\"%s\")", path, FORMAT_NAME);
    YL_TRY(get_value(t, "format_version", &v, path));
    if (strcmp(v, FORMAT_VERSION) != 0)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s: training state format_version '%.20s' "
                       "(this library reads %s)", path, v, FORMAT_VERSION);
    YL_TRY(get_value(t, "iteration", &v, path));
    errno = 0;
    long long iteration = strtoll(v, &end, 10);
    if (!isdigit((unsigned char)v[0]) || *end || errno == ERANGE)
        return not_a_number(path, "iteration", v);
    state->iteration = iteration;
    YL_TRY(get_double(t, "lr", &state->sgd.lr, path));
    YL_TRY(get_double(t, "momentum", &state->sgd.momentum, path));
    YL_TRY(get_double(t, "dampening", &state->sgd.dampening, path));
    YL_TRY(get_double(t, "weight_decay", &state->sgd.weight_decay, path));
    YL_TRY(get_value(t, "nesterov", &v, path));
    if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: training state's 'nesterov' is '%.20s', not 0 "
                       "or 1", path, v);
    state->sgd.nesterov = v[0] == '1';
    if (!yl_tensor_table_metadata(t, "loss_scale"))
        return YOLACT_OK; /* an FP32 run's */
    YL_TRY(get_double(t, "loss_scale", &state->loss_scale, path));
    YL_TRY(get_value(t, "loss_scale_good_steps", &v, path));
    errno = 0;
    long long good = strtoll(v, &end, 10);
    if (!isdigit((unsigned char)v[0]) || *end || errno == ERANGE)
        return not_a_number(path, "loss_scale_good_steps", v);
    if (!(state->loss_scale > 0) || !isfinite(state->loss_scale))
        return yl_fail(YOLACT_ERR_FORMAT, "%s: training state's loss_scale %g is not a "
                       "positive number", path, state->loss_scale);
    state->loss_scale_good_steps = good;
    return YOLACT_OK;
}

/* The file's tensors moved into the weights and the momentum tables (buffers' names without
 * the prefix), its metadata to the weights table; `all` is left empty. */
static yolact_status split(yl_tensor_table *all, yl_train_state *state, const char *path)
{
    size_t buffers = 0;
    for (size_t i = 0; i < all->count; i++)
        buffers += has_prefix(all->tensors[i].name);
    YL_TRY(yl_tensor_table_reserve(&state->weights, all->count - buffers, path));
    YL_TRY(yl_tensor_table_reserve(&state->momentum, buffers, path));
    const size_t skip = sizeof YL_TRAIN_STATE_MOMENTUM_PREFIX - 1;
    for (size_t i = 0; i < all->count; i++) {
        yl_tensor *t = &all->tensors[i];
        if (has_prefix(t->name)) {
            memmove(t->name, t->name + skip, strlen(t->name + skip) + 1);
            state->momentum.tensors[state->momentum.count++] = *t;
        } else {
            state->weights.tensors[state->weights.count++] = *t;
        }
    }
    state->weights.metadata = all->metadata;
    state->weights.metadata_count = all->metadata_count;
    free(all->tensors);
    *all = (yl_tensor_table){0};
    return YOLACT_OK;
}

yolact_status yl_train_state_read(const char *path, yl_train_state *state)
{
    yl_clear_error();
    if (!path || !state)
        return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "yl_train_state_read: path or state is NULL");
    *state = (yl_train_state){0};
    yl_tensor_table all;
    YL_TRY(yl_weights_read(path, &all));
    yolact_status s = read_settings(&all, state, path);
    if (s == YOLACT_OK)
        s = split(&all, state, path);
    for (size_t i = 0; s == YOLACT_OK && i < state->momentum.count; i++)
        s = check_buffer(&state->weights, &state->momentum.tensors[i], YOLACT_ERR_FORMAT, path);
    if (s != YOLACT_OK) {
        yl_tensor_table_free(&all);
        yl_train_state_free(state);
    }
    return s;
}

void yl_train_state_free(yl_train_state *state)
{
    if (!state)
        return;
    yl_tensor_table_free(&state->weights);
    yl_tensor_table_free(&state->momentum);
    *state = (yl_train_state){0};
}
