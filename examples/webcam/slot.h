/* A latest-frame slot between two threads: the producer hands over a full frame and gets
 * an empty one back at once; in live mode a frame not yet taken is replaced (dropped), in
 * lossless mode the producer waits for the consumer. Three frames circulate per slot (one
 * with each side, one in the slot or spare), so nothing is allocated per frame once they
 * have grown to the frame size. */
#ifndef WC_SLOT_H
#define WC_SLOT_H

#include <pthread.h>

#include "frames.h"

typedef struct wc_slot {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    wc_frame frames[3];
    wc_frame *full;        /* waiting for the consumer, or NULL */
    wc_frame *spare;       /* empty, or NULL while full is set */
    int lossless;
    int closed;
    long dropped;
} wc_slot;

/* Returns -1 if the thread primitives cannot be made. *producer and *consumer receive the
 * frames each side starts with. */
int wc_slot_init(wc_slot *slot, int lossless, wc_frame **producer, wc_frame **consumer);
void wc_slot_destroy(wc_slot *slot);

/* Hand *frame over; *frame becomes an empty frame to fill next. Returns -1 (keeping the
 * frame) once the slot is closed. */
int wc_slot_put(wc_slot *slot, wc_frame **frame);
/* Take the newest frame, giving *frame back: 1 when taken, 0 when the slot is closed and
 * empty, -1 when timeout_ms (>= 0) passed first. */
int wc_slot_take(wc_slot *slot, wc_frame **frame, int timeout_ms);
/* No more frames: wakes both sides; a frame still in the slot can be taken. */
void wc_slot_close(wc_slot *slot);

#endif
