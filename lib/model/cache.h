/* What a backend makes of a model once and shares among its sessions (the CPU's prepared
 * weights, the CUDA backend's device copies): entries kept on the model, one per backend,
 * device and precision, made under the model's lock by the first session that asks. */
#ifndef YL_MODEL_CACHE_H
#define YL_MODEL_CACHE_H

#include "yolact.h"

typedef struct yl_cache_key {
    yolact_backend backend;
    int device;                 /* the backend's device index; 0 for the CPU */
    yolact_precision precision;
} yl_cache_key;

/* How a backend makes and frees its entries. */
typedef struct yl_cache_kind {
    /* key's data for m (ctx: the caller's, e.g. the stream to upload on); on failure it
     * leaves nothing made, and the next acquire tries again. */
    yolact_status (*make)(const yolact_model *m, const yl_cache_key *key, void *ctx,
                          void **data);
    void (*destroy)(void *data);
    /* 1: the entry outlives its last holder, until the model is freed (host memory, costly
     * to make again); 0: the last release frees it (device memory must not outlive the
     * sessions on the device: users free them before switching devices). */
    int keep;
} yl_cache_kind;

/* key's entry of m in *data: shared when it exists, else made now by kind->make. Each
 * successful acquire is paired with a release. Thread-safe: concurrent first acquires make
 * the entry once. */
yolact_status yl_model_cache_acquire(const yolact_model *m, const yl_cache_key *key,
                                     const yl_cache_kind *kind, void *ctx, void **data);

/* Give back what acquire gave (NULL is fine); its last holder frees an entry that is not
 * kept, in the caller's thread (a CUDA caller makes the entry's device current first). */
void yl_model_cache_release(const yolact_model *m, const void *data);

/* The model's side: an empty cache when it is built, and every entry left destroyed when
 * it is freed. */
struct yl_model_cache *yl_model_cache_create(void);
void yl_model_cache_free(struct yl_model_cache *cache);

#endif
