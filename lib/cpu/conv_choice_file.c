/* The file of auto mode's convolution choice (conv_choice_file.h): its key, its folder,
 * and reading and writing it so that no reader ever sees part of a file. */
#define _GNU_SOURCE   /* open_memstream, getline */
#include "cpu/conv_choice_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpu/gemm.h"
#include "cpu/onednn_conv.h"
#include "status.h"

/* Raised whenever the file's layout or the meaning of its letters changes: an older
 * library's file is then another key, a miss. */
#define FILE_FORMAT "libyolact conv choice 1"
static const char CHOICE_TAG[] = "choice ";
static const char END_TAG[] = "\nend\n";

yolact_status yl_conv_choice_file_enabled(int *on)
{
    const char *v = getenv("YOLACT_CPU_CONV_CACHE");
    *on = 1;
    if (!v || !*v || strcmp(v, "on") == 0)
        return YOLACT_OK;
    if (strcmp(v, "off") == 0) {
        *on = 0;
        return YOLACT_OK;
    }
    return yl_fail(YOLACT_ERR_INVALID_ARGUMENT, "YOLACT_CPU_CONV_CACHE=%s: expected on or off",
                   v);
}

/* The CPU's model as /proc/cpuinfo names it, into out ("unknown" where it does not). */
static void cpu_model(char *out, size_t n)
{
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon)
            continue;
        colon += strspn(colon + 1, " \t") + 1;
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(out, n, "%s", colon);
        break;
    }
    free(line);
    fclose(f);
}

/* The instruction sets the candidates' kernels choose by (OpenBLAS and oneDNN pick their
 * own by them; a virtual machine may hide some of a model's). */
static void cpu_isa(FILE *key)
{
#if defined(__x86_64__) || defined(__i386__)
#define ISA(name) fputs(__builtin_cpu_supports(name) ? " " name : "", key)
    __builtin_cpu_init();
    ISA("sse4.2");
    ISA("avx");
    ISA("avx2");
    ISA("fma");
    ISA("avx512f");
    ISA("avx512bw");
    ISA("avx512vl");
    ISA("avx512vnni");
#undef ISA
#else
    (void)key;
#endif
}

/* The key's text (conv_choice_file.h): one fact a line, then each convolution's shape. */
static char *make_key(const yolact_model *m, int threads, const char *candidates)
{
    char *text = NULL;
    size_t len = 0;
    FILE *key = open_memstream(&text, &len);
    if (!key)
        return NULL;
    char cpu[256], dnn[128];
    cpu_model(cpu, sizeof cpu);
    yl_onednn_describe(dnn, sizeof dnn);
    fprintf(key, "%s\nlibyolact %s\ngemm %s\nonednn %s\ncpu %s\nisa", FILE_FORMAT,
            yolact_version_string(), yl_gemm_kernels(), dnn, cpu);
    cpu_isa(key);
    fprintf(key, "\nthreads %d\ncandidates %s\n", threads, candidates);
    for (int i = 0; i < m->num_ops; i++) {
        const yl_op *op = &m->ops[i];
        const yl_buffer_desc *in = &m->buffers[op->in];
        const yl_conv_desc *d = &op->conv;
        if (op->kind != YL_OP_CONV)
            continue;
        fprintf(key, "conv %dx%dx%d to %d kernel %dx%d stride %d pad %d dilation %d act %d "
                "residual %d\n", d->in_channels, in->height, in->width, d->out_channels,
                d->kernel_h, d->kernel_w, d->stride, d->pad, d->dilation, (int)op->act,
                op->residual >= 0);
    }
    if (fclose(key) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* 64-bit FNV-1a: stable across builds and machines, enough to name a file (the file's
 * own key settles a collision). */
static uint64_t hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* The cache folder (conv_choice_file.h), malloc'ed; NULL where none is known. */
static char *folder(void)
{
    const char *dir = getenv("YOLACT_CACHE_DIR");
    const char *tail = "";
    if (!dir || !*dir) {
        dir = getenv("XDG_CACHE_HOME");
        tail = "/libyolact";
        if (!dir || dir[0] != '/') {   /* the XDG spec ignores a relative one */
            dir = getenv("HOME");
            tail = "/.cache/libyolact";
        }
    }
    if (!dir || !*dir)
        return NULL;
    size_t n = strlen(dir) + strlen(tail) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s", dir, tail);
    return out;
}

yolact_status yl_conv_choice_file_open(const yolact_model *m, int threads,
                                       const char *candidates, yl_conv_choice_file **out)
{
    *out = NULL;
    yl_conv_choice_file *f = calloc(1, sizeof *f);
    char *dir = folder();
    if (!f || !(f->key = make_key(m, threads, candidates))) {
        free(dir);
        yl_conv_choice_file_close(f);
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "out of memory for the convolution choice's key");
    }
    if (dir) {
        size_t n = strlen(dir) + 64;
        if ((f->path = malloc(n)))
            snprintf(f->path, n, "%s/conv-choice-%016" PRIx64 ".txt", dir, hash(f->key));
        free(dir);
    }
    *out = f;
    return YOLACT_OK;
}

void yl_conv_choice_file_close(yl_conv_choice_file *f)
{
    if (!f)
        return;
    free(f->key);
    free(f->path);
    free(f);
}

/* All of n bytes from fd; 0 on an error or an early end. */
static int read_all(int fd, char *buf, size_t n)
{
    while (n > 0) {
        ssize_t got = read(fd, buf, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return 0;
        buf += got;
        n -= (size_t)got;
    }
    return 1;
}

int yl_conv_choice_file_read(const yl_conv_choice_file *f, char *letters, size_t count)
{
    if (!f->path)
        return 0;
    size_t key_len = strlen(f->key), tag = sizeof CHOICE_TAG - 1, end = sizeof END_TAG - 1;
    size_t want = key_len + tag + count + end;
    /* not blocking on a FIFO, and only a regular file of exactly the entry's size read */
    int fd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    char *text = NULL;
    int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == want &&
             (text = malloc(want)) && read_all(fd, text, want) &&
             memcmp(text, f->key, key_len) == 0 &&
             memcmp(text + key_len, CHOICE_TAG, tag) == 0 &&
             memcmp(text + want - end, END_TAG, end) == 0;
    if (ok)
        memcpy(letters, text + key_len + tag, count);
    free(text);
    close(fd);
    return ok;
}

/* mkdir -p path (each missing folder private to the user, as caches are). */
static int make_folders(char *path)
{
    for (char *slash = strchr(path + 1, '/');; slash = strchr(slash + 1, '/')) {
        if (slash)
            *slash = '\0';
        int made = mkdir(path, 0700) == 0 || errno == EEXIST;
        if (slash)
            *slash = '/';
        if (!made)
            return 0;
        if (!slash || !slash[1])
            return 1;
    }
}

int yl_conv_choice_file_write(const yl_conv_choice_file *f, const char *letters, size_t count)
{
    if (!f->path)
        return 0;
    size_t n = strlen(f->path) + 8;
    char *temp = malloc(n);
    if (!temp)
        return 0;
    snprintf(temp, n, "%s", f->path);
    *strrchr(temp, '/') = '\0';
    int fd = -1;
    if (make_folders(temp)) {
        snprintf(temp, n, "%s.XXXXXX", f->path);
        fd = mkstemp(temp);
    }
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!out) {
        if (fd >= 0) {
            close(fd);
            unlink(temp);
        }
        free(temp);
        return 0;
    }
    /* No fsync: a file cut short by a crash is a miss, and the layers are timed again. */
    fputs(f->key, out);
    fputs(CHOICE_TAG, out);
    fwrite(letters, 1, count, out);
    fputs(END_TAG, out);
    int ok = !ferror(out);
    ok = fclose(out) == 0 && ok && rename(temp, f->path) == 0;
    if (!ok)
        unlink(temp);
    free(temp);
    return ok;
}
