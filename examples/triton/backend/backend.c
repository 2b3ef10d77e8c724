/* libtriton_yolact: a Triton Inference Server backend serving YOLACT with libyolact.
 * A model (TRITONBACKEND_Model) loads its checkpoint once; each of its instances has its own
 * session over it, on the CPU for KIND_CPU and on the instance's GPU for KIND_GPU. An
 * execution takes the requests the dynamic batcher gathered, reads each one's image (a bad
 * one is answered with its error at once), runs the good ones through one
 * yolact_session_detect_batch call, and answers each with its detections. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "model_config.h"
#include "request_image.h"
#include "response.h"
#include "triton_api.h"
#include "yolact.h"

typedef struct yt_model {
    yolact_model *model;
    yt_config config;
} yt_model;

typedef struct yt_instance {
    yolact_session *session;
    yt_model *model;
} yt_instance;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* A libyolact failure as a server error: its status and the library's detail. */
static TRITONSERVER_Error *library_error(const char *doing, yolact_status status)
{
    char message[6144];
    snprintf(message, sizeof message, "%s: %s: %s", doing, yolact_status_string(status),
             yolact_last_error());
    TRITONSERVER_Error_Code code =
        status == YOLACT_ERR_OUT_OF_MEMORY || status == YOLACT_ERR_DEVICE
            ? TRITONSERVER_ERROR_UNAVAILABLE
        : status == YOLACT_ERR_BACKEND_UNAVAILABLE || status == YOLACT_ERR_UNSUPPORTED
            ? TRITONSERVER_ERROR_UNSUPPORTED
        : status == YOLACT_ERR_INTERNAL ? TRITONSERVER_ERROR_INTERNAL
                                        : TRITONSERVER_ERROR_INVALID_ARG;
    return TRITONSERVER_ErrorNew(code, message);
}

TRITONSERVER_Error *TRITONBACKEND_Initialize(TRITONBACKEND_Backend *backend)
{
    (void)backend;
    uint32_t major, minor;
    TRITONSERVER_Error *error = TRITONBACKEND_ApiVersion(&major, &minor);
    if (error)
        return error;
    char message[256];
    if (major != TRITON_BACKEND_API_MAJOR || minor < TRITON_BACKEND_API_MINOR) {
        snprintf(message, sizeof message,
                 "yolact backend needs backend API %d.%d or a later 1.x; this server has %u.%u",
                 TRITON_BACKEND_API_MAJOR, TRITON_BACKEND_API_MINOR, major, minor);
        return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_UNSUPPORTED, message);
    }
    snprintf(message, sizeof message,
             "yolact backend: libyolact %s, backend API %d.%d (server %u.%u)",
             yolact_version_string(), TRITON_BACKEND_API_MAJOR, TRITON_BACKEND_API_MINOR,
             major, minor);
    yt_log(TRITONSERVER_LOG_INFO, message);
    return NULL;
}

/* The checkpoint's path: as given when absolute, else in the model's version folder. */
static TRITONSERVER_Error *weights_path(TRITONBACKEND_Model *model, const char *weights,
                                        char *path, size_t cap)
{
    if (weights[0] == '/') {
        snprintf(path, cap, "%s", weights);
        return NULL;
    }
    TRITONBACKEND_ArtifactType type;
    const char *location;
    uint64_t version;
    TRITONSERVER_Error *error = TRITONBACKEND_ModelRepository(model, &type, &location);
    if (!error)
        error = TRITONBACKEND_ModelVersion(model, &version);
    if (error)
        return error;
    if ((size_t)snprintf(path, cap, "%s/%llu/%s", location, (unsigned long long)version,
                         weights) >= cap)
        return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_INVALID_ARG, "weights path too long");
    return NULL;
}

static TRITONSERVER_Error *read_config(TRITONBACKEND_Model *model, yt_config *config)
{
    TRITONSERVER_Message *message;
    TRITONSERVER_Error *error = TRITONBACKEND_ModelConfig(model, 1, &message);
    if (error)
        return error;
    const char *json;
    size_t size;
    char problem[256];
    if (!(error = TRITONSERVER_MessageSerializeToJson(message, &json, &size)) &&
        yt_config_parse(json, size, config, problem, sizeof problem) != 0)
        error = TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_INVALID_ARG, problem);
    TRITONSERVER_Error *deleted = TRITONSERVER_MessageDelete(message);
    if (deleted)
        TRITONSERVER_ErrorDelete(deleted);
    return error;
}

TRITONSERVER_Error *TRITONBACKEND_ModelInitialize(TRITONBACKEND_Model *model)
{
    yt_model *state = calloc(1, sizeof *state);
    if (!state)
        return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_UNAVAILABLE, "out of host memory");
    char path[4096];
    TRITONSERVER_Error *error = read_config(model, &state->config);
    if (!error)
        error = weights_path(model, state->config.weights, path, sizeof path);
    if (!error) {
        yolact_model_options options;
        yolact_model_options_init(&options);
        options.preset = state->config.preset[0] ? state->config.preset : NULL;
        yolact_status status = yolact_model_load(path, &options, &state->model);
        if (status != YOLACT_OK)
            error = library_error(path, status);
    }
    if (!error)
        error = TRITONBACKEND_ModelSetState(model, state);
    if (error) {
        yolact_model_free(state->model);
        free(state);
        return error;
    }
    char message[4200];
    snprintf(message, sizeof message, "yolact backend: loaded %s (%s)", path,
             yolact_model_get_info(state->model)->preset);
    yt_log(TRITONSERVER_LOG_INFO, message);
    return NULL;
}

TRITONSERVER_Error *TRITONBACKEND_ModelFinalize(TRITONBACKEND_Model *model)
{
    void *state;
    TRITONSERVER_Error *error = TRITONBACKEND_ModelState(model, &state);
    if (error)
        return error;
    yt_model *m = state;
    yolact_model_free(m->model);
    free(m);
    return NULL;
}

TRITONSERVER_Error *TRITONBACKEND_ModelInstanceInitialize(TRITONBACKEND_ModelInstance *instance)
{
    TRITONBACKEND_Model *model;
    TRITONSERVER_InstanceGroupKind kind;
    int32_t device;
    void *model_state;
    TRITONSERVER_Error *error;
    if ((error = TRITONBACKEND_ModelInstanceModel(instance, &model)) ||
        (error = TRITONBACKEND_ModelState(model, &model_state)) ||
        (error = TRITONBACKEND_ModelInstanceKind(instance, &kind)) ||
        (error = TRITONBACKEND_ModelInstanceDeviceId(instance, &device)))
        return error;
    if (kind != TRITONSERVER_INSTANCEGROUPKIND_CPU && kind != TRITONSERVER_INSTANCEGROUPKIND_GPU)
        return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_INVALID_ARG,
                                     "yolact instances are KIND_CPU or KIND_GPU");
    yt_model *m = model_state;
    yt_instance *state = calloc(1, sizeof *state);
    if (!state)
        return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_UNAVAILABLE, "out of host memory");
    state->model = m;

    yolact_session_options options;
    yolact_session_options_init(&options);
    int gpu = kind == TRITONSERVER_INSTANCEGROUPKIND_GPU;
    options.backend = gpu ? YOLACT_BACKEND_CUDA : YOLACT_BACKEND_CPU;
    options.device_index = gpu ? device : 0;
    options.precision = m->config.precision;
    options.score_threshold = m->config.score_threshold;
    options.num_threads = m->config.num_threads;
    options.want_rle = 1;
    /* The CUDA backend runs a batch through the network at once, up to this many. */
    options.batch_size = m->config.max_batch_size < YOLACT_MAX_BATCH_SIZE
                             ? m->config.max_batch_size : YOLACT_MAX_BATCH_SIZE;
    yolact_status status = yolact_session_create(m->model, &options, &state->session);
    if (status != YOLACT_OK)
        error = library_error(gpu ? "yolact session on the GPU" : "yolact session on the CPU",
                              status);
    if (!error)
        error = TRITONBACKEND_ModelInstanceSetState(instance, state);
    if (error) {
        yolact_session_free(state->session);
        free(state);
        return error;
    }
    const char *name = "";
    TRITONSERVER_Error *named = TRITONBACKEND_ModelInstanceName(instance, &name);
    if (named)
        TRITONSERVER_ErrorDelete(named);
    char message[256];
    if (gpu)
        snprintf(message, sizeof message, "yolact backend: instance %s on GPU %d", name, device);
    else
        snprintf(message, sizeof message, "yolact backend: instance %s on the CPU", name);
    yt_log(TRITONSERVER_LOG_INFO, message);
    return NULL;
}

TRITONSERVER_Error *TRITONBACKEND_ModelInstanceFinalize(TRITONBACKEND_ModelInstance *instance)
{
    void *state;
    TRITONSERVER_Error *error = TRITONBACKEND_ModelInstanceState(instance, &state);
    if (error)
        return error;
    yt_instance *i = state;
    yolact_session_free(i->session);
    free(i);
    return NULL;
}

/* Report a request's statistics and hand it back; failures here are only logged, the
 * response has gone. */
static void finish_request(TRITONBACKEND_ModelInstance *instance,
                           TRITONBACKEND_Request *request, int success, const uint64_t times[4])
{
    TRITONSERVER_Error *error = TRITONBACKEND_ModelInstanceReportStatistics(
        instance, request, success, times[0], times[1], times[2], times[3]);
    if (error) {
        yt_log(TRITONSERVER_LOG_ERROR, TRITONSERVER_ErrorMessage(error));
        TRITONSERVER_ErrorDelete(error);
    }
    if ((error = TRITONBACKEND_RequestRelease(request, TRITONSERVER_REQUEST_RELEASE_ALL))) {
        yt_log(TRITONSERVER_LOG_ERROR, TRITONSERVER_ErrorMessage(error));
        TRITONSERVER_ErrorDelete(error);
    }
}

TRITONSERVER_Error *TRITONBACKEND_ModelInstanceExecute(TRITONBACKEND_ModelInstance *instance,
                                                       TRITONBACKEND_Request **requests,
                                                       uint32_t request_count)
{
    void *state;
    TRITONSERVER_Error *error = TRITONBACKEND_ModelInstanceState(instance, &state);
    if (error)
        return error; /* the requests stay the server's */
    yt_instance *in = state;
    uint64_t times[4] = {now_ns(), 0, 0, 0};

    yt_request_image *inputs = calloc(request_count, sizeof *inputs);
    yolact_image *images = calloc(request_count, sizeof *images);
    TRITONBACKEND_Request **batched = calloc(request_count, sizeof *batched);
    const yolact_result **results = calloc(request_count, sizeof *results);
    if (!inputs || !images || !batched || !results) {
        free(inputs), free(images), free(batched), free(results);
        return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_UNAVAILABLE, "out of host memory");
    }

    /* Bad requests are answered now; the others wait for the batch. */
    int count = 0;
    for (uint32_t r = 0; r < request_count; r++) {
        if ((error = yt_request_image_read(requests[r], &inputs[count]))) {
            yt_response_send(requests[r], NULL, error);
            TRITONSERVER_ErrorDelete(error);
            finish_request(instance, requests[r], 0, times);
            continue;
        }
        images[count] = inputs[count].image;
        batched[count++] = requests[r];
    }

    times[1] = now_ns();
    yolact_status status = YOLACT_OK;
    if (count > 0)
        status = yolact_session_detect_batch(in->session, images, count, results);
    times[2] = now_ns();
    error = status == YOLACT_OK ? NULL : library_error("detection", status);
    for (int i = 0; i < count; i++) {
        int answered = yt_response_send(batched[i], error ? NULL : results[i], error);
        times[3] = now_ns();
        finish_request(instance, batched[i], answered, times);
        yt_request_image_release(&inputs[i]);
    }
    if (error)
        TRITONSERVER_ErrorDelete(error);
    if (count > 0) {
        TRITONSERVER_Error *reported = TRITONBACKEND_ModelInstanceReportBatchStatistics(
            instance, (uint64_t)count, times[0], times[1], times[2], times[3]);
        if (reported) {
            yt_log(TRITONSERVER_LOG_ERROR, TRITONSERVER_ErrorMessage(reported));
            TRITONSERVER_ErrorDelete(reported);
        }
    }
    free(inputs), free(images), free(batched), free(results);
    return NULL;
}
