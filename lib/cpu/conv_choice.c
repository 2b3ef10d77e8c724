/* The CPU's per-layer convolution algorithm (conv_choice.h): the environment's mode, the
 * timing of each layer's candidates in auto mode (or its file's choice), and running a
 * layer by its choice. */
#include "cpu/conv_choice.h"

#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/conv_choice_file.h"
#include "cpu/dense_ops.h"
#include "profile.h"
#include "status.h"

enum {
    TIMED_RUNS = 2,         /* after one warm-up; the best of them counts */
    SCRATCH_ALIGN = 64
};
/* A candidate replaces the fixed rule's algorithm only when this much faster: timing noise
 * alone should not move a layer off the path the parity runs pin. */
static const double MIN_GAIN = 0.03;

static const char *const mode_names[] = {"auto", "fixed", "gemm", "winograd", "onednn"};
/* Each algorithm's letter, by yl_conv_algo: yolact-bench's and the choice file's. */
static const char algo_letters[] = "gwo";

static atomic_ulong timings;

unsigned long yl_conv_choice_timings(void) { return atomic_load(&timings); }

yolact_status yl_conv_mode_from_env(yl_conv_mode *mode)
{
    const char *v = getenv("YOLACT_CPU_CONV");
    /* fixed until auto's gain is measured on a quiet machine and its choice is kept in a
     * file: today a one-shot program would pay the timing on every run */
    *mode = YL_CONV_MODE_FIXED;
    if (!v || !*v)
        return YOLACT_OK;
    for (int i = 0; i < (int)(sizeof mode_names / sizeof *mode_names); i++) {
        if (strcmp(v, mode_names[i]) != 0)
            continue;
        *mode = (yl_conv_mode)i;
        if (*mode == YL_CONV_MODE_ONEDNN && !yl_onednn_available())
            return yl_fail(YOLACT_ERR_UNSUPPORTED, "YOLACT_CPU_CONV=onednn, but this build has "
                           "no oneDNN (build with ONEDNN=1)");
        return YOLACT_OK;
    }
    return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "YOLACT_CPU_CONV=%s: expected auto, fixed, "
                   "gemm, winograd or onednn", v);
}

const char *yl_conv_algo_name(yl_conv_algo algo)
{
    static const char *const names[] = {"gemm", "winograd", "onednn"};
    return names[algo];
}

/* The rule before the choice: Winograd where the layer has prepared weights, else GEMM. */
static yl_conv_algo fixed_algo(const yl_cpu_prepared *p, int i)
{
    return p->op[i] ? YL_CONV_WINOGRAD : YL_CONV_GEMM;
}

static yolact_status run_as(yl_conv_algo algo, const yl_onednn_conv *dnn, void *dnn_scratch,
                            const yolact_model *m, int i, float *const *buffers,
                            const yl_cpu_prepared *p, float *workspace, int threads)
{
    const yl_op *op = &m->ops[i];
    const yl_buffer_desc *in = &m->buffers[op->in];
    const float *residual = op->residual >= 0 ? buffers[op->residual] : NULL;
    if (algo == YL_CONV_ONEDNN)
        return yl_onednn_conv_run(dnn, buffers[op->in], residual, buffers[op->out],
                                  dnn_scratch);
    yl_conv2d_prepared_cpu(&op->conv, buffers[op->in], in->height, in->width, op->weight,
                           algo == YL_CONV_WINOGRAD ? p->op[i] : NULL, op->bias, residual,
                           op->act, buffers[op->out], workspace, threads);
    return YOLACT_OK;
}

yolact_status yl_cpu_conv_op(const yl_cpu_convs *convs, const yolact_model *m, int i,
                             float *const *buffers, const yl_cpu_prepared *prepared,
                             float *workspace, int threads)
{
    if (!convs)
        return run_as(fixed_algo(prepared, i), NULL, NULL, m, i, buffers, prepared, workspace,
                      threads);
    return run_as((yl_conv_algo)convs->algo[i], convs->onednn[i], convs->onednn_scratch, m, i,
                  buffers, prepared, workspace, threads);
}

/* oneDNN (OpenMP runtime) fixes a primitive's team size when it is made, from the calling
 * thread's omp_get_max_threads(), and runs every call with that many threads whatever the
 * caller's setting then: so it is made under the session's thread count, and the caller's
 * setting is given back. */
static yolact_status make_onednn(const yolact_model *m, int i, int threads, int layouts,
                                 yl_onednn_conv **conv)
{
    const yl_op *op = &m->ops[i];
    const yl_buffer_desc *in = &m->buffers[op->in];
    const int callers = omp_get_max_threads();
    omp_set_num_threads(threads);
    yolact_status s = yl_onednn_conv_create(&op->conv, in->height, in->width, op->weight,
                                            op->bias, op->residual >= 0, op->act, layouts,
                                            conv);
    omp_set_num_threads(callers);
    return s;
}

static size_t aligned(size_t bytes)
{
    return (bytes + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN;
}

/* Ops that run on either layout, their output in their input's (dense_ops.h). */
static int keeps_layout(const yl_op *op)
{
    return op->kind == YL_OP_MAXPOOL || op->kind == YL_OP_RESIZE;
}

/* Buffers that may stay in oneDNN's blocked layout whatever the algorithms, into blockable
 * (per buffer): channels a multiple of its block, written by a convolution or an op that
 * keeps its input's layout, and touched by those alone (every other op reads and writes
 * plain CHW). */
static void find_blockable(const yolact_model *m, unsigned char *blockable)
{
    const int block = yl_onednn_block();
    memset(blockable, 0, (size_t)m->num_buffers);
    for (int i = 0; i < m->num_ops; i++)
        if (m->ops[i].kind == YL_OP_CONV || keeps_layout(&m->ops[i]))
            blockable[m->ops[i].out] =
                block > 0 && m->buffers[m->ops[i].out].channels % block == 0;
    for (int i = 0; i < m->num_ops; i++) {
        const yl_op *op = &m->ops[i];
        if (op->kind == YL_OP_CONV || keeps_layout(op))
            continue;
        const int used[] = {op->in, op->out, op->residual,
                            op->kind == YL_OP_DCN ? op->offsets : -1};
        for (size_t k = 0; k < sizeof used / sizeof *used; k++)
            if (used[k] >= 0)
                blockable[used[k]] = 0;
    }
}

/* The layouts of op's primitive where the buffers in blocked are (the residual is in the
 * output's layout: the planning keeps them alike). */
static int op_layouts(const yl_op *op, const unsigned char *blocked)
{
    return (blocked[op->in] ? YL_ONEDNN_SRC_BLOCKED : 0) |
           (blocked[op->out] ? YL_ONEDNN_DST_BLOCKED : 0);
}

/* The layouts op would run in were its neighbours oneDNN's too: what auto mode times, since
 * a chain of oneDNN layers hands its activations on blocked. */
static int hopeful_layouts(const yl_op *op, const unsigned char *blockable)
{
    const int residual_ok = op->residual < 0 || blockable[op->residual];
    return (blockable[op->in] ? YL_ONEDNN_SRC_BLOCKED : 0) |
           (blockable[op->out] && residual_ok ? YL_ONEDNN_DST_BLOCKED : 0);
}

/* Which buffers stay blocked under the algorithms algo, into blocked: the blockable ones
 * that no convolution but oneDNN's touches, none of a layer whose primitive refused the
 * blocked layout (refused), a residual only with its convolution's output, and the output
 * of an op that keeps its input's layout only with that input. */
static void plan_blocked(const yolact_model *m, const unsigned char *algo,
                         const unsigned char *refused, unsigned char *blocked)
{
    find_blockable(m, blocked);
    for (int i = 0; i < m->num_ops; i++) {
        const yl_op *op = &m->ops[i];
        if (op->kind != YL_OP_CONV || (algo[i] == YL_CONV_ONEDNN && !refused[i]))
            continue;
        blocked[op->in] = blocked[op->out] = 0;
        if (op->residual >= 0)
            blocked[op->residual] = 0;
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (int i = 0; i < m->num_ops; i++) {
            const yl_op *op = &m->ops[i];
            const int tied = op->kind == YL_OP_CONV ? op->residual : keeps_layout(op) ? op->in
                                                                                     : -1;
            if (tied >= 0 && blocked[tied] != blocked[op->out]) {
                blocked[tied] = blocked[op->out] = 0;
                changed = 1;
            }
        }
    }
}

/* What auto mode times with: the session being made and its buffers, and whether its
 * choice may come from (and go to) the file (YOLACT_CPU_CONV_CACHE). */
typedef struct timing {
    yl_cpu_convs *convs;
    const yolact_model *m;
    const yl_cpu_prepared *p;
    int threads;
    float *const *buffers;
    float *workspace;
    int use_file;
} timing;

/* The best of TIMED_RUNS runs of op i by algo (oneDNN: the primitive dnn, with scratch)
 * after a warm-up; INFINITY if it fails. */
static double seconds(const timing *t, int i, yl_conv_algo algo, const yl_onednn_conv *dnn,
                      void *scratch)
{
    double best = INFINITY;
    for (int r = 0; r <= TIMED_RUNS; r++) {
        double start = yl_profile_now();
        if (run_as(algo, dnn, scratch, t->m, i, t->buffers, t->p, t->workspace, t->threads) !=
            YOLACT_OK)
            return INFINITY;
        double s = yl_profile_now() - start;
        if (r > 0 && s < best)
            best = s;
    }
    return best;
}

/* Op i by oneDNN: into *chained its time in the layouts a chain of oneDNN layers would hand
 * it (the primitive stays in the session for settle), INFINITY where oneDNN has no kernel;
 * into *leave what its leaving such a chain would cost the neighbours' reorders, measured as
 * what its own primitive on plain buffers takes more. */
static yolact_status time_onednn(const timing *t, int i, const unsigned char *blockable,
                                 double *chained, double *leave)
{
    *chained = INFINITY;
    *leave = 0;
    const int layouts = hopeful_layouts(&t->m->ops[i], blockable);
    yl_onednn_conv **kept = &t->convs->onednn[i], *plain = NULL;
    if (make_onednn(t->m, i, t->threads, layouts, kept) != YOLACT_OK)
        return YOLACT_OK;
    t->convs->layouts[i] = (unsigned char)layouts;
    if (layouts && make_onednn(t->m, i, t->threads, 0, &plain) != YOLACT_OK)
        plain = NULL;
    size_t bytes = yl_onednn_conv_scratch_bytes(*kept);
    if (plain && yl_onednn_conv_scratch_bytes(plain) > bytes)
        bytes = yl_onednn_conv_scratch_bytes(plain);
    void *scratch = aligned_alloc(SCRATCH_ALIGN, aligned(bytes ? bytes : 1));
    if (!scratch) {
        yl_onednn_conv_destroy(plain);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory timing a layer");
    }
    *chained = seconds(t, i, YL_CONV_ONEDNN, *kept, scratch);
    if (plain) {
        double s = seconds(t, i, YL_CONV_ONEDNN, plain, scratch);
        *leave = isfinite(s) && s > *chained ? s - *chained : 0;
    }
    free(scratch);
    yl_onednn_conv_destroy(plain);
    return YOLACT_OK;
}

/* Each convolution's fastest candidate, into choice: ours (GEMM, Winograd) charged with the
 * reorders their leaving a oneDNN chain costs, the fixed rule's favoured by MIN_GAIN. The
 * oneDNN primitives made to time stay in the session for the layers that choose them. */
static yolact_status time_all(void *ctx, unsigned char *choice)
{
    const timing *t = ctx;
    const yolact_model *m = t->m;
    unsigned char *blockable = malloc((size_t)m->num_buffers);
    if (!blockable)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory timing the convolutions");
    find_blockable(m, blockable);
    atomic_fetch_add(&timings, 1);
    for (int b = 0; b < m->num_buffers; b++) /* no denormals or NaNs to skew a timing */
        memset(t->buffers[b], 0, yl_buffer_floats(&m->buffers[b]) * sizeof(float));
    omp_set_num_threads(t->threads);
    yolact_status status = YOLACT_OK;
    for (int i = 0; i < m->num_ops && status == YOLACT_OK; i++) {
        if (m->ops[i].kind != YL_OP_CONV)
            continue;
        double dnn, leave;
        if ((status = time_onednn(t, i, blockable, &dnn, &leave)) != YOLACT_OK)
            break;
        yl_conv_algo best = fixed_algo(t->p, i);
        double best_s = (seconds(t, i, best, NULL, NULL) + leave) * (1.0 - MIN_GAIN);
        const yl_conv_algo ours[] = {YL_CONV_GEMM, YL_CONV_WINOGRAD};
        for (size_t k = 0; k < sizeof ours / sizeof *ours; k++) {
            yl_conv_algo a = ours[k];
            if (a == fixed_algo(t->p, i) || (a == YL_CONV_WINOGRAD && !t->p->op[i]))
                continue;
            double s = seconds(t, i, a, NULL, NULL) + leave;
            if (s < best_s) {
                best = a;
                best_s = s;
            }
        }
        choice[i] = (unsigned char)(dnn < best_s ? YL_CONV_ONEDNN : best);
    }
    free(blockable);
    return status;
}

/* One letter per convolution of m in op order from algo (per op), into out of n bytes. */
static void to_letters(const unsigned char *algo, const yolact_model *m, char *out, size_t n)
{
    size_t at = 0;
    for (int i = 0; n > 0 && i < m->num_ops && at + 1 < n; i++)
        if (m->ops[i].kind == YL_OP_CONV)
            out[at++] = algo_letters[algo[i]];
    if (n > 0)
        out[at] = '\0';
}

/* A choice file's letters as each op's algorithm, into choice; 0 where a letter names no
 * algorithm or one its layer cannot run in this build (Winograd without prepared weights,
 * oneDNN without oneDNN): a file is never trusted to name what this library would not. */
static int from_letters(const char *letters, const yolact_model *m, const yl_cpu_prepared *p,
                        unsigned char *choice)
{
    for (int i = 0; i < m->num_ops; i++) {
        if (m->ops[i].kind != YL_OP_CONV)
            continue;
        const char *at = memchr(algo_letters, *letters++, sizeof algo_letters - 1);
        if (!at)
            return 0;
        yl_conv_algo a = (yl_conv_algo)(at - algo_letters);
        if ((a == YL_CONV_WINOGRAD && !p->op[i]) || (a == YL_CONV_ONEDNN && !yl_onednn_available()))
            return 0;
        choice[i] = (unsigned char)a;
    }
    return 1;
}

/* Auto mode's choice (yl_cpu_prepared_choice's maker): the file's where it holds a valid
 * one for this network, thread count and machine, else timed now and written to it. */
static yolact_status choose(void *ctx, unsigned char *choice)
{
    const timing *t = ctx;
    if (!t->use_file)
        return time_all(ctx, choice);
    size_t convs = 0;
    for (int i = 0; i < t->m->num_ops; i++)
        convs += t->m->ops[i].kind == YL_OP_CONV;
    char candidates[160];
    snprintf(candidates, sizeof candidates, "gemm winograd%s, the fixed rule unless %g%% "
             "faster, best of %d runs", yl_onednn_available()
                 ? " onednn (winograd for 3x3, blocked chains; ours charged their reorders)"
                 : "",
             MIN_GAIN * 100, TIMED_RUNS);
    yl_conv_choice_file *file;
    YL_TRY(yl_conv_choice_file_open(t->m, t->threads, candidates, &file));
    char *letters = malloc(convs + 1);
    yolact_status s = YOLACT_OK;
    if (!letters)
        s = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for a convolution choice");
    else if (!yl_conv_choice_file_read(file, letters, convs) ||
             !from_letters(letters, t->m, t->p, choice)) {
        s = time_all(ctx, choice);
        if (s == YOLACT_OK) {
            to_letters(choice, t->m, letters, convs + 1);
            /* not kept where the folder cannot be written: the next process times again */
            yl_conv_choice_file_write(file, letters, convs);
        }
    }
    free(letters);
    yl_conv_choice_file_close(file);
    return s;
}

void yl_cpu_convs_destroy(yl_cpu_convs *c)
{
    if (!c)
        return;
    for (int i = 0; c->onednn && i < c->num_ops; i++)
        yl_onednn_conv_destroy(c->onednn[i]);
    free(c->onednn);
    free(c->layouts);
    free(c->blocked);
    free(c->algo);
    free(c->onednn_scratch);
    free(c);
}

/* Op i's algorithm under mode (timed: auto mode's choice). */
static yl_conv_algo wanted(yl_conv_mode mode, const unsigned char *timed,
                           const yl_cpu_prepared *p, int i)
{
    switch (mode) {
    case YL_CONV_MODE_AUTO:
        return (yl_conv_algo)timed[i];
    case YL_CONV_MODE_GEMM:
        return YL_CONV_GEMM;
    case YL_CONV_MODE_ONEDNN:
        return YL_CONV_ONEDNN;
    case YL_CONV_MODE_WINOGRAD:
    case YL_CONV_MODE_FIXED:
        break;
    }
    return fixed_algo(p, i);
}

/* Op i's oneDNN primitive in layouts, kept where the timing made it so, else made now. */
static yolact_status ensure_onednn(yl_cpu_convs *c, const yolact_model *m, int i, int threads,
                                   int layouts)
{
    if (c->onednn[i] && c->layouts[i] == layouts)
        return YOLACT_OK;
    yl_onednn_conv_destroy(c->onednn[i]);
    c->onednn[i] = NULL;
    YL_TRY(make_onednn(m, i, threads, layouts, &c->onednn[i]));
    c->layouts[i] = (unsigned char)layouts;
    return YOLACT_OK;
}

/* Every op's algorithm, the buffers kept blocked, the oneDNN primitives for them (made, or
 * kept from the timing) and their shared scratch. A layer whose primitive oneDNN refuses in
 * the blocked layout takes plain buffers; one it refuses in any, the fixed rule. Either
 * changes its neighbours' layouts, so the plan is made again: each time one layer fewer is
 * blocked or oneDNN's, so it ends. */
static yolact_status settle(yl_cpu_convs *c, const yolact_model *m, const yl_cpu_prepared *p,
                            yl_conv_mode mode, const unsigned char *timed, int threads)
{
    unsigned char *refused = calloc((size_t)m->num_ops, 1), *blocked = c->blocked;
    if (!refused)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory planning the convolutions");
    for (int i = 0; i < m->num_ops; i++)
        if (m->ops[i].kind == YL_OP_CONV)
            c->algo[i] = (unsigned char)wanted(mode, timed, p, i);
    for (int replan = 1; replan;) {
        replan = 0;
        plan_blocked(m, c->algo, refused, blocked);
        for (int i = 0; i < m->num_ops && !replan; i++) {
            if (m->ops[i].kind != YL_OP_CONV)
                continue;
            if (c->algo[i] != YL_CONV_ONEDNN) {
                yl_onednn_conv_destroy(c->onednn[i]);
                c->onednn[i] = NULL;
                continue;
            }
            const int layouts = op_layouts(&m->ops[i], blocked);
            if (ensure_onednn(c, m, i, threads, layouts) == YOLACT_OK)
                continue;
            if (layouts)
                refused[i] = 1;
            else
                c->algo[i] = (unsigned char)fixed_algo(p, i);
            replan = 1;
        }
    }
    free(refused);
    yl_clear_error();
    size_t scratch = 0;
    for (int i = 0; i < m->num_ops; i++) {
        size_t b = c->onednn[i] ? yl_onednn_conv_scratch_bytes(c->onednn[i]) : 0;
        scratch = b > scratch ? b : scratch;
    }
    if (scratch && !(c->onednn_scratch = aligned_alloc(SCRATCH_ALIGN, aligned(scratch))))
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for oneDNN's scratch");
    return YOLACT_OK;
}

yolact_status yl_cpu_convs_create(const yolact_model *m, const yl_cpu_prepared *prepared,
                                  yl_conv_mode mode, int threads, float *const *buffers,
                                  float *workspace, yl_cpu_convs **out)
{
    *out = NULL;
    int use_file = 0;
    if (mode == YL_CONV_MODE_AUTO)
        YL_TRY(yl_conv_choice_file_enabled(&use_file));
    yl_cpu_convs *c = calloc(1, sizeof *c);
    if (!c || !(c->algo = calloc((size_t)m->num_ops + 1, 1)) ||
        !(c->onednn = calloc((size_t)m->num_ops + 1, sizeof *c->onednn)) ||
        !(c->layouts = calloc((size_t)m->num_ops + 1, 1)) ||
        !(c->blocked = calloc((size_t)m->num_buffers + 1, 1))) {
        yl_cpu_convs_destroy(c);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the convolutions' choice");
    }
    c->num_ops = m->num_ops;
    const unsigned char *timed = NULL;
    yolact_status s = YOLACT_OK;
    if (mode == YL_CONV_MODE_AUTO) {
        timing t = {c, m, prepared, threads, buffers, workspace, use_file};
        s = yl_cpu_prepared_choice(prepared, m, threads, choose, &t, &timed);
    }
    if (s == YOLACT_OK)
        s = settle(c, m, prepared, mode, timed, threads);
    if (s != YOLACT_OK) {
        yl_cpu_convs_destroy(c);
        return s;
    }
    *out = c;
    return YOLACT_OK;
}

int yl_cpu_buffer_block(const yl_cpu_convs *c, int b)
{
    return c && c->blocked[b] ? yl_onednn_block() : 0;
}

void yl_cpu_convs_describe(const yl_cpu_convs *c, const yolact_model *m, char *out, size_t n)
{
    to_letters(c->algo, m, out, n);
}
