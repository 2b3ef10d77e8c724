/* The CPU's prepared (Winograd) weights and timed algorithm choices: an entry of the
 * model's cache, made by its first CPU session and freed with the model
 * (prepared_weights.h). */
#include <pthread.h>
#include <stdlib.h>

#include "cpu/dense_ops.h"
#include "cpu/prepared_weights.h"
#include "model/cache.h"
#include "status.h"

/* One thread count's choice, in a short list (a process runs one or two counts). */
typedef struct timed_choice {
    int threads;
    unsigned char *choice;
    struct timed_choice *next;
} timed_choice;

struct yl_cpu_timed {
    pthread_mutex_t lock;
    timed_choice *list;
};

static void destroy(void *data)
{
    yl_cpu_prepared *p = data;
    if (!p)
        return;
    if (p->timed) {
        while (p->timed->list) {
            timed_choice *t = p->timed->list;
            p->timed->list = t->next;
            free(t->choice);
            free(t);
        }
        pthread_mutex_destroy(&p->timed->lock);
        free(p->timed);
    }
    free(p->op);
    free(p->block);
    free(p);
}

/* Each convolution's weights into its place in p's block, once per module. */
static void transform(const yolact_model *m, const yl_cpu_prepared *p)
{
    for (int i = 0; i < m->num_ops; i++) {
        int shared = 0;
        for (int j = 0; j < i && p->op[i] && !shared; j++)
            shared = p->op[j] == p->op[i];
        if (p->op[i] && !shared)
            yl_conv2d_prepare_cpu(&m->ops[i].conv, m->ops[i].weight, (float *)p->op[i]);
    }
}

/* Transform each convolution's weights once into the CPU's fast layout (ops sharing a
 * module share its prepared weights), so no session repeats the work. */
static yolact_status make(const yolact_model *m, const yl_cache_key *key, void *ctx,
                          void **data)
{
    (void)key, (void)ctx;
    size_t total = 0;
    for (int i = 0; i < m->num_ops; i++)
        if (m->ops[i].kind == YL_OP_CONV)
            total += yl_conv2d_prepared_floats(&m->ops[i].conv);
    yl_cpu_prepared *p = calloc(1, sizeof *p);
    if (!p || !(p->op = calloc((size_t)m->num_ops + 1, sizeof *p->op)) ||
        (total && !(p->block = malloc(total * sizeof *p->block))) ||
        !(p->timed = calloc(1, sizeof *p->timed))) {
        destroy(p);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for %zu MB of prepared weights",
                       total * sizeof(float) >> 20);
    }
    if (pthread_mutex_init(&p->timed->lock, NULL) != 0) {
        free(p->timed);
        p->timed = NULL;
        destroy(p);
        return yl_fail(YOLACT_ERR_INTERNAL, "the prepared weights' lock failed");
    }
    size_t at = 0;
    for (int i = 0; i < m->num_ops; i++) {
        const yl_op *op = &m->ops[i];
        size_t n = op->kind == YL_OP_CONV ? yl_conv2d_prepared_floats(&op->conv) : 0;
        if (n == 0)
            continue;
        for (int j = 0; j < i && !p->op[i]; j++)
            if (m->ops[j].weight == op->weight)
                p->op[i] = p->op[j];
        if (!p->op[i]) {
            p->op[i] = p->block + at;
            at += n;
        }
    }
    transform(m, p);
    *data = p;
    return YOLACT_OK;
}

static const yl_cache_kind kind = {make, destroy, 1};

yolact_status yl_cpu_prepared_acquire(const yolact_model *m, const yl_cpu_prepared **prepared)
{
    /* The CPU computes in FP32 only (session.c refuses FP16 there). */
    const yl_cache_key key = {YOLACT_BACKEND_CPU, 0, YOLACT_PRECISION_FP32};
    void *data;
    yolact_status s = yl_model_cache_acquire(m, &key, &kind, NULL, &data);
    *prepared = data;
    return s;
}

void yl_cpu_prepared_release(const yolact_model *m, const yl_cpu_prepared *prepared)
{
    yl_model_cache_release(m, prepared);
}

void yl_cpu_prepared_refresh(const yolact_model *m, const yl_cpu_prepared *prepared)
{
    transform(m, prepared);
}

static yolact_status choose(struct yl_cpu_timed *t, const yolact_model *m, int threads,
                            yolact_status (*time)(void *ctx, unsigned char *choice), void *ctx,
                            const unsigned char **choice)
{
    for (timed_choice *c = t->list; c; c = c->next)
        if (c->threads == threads) {
            *choice = c->choice;
            return YOLACT_OK;
        }
    timed_choice *c = calloc(1, sizeof *c);
    if (!c || !(c->choice = calloc((size_t)m->num_ops + 1, 1))) {
        free(c);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a convolution choice");
    }
    yolact_status s = time(ctx, c->choice);
    if (s != YOLACT_OK) {
        free(c->choice);
        free(c);
        return s;
    }
    c->threads = threads;
    c->next = t->list;
    t->list = c;
    *choice = c->choice;
    return YOLACT_OK;
}

yolact_status yl_cpu_prepared_choice(const yl_cpu_prepared *p, const yolact_model *m,
                                     int threads,
                                     yolact_status (*time)(void *ctx, unsigned char *choice),
                                     void *ctx, const unsigned char **choice)
{
    *choice = NULL;
    if (pthread_mutex_lock(&p->timed->lock) != 0)
        return yl_fail(YOLACT_ERR_INTERNAL, "the prepared weights' lock failed");
    yolact_status s = choose(p->timed, m, threads, time, ctx, choice);
    pthread_mutex_unlock(&p->timed->lock);
    return s;
}
