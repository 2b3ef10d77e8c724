/* One request's image: the raw BGR pixels of input IMAGE, or the PNG/JPEG file in input
 * IMAGE_BYTES decoded, checked before anything runs so a bad request fails alone. */
#ifndef YT_REQUEST_IMAGE_H
#define YT_REQUEST_IMAGE_H

#include "triton_api.h"
#include "yolact.h"

typedef struct yt_request_image {
    yolact_image image;        /* what detect reads; valid until yt_request_image_release */
    void *gathered;            /* the input copied together when it came in several buffers */
    int decoded;               /* image.data was allocated by yolact_image_load */
} yt_request_image;

/* Read the image of request; on failure returns an error (the caller's) naming what is wrong
 * with the request, and holds nothing. */
TRITONSERVER_Error *yt_request_image_read(TRITONBACKEND_Request *request, yt_request_image *out);
void yt_request_image_release(yt_request_image *in);

#endif
