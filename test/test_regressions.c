/* Fuzz findings and seeds replayed through the fuzz entry points (test/fuzz/fuzz_entries.c)
 * on every `make test`: each input once broken and fixed must keep its expected status
 * (test/data/fuzz/regressions/MANIFEST), and every seed of every target must keep the
 * invariants the fuzzers check. Under `make test-asan` this is the fuzzers' own check. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "fuzz/fuzz_entries.h"
#include "yl_test.h"

#define FUZZ_DIR YL_TEST_DATA "/fuzz/"

static const struct target {
    const char *name;
    yolact_status (*entry)(const uint8_t *data, size_t size);
} targets[] = {
    {"pth", yl_fuzz_weights},
    {"safetensors", yl_fuzz_weights},
    {"image", yl_fuzz_image},
    {"model", yl_fuzz_model},
};
#define NUM_TARGETS (sizeof targets / sizeof targets[0])

static const struct target *find_target(const char *name)
{
    for (size_t i = 0; i < NUM_TARGETS; i++)
        if (strcmp(targets[i].name, name) == 0)
            return &targets[i];
    return NULL;
}

/* "FORMAT" -> YOLACT_ERR_FORMAT, by the status strings' order; -1 if unknown. */
static int parse_status(const char *name)
{
    static const char *const names[] = {"OK", "INVALID_ARGUMENT", "OUT_OF_MEMORY", "IO",
                                        "FORMAT", "UNSAFE_PICKLE", "UNSUPPORTED", "MODEL",
                                        "LIMIT", "BACKEND_UNAVAILABLE", "DEVICE", "INTERNAL"};
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

/* Run one file through a target; returns the status (the entry aborts on a broken
 * invariant, which Check reports as a failure of this test). */
static yolact_status replay(const struct target *t, const char *path)
{
    size_t size;
    uint8_t *bytes = yl_test_read_file(path, &size);
    ck_assert_msg(bytes != NULL, "cannot read %s", path);
    yolact_status s = t->entry(bytes, size);
    free(bytes);
    return s;
}

/* Calls fn(target, file name) for every regular file of dir; returns how many. */
static int for_each_file(const char *dir, const struct target *t,
                         void (*fn)(const struct target *, const char *dir, const char *file))
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        fn(t, dir, e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

static void replay_seed(const struct target *t, const char *dir, const char *file)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    yolact_status s = replay(t, path);
    ck_assert_msg(s != YOLACT_ERR_INTERNAL, "%s: internal error: %s", path, yolact_last_error());
}

START_TEST(seeds_keep_the_invariants)
{
    const struct target *t = &targets[_i];
    char dir[256];
    snprintf(dir, sizeof dir, FUZZ_DIR "%s", t->name);
    ck_assert_int_gt(for_each_file(dir, t, replay_seed), 0);
}
END_TEST

/* The manifest, read once per test. */
typedef struct entry {
    char target[32], file[256], status[32];
} entry;

static int read_manifest(entry *entries, int cap)
{
    FILE *f = fopen(FUZZ_DIR "regressions/MANIFEST", "r");
    ck_assert_msg(f != NULL, "cannot open " FUZZ_DIR "regressions/MANIFEST");
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        ck_assert_int_lt(n, cap);
        ck_assert_msg(sscanf(line, "%31s %255s %31s", entries[n].target, entries[n].file,
                             entries[n].status) == 3, "MANIFEST: bad line '%s'", line);
        n++;
    }
    fclose(f);
    return n;
}

#define MAX_ENTRIES 512

START_TEST(findings_keep_their_status)
{
    static entry entries[MAX_ENTRIES];
    int n = read_manifest(entries, MAX_ENTRIES);
    for (int i = 0; i < n; i++) {
        const struct target *t = find_target(entries[i].target);
        ck_assert_msg(t != NULL, "MANIFEST: unknown target '%s'", entries[i].target);
        int expected = parse_status(entries[i].status);
        ck_assert_msg(expected >= 0, "MANIFEST: unknown status '%s'", entries[i].status);
        char path[512];
        snprintf(path, sizeof path, FUZZ_DIR "regressions/%s/%s", t->name, entries[i].file);
        yolact_status s = replay(t, path);
        ck_assert_msg((int)s == expected, "%s: status %d (%s: %s), expected %s", path, (int)s,
                      yolact_status_string(s), yolact_last_error(), entries[i].status);
    }
}
END_TEST

/* Every finding on disk has its expected status written down. */
static const entry *manifest_for_check;
static int manifest_count;

static void require_listed(const struct target *t, const char *dir, const char *file)
{
    (void)dir;
    for (int i = 0; i < manifest_count; i++)
        if (strcmp(manifest_for_check[i].target, t->name) == 0 &&
            strcmp(manifest_for_check[i].file, file) == 0)
            return;
    ck_abort_msg("regressions/%s/%s has no line in MANIFEST", t->name, file);
}

START_TEST(every_finding_is_listed)
{
    static entry entries[MAX_ENTRIES];
    manifest_count = read_manifest(entries, MAX_ENTRIES);
    manifest_for_check = entries;
    for (size_t i = 0; i < NUM_TARGETS; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, FUZZ_DIR "regressions/%s", targets[i].name);
        for_each_file(dir, &targets[i], require_listed);
    }
}
END_TEST

Suite *regressions_suite(void)
{
    Suite *s = suite_create("regressions");
    TCase *tc = tcase_create("regressions");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, seeds_keep_the_invariants, 0, (int)NUM_TARGETS);
    tcase_add_test(tc, findings_keep_their_status);
    tcase_add_test(tc, every_finding_is_listed);
    suite_add_tcase(s, tc);
    return s;
}
