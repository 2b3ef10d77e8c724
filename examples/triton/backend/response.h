/* One request's detections as its response's outputs. */
#ifndef YT_RESPONSE_H
#define YT_RESPONSE_H

#include "triton_api.h"
#include "yolact.h"

/* Send request's response: the outputs it asked for (all of them when it named none) from
 * result, or error when result is NULL. Takes nothing from the caller: error stays the
 * caller's. Returns whether the response carried detections. */
int yt_response_send(TRITONBACKEND_Request *request, const yolact_result *result,
                     TRITONSERVER_Error *error);

#endif
