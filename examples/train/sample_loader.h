/* Training samples made ahead on worker threads, so the network never waits on decoding and
 * augmenting: the run's order is a fresh seeded permutation of the data set each epoch, and
 * sample k of the run is augmented with its own seeded stream, so the stream of samples
 * depends on the seed only, not on how many workers make it. As the official loader does, a
 * sample the augmentation left without objects is replaced by another, drawn at random. */
#ifndef SAMPLE_LOADER_H
#define SAMPLE_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "augment.h"
#include "train_dataset.h"

typedef struct sample_loader_options {
    int workers;       /* threads making samples, >= 1 */
    int ahead;         /* samples made ahead of the one taken, >= 1 */
    int size;          /* the network's input side: samples come out size x size */
    int augment;       /* 1: SSDAugmentation; 0: resize only (BaseTransform's geometry) */
    uint64_t seed;
    uint64_t start;    /* the run's first sample: a resumed run goes on where it stopped */
} sample_loader_options;

typedef struct sample_loader sample_loader;

/* Starts the workers on d (borrowed until sample_loader_stop). 0, or -1 with err. */
int sample_loader_start(const train_dataset *d, const sample_loader_options *o,
                        sample_loader **out, char *err, size_t err_size);

/* The run's next sample into s (which the caller then owns: augment_sample_free), waiting
 * for it if need be. 0, or -1 with the reason it could not be made in err (an unreadable
 * image, out of memory); the loader is then spent. */
int sample_loader_next(sample_loader *l, augment_sample *s, char *err, size_t err_size);

/* Stops the workers (those making a sample finish it first) and frees what is left. */
void sample_loader_stop(sample_loader *l);

#endif
