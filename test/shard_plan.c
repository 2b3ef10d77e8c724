/* The runner's shards (shard_plan.h): the K/N spec, a case's cost, and the assignment. */
#include "shard_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int shard_parse(const char *spec, int *k, int *n, char *err, size_t err_size)
{
    char *end;
    long kk = strtol(spec, &end, 10);
    if (end == spec || *end != '/') {
        snprintf(err, err_size, "YL_TEST_SHARD=%s: want K/N, such as 1/2", spec);
        return 0;
    }
    const char *rest = end + 1;
    long nn = strtol(rest, &end, 10);
    if (end == rest || *end != '\0' || nn < 1 || nn > 64 || kk < 1 || kk > nn) {
        snprintf(err, err_size, "YL_TEST_SHARD=%s: want K/N with 1 <= K <= N <= 64", spec);
        return 0;
    }
    *k = (int)kk;
    *n = (int)nn;
    return 1;
}

double shard_cost(const char *costs, const char *key)
{
    size_t len = strlen(key);
    for (const char *line = costs; line && *line; line = strchr(line, '\n'), line += !!line) {
        if (strncmp(line, key, len) == 0 && (line[len] == ' ' || line[len] == '\t'))
            return strtod(line + len, NULL);
    }
    return SHARD_UNKNOWN_COST;
}

typedef struct {
    const char *key;
    double cost;
    int first; /* the index of the key's first case */
} shard_unit;

static int costliest_first(const void *a, const void *b)
{
    const shard_unit *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost > y->cost ? -1 : 1;
    return strcmp(x->key, y->key);
}

void shard_assign(const char *const *keys, const double *cost, int count, int n,
                  int *shard_of)
{
    size_t slots = (size_t)(count > 0 ? count : 1);
    shard_unit *units = malloc(slots * sizeof *units);
    int *shard_of_first = malloc(slots * sizeof *shard_of_first);
    double *load = calloc((size_t)n, sizeof *load);
    if (!units || !shard_of_first || !load) {
        fprintf(stderr, "shard_assign: out of memory\n");
        exit(EXIT_FAILURE);
    }
    /* One unit per key; shard_of[i] names, until the end, the first case of case i's key. */
    int n_units = 0;
    for (int i = 0; i < count; i++) {
        int u = 0;
        while (u < n_units && strcmp(units[u].key, keys[i]) != 0)
            u++;
        if (u == n_units)
            units[n_units++] = (shard_unit){keys[i], cost[i], i};
        shard_of[i] = units[u].first;
    }
    qsort(units, (size_t)n_units, sizeof *units, costliest_first);
    for (int u = 0; u < n_units; u++) {
        int least = 0;
        for (int s = 1; s < n; s++)
            if (load[s] < load[least])
                least = s;
        load[least] += units[u].cost;
        shard_of_first[units[u].first] = least;
    }
    for (int i = 0; i < count; i++)
        shard_of[i] = shard_of_first[shard_of[i]];
    free(units);
    free(shard_of_first);
    free(load);
}
