/* The fuzz entry point of yolact-eval's input (examples/eval/), shared by its libFuzzer target
 * (test/fuzz/fuzz_annotations.c) and the eval suite, which replays the seeds and every input
 * that once broke it. A broken invariant aborts. */
#ifndef EVAL_FUZZ_ENTRY_H
#define EVAL_FUZZ_ENTRY_H

#include <stddef.h>
#include <stdint.h>

/* The input as an annotation file (boxes and masks); when it is accepted, a few detections
 * on its images are evaluated both ways. 0 when accepted, 1 when refused (with a message). */
int eval_fuzz_annotations(const uint8_t *data, size_t size);

#endif
