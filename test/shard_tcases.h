/* The runner's test cases, kept to its shard (YL_TEST_SHARD=K/N, shard_plan.h). The runner is
 * linked with TEST_LDFLAGS (Makefile), which send every suite's suite_create, tcase_create
 * and suite_add_tcase through here: the suites' constructors hand their cases over instead of
 * adding them, and shard_tcases_add adds the shard's share once all are known. */
#ifndef YL_TEST_SHARD_TCASES_H
#define YL_TEST_SHARD_TCASES_H

/* Adds the cases handed over to their suites, in the order they came: every case without
 * YL_TEST_SHARD, else the shard's, balanced by the costs in YL_TEST_SHARD_COSTS's file
 * (SHARD_COSTS_DEFAULT without it), and says which on stdout. Returns 0, saying why on
 * stderr, for a bad spec or a costs file it cannot read. */
#define SHARD_COSTS_DEFAULT "test/shard_costs/make-test.txt"
int shard_tcases_add(void);

/* Frees the cases of the other shards and what was kept to name the cases. */
void shard_tcases_free(void);

#endif
