/* The model's cache of backend entries (cache.h): a short list under one mutex. Entries are
 * made under the mutex too: sessions are made rarely, and a second session must not make
 * (upload, pack) what the first is making. */
#include "model/cache.h"

#include <pthread.h>
#include <stdlib.h>

#include "model/model.h"
#include "status.h"

typedef struct entry {
    yl_cache_key key;
    const yl_cache_kind *kind;
    void *data;
    int holders;
    struct entry *next;
} entry;

struct yl_model_cache {
    pthread_mutex_t lock;
    entry *entries;
};

static int same_key(const yl_cache_key *a, const yl_cache_key *b)
{
    return a->backend == b->backend && a->device == b->device && a->precision == b->precision;
}

struct yl_model_cache *yl_model_cache_create(void)
{
    struct yl_model_cache *c = calloc(1, sizeof *c);
    if (c && pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void yl_model_cache_free(struct yl_model_cache *c)
{
    if (!c)
        return;
    while (c->entries) {
        entry *e = c->entries;
        c->entries = e->next;
        e->kind->destroy(e->data);
        free(e);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

yolact_status yl_model_cache_acquire(const yolact_model *m, const yl_cache_key *key,
                                     const yl_cache_kind *kind, void *ctx, void **data)
{
    struct yl_model_cache *c = m->cache;
    *data = NULL;
    if (pthread_mutex_lock(&c->lock) != 0)
        return yl_fail(YOLACT_ERR_INTERNAL, "the model's lock failed");
    entry *e = c->entries;
    while (e && !same_key(&e->key, key))
        e = e->next;
    yolact_status s = YOLACT_OK;
    if (!e) {
        void *made = NULL;
        entry *fresh = malloc(sizeof *fresh);
        if (!fresh) {
            s = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a model's cache entry");
        } else if ((s = kind->make(m, key, ctx, &made)) != YOLACT_OK) {
            free(fresh);
        } else {
            *fresh = (entry){*key, kind, made, 0, c->entries};
            c->entries = e = fresh;
        }
    }
    if (s == YOLACT_OK) {
        e->holders++;
        *data = e->data;
    }
    pthread_mutex_unlock(&c->lock);
    return s;
}

void yl_model_cache_release(const yolact_model *m, const void *data)
{
    if (!data)
        return;
    struct yl_model_cache *c = m->cache;
    pthread_mutex_lock(&c->lock);
    for (entry **at = &c->entries; *at; at = &(*at)->next) {
        entry *e = *at;
        if (e->data != data)
            continue;
        if (--e->holders == 0 && !e->kind->keep) {
            *at = e->next;
            e->kind->destroy(e->data);
            free(e);
        }
        break;
    }
    pthread_mutex_unlock(&c->lock);
}
