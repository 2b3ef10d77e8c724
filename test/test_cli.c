/* yolact-detect end to end: --describe on the bundled checkpoints, COCO JSON output, and
 * failures (bad arguments, a full disk, a kill mid-write) that leave no output file behind.
 * YL_TEST_CLI names the binary under test (default build/yolact-detect). */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scratch_dir.h"
#include "yl_test.h"

#define WEIGHTS YL_TEST_DATA "/parity/yolact_tiny_seed1_fp16_zip.pth"

/* The bundled checkpoints: what --describe must say, and the COCO JSON of coffee.png at
 * score threshold 0.1 (the references' count of detections scoring >= 0.1; mask_score
 * only with YOLACT++'s mask re-scoring). */
static const struct checkpoint_case {
    const char *weights, *preset;
    const char *describe[8];
    int coffee_detections;
    int mask_score;
} checkpoints[] = {
    {WEIGHTS, "yolact_resnet50",
     {"yolact_resnet50 (given)", "ResNet (Bottleneck) [1,1,1,1]", "fpn:              64 channels",
      "32 prototypes", "3 anchors per cell, 81 classes", "semantic_seg_conv.weight",
      "unused keys:      19", NULL},
     16, 0},
    {YL_TEST_PARITY_PLUS_CHECKPOINT, "yolact_plus_resnet50",
     {"yolact_plus_resnet50 (given)", "deformable convs: 3 DCNv2", "per stage [0,1,1,1]",
      "9 anchors per cell, 81 classes",
      "mask-IoU net:     6 convolutions, channels 1 -> 8 -> 16 -> 32 -> 64 -> 128 -> 80",
      "unused keys:      19", NULL, NULL},
     14, 1},
};

static const char *cli(void)
{
    const char *path = getenv("YL_TEST_CLI");
    return path && path[0] ? path : "build/yolact-detect";
}

/* Run the CLI with these arguments through the shell, after the shell commands in prefix
 * (limits, traps); its stdout+stderr go to *out (malloc'ed). Returns the exit code, or
 * 128 + the signal that killed it. */
static int run_with(const char *prefix, const char *args, char **out)
{
    char full[2048];
    snprintf(full, sizeof full, "sh -c '%s exec %s %s'", prefix, cli(), args);
    return yl_test_run(full, out);
}

static int run(const char *args, char **out) { return run_with("", args, out); }

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

START_TEST(describe_parity_checkpoint)
{
    const struct checkpoint_case *c = &checkpoints[_i];
    char *out, cmd[512];
    snprintf(cmd, sizeof cmd, "--describe -c %s -m %s", c->preset, c->weights);
    ck_assert_int_eq(run(cmd, &out), 0);
    for (size_t i = 0; i < sizeof c->describe / sizeof *c->describe && c->describe[i]; i++)
        ck_assert_msg(strstr(out, c->describe[i]), "'%s' missing from:\n%s", c->describe[i],
                      out);
    ck_assert_int_eq(strstr(out, "mask-IoU net") != NULL, c->mask_score);
    free(out);
}
END_TEST

START_TEST(json_output)
{
    const struct checkpoint_case *c = &checkpoints[_i];
    char *out, cmd[1024];
    const char *json = scratch_path("out.json");
    unlink(json);
    snprintf(cmd, sizeof cmd, "-m %s -c %s --score-threshold 0.1 -o %s "
             YL_TEST_DATA "/parity/coffee.png", c->weights, c->preset, json);
    ck_assert_msg(run(cmd, &out) == 0, "%s", out);
    free(out);
    size_t size;
    char *text = (char *)yl_test_read_file(json, &size);
    ck_assert_ptr_nonnull(text);
    text = realloc(text, size + 1);
    text[size] = '\0';
    /* All the reference detections scoring >= 0.1 on coffee have boxes with area. */
    int count = 0, mask_scores = 0;
    for (const char *p = text; (p = strstr(p, "\"image_id\": \"coffee\"")); p++)
        count++;
    for (const char *p = text; (p = strstr(p, "\"mask_score\": ")); p++)
        mask_scores++;
    ck_assert_int_eq(count, c->coffee_detections);
    ck_assert_int_eq(mask_scores, c->mask_score ? count : 0);
    ck_assert_ptr_nonnull(strstr(text, "\"segmentation\": {\"size\": [400, 600], \"counts\": \""));
    free(text);
    unlink(json);
}
END_TEST

/* The table on stdout: one row a detection, a mask-score column with mask re-scoring. */
START_TEST(table_output)
{
    const struct checkpoint_case *c = &checkpoints[_i];
    char *out, cmd[1024];
    snprintf(cmd, sizeof cmd, "-m %s -c %s --score-threshold 0.1 " YL_TEST_DATA
             "/parity/coffee.png", c->weights, c->preset);
    ck_assert_msg(run(cmd, &out) == 0, "%s", out);
    char header[64];
    snprintf(header, sizeof header, "coffee.png: 600x400, %d detections", c->coffee_detections);
    ck_assert_msg(strstr(out, header), "'%s' missing from:\n%s", header, out);
    ck_assert_int_eq(strstr(out, "mask sc") != NULL, c->mask_score);
    int rows = 0;
    for (const char *line = strchr(out, '\n'); line; line = strchr(line + 1, '\n')) {
        /* "  %3d  %-16s %8.4f": the score at column 24 (class names hold spaces). */
        int index;
        float score, mask_score;
        if (sscanf(line + 1, "%d", &index) == 1 && index == rows && strlen(line + 1) > 24 &&
            sscanf(line + 1 + 24, "%f %f", &score, &mask_score) == 2) {
            /* The score times a predicted IoU: the mask-IoU net's ReLU output, >= 0 (not
             * bounded by 1: the official net has no sigmoid). */
            if (c->mask_score)
                ck_assert_msg(score > 0 && mask_score >= 0, "row %d: %s", rows, line + 1);
            rows++;
        }
    }
    ck_assert_int_eq(rows, c->coffee_detections);
    free(out);
}
END_TEST

static int occurrences(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* An error: one line that starts with the program's name and holds every expected piece
 * (the file, what is wrong, what to do), each once. */
static void assert_error_line(const char *out, const char *const *pieces)
{
    ck_assert_msg(occurrences(out, "\n") == 1 && strncmp(out, "yolact-detect: ", 15) == 0,
                  "not one line from yolact-detect:\n%s", out);
    for (; *pieces; pieces++)
        ck_assert_msg(occurrences(out, *pieces) == 1, "'%s' not there once in: %s", *pieces,
                      out);
}

START_TEST(failures_leave_no_file)
{
    char *out, cmd[1024];
    const char *json = scratch_path("fail.json");
    unlink(json);
    /* The second image does not exist: the JSON of the first must not appear. */
    snprintf(cmd, sizeof cmd, "-m %s -c yolact_resnet50 -o %s " YL_TEST_DATA
             "/parity/coffee.png /nonexistent.png", WEIGHTS, json);
    ck_assert_int_ne(run(cmd, &out), 0);
    assert_error_line(out, (const char *const[]){"/nonexistent.png", "No such file",
                                                  "check the path", NULL});
    ck_assert_int_eq(exists(json), 0);
    free(out);

    ck_assert_int_ne(run("-m /nonexistent.pth x.png", &out), 0);
    assert_error_line(out, (const char *const[]){"/nonexistent.pth: cannot open: No such file",
                                                  "check the path", NULL});
    free(out);
    ck_assert_int_ne(run("-m " WEIGHTS " -c no_such_preset --describe", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "unknown preset 'no_such_preset'"));
    free(out);
    /* Without a usable GPU (or a CUDA build), --backend cuda is an error that says so. */
    if (run("-m " WEIGHTS " --backend cuda " YL_TEST_DATA "/parity/coffee.png", &out) != 0)
        assert_error_line(out, (const char *const[]){"use --backend cpu", NULL});
    free(out);
    ck_assert_int_ne(run("-m " WEIGHTS " --threads 0 x.png", &out), 0);
    free(out);
    ck_assert_int_ne(run(YL_TEST_DATA "/parity/coffee.png", &out), 0);
    assert_error_line(out, (const char *const[]){"-m WEIGHTS is required", "see --help", NULL});
    free(out);
}
END_TEST

/* Outputs that cannot be written are refused before any work: one line, no table. */
START_TEST(unwritable_outputs_refused_first)
{
    char *out;
    ck_assert_int_eq(run("-m " WEIGHTS " --overlay build/no-such-dir/ov.png " YL_TEST_DATA
                         "/parity/coffee.png", &out), 2);
    assert_error_line(out, (const char *const[]){"build/no-such-dir/ov.png: cannot write it",
                                                  "no folder build/no-such-dir",
                                                  "create the folder first", NULL});
    free(out);
    ck_assert_int_eq(run("-m " WEIGHTS " -o build " YL_TEST_DATA "/parity/coffee.png", &out), 2);
    assert_error_line(out, (const char *const[]){"build: cannot write it: it is a folder", NULL});
    free(out);
    ck_assert_int_eq(run("-m " WEIGHTS " --overlay build/no-such-dir " YL_TEST_DATA
                         "/parity/coffee.png " YL_TEST_DATA "/parity/coffee.png", &out), 2);
    assert_error_line(out, (const char *const[]){"build/no-such-dir: with several images",
                                                  "create it first", NULL});
    free(out);
}
END_TEST

/* -o on a terminal says what it wrote in one line; piped, stdout stays empty. */
START_TEST(summary_on_a_terminal_only)
{
    const char *json = scratch_path("summary.json"), *png = scratch_path("summary.png");
    char *out, args[1024], cmd[1400], said[600];
    snprintf(args, sizeof args, "-m %s -c yolact_resnet50 --score-threshold 0.1 -o %s "
             "--overlay %s " YL_TEST_DATA "/parity/coffee.png", WEIGHTS, json, png);
    ck_assert_int_eq(run(args, &out), 0);
    ck_assert_msg(out[0] == '\0', "output when piped: %s", out);
    free(out);
    /* script(1) gives the program a terminal. */
    snprintf(cmd, sizeof cmd, "script -qec '%s %s' /dev/null", cli(), args);
    ck_assert_int_eq(yl_test_run(cmd, &out), 0);
    snprintf(said, sizeof said, "coffee.png: 16 detections -> %s, %s\r\n", json, png);
    ck_assert_msg(strstr(out, said), "%s", out);
    free(out);
    unlink(json);
    unlink(png);
}
END_TEST

/* Names in dir other than . and ..; 0 for an empty directory. */
static int count_entries(const char *dir, char *first, size_t cap)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && n++ == 0)
            snprintf(first, cap, "%s", e->d_name);
    closedir(d);
    return n;
}

/* A fresh empty directory in the test's scratch folder for its output. */
static void fresh_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
    ck_assert_int_eq(system(cmd), 0);
}

static void assert_empty(const char *dir, const char *when)
{
    char name[256] = "";
    int n = count_entries(dir, name, sizeof name);
    ck_assert_msg(n == 0, "%s: %d file(s) left in %s, e.g. '%s'", when, n, dir, name);
}

/* A file system out of room: RLIMIT_FSIZE of 1 block. With SIGXFSZ ignored the writes fail
 * (EFBIG) and the CLI says so; by default SIGXFSZ kills it mid-write. Neither leaves a file,
 * and an existing output is left as it was. */
START_TEST(full_disk_leaves_no_file)
{
    const char *dir = scratch_path("fsize");
    fresh_dir(dir);
    char *out, args[1024];
    snprintf(args, sizeof args, "-m %s -c yolact_resnet50 -o %s/out.json " YL_TEST_DATA
             "/parity/coffee.png", WEIGHTS, dir);
    ck_assert_int_eq(run_with("trap \"\" XFSZ; ulimit -f 1;", args, &out), 1);
    ck_assert_msg(strstr(out, "out.json") && strstr(out, "File too large"), "%s", out);
    free(out);
    assert_empty(dir, "write failing with EFBIG");

    ck_assert_int_eq(run_with("ulimit -f 1;", args, &out), 128 + SIGXFSZ);
    free(out);
    assert_empty(dir, "killed by SIGXFSZ");

    /* A previous complete output survives a failed run untouched. */
    char path[256];
    snprintf(path, sizeof path, "%s/out.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("previous\n", f);
    fclose(f);
    ck_assert_int_eq(run_with("trap \"\" XFSZ; ulimit -f 1;", args, &out), 1);
    free(out);
    size_t size;
    char *text = (char *)yl_test_read_file(path, &size);
    ck_assert_msg(text && size == 9 && memcmp(text, "previous\n", 9) == 0,
                  "the previous output was changed");
    free(text);
    char name[256];
    ck_assert_int_eq(count_entries(dir, name, sizeof name), 1);
    /* ... and is replaced whole by a run that succeeds. */
    snprintf(args, sizeof args, "-m %s -c yolact_resnet50 --score-threshold 0.3 -o %s/out.json "
             YL_TEST_DATA "/parity/coffee.png", WEIGHTS, dir);
    ck_assert_int_eq(run(args, &out), 0);
    free(out);
    text = (char *)yl_test_read_file(path, &size);
    ck_assert_msg(text && size > 2 && text[0] == '[' && text[size - 2] == ']',
                  "the new output is not a whole JSON array");
    free(text);
    ck_assert_int_eq(count_entries(dir, name, sizeof name), 1);
}
END_TEST

/* SIGKILL while the JSON is being written (after the first images, before the last): the
 * output directory stays empty, during the run and after. */
START_TEST(kill_mid_write_leaves_no_file)
{
    const char *dir = scratch_path("kill");
    fresh_dir(dir);
    char out_path[256];
    snprintf(out_path, sizeof out_path, "%s/out.json", dir);
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)cli();
    char *fixed[] = {"-m", WEIGHTS, "-c", "yolact_resnet50", "--threads", "1", "-o", out_path};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        argv[argc++] = fixed[i];
    while (argc < 60)
        argv[argc++] = YL_TEST_DATA "/parity/coffee.png";
    argv[argc] = NULL;

    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    /* Wait until the output file is open (an fd of the child in the output directory or
     * an unnamed one), then a little longer so that some JSON has been written. */
    int open_seen = 0;
    for (int tries = 0; tries < 600 && !open_seen; tries++) {
        char fddir[64], link[96], target[512];
        snprintf(fddir, sizeof fddir, "/proc/%d/fd", (int)pid);
        for (int fd = 3; fd < 32 && !open_seen; fd++) {
            snprintf(link, sizeof link, "%s/%d", fddir, fd);
            ssize_t n = readlink(link, target, sizeof target - 1);
            if (n > 0) {
                target[n] = '\0';
                open_seen = strstr(target, dir) != NULL;
            }
        }
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    ck_assert_msg(open_seen, "the CLI never opened its output");
    sleep(2);
    assert_empty(dir, "while writing");
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "the CLI ended before it was killed (status 0x%x): make it run longer",
                  status);
    assert_empty(dir, "after SIGKILL");
}
END_TEST

static void open_scratch(void) { scratch_open("yl_cli"); }

Suite *cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    /* Outputs go to a fresh folder per test, so runners side by side never share a file. */
    tcase_add_checked_fixture(tc, open_scratch, scratch_close);
    tcase_add_loop_test(tc, describe_parity_checkpoint, 0, 2);
    tcase_add_loop_test(tc, json_output, 0, 2);
    tcase_add_loop_test(tc, table_output, 0, 2);
    tcase_add_test(tc, failures_leave_no_file);
    tcase_add_test(tc, unwritable_outputs_refused_first);
    tcase_add_test(tc, summary_on_a_terminal_only);
    tcase_add_test(tc, full_disk_leaves_no_file);
    tcase_add_test(tc, kill_mid_write_leaves_no_file);
    suite_add_tcase(s, tc);
    return s;
}
