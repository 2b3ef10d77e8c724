/* Turning a request's input into a yolact_image. Triton has already checked the inputs
 * against the configuration (names, data types, ranks); what is checked here is what it
 * cannot know: one input of the two, a shape that matches the bytes, a non-empty image, an
 * encoded file that decodes. Errors are TRITONSERVER_ERROR_INVALID_ARG: the request's fault. */
#define _GNU_SOURCE   /* memfd_create */
#include "request_image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static TRITONSERVER_Error *bad_request(const char *format, const char *detail)
{
    char message[512];
    snprintf(message, sizeof message, format, detail);
    return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_INVALID_ARG, message);
}

/* The input's bytes in one host block: its only buffer in place, or its buffers copied in
 * order into *gathered (the caller frees it). */
static TRITONSERVER_Error *input_bytes(TRITONBACKEND_Input *input, uint32_t buffer_count,
                                       uint64_t byte_size, const uint8_t **bytes,
                                       void **gathered)
{
    *gathered = NULL;
    uint8_t *copy = NULL;
    uint64_t filled = 0;
    if (buffer_count > 1 && !(copy = *gathered = malloc(byte_size ? byte_size : 1)))
        return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_UNAVAILABLE, "out of host memory");
    for (uint32_t i = 0; i < buffer_count; i++) {
        const void *buffer;
        uint64_t size;
        TRITONSERVER_MemoryType type = TRITONSERVER_MEMORY_CPU;
        int64_t type_id = 0;
        TRITONSERVER_Error *error =
            TRITONBACKEND_InputBuffer(input, i, &buffer, &size, &type, &type_id);
        if (error)
            return error;
        if (type == TRITONSERVER_MEMORY_GPU)
            return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_UNSUPPORTED,
                                         "input in GPU memory: send it in system memory");
        if (size > byte_size - filled)
            return bad_request("%s", "input buffers hold more than the input's size");
        if (!copy)
            *bytes = buffer;
        else
            memcpy(copy + filled, buffer, size);
        filled += size;
    }
    if (filled != byte_size)
        return bad_request("%s", "input buffers hold less than the input's size");
    if (copy || buffer_count == 0)
        *bytes = copy;
    return NULL;
}

/* IMAGE: shape [1, H, W, 3] of UINT8, exactly H * W * 3 bytes, within the library's
 * limits (checked here so that a too-large image fails alone, not its whole batch). */
static TRITONSERVER_Error *raw_image(TRITONSERVER_DataType type, const int64_t *shape,
                                     uint32_t dims, uint64_t byte_size, const uint8_t *bytes,
                                     yolact_image *image)
{
    if (type != TRITONSERVER_TYPE_UINT8)
        return bad_request("%s", "IMAGE must be UINT8 (8-bit BGR pixels)");
    if (dims != 4 || shape[0] != 1 || shape[3] != 3)
        return bad_request("%s", "IMAGE must have shape [1, height, width, 3]: one BGR "
                                 "image a request");
    yolact_limits limits;
    yolact_limits_get(&limits);
    if (shape[1] < 1 || shape[2] < 1)
        return bad_request("%s", "IMAGE is empty (height or width 0)");
    if (shape[1] > limits.max_image_side || shape[2] > limits.max_image_side ||
        shape[1] * shape[2] > limits.max_image_pixels)
        return bad_request("%s", "IMAGE is larger than the server's image limits");
    if (byte_size != (uint64_t)(shape[1] * shape[2] * 3))
        return bad_request("%s", "IMAGE's bytes do not match its shape (height * width * 3)");
    *image = (yolact_image){.data = bytes, .width = (int)shape[2], .height = (int)shape[1],
                            .stride = (size_t)shape[2] * 3, .format = YOLACT_PIXEL_BGR8};
    return NULL;
}

/* IMAGE_BYTES: one BYTES element (a 4-byte little-endian length, then the file), decoded by
 * the library. The public API decodes files by path, so the bytes go into an anonymous
 * in-memory file (memfd) read back through its /proc path: no disk, nothing left behind. */
static TRITONSERVER_Error *encoded_image(TRITONSERVER_DataType type, const int64_t *shape,
                                         uint32_t dims, uint64_t byte_size,
                                         const uint8_t *bytes, yolact_image *image)
{
    if (type != TRITONSERVER_TYPE_BYTES)
        return bad_request("%s", "IMAGE_BYTES must be BYTES (a PNG or JPEG file)");
    int64_t elements = 1;
    for (uint32_t i = 0; i < dims; i++)
        elements *= shape[i];
    if (elements != 1)
        return bad_request("%s", "IMAGE_BYTES must hold one file a request (shape [1, 1])");
    if (byte_size < 4)
        return bad_request("%s", "IMAGE_BYTES is empty");
    uint32_t length = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 |
                      (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
    if (length == 0)
        return bad_request("%s", "IMAGE_BYTES is empty");
    if ((uint64_t)length + 4 != byte_size)
        return bad_request("%s", "IMAGE_BYTES's length prefix does not match its size");

    int fd = memfd_create("yolact-request", MFD_CLOEXEC);
    if (fd < 0)
        return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_UNAVAILABLE, strerror(errno));
    const uint8_t *p = bytes + 4;
    for (size_t left = length; left > 0;) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return TRITONSERVER_ErrorNew(TRITONSERVER_ERROR_UNAVAILABLE, strerror(errno));
        }
        p += n;
        left -= (size_t)n;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    yolact_status status = yolact_image_load(path, image);
    close(fd);
    if (status != YOLACT_OK) {
        /* The detail names the file: the /proc path means nothing to the client. */
        const char *detail = yolact_last_error();
        size_t prefix = strlen(path);
        if (!strncmp(detail, path, prefix) && !strncmp(detail + prefix, ": ", 2))
            detail += prefix + 2;
        return bad_request("IMAGE_BYTES is not a PNG or JPEG image this server decodes: %s",
                           detail);
    }
    return NULL;
}

TRITONSERVER_Error *yt_request_image_read(TRITONBACKEND_Request *request, yt_request_image *out)
{
    *out = (yt_request_image){0};
    uint32_t count;
    TRITONSERVER_Error *error = TRITONBACKEND_RequestInputCount(request, &count);
    if (error)
        return error;
    if (count != 1)
        return bad_request("%s", count ? "send one input, IMAGE or IMAGE_BYTES, not both"
                                       : "no input: send IMAGE (raw BGR) or IMAGE_BYTES "
                                         "(a PNG or JPEG file)");
    TRITONBACKEND_Input *input;
    const char *name;
    TRITONSERVER_DataType type;
    const int64_t *shape;
    uint32_t dims, buffers;
    uint64_t byte_size;
    const uint8_t *bytes = NULL;
    if ((error = TRITONBACKEND_RequestInputByIndex(request, 0, &input)) ||
        (error = TRITONBACKEND_InputProperties(input, &name, &type, &shape, &dims, &byte_size,
                                               &buffers)) ||
        (error = input_bytes(input, buffers, byte_size, &bytes, &out->gathered))) {
        yt_request_image_release(out);
        return error;
    }
    if (!strcmp(name, "IMAGE")) {
        error = raw_image(type, shape, dims, byte_size, bytes, &out->image);
    } else if (!strcmp(name, "IMAGE_BYTES")) {
        error = encoded_image(type, shape, dims, byte_size, bytes, &out->image);
        out->decoded = !error;
    } else {
        error = bad_request("unknown input %s: send IMAGE or IMAGE_BYTES", name);
    }
    if (error)
        yt_request_image_release(out);
    return error;
}

void yt_request_image_release(yt_request_image *in)
{
    if (in->decoded)
        yolact_image_free_pixels(&in->image);
    free(in->gathered);
    *in = (yt_request_image){0};
}
