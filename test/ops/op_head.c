/* The op families of the network's output permutes (kernels/head.cu): a head level's maps to
 * per-prior loc, conf (softmax; for training the logits) and coeff (tanh) rows, and the
 * protonet's (K, H, W) output to (H, W, K); both batched as their kernels are. */
#include "cpu/head_ops.h"
#include "ops/op_harness.h"

/* dims: anchors, classes, prototypes, height, width, batch. The rows of each image sit in
 * arrays of 3 priors more than the level's (as the other levels are), which must keep the
 * value they had. Outputs: loc (copied: exact), conf (check[0]), coeff (check[1]). */
#define HEAD_GAP 3

static void head_output_run(const op_case *c, op_run *r)
{
    const int A = c->dims[0], C = c->dims[1], K = c->dims[2], H = c->dims[3], W = c->dims[4];
    const int batch = c->dims[5];
    const size_t priors = (size_t)A * H * W, n_maps = priors * (4 + C + K);
    const size_t image_priors = priors + HEAD_GAP;
    float *maps = op_rand_floats(r, batch * n_maps, -12.0f, 12.0f);
    maps[n_maps / 2] = 80.0f;     /* expf of the difference to the max underflows */
    const int per_prior[3] = {4, C, K};
    float *want[3], *dev[3];
    for (int j = 0; j < 3; j++) {
        const size_t n = batch * image_priors * per_prior[j];
        want[j] = op_host(r, n * 4);
        for (size_t e = 0; e < n; e++)
            want[j][e] = -7.5f;   /* the gaps keep this */
        dev[j] = op_to_dev(r, want[j], n * 4);
    }
    yl_head_output_cpu(maps, A, C, K, H, W, batch, image_priors, want[0], want[1], want[2], 1);
    ck_assert_status(yl_head_output_cuda(op_to_dev(r, maps, batch * n_maps * 4), A, C, K, H, W,
                                         batch, image_priors, dev[0], dev[1], dev[2], NULL),
                     YOLACT_OK);
    static const char *const names[3] = {"loc", "conf", "coeff"};
    const op_check *checks[3] = {&op_exact, &c->check[0], &c->check[1]};
    for (int j = 0; j < 3; j++) {
        const size_t n = batch * image_priors * per_prior[j];
        op_output(r, names[j], OP_F32, n, op_from_dev(r, dev[j], n * 4), want[j], NULL,
                  checks[j]);
    }
    /* Training's variant, the class logits for conf (a copy, like loc), into fresh outputs
     * with the same gaps (the driver compares the ones above later). */
    float *logits[3], *dev_logits[3];
    for (int j = 0; j < 3; j++) {
        const size_t n = batch * image_priors * per_prior[j];
        logits[j] = op_host(r, n * 4);
        for (size_t e = 0; e < n; e++)
            logits[j][e] = -7.5f;
        dev_logits[j] = op_to_dev(r, logits[j], n * 4);
    }
    for (int b = 0; b < batch; b++)
        yl_head_output_logits_cpu(maps + b * n_maps, A, C, K, H, W,
                                  logits[0] + b * image_priors * 4,
                                  logits[1] + b * image_priors * C,
                                  logits[2] + b * image_priors * K, 1);
    ck_assert_status(yl_head_output_logits_cuda(op_to_dev(r, maps, batch * n_maps * 4), A, C, K,
                                                H, W, batch, image_priors, dev_logits[0],
                                                dev_logits[1], dev_logits[2], NULL),
                     YOLACT_OK);
    static const char *const logit_names[3] = {"loc (logits)", "conf (logits)",
                                               "coeff (logits)"};
    const op_check *logit_checks[3] = {&op_exact, &op_exact, &c->check[1]};
    for (int j = 0; j < 3; j++) {
        const size_t n = batch * image_priors * per_prior[j];
        op_output(r, logit_names[j], OP_F32, n, op_from_dev(r, dev_logits[j], n * 4),
                  logits[j], NULL, logit_checks[j]);
    }
}
const op_family op_head_output = {"head_output", head_output_run};

/* dims: channels, height, width, batch. */
static void proto_output_run(const op_case *c, op_run *r)
{
    const int K = c->dims[0], H = c->dims[1], W = c->dims[2], batch = c->dims[3];
    const size_t n = (size_t)batch * K * H * W;
    float *in = op_rand_floats(r, n, 0.0f, 3.0f), *want = op_host(r, n * 4);
    float *d_out = op_dev(r, n * 4);
    yl_proto_output_cpu(in, K, H, W, batch, want);
    ck_assert_status(yl_proto_output_cuda(op_to_dev(r, in, n * 4), K, H, W, batch, d_out, NULL),
                     YOLACT_OK);
    op_output(r, "out", OP_F32, n, op_from_dev(r, d_out, n * 4), want, NULL, NULL);
}
const op_family op_proto_output = {"proto_output", proto_output_run};
