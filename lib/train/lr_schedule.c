/* The official warm-up and step schedule (lr_schedule.h). */
#include "train/lr_schedule.h"

#include <math.h>

void yl_lr_schedule_init(yl_lr_schedule *s, double lr, double gamma, double warmup_init,
                         int warmup_until, const int *steps, int n_steps)
{
    s->lr = lr;
    s->gamma = gamma;
    s->warmup_init = warmup_init;
    s->warmup_until = warmup_until;
    s->n_steps = n_steps < 0 ? 0 : n_steps > YL_LR_MAX_STEPS ? YL_LR_MAX_STEPS : n_steps;
    for (int i = 0; i < s->n_steps; i++)
        s->steps[i] = steps[i];
    s->cur_lr = lr;
    s->step_index = 0;
}

double yl_lr_schedule_at(yl_lr_schedule *s, int iteration)
{
    /* train.py's order: the warm-up's rate first, then every step reached overrides it. */
    if (s->warmup_until > 0 && iteration <= s->warmup_until)
        s->cur_lr = (s->lr - s->warmup_init) * ((double)iteration / s->warmup_until) +
                    s->warmup_init;
    while (s->step_index < s->n_steps && iteration >= s->steps[s->step_index]) {
        s->step_index++;
        s->cur_lr = s->lr * pow(s->gamma, s->step_index);
    }
    return s->cur_lr;
}
