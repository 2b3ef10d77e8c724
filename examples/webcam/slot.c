/* Latest-frame slot (see slot.h). */
#include "slot.h"

#include <errno.h>
#include <string.h>
#include <time.h>

int wc_slot_init(wc_slot *slot, int lossless, wc_frame **producer, wc_frame **consumer)
{
    memset(slot, 0, sizeof *slot);
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr))
        return -1;
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int failed = pthread_cond_init(&slot->changed, &attr) != 0;
    pthread_condattr_destroy(&attr);
    if (failed)
        return -1;
    if (pthread_mutex_init(&slot->lock, NULL)) {
        pthread_cond_destroy(&slot->changed);
        return -1;
    }
    slot->lossless = lossless;
    *producer = &slot->frames[0];
    *consumer = &slot->frames[1];
    slot->spare = &slot->frames[2];
    return 0;
}

void wc_slot_destroy(wc_slot *slot)
{
    for (int i = 0; i < 3; i++)
        wc_frame_release(&slot->frames[i]);
    pthread_cond_destroy(&slot->changed);
    pthread_mutex_destroy(&slot->lock);
}

int wc_slot_put(wc_slot *slot, wc_frame **frame)
{
    pthread_mutex_lock(&slot->lock);
    while (slot->lossless && slot->full && !slot->closed)
        pthread_cond_wait(&slot->changed, &slot->lock);
    if (slot->closed) {
        pthread_mutex_unlock(&slot->lock);
        return -1;
    }
    wc_frame *stale = slot->full;
    slot->full = *frame;
    if (stale) {
        slot->dropped++;
        *frame = stale;
    } else {
        *frame = slot->spare;
        slot->spare = NULL;
    }
    pthread_cond_broadcast(&slot->changed);
    pthread_mutex_unlock(&slot->lock);
    return 0;
}

int wc_slot_take(wc_slot *slot, wc_frame **frame, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    if (timeout_ms >= 0) {
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&slot->lock);
    int got = 1;
    while (!slot->full && !slot->closed && got == 1) {
        if (timeout_ms < 0)
            pthread_cond_wait(&slot->changed, &slot->lock);
        else if (pthread_cond_timedwait(&slot->changed, &slot->lock, &until) == ETIMEDOUT)
            got = slot->full ? 1 : -1;
    }
    if (got == 1 && slot->full) {
        slot->spare = *frame;
        *frame = slot->full;
        slot->full = NULL;
        pthread_cond_broadcast(&slot->changed);
    } else if (got == 1) {
        got = 0;   /* closed and empty */
    }
    pthread_mutex_unlock(&slot->lock);
    return got;
}

void wc_slot_close(wc_slot *slot)
{
    pthread_mutex_lock(&slot->lock);
    slot->closed = 1;
    pthread_cond_broadcast(&slot->changed);
    pthread_mutex_unlock(&slot->lock);
}
