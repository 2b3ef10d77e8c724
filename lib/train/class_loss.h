/* The class term of the official loss (ohem_conf_loss): softmax cross-entropy over the
 * positive priors and the hardest background ones, negpos_ratio of them per positive. */
#ifndef YL_TRAIN_CLASS_LOSS_H
#define YL_TRAIN_CLASS_LOSS_H

#include "train/loss_config.h"
#include "yolact.h"

/* One image of num_priors priors: logits (num_priors, classes), the matched targets conf
 * (num_priors; -1 neutral, 0 background, else the class). Hard negatives: the background
 * priors ranked by log(sum exp(logit - shift)) + shift - logit[0] (shift: the batch's
 * largest logit, as log_sum_exp takes it), highest first (ties: lower prior first), the first
 * min(ratio * positives, num_priors - 1) ranks of all priors taken (positives and neutrals
 * rank as 0 and are never taken). *loss = the summed cross-entropy of the positives and
 * those negatives; with grad (same layout as logits): grad += scale * its gradient
 * (softmax - one-hot on the rows used). YOLACT_ERR_OUT_OF_MEMORY for the ranking is the
 * only failure. */
yolact_status yl_class_loss(const float *logits, const int *conf, int num_priors, int classes,
                            int negpos_ratio, float shift, float scale, float *grad,
                            double *loss);

#endif
