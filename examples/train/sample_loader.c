/* The training samples' worker threads (sample_loader.h). Sample k of the run goes to slot
 * k % ahead; a worker claims k only once sample k - ahead has been taken, so each slot holds
 * one sample at a time and the taker reads them in order. */
#include "sample_loader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/seeded_random.h"

/* The official loader resamples for as long as it takes; a data set whose every object the
 * augmentation drops would never end, so after this many draws the run stops instead. */
#define MAX_DRAWS 100

typedef struct slot {
    int ready;
    uint64_t seq;
    int status;
    augment_sample sample;
    char err[512];
} slot;

/* One epoch's order of the data set's samples. */
typedef struct epoch_order {
    int made;
    uint64_t epoch;
    size_t *order;
} epoch_order;

struct sample_loader {
    const train_dataset *data;
    sample_loader_options options;
    pthread_mutex_t lock;
    pthread_cond_t claimable, ready;
    uint64_t next_claim, next_take;
    int stopping;
    epoch_order orders[2];   /* the epochs in flight: at most two while ahead < samples */
    slot *slots;
    pthread_t *threads;
    int started;
};

/* A stream for one use (what, index) of the run's seed. */
static uint64_t stream(uint64_t seed, uint64_t what, uint64_t index)
{
    uint64_t state = seed ^ (what * 0xD1B54A32D192ED03ull);
    state += index * 0x9E3779B97F4A7C15ull;
    return seeded_next(&state);
}

/* The data set's sample at run position k: Fisher-Yates over each epoch, seeded by it. Under
 * the lock; an unused slot, else the older epoch's, makes room for a new epoch. */
static size_t sample_at(sample_loader *l, uint64_t k)
{
    size_t n = l->data->num_samples;
    uint64_t epoch = k / n;
    epoch_order *o = NULL, *a = &l->orders[0], *b = &l->orders[1];
    if (a->made && a->epoch == epoch)
        o = a;
    else if (b->made && b->epoch == epoch)
        o = b;
    else {
        o = !a->made ? a : !b->made ? b : a->epoch < b->epoch ? a : b;
        uint64_t rng = stream(l->options.seed, 1, epoch);
        for (size_t i = 0; i < n; i++)
            o->order[i] = i;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)(seeded_next(&rng) % (i + 1)), t = o->order[i];
            o->order[i] = o->order[j], o->order[j] = t;
        }
        o->made = 1, o->epoch = epoch;
    }
    return o->order[k % n];
}

/* Sample k of the run from data set sample `index`: read, augmented (or only resized), and
 * drawn again elsewhere while the result has no object. */
static int make_sample(const sample_loader *l, uint64_t k, size_t index, augment_sample *s,
                       char *err, size_t err_size)
{
    uint64_t rng = stream(l->options.seed, 2, k);
    for (int draw = 0; draw < MAX_DRAWS; draw++) {
        if (train_dataset_sample(l->data, index, s, err, err_size))
            return -1;
        int failed = l->options.augment ? augment_sample_random(s, l->options.size, &rng)
                                        : augment_resize(s, l->options.size);
        if (failed) {
            augment_sample_free(s);
            snprintf(err, err_size, "out of memory augmenting a sample");
            return -1;
        }
        if (s->count > 0)
            return 0;
        augment_sample_free(s);
        index = (size_t)seeded_below(&rng, (int)l->data->num_samples);
    }
    snprintf(err, err_size, "the augmentation left no object in %d samples in a row: are the "
             "objects large enough (wider and taller than 4/550 of the input)?", MAX_DRAWS);
    return -1;
}

static void *worker(void *arg)
{
    sample_loader *l = arg;
    int ahead = l->options.ahead;
    pthread_mutex_lock(&l->lock);
    for (;;) {
        while (!l->stopping && l->next_claim >= l->next_take + (uint64_t)ahead)
            pthread_cond_wait(&l->claimable, &l->lock);
        if (l->stopping)
            break;
        uint64_t k = l->next_claim++;
        size_t index = sample_at(l, k);
        slot *sl = &l->slots[k % (uint64_t)ahead];
        pthread_mutex_unlock(&l->lock);
        augment_sample s;
        char err[sizeof sl->err] = "";
        int status = make_sample(l, k, index, &s, err, sizeof err);
        pthread_mutex_lock(&l->lock);
        sl->sample = s, sl->status = status, sl->seq = k, sl->ready = 1;
        memcpy(sl->err, err, sizeof err);
        pthread_cond_broadcast(&l->ready);
    }
    pthread_mutex_unlock(&l->lock);
    return NULL;
}

int sample_loader_start(const train_dataset *d, const sample_loader_options *o,
                        sample_loader **out, char *err, size_t err_size)
{
    *out = NULL;
    if (o->workers < 1 || o->ahead < 1 || o->size < 1 || !d->num_samples) {
        snprintf(err, err_size, "sample loader: workers, ahead and size must be at least 1, "
                 "and the data set not empty");
        return -1;
    }
    sample_loader *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    l->data = d, l->options = *o;
    l->next_claim = l->next_take = o->start;
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->claimable, NULL);
    pthread_cond_init(&l->ready, NULL);
    l->slots = calloc((size_t)o->ahead, sizeof *l->slots);
    l->threads = calloc((size_t)o->workers, sizeof *l->threads);
    for (int i = 0; i < 2; i++)
        l->orders[i].order = malloc(d->num_samples * sizeof *l->orders[i].order);
    if (!l->slots || !l->threads || !l->orders[0].order || !l->orders[1].order) {
        sample_loader_stop(l);
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    for (; l->started < o->workers; l->started++)
        if (pthread_create(&l->threads[l->started], NULL, worker, l)) {
            sample_loader_stop(l);
            snprintf(err, err_size, "cannot start a sample worker thread");
            return -1;
        }
    *out = l;
    return 0;
}

int sample_loader_next(sample_loader *l, augment_sample *s, char *err, size_t err_size)
{
    pthread_mutex_lock(&l->lock);
    slot *sl = &l->slots[l->next_take % (uint64_t)l->options.ahead];
    while (!(sl->ready && sl->seq == l->next_take))
        pthread_cond_wait(&l->ready, &l->lock);
    int status = sl->status;
    if (status) {
        snprintf(err, err_size, "%s", sl->err);
        /* spent: the failed sample stays, so every later call ends here too */
    } else {
        *s = sl->sample;
        sl->ready = 0;
        l->next_take++;
        pthread_cond_broadcast(&l->claimable);
    }
    pthread_mutex_unlock(&l->lock);
    return status;
}

void sample_loader_stop(sample_loader *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stopping = 1;
    pthread_cond_broadcast(&l->claimable);
    pthread_mutex_unlock(&l->lock);
    for (int i = 0; i < l->started; i++)
        pthread_join(l->threads[i], NULL);
    for (int i = 0; l->slots && i < l->options.ahead; i++)
        if (l->slots[i].ready && l->slots[i].status == 0)
            augment_sample_free(&l->slots[i].sample);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->claimable);
    pthread_cond_destroy(&l->ready);
    free(l->orders[0].order);
    free(l->orders[1].order);
    free(l->slots);
    free(l->threads);
    free(l);
}
