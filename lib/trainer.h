/* The trainer's internals that its tests reach (the public trainer is include/yolact.h's
 * yolact_trainer_*). */
#ifndef YL_TRAINER_H
#define YL_TRAINER_H

#include "yolact.h"

/* SGD on the host, with the gradients downloaded and the parameters uploaded at each step,
 * though the backend's pass could run it on the device: the path a pass without a device
 * optimizer (the CPU's) takes, for comparing the two. The network and its pass are made
 * again (the state fetched first); YOLACT_OK or why that failed. */
yolact_status yl_trainer_host_optimizer(yolact_trainer *t);

/* An FP16 trainer's loss scale set to scale, its count of good steps restarted, and the
 * scale doubled after growth_interval good steps (LOSS_SCALE_INTERVAL, 2000, otherwise):
 * what the tests use to force a step's gradients past float's range and to see the growth
 * without 2000 steps. */
void yl_trainer_set_loss_scale(yolact_trainer *t, double scale, int growth_interval);

#endif
