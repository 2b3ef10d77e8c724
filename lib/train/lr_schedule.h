/* The official training's learning rate (train.py): a linear warm-up from lr_warmup_init to
 * lr over the first lr_warmup_until iterations, then lr·gamma^k past the k-th of lr_steps.
 * Stateful as train.py's loop is (the rate last set stays; resuming past a step applies it),
 * and in double precision as Python computes it. */
#ifndef YL_TRAIN_LR_SCHEDULE_H
#define YL_TRAIN_LR_SCHEDULE_H

#define YL_LR_MAX_STEPS 8

typedef struct yl_lr_schedule {
    double lr, gamma;               /* the base rate; the factor per step */
    double warmup_init;             /* cfg.lr_warmup_init */
    int warmup_until;               /* cfg.lr_warmup_until; 0: no warm-up */
    int n_steps;                    /* <= YL_LR_MAX_STEPS */
    int steps[YL_LR_MAX_STEPS];     /* cfg.lr_steps, ascending iterations */
    /* state: */
    double cur_lr;                  /* the rate in force (starts at lr) */
    int step_index;                 /* how many steps were passed */
} yl_lr_schedule;

/* Fill the configuration (n_steps clamped to YL_LR_MAX_STEPS) and reset the state. */
void yl_lr_schedule_init(yl_lr_schedule *s, double lr, double gamma, double warmup_init,
                         int warmup_until, const int *steps, int n_steps);

/* The rate of iteration `iteration` (0-based, called once per iteration in increasing order,
 * starting at the iteration a run starts or resumes at), as train.py sets it before the
 * iteration's forward pass. */
double yl_lr_schedule_at(yl_lr_schedule *s, int iteration);

#endif
