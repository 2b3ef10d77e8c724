/* The op-test harness's driver (op_harness.h): runs a row's family, compares each output it
 * hands over with the comparer, and frees what the run allocated. */
#include <stdio.h>
#include <string.h>

#include "ops/op_harness.h"

#define OP_MAX_BUFFERS 64

struct op_run {
    uint64_t rng;
    int outputs, host_count, dev_count;
    op_tensor out[OP_MAX_OUTPUTS];
    const op_check *checks[OP_MAX_OUTPUTS];
    void *host[OP_MAX_BUFFERS], *dev[OP_MAX_BUFFERS];
};

const op_check op_exact = {OP_EXACT, 0, 0, 0};

uint64_t *op_rng(op_run *r)
{
    return &r->rng;
}

void *op_host(op_run *r, size_t bytes)
{
    ck_assert_msg(r->host_count < OP_MAX_BUFFERS, "op harness: more than %d host buffers",
                  OP_MAX_BUFFERS);
    return r->host[r->host_count++] = xmalloc(bytes + 16);
}

void *op_dev(op_run *r, size_t bytes)
{
    ck_assert_msg(r->dev_count < OP_MAX_BUFFERS, "op harness: more than %d device buffers",
                  OP_MAX_BUFFERS);
    return r->dev[r->dev_count++] = dev_alloc(bytes + 16);
}

void *op_to_dev(op_run *r, const void *host, size_t bytes)
{
    void *d = op_dev(r, bytes);
    if (bytes)
        ck_assert_cuda(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice));
    return d;
}

void *op_host_copy(op_run *r, const void *host, size_t bytes)
{
    return memcpy(op_host(r, bytes), host, bytes);
}

void *op_from_dev(op_run *r, const void *dev, size_t bytes)
{
    void *h = op_host(r, bytes);
    from_dev(h, dev, bytes);
    return h;
}

float *op_rand_floats(op_run *r, size_t n, float lo, float hi)
{
    float *p = op_host(r, n * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = yl_test_rand(&r->rng, lo, hi);
    return p;
}

void op_output(op_run *r, const char *name, op_dtype dtype, size_t count, const void *got,
               const void *want, const double *mag, const op_check *check)
{
    ck_assert_msg(r->outputs < OP_MAX_OUTPUTS, "op harness: more than %d outputs",
                  OP_MAX_OUTPUTS);
    r->out[r->outputs] = (op_tensor){name, dtype, count, got, want, mag, NULL};
    r->checks[r->outputs++] = check;
}

void op_output_f64(op_run *r, const char *name, size_t count, const float *got,
                   const double *want, const double *mag, const op_check *check)
{
    op_output(r, name, OP_F32, count, got, NULL, mag, check);
    r->out[r->outputs - 1].want64 = want;
}

static const char *precision_name(yolact_precision p)
{
    return p == YOLACT_PRECISION_FP16 ? "FP16" : "FP32";
}

void op_run_case(const op_case *c)
{
    op_run r = {.rng = 0x9e3779b97f4a7c15ull};
    for (const char *s = c->name; *s; s++)    /* FNV-1a of the name: each row its own draw */
        r.rng = (r.rng ^ (unsigned char)*s) * 0x100000001b3ull;
    if (c->data) {
        FILE *f = fopen(c->data, "rb");
        if (!f) {
            printf("SKIP op %s: no %s\n", c->name, c->data);
            return;
        }
        fclose(f);
    }
    c->family->run(c, &r);
    ck_assert_msg(r.outputs > 0, "op %s: the family compared nothing", c->name);
    for (int i = 0; i < r.outputs; i++) {
        char report[1024];
        const op_check *check = r.checks[i] ? r.checks[i] : &c->check[0];
        if (!op_compare(&r.out[i], check, report, sizeof report))
            ck_abort_msg("op %s (%s, %s): %s", c->name, c->family->name,
                         precision_name(c->precision), report);
    }
    for (int i = 0; i < r.dev_count; i++)
        cudaFree(r.dev[i]);
    for (int i = 0; i < r.host_count; i++)
        free(r.host[i]);
}
