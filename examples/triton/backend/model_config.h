/* The yolact model's settings, read from the configuration Triton hands the backend (the
 * model's config.pbtxt, serialized as JSON). */
#ifndef YT_MODEL_CONFIG_H
#define YT_MODEL_CONFIG_H

#include "yolact.h"

typedef struct yt_config {
    int max_batch_size;               /* the configuration's, > 0 */
    char weights[4096];               /* parameter "weights": a checkpoint path, relative
                                         to the model's version folder unless absolute */
    char preset[64];                  /* parameter "preset", "" for the file name's */
    yolact_precision precision;       /* parameter "precision": default | fp32 | fp16 */
    float score_threshold;            /* parameter "score_threshold", default 0 */
    int num_threads;                  /* parameter "num_threads": CPU threads an instance,
                                         default 0 (all cores) */
} yt_config;

/* Parse the configuration JSON (json holds size bytes, not NUL-terminated). Returns 0, or
 * -1 with what is wrong in error. */
int yt_config_parse(const char *json, size_t size, yt_config *config, char *error,
                    size_t error_size);

#endif
