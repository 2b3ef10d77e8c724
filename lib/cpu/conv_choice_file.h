/* Auto mode's convolution choice (conv_choice.h) kept in a file, so a process that makes
 * one session (yolact-detect) does not time every layer on every run. The file is named by
 * a hash of a key that holds everything the choice depends on and nothing else: the
 * network's convolution shapes in op order with their fused post-ops, the thread count,
 * the CPU (model and the instruction sets that matter), the GEMM kernels, libyolact's and
 * oneDNN's versions and the candidates with the rule that picks among them. Not the
 * weights: the choice is about speed, so two checkpoints of one preset share an entry.
 * The file repeats the key, so a stale file or a hash collision reads as a miss.
 *
 * Where: $YOLACT_CACHE_DIR, else $XDG_CACHE_HOME/libyolact, else $HOME/.cache/libyolact
 * (made when missing). YOLACT_CPU_CONV_CACHE=off neither reads nor writes it. Each file is
 * written whole under a temporary name and renamed over the old one, so readers see the
 * old file or the new one, never part of one. Any file that is not exactly this key's
 * entry is a miss; a folder that cannot be written keeps nothing, and inference goes on. */
#ifndef YL_CPU_CONV_CHOICE_FILE_H
#define YL_CPU_CONV_CHOICE_FILE_H

#include <stddef.h>

#include "model/model.h"

typedef struct yl_conv_choice_file {
    char *key;      /* the full key, lines of text */
    char *path;     /* its file, or NULL where no folder is known (no HOME) */
} yl_conv_choice_file;

/* Whether YOLACT_CPU_CONV_CACHE lets the file be used: *on 1 when unset, empty or "on",
 * 0 for "off"; YOLACT_ERR_INVALID_ARGUMENT for another value. */
yolact_status yl_conv_choice_file_enabled(int *on);

/* The entry of m's choice at threads threads among candidates (text naming the candidates
 * and the rule, part of the key). */
yolact_status yl_conv_choice_file_open(const yolact_model *m, int threads,
                                       const char *candidates, yl_conv_choice_file **file);
void yl_conv_choice_file_close(yl_conv_choice_file *file);

/* The stored choice, one letter per convolution of m in op order (count letters, not
 * terminated) into letters: 1 when the file holds exactly this key's entry with count
 * letters, 0 otherwise (missing, unreadable, not a regular file, another key, cut short or
 * longer). What the letters mean is the caller's to check. */
int yl_conv_choice_file_read(const yl_conv_choice_file *file, char *letters, size_t count);

/* Store count letters; 1 when the file was written, 0 when it could not be (nothing
 * partial is left behind). */
int yl_conv_choice_file_write(const yl_conv_choice_file *file, const char *letters,
                              size_t count);

#endif
