/* Which share of the test cases a runner process runs: YL_TEST_SHARD=K/N splits them into N
 * shards by their measured cost (a file of "suite:tcase seconds" lines, test/shard_costs/),
 * the same way in every process, so N runners side by side run each case exactly once. */
#ifndef YL_TEST_SHARD_PLAN_H
#define YL_TEST_SHARD_PLAN_H

#include <stddef.h>

/* "K/N" with 1 <= K <= N: 1 and fills *k, *n; anything else: 0 and a reason in err. */
int shard_parse(const char *spec, int *k, int *n, char *err, size_t err_size);

/* The cost of the case keyed "suite:tcase" in a costs file's text: its seconds, or
 * SHARD_UNKNOWN_COST for a case the file does not list (a case added since it was made). */
#define SHARD_UNKNOWN_COST 1.0
double shard_cost(const char *costs, const char *key);

/* Assigns count cases (keys[i], cost[i]) to n shards, shard_of[i] in 0..n-1: the costliest
 * first (ties by key), each to the least loaded shard (ties to the lowest). Cases with the
 * same key go to the same shard. Depends only on the keys, costs and n, not on their order. */
void shard_assign(const char *const *keys, const double *cost, int count, int n,
                  int *shard_of);

#endif
