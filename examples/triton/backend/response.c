/* Writing a result into the outputs of the model configuration (examples/triton/
 * model_repository/yolact/config.pbtxt). Every output has the batch dimension first, 1 for
 * the one image of a request:
 *   COUNT [1, 1] INT32, CLASSES [1, N] INT32 (class index, background excluded),
 *   CATEGORY_IDS [1, N] INT32 (COCO category ids), SCORES [1, N] FP32,
 *   BOXES [1, N, 4] FP32 (x1 y1 x2 y2 in image pixels),
 *   MASKS_RLE [1, N] BYTES (COCO compressed RLE counts, column-major, as yolact-detect -o),
 *   MASKS_BITS [1, N, H, ceil(W / 8)] UINT8 (packed rows, most significant bit first). */
#include "response.h"

#include <stddef.h>
#include <string.h>

#include "log.h"

typedef struct output_writer {
    TRITONBACKEND_Response *response;
    const yolact_result *result;
} output_writer;

/* A new output of the response and its host buffer of size bytes. */
static TRITONSERVER_Error *new_output(output_writer *w, const char *name,
                                      TRITONSERVER_DataType type, const int64_t *shape,
                                      uint32_t dims, uint64_t size, void **buffer)
{
    TRITONBACKEND_Output *output;
    TRITONSERVER_MemoryType memory = TRITONSERVER_MEMORY_CPU;
    int64_t memory_id = 0;
    TRITONSERVER_Error *error =
        TRITONBACKEND_ResponseOutput(w->response, &output, name, type, shape, dims);
    if (!error)
        error = TRITONBACKEND_OutputBuffer(output, buffer, size, &memory, &memory_id);
    if (!error && memory == TRITONSERVER_MEMORY_GPU)
        error = TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_UNSUPPORTED,
                                      "outputs in GPU memory: ask for them in system memory");
    return error;
}

/* One number a detection: the field at offset of yolact_detection, as INT32 or FP32. */
static TRITONSERVER_Error *per_detection(output_writer *w, const char *name,
                                         TRITONSERVER_DataType type, size_t offset)
{
    const yolact_result *r = w->result;
    int64_t shape[2] = {1, r->count};
    void *buffer;
    TRITONSERVER_Error *error =
        new_output(w, name, type, shape, 2, (uint64_t)r->count * 4, &buffer);
    for (int i = 0; !error && i < r->count; i++)
        memcpy((char *)buffer + 4 * (size_t)i, (const char *)&r->detections[i] + offset, 4);
    return error;
}

static TRITONSERVER_Error *write_count(output_writer *w)
{
    int64_t shape[2] = {1, 1};
    void *buffer;
    TRITONSERVER_Error *error = new_output(w, "COUNT", TRITONSERVER_TYPE_INT32, shape, 2, 4,
                                           &buffer);
    if (!error)
        memcpy(buffer, &w->result->count, 4);
    return error;
}

static TRITONSERVER_Error *write_boxes(output_writer *w)
{
    const yolact_result *r = w->result;
    int64_t shape[3] = {1, r->count, 4};
    float *box;
    TRITONSERVER_Error *error = new_output(w, "BOXES", TRITONSERVER_TYPE_FP32, shape, 3,
                                           (uint64_t)r->count * 16, (void **)&box);
    for (int i = 0; !error && i < r->count; i++, box += 4) {
        const yolact_detection *d = &r->detections[i];
        box[0] = d->x1, box[1] = d->y1, box[2] = d->x2, box[3] = d->y2;
    }
    return error;
}

/* BYTES elements are a 4-byte little-endian length and the bytes, back to back. */
static TRITONSERVER_Error *write_rle(output_writer *w)
{
    const yolact_result *r = w->result;
    uint64_t size = 0;
    for (int i = 0; i < r->count; i++)
        size += 4 + strlen(r->detections[i].rle);
    int64_t shape[2] = {1, r->count};
    uint8_t *p;
    TRITONSERVER_Error *error = new_output(w, "MASKS_RLE", TRITONSERVER_TYPE_BYTES, shape, 2,
                                           size, (void **)&p);
    for (int i = 0; !error && i < r->count; i++) {
        const char *rle = r->detections[i].rle;
        uint32_t length = (uint32_t)strlen(rle);
        for (int b = 0; b < 4; b++)
            *p++ = (uint8_t)(length >> (8 * b));
        memcpy(p, rle, length);
        p += length;
    }
    return error;
}

static TRITONSERVER_Error *write_mask_bits(output_writer *w)
{
    const yolact_result *r = w->result;
    size_t row = ((size_t)r->width + 7) / 8;
    int64_t shape[4] = {1, r->count, r->height, (int64_t)row};
    uint8_t *p;
    TRITONSERVER_Error *error =
        new_output(w, "MASKS_BITS", TRITONSERVER_TYPE_UINT8, shape, 4,
                   (uint64_t)r->count * (uint64_t)r->height * row, (void **)&p);
    for (int i = 0; !error && i < r->count; i++)
        for (int y = 0; y < r->height; y++, p += row)
            memcpy(p, r->detections[i].mask + (size_t)y * r->detections[i].mask_stride, row);
    return error;
}

static TRITONSERVER_Error *write_output(output_writer *w, const char *name)
{
    if (!strcmp(name, "COUNT"))
        return write_count(w);
    if (!strcmp(name, "CLASSES"))
        return per_detection(w, name, TRITONSERVER_TYPE_INT32,
                             offsetof(yolact_detection, class_index));
    if (!strcmp(name, "CATEGORY_IDS"))
        return per_detection(w, name, TRITONSERVER_TYPE_INT32,
                             offsetof(yolact_detection, category_id));
    if (!strcmp(name, "SCORES"))
        return per_detection(w, name, TRITONSERVER_TYPE_FP32, offsetof(yolact_detection, score));
    if (!strcmp(name, "BOXES"))
        return write_boxes(w);
    if (!strcmp(name, "MASKS_RLE"))
        return write_rle(w);
    if (!strcmp(name, "MASKS_BITS"))
        return write_mask_bits(w);
    return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_INVALID_ARG, "unknown output requested");
}

int yt_response_send(TRITONBACKEND_Request *request, const yolact_result *result,
                     TRITONSERVER_Error *error)
{
    TRITONBACKEND_Response *response;
    TRITONSERVER_Error *failed = TRITONBACKEND_ResponseNew(&response, request);
    if (failed) {
        /* No response can be made: the request is released without one. */
        yt_log(TRITONSERVER_LOG_ERROR, TRITONSERVER_ErrorMessage(failed));
        TRITONSERVER_ErrorDelete(failed);
        return 0;
    }
    output_writer w = {response, result};
    uint32_t outputs = 0;
    if (!error && !(failed = TRITONBACKEND_RequestOutputCount(request, &outputs))) {
        for (uint32_t i = 0; i < outputs && !failed; i++) {
            const char *name;
            if (!(failed = TRITONBACKEND_RequestOutputName(request, i, &name)))
                failed = write_output(&w, name);
        }
    }
    TRITONSERVER_Error *sent = TRITONBACKEND_ResponseSend(
        response, TRITONSERVER_RESPONSE_COMPLETE_FINAL, error ? error : failed);
    if (sent) {
        yt_log(TRITONSERVER_LOG_ERROR, TRITONSERVER_ErrorMessage(sent));
        TRITONSERVER_ErrorDelete(sent);
    }
    int carried = !error && !failed && !sent;
    if (failed)
        TRITONSERVER_ErrorDelete(failed);
    return carried;
}
