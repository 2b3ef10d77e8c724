/* The checkpoints a run folder holds, named as train.py names them
 * (<preset>_<epoch>_<iteration>.safetensors, and .pth beside it when asked): the latest of
 * a preset's, which --keep-latest removes once a newer one is written. */
#ifndef CHECKPOINT_FILES_H
#define CHECKPOINT_FILES_H

#include <stddef.h>

/* The name (no folder) of dir's <preset>_<epoch>_<iteration>.safetensors with the highest
 * iteration below `below`, into name[size], and its iteration; 0 found, 1 none, -1 dir
 * unreadable (err says why). */
int checkpoint_latest(const char *dir, const char *preset, long below, char *name,
                      size_t size, long *iteration, char *err, size_t err_size);

/* Remove dir/name and its .pth twin (a twin that is not there is fine); 0, or -1 with err. */
int checkpoint_remove(const char *dir, const char *name, char *err, size_t err_size);

#endif
