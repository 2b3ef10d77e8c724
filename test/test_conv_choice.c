/* The CPU's per-layer convolution choice (lib/cpu/conv_choice.h) through sessions of the
 * parity network: YOLACT_CPU_CONV's modes, auto mode's timing made once per thread count and
 * shared, its file (lib/cpu/conv_choice_file.h) read by later processes and never trusted
 * blindly, and training's forward pass on the fixed rule whatever the mode. Each
 * algorithm's accuracy is the op table's (test/ops/op_cases.c, "conv by ..."); the
 * network's, the parity suite's cpu_conv_modes test. */
#include <dirent.h>
#include <fcntl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "cpu/conv_choice.h"
#include "cpu/conv_choice_file.h"
#include "cpu/dense_ops.h"
#include "cpu/prepared_weights.h"
#include "cpu/training_forward.h"
#include "model/model.h"
#include "profile.h"
#include "yl_test.h"

#define PARITY_IMAGE YL_TEST_DATA "/parity/coffee.png"

/* A CPU session of m in mode (YOLACT_CPU_CONV) with threads threads, or the status of its
 * creation when it fails (*session NULL then). */
static yolact_status cpu_session(const yolact_model *m, const char *mode, int threads,
                                 yolact_session **session)
{
    yolact_session_options o;
    yolact_session_options_init(&o);
    o.backend = YOLACT_BACKEND_CPU;
    o.num_threads = threads;
    setenv("YOLACT_CPU_CONV", mode, 1);
    yolact_status s = yolact_session_create(m, &o, session);
    setenv("YOLACT_CPU_CONV", "fixed", 1);
    return s;
}

static void algorithms(const yolact_session *s, char *out, size_t n)
{
    ck_assert_status(yl_session_conv_algorithms(s, out, n), YOLACT_OK);
}

/* The fixed rule's letters: w where a convolution has prepared (Winograd) weights. */
static void fixed_rule(const yolact_model *m, char *out)
{
    const yl_cpu_prepared *p;
    ck_assert_status(yl_cpu_prepared_acquire(m, &p), YOLACT_OK);
    for (int i = 0; i < m->num_ops; i++)
        if (m->ops[i].kind == YL_OP_CONV)
            *out++ = p->op[i] ? 'w' : 'g';
    *out = '\0';
    yl_cpu_prepared_release(m, p);
}

START_TEST(unknown_modes_are_refused)
{
    yolact_model *m = yl_test_parity_model();
    yolact_session *s = NULL;
    ck_assert_status(cpu_session(m, "fastest", 1, &s), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(yolact_last_error(), "YOLACT_CPU_CONV=fastest") != NULL, "%s",
                  yolact_last_error());
    if (!yl_onednn_available()) {
        ck_assert_status(cpu_session(m, "onednn", 1, &s), YOLACT_ERR_UNSUPPORTED);
        yl_onednn_conv *conv;
        const yl_conv_desc d = {4, 4, 3, 3, 1, 1, 1};
        const float w[4 * 4 * 9] = {0};
        ck_assert_status(yl_onednn_conv_create(&d, 5, 5, w, NULL, 0, YL_ACT_NONE, 0, &conv),
                         YOLACT_ERR_UNSUPPORTED);
        ck_assert_ptr_null(conv);
    }
    yolact_model_free(m);
}
END_TEST

/* Each forced mode runs its algorithm wherever it applies and the fixed rule elsewhere. */
START_TEST(modes_pick_their_algorithms)
{
    yolact_model *m = yl_test_parity_model();
    char want[512], got[512];
    fixed_rule(m, want);
    ck_assert_uint_gt(strlen(want), 10);
    static const char *const modes[] = {"fixed", "gemm", "winograd", "onednn"};
    for (int k = 0; k < 4; k++) {
        if (k == 3 && !yl_onednn_available())
            continue;
        yolact_session *s;
        ck_assert_status(cpu_session(m, modes[k], 1, &s), YOLACT_OK);
        algorithms(s, got, sizeof got);
        ck_assert_uint_eq(strlen(got), strlen(want));
        for (size_t i = 0; i < strlen(want); i++) {
            char expect = k == 1 ? 'g' : k == 3 ? 'o' : want[i];
            ck_assert_msg(got[i] == expect, "YOLACT_CPU_CONV=%s: convolution %zu runs '%c', "
                          "expected '%c' (%s)", modes[k], i, got[i], expect, got);
        }
        yolact_session_free(s);
    }
    yolact_model_free(m);
}
END_TEST

/* Seconds of the process's CPU time and of the wall clock. */
static void clocks(double *cpu, double *wall)
{
    struct timespec c, w;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
    clock_gettime(CLOCK_MONOTONIC, &w);
    *cpu = c.tv_sec + c.tv_nsec * 1e-9;
    *wall = w.tv_sec + w.tv_nsec * 1e-9;
}

/* A one-thread session's oneDNN convolutions run on one thread: oneDNN fixes a primitive's
 * team when it is made, and the session made them under the creating thread's default (all
 * cores) before conv_choice.c made them under the session's count. Its frames then used
 * about two cores' CPU time a wall second on two cores; one thread uses one. */
START_TEST(onednn_layers_keep_the_session_thread_count)
{
    if (!yl_onednn_available() || omp_get_num_procs() < 2) {
        printf("SKIP onednn_layers_keep_the_session_thread_count: %s\n",
               yl_onednn_available() ? "one core" : "no oneDNN in this build");
        return;
    }
    yolact_model *m = yl_test_load_model_at(YL_TEST_PARITY_CHECKPOINT, "yolact_resnet50",
                                            YL_TEST_SMALL_INPUT);
    yolact_image image;
    ck_assert_status(yolact_image_load(PARITY_IMAGE, &image), YOLACT_OK);
    yolact_session *s;
    ck_assert_status(cpu_session(m, "onednn", 1, &s), YOLACT_OK);
    const yolact_result *result;
    ck_assert_status(yolact_session_detect(s, &image, &result), YOLACT_OK); /* warm-up */
    double cpu0, wall0, cpu1, wall1;
    clocks(&cpu0, &wall0);
    for (int i = 0; i < 20; i++)
        ck_assert_status(yolact_session_detect(s, &image, &result), YOLACT_OK);
    clocks(&cpu1, &wall1);
    const double cores = (cpu1 - cpu0) / (wall1 - wall0);
    ck_assert_msg(cores < 1.5, "a one-thread session's frames used %.2f cores", cores);
    yolact_session_free(s);
    yolact_image_free_pixels(&image);
    yolact_model_free(m);
}
END_TEST

/* Auto mode times once per thread count: a second session takes the first one's choice
 * (the same letters, and the same detections bit for bit), Winograd only where it applies.
 * Without a mode, a session runs the fixed rule. */
START_TEST(auto_choice_is_timed_once_and_shared)
{
    yolact_model *m = yl_test_parity_model();
    char rule[512], first[512], second[512];
    fixed_rule(m, rule);
    yolact_session *a, *b, *unset;
    ck_assert_status(cpu_session(m, "auto", 1, &a), YOLACT_OK);
    ck_assert_status(cpu_session(m, "auto", 1, &b), YOLACT_OK);
    ck_assert_status(cpu_session(m, "", 1, &unset), YOLACT_OK); /* unset or empty: fixed */
    algorithms(a, first, sizeof first);
    algorithms(b, second, sizeof second);
    char default_letters[512];
    algorithms(unset, default_letters, sizeof default_letters);
    yolact_session_free(unset);
    ck_assert_str_eq(default_letters, rule);
    printf("conv_choice: auto at 1 thread: %s (fixed rule %s)\n", first, rule);
    ck_assert_str_eq(first, second);
    for (size_t i = 0; i < strlen(rule); i++)
        ck_assert_msg(first[i] != 'w' || rule[i] == 'w', "convolution %zu: Winograd where it "
                      "does not apply (%s)", i, first);
    yolact_image image;
    ck_assert_status(yolact_image_load(PARITY_IMAGE, &image), YOLACT_OK);
    const yolact_result *ra, *rb;
    ck_assert_status(yolact_session_detect(a, &image, &ra), YOLACT_OK);
    ck_assert_status(yolact_session_detect(b, &image, &rb), YOLACT_OK);
    ck_assert_int_gt(ra->count, 0);
    ck_assert_int_eq(ra->count, rb->count);
    for (int i = 0; i < ra->count; i++) {
        const yolact_detection *x = &ra->detections[i], *y = &rb->detections[i];
        ck_assert_int_eq(x->class_index, y->class_index);
        ck_assert_mem_eq(&x->score, &y->score, sizeof x->score);
        ck_assert_mem_eq(&x->x1, &y->x1, 4 * sizeof x->x1);
        ck_assert_mem_eq(x->mask, y->mask, x->mask_stride * (size_t)ra->height);
    }
    yolact_image_free_pixels(&image);
    yolact_session_free(a);
    yolact_session_free(b);
    yolact_model_free(m);
}
END_TEST

/* Training's forward pass runs the fixed rule whatever YOLACT_CPU_CONV says (its gradients'
 * tolerances were measured on it): its prototypes and box offsets are a fixed session's,
 * bit for bit, under another mode. */
START_TEST(training_runs_the_fixed_rule)
{
    yolact_model *m = yl_test_parity_model();
    yolact_session *s;
    ck_assert_status(cpu_session(m, "fixed", 1, &s), YOLACT_OK);
    yolact_image image;
    ck_assert_status(yolact_image_load(PARITY_IMAGE, &image), YOLACT_OK);
    const yolact_result *r;
    ck_assert_status(yolact_session_detect(s, &image, &r), YOLACT_OK);
    yl_network_outputs want;
    ck_assert_status(yl_session_network_outputs(s, &want), YOLACT_OK);

    setenv("YOLACT_CPU_CONV", yl_onednn_available() ? "onednn" : "gemm", 1);
    yl_training_forward *f;
    ck_assert_status(yl_cpu_training_forward_create(m, 1, &f), YOLACT_OK);
    yl_preprocess_cpu(&image, m->preset.input_size, m->preset.input_norm, yl_input_mean_bgr,
                      yl_input_std_bgr, f->buffers[0]);
    ck_assert_status(yl_cpu_training_forward(f), YOLACT_OK);
    setenv("YOLACT_CPU_CONV", "fixed", 1);
    ck_assert_mem_eq(f->proto, want.proto,
                     (size_t)m->proto_h * m->proto_w * m->num_prototypes * sizeof(float));
    ck_assert_mem_eq(f->loc, want.loc, (size_t)m->num_priors * 4 * sizeof(float));
    yl_cpu_training_forward_destroy(f);
    yolact_image_free_pixels(&image);
    yolact_session_free(s);
    yolact_model_free(m);
}
END_TEST

/* A fresh folder for choice files in dir (YOLACT_CACHE_DIR names it, the file switched
 * on); restore_cache_env puts back test/main.c's setting (off) and removes it. */
static void cache_folder(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/yolact-conv-choice-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("YOLACT_CACHE_DIR", dir, 1);
    setenv("YOLACT_CPU_CONV_CACHE", "on", 1);
}

static void restore_cache_env(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    unsetenv("YOLACT_CACHE_DIR");
    setenv("YOLACT_CPU_CONV_CACHE", "off", 1);
}

/* How many entries dir holds; the last one's path into path (room for 512 bytes). */
static int entries(const char *dir, char *path)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int count = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, 512, "%s/%s", dir, e->d_name);
            count++;
        }
    closedir(d);
    return count;
}

/* An auto session at one thread on a freshly loaded model (no choice in memory, as in a new
 * process): its letters into letters, and how many times it timed the layers. The network
 * at a small input: each timing costs a tenth of the full size's (valgrind runs these). */
static unsigned long fresh_auto_session(char *letters, size_t n)
{
    yolact_model *m = yl_test_load_model_at(YL_TEST_PARITY_CHECKPOINT, "yolact_resnet50",
                                            YL_TEST_SMALL_INPUT);
    unsigned long before = yl_conv_choice_timings();
    yolact_session *s;
    ck_assert_status(cpu_session(m, "auto", 1, &s), YOLACT_OK);
    algorithms(s, letters, n);
    yolact_session_free(s);
    yolact_model_free(m);
    return yl_conv_choice_timings() - before;
}

static char *read_text(const char *path)
{
    size_t size;
    char *text = (char *)yl_test_read_file(path, &size);
    ck_assert_msg(text != NULL, "%s: cannot read it", path);
    text = realloc(text, size + 1);
    text[size] = '\0';
    return text;
}

static void write_text(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* The key names what the choice depends on: the convolutions' shapes in op order and the
 * thread count, not the weights (two checkpoints of a preset share a file). The folder is
 * YOLACT_CACHE_DIR, else $XDG_CACHE_HOME/libyolact (an absolute one), else
 * $HOME/.cache/libyolact, else none. */
START_TEST(choice_file_key_and_folder)
{
    yolact_model *m = yl_test_parity_model();
    char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("YOLACT_CACHE_DIR", "/x/cache", 1);
    yl_conv_choice_file *one, *two, *again;
    ck_assert_status(yl_conv_choice_file_open(m, 1, "gemm winograd", &one), YOLACT_OK);
    ck_assert_status(yl_conv_choice_file_open(m, 2, "gemm winograd", &two), YOLACT_OK);
    int convs = 0;
    for (int i = 0; i < m->num_ops; i++)
        convs += m->ops[i].kind == YL_OP_CONV;
    int lines = 0;
    for (const char *at = one->key; (at = strstr(at, "\nconv ")); at++)
        lines++;
    ck_assert_int_eq(lines, convs);
    ck_assert_ptr_nonnull(strstr(one->key, "\nthreads 1\n"));
    ck_assert_ptr_nonnull(strstr(one->key, "\nconv 3x550x550 to 64 kernel 7x7 stride 2 pad 3 "));
    ck_assert_ptr_nonnull(strstr(one->key, "\ncandidates gemm winograd\n"));
    ck_assert_str_ne(one->key, two->key);
    ck_assert_str_ne(one->path, two->path);
    ck_assert_msg(strncmp(one->path, "/x/cache/conv-choice-", 21) == 0, "%s", one->path);
    for (int i = 0; i < m->num_ops; i++)   /* other weights, same network */
        if (m->ops[i].kind == YL_OP_CONV)
            ((float *)m->ops[i].weight)[0] += 1.0f;
    ck_assert_status(yl_conv_choice_file_open(m, 1, "gemm winograd", &again), YOLACT_OK);
    ck_assert_str_eq(again->key, one->key);
    ck_assert_str_eq(again->path, one->path);
    yl_conv_choice_file_close(two);
    yl_conv_choice_file_close(again);

    static const struct { const char *cache, *xdg, *home, *folder; } where[] = {
        {NULL, "/x/xdg", "/x/home", "/x/xdg/libyolact/"},
        {"", "relative", "/x/home", "/x/home/.cache/libyolact/"},
        {NULL, NULL, "/x/home", "/x/home/.cache/libyolact/"},
        {NULL, NULL, NULL, NULL},
    };
    for (size_t k = 0; k < sizeof where / sizeof *where; k++) {
        const char *vars[] = {"YOLACT_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
        const char *values[] = {where[k].cache, where[k].xdg, where[k].home};
        for (int v = 0; v < 3; v++)
            values[v] ? setenv(vars[v], values[v], 1) : unsetenv(vars[v]);
        ck_assert_status(yl_conv_choice_file_open(m, 1, "gemm winograd", &again), YOLACT_OK);
        if (!where[k].folder) {
            ck_assert_ptr_null(again->path);
            char letters[4];
            ck_assert_int_eq(yl_conv_choice_file_read(again, letters, sizeof letters), 0);
            ck_assert_int_eq(yl_conv_choice_file_write(again, "gggg", 4), 0);
        } else {
            ck_assert_msg(strncmp(again->path, where[k].folder, strlen(where[k].folder)) == 0 &&
                          strcmp(strrchr(again->path, '/'), strrchr(one->path, '/')) == 0,
                          "case %zu: %s", k, again->path);
        }
        yl_conv_choice_file_close(again);
    }
    unsetenv("YOLACT_CACHE_DIR");
    unsetenv("XDG_CACHE_HOME");
    if (home)
        setenv("HOME", home, 1);
    free(home);
    yl_conv_choice_file_close(one);
    yolact_model_free(m);
}
END_TEST

/* A fresh process state reads the first one's file: it does not time, and runs the same
 * algorithms. The file is exactly the key, the letters and an end mark. */
START_TEST(auto_choice_is_kept_in_a_file)
{
    char dir[64], path[512], first[512], second[512];
    cache_folder(dir, sizeof dir);
    ck_assert_uint_eq(fresh_auto_session(first, sizeof first), 1);
    ck_assert_int_eq(entries(dir, path), 1);
    char *text = read_text(path);
    char *choice = strstr(text, "\nchoice ");
    ck_assert_ptr_nonnull(choice);
    ck_assert_str_eq(choice + 8, strcat(strcpy(second, first), "\nend\n"));
    ck_assert_uint_eq(fresh_auto_session(second, sizeof second), 0);
    ck_assert_str_eq(first, second);
    ck_assert_int_eq(entries(dir, path), 1);
    free(text);
    restore_cache_env(dir);
}
END_TEST

/* Whatever sits where the file should be, a session times again and works: text that is
 * not the entry, one cut short or longer, another key, letters naming no algorithm or one
 * the layer cannot run (Winograd on the 7x7 stem, oneDNN without it), a FIFO (never waited
 * on) and a folder (never replaced). The file is then rewritten with the new choice. */
START_TEST(bad_choice_files_are_ignored_and_rewritten)
{
    char dir[64], path[512], letters[512], got[512];
    cache_folder(dir, sizeof dir);
    ck_assert_uint_eq(fresh_auto_session(letters, sizeof letters), 1);
    ck_assert_int_eq(entries(dir, path), 1);
    char *good = read_text(path);
    size_t len = strlen(good);
    size_t key_len = (size_t)(strstr(good, "\nchoice ") + 1 - good);
    size_t first_letter = key_len + 7;

    char *other_key = strdup(good), *threads = strstr(other_key, "\nthreads 1\n");
    ck_assert_ptr_nonnull(threads);
    threads[9] = '7';
    char *unknown = strdup(good), *stem = strdup(good), *longer = malloc(len + 2);
    unknown[first_letter] = 'x';
    stem[first_letter] = 'w';   /* the 7x7 stride-2 stem: no Winograd */
    snprintf(longer, len + 2, "%sx", good);
    char *onednn = strdup(good);
    onednn[first_letter] = yl_onednn_available() ? 'x' : 'o';
    const struct { const char *what, *text; size_t n; } bad[] = {
        {"garbage", "\xff\x00garbage", 9},
        {"cut short", good, len / 2},
        {"without its end", good, len - 4},
        {"longer", longer, len + 1},
        {"another key", other_key, len},
        {"an unknown letter", unknown, len},
        {"Winograd where it does not apply", stem, len},
        {"oneDNN without oneDNN", onednn, len},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        write_text(path, bad[k].text, bad[k].n);
        ck_assert_msg(fresh_auto_session(got, sizeof got) == 1, "%s: not timed again",
                      bad[k].what);
        char *now = read_text(path);
        ck_assert_msg(strncmp(now, good, key_len) == 0 &&
                      strncmp(now + key_len, "choice ", 7) == 0 &&
                      strncmp(now + first_letter, got, strlen(got)) == 0 &&
                      strcmp(now + first_letter + strlen(got), "\nend\n") == 0,
                      "%s: not rewritten: %s", bad[k].what, now);
        ck_assert_int_eq(entries(dir, got), 1);   /* no temporary file left */
        free(now);
    }
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_uint_eq(fresh_auto_session(got, sizeof got), 1);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_msg(S_ISREG(st.st_mode), "the FIFO was not replaced by the file");
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_uint_eq(fresh_auto_session(got, sizeof got), 1);
    ck_assert_int_eq(rmdir(path), 0);
    ck_assert_int_eq(entries(dir, got), 0);
    free(onednn);
    free(longer);
    free(stem);
    free(unknown);
    free(other_key);
    free(good);
    restore_cache_env(dir);
}
END_TEST

/* YOLACT_CPU_CONV_CACHE=off neither reads nor writes the file, a value it does not name is
 * refused, and a folder that cannot be made leaves inference as it was. */
START_TEST(choice_file_switch_and_unwritable_folder)
{
    char dir[64], path[512], letters[512];
    cache_folder(dir, sizeof dir);
    setenv("YOLACT_CPU_CONV_CACHE", "off", 1);
    ck_assert_uint_eq(fresh_auto_session(letters, sizeof letters), 1);
    ck_assert_int_eq(entries(dir, path), 0);
    setenv("YOLACT_CPU_CONV_CACHE", "on", 1);
    ck_assert_uint_eq(fresh_auto_session(letters, sizeof letters), 1);
    ck_assert_int_eq(entries(dir, path), 1);
    char *kept = read_text(path);
    setenv("YOLACT_CPU_CONV_CACHE", "off", 1);
    ck_assert_uint_eq(fresh_auto_session(letters, sizeof letters), 1);
    char *after = read_text(path);
    ck_assert_str_eq(after, kept);

    yolact_model *m = yl_test_parity_model();
    yolact_session *s = NULL;
    setenv("YOLACT_CPU_CONV_CACHE", "sometimes", 1);
    ck_assert_status(cpu_session(m, "auto", 1, &s), YOLACT_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(yolact_last_error(), "YOLACT_CPU_CONV_CACHE=sometimes") != NULL, "%s",
                  yolact_last_error());
    yolact_model_free(m);

    /* a folder below a regular file cannot be made, even by root */
    setenv("YOLACT_CPU_CONV_CACHE", "on", 1);
    char blocked[600];
    snprintf(blocked, sizeof blocked, "%s/cache", path);
    setenv("YOLACT_CACHE_DIR", blocked, 1);
    ck_assert_uint_eq(fresh_auto_session(letters, sizeof letters), 1);
    ck_assert_uint_eq(fresh_auto_session(letters, sizeof letters), 1); /* nothing was kept */
    ck_assert_int_eq(entries(dir, path), 1);
    free(after);
    free(kept);
    restore_cache_env(dir);
}
END_TEST

Suite *conv_choice_suite(void)
{
    Suite *s = suite_create("conv_choice");
    TCase *tc = tcase_create("modes");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, unknown_modes_are_refused);
    tcase_add_test(tc, modes_pick_their_algorithms);
    tcase_add_test(tc, choice_file_key_and_folder);
    suite_add_tcase(s, tc);
    /* Tagged "slow": auto mode's timing runs each layer's candidates several times, over
     * 15 minutes under valgrind (ASan runs them); and frames in onednn mode, whose threads
     * valgrind runs one at a time anyway. */
    tc = tcase_create("frames");
    tcase_set_tags(tc, "slow");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, auto_choice_is_timed_once_and_shared);
    tcase_add_test(tc, training_runs_the_fixed_rule);
    tcase_add_test(tc, onednn_layers_keep_the_session_thread_count);
    suite_add_tcase(s, tc);
    /* Tagged "slow" too: its 16 timings took 29 CPU minutes under valgrind. */
    tc = tcase_create("file");
    tcase_set_tags(tc, "slow");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, auto_choice_is_kept_in_a_file);
    tcase_add_test(tc, bad_choice_files_are_ignored_and_rewritten);
    tcase_add_test(tc, choice_file_switch_and_unwritable_folder);
    suite_add_tcase(s, tc);
    return s;
}
