/* A network's weights made from nothing (the official Yolact.init_weights without a
 * pretrained backbone), and the initialisation a checkpoint's class-dependent layers get
 * when it is trained for another class count. */
#ifndef YL_FRESH_NETWORK_H
#define YL_FRESH_NETWORK_H

#include <stdint.h>

#include "model.h"
#include "weights/tensor_table.h"

/* The network's size; zeros: the preset's official one (a DarkNet backbone takes only
 * that). */
typedef struct yl_fresh_network_size {
    int backbone_blocks[4];    /* Bottleneck blocks per ResNet stage */
    int backbone_width;        /* stage s has backbone_width << s planes (official: 64) */
    int features;              /* FPN, protonet and head width */
} yl_fresh_network_size;

/* The preset's network with num_classes classes (background included) as an official state
 * dict, every random value drawn from seed. YOLACT_ERR_UNSUPPORTED for YOLACT++ and for a
 * DarkNet backbone of another size. On failure *table is empty. */
yolact_status yl_fresh_network(const yl_preset *preset, const yl_fresh_network_size *size,
                               int num_classes, uint64_t seed, yl_tensor_table *table);

/* nn.init.xavier_uniform_ of a convolution's weight (out, in, kh, kw), drawn from *rng. */
void yl_fill_xavier_uniform(yl_tensor *t, uint64_t *rng);

#endif
