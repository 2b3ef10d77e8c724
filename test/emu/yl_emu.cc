/* The CUDA emulation's engine: the runtime API on host memory with counters, and the block
 * scheduler that runs a kernel's threads as plain calls or, once a thread reaches a sync
 * point (__syncthreads, a warp collective), as fibers that meet at that point. Misuse that a
 * GPU would turn into a hang or silent garbage fails the launch with a message naming the
 * kernel, the source line and the block. */
#include <algorithm>
#include <csetjmp>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <chrono>
#include <atomic>
#include <map>
#include <set>
#include <mutex>
#include <vector>

#include <sys/mman.h>
#include <ucontext.h>

#include "yl_emu_device.h"

/* Sanitizers must be told about stack switches, or they take a fiber's frames for a
 * corrupted stack. */
#if defined(__SANITIZE_ADDRESS__)
#define YL_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define YL_EMU_ASAN 1
#endif
#endif
#ifdef YL_EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define YL_EMU_VALGRIND 1
#endif

thread_local yl_emu_index yl_emu_idx;

namespace {

/* ---- errors and counters ----------------------------------------------------------------- */
thread_local cudaError_t last_error = cudaSuccess;
thread_local char error_detail[1024];
/* Whether last_error is a launch's own: on a GPU the launch's YL_LAUNCH read it (and cleared
 * it) with cudaGetLastError; an error another call left there is reported by the next. */
thread_local bool last_error_from_launch = false;

cudaError_t fail(cudaError_t e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
cudaError_t fail(cudaError_t e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_detail, sizeof error_detail, fmt, ap);
    va_end(ap);
    last_error = e;
    last_error_from_launch = false;
    return e;
}

yl_emu_counters counters;
std::mutex counters_mutex;

/* Set while cudaGraphLaunch replays a graph on this thread: its kernels count as graph_kernels. */
static thread_local bool replaying_graph = false;

cudaError_t use_stream(cudaStream_t stream, const char *call); /* with the stream capture */

template <class T> void count(T yl_emu_counters::*field, T n = 1)
{
    std::lock_guard<std::mutex> lock(counters_mutex);
    counters.*field += n;
}

/* Live device allocations (address -> size), to check the direction of copies. */
std::map<uintptr_t, size_t> allocations;
std::mutex allocations_mutex;
/* Live page-locked host allocations: host memory, only tracked so cudaFreeHost can check. */
std::set<uintptr_t> pinned;

/* Fault injection: allocations to let through before one fails (-1: none fails). */
std::atomic<long> allocations_before_failure{-1};

/* Whether the allocation being made is the one yl_emu_fail_allocation asked to fail. */
bool injected_failure()
{
    long left = allocations_before_failure.load();
    while (left >= 0 && !allocations_before_failure.compare_exchange_weak(left, left - 1))
        ;
    return left == 0;
}

bool is_device(const void *p, size_t count)
{
    std::lock_guard<std::mutex> lock(allocations_mutex);
    uintptr_t a = (uintptr_t)p;
    auto it = allocations.upper_bound(a);
    if (it == allocations.begin())
        return false;
    --it;
    return a >= it->first && a - it->first + count <= (it->second ? it->second : 1);
}

/* ---- fibers ---------------------------------------------------------------------------
 * A fiber is a stack with a context on it. It is created once (makecontext, setcontext)
 * and then reused: after its thread finishes it parks at the top of its loop, and the next
 * thread it is given starts there. Every later switch is _setjmp/_longjmp, which, unlike
 * swapcontext, makes no system call (and ASan, told of each switch, accepts). */
const size_t stack_bytes = 256 * 1024, guard_bytes = 4096;
const unsigned max_threads = 1024;

struct fiber {
    char *stack;            /* stack_bytes, above a guard page */
    bool parked;            /* waiting in fiber_main for its next thread */
    jmp_buf park_context;
    void *asan_fake_stack;
};

/* Fibers of this OS thread, kept for its life. */
struct fiber_pool {
    std::vector<fiber *> fibers;
    fiber *get(size_t i)
    {
        while (fibers.size() <= i) {
            void *m = mmap(nullptr, stack_bytes + guard_bytes, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            fiber *f = m == MAP_FAILED ? nullptr : new (std::nothrow) fiber();
            if (!f) {
                if (m != MAP_FAILED)
                    munmap(m, stack_bytes + guard_bytes);
                return nullptr;
            }
            mprotect(m, guard_bytes, PROT_NONE);
            f->stack = (char *)m + guard_bytes;
#ifdef YL_EMU_VALGRIND
            VALGRIND_STACK_REGISTER(f->stack, f->stack + stack_bytes);
#endif
            fibers.push_back(f);
        }
        return fibers[i];
    }
    ~fiber_pool()
    {
        for (fiber *f : fibers) {
            munmap(f->stack - guard_bytes, stack_bytes + guard_bytes);
            delete f;
        }
    }
};
thread_local fiber_pool pool;
thread_local fiber *starting;               /* handed to a new fiber's fiber_main */
thread_local const void *main_stack_bottom; /* the OS thread's own stack, for ASan */
thread_local size_t main_stack_size;
thread_local void *main_fake_stack;

enum thread_state : unsigned char { T_NEW, T_RUNNABLE, T_BARRIER, T_WARP, T_DONE };

/* One thread's cp.async copies not yet waited for: the source is read at issue, the
 * destination written when a wait covers the copy's group (groups are numbered by the
 * commits before them). */
struct pending_copy {
    unsigned char *dst;
    unsigned char data[16];
    unsigned group;
};
const unsigned max_pending_copies = 64;
struct copy_queue {
    pending_copy copy[max_pending_copies];
    unsigned count, committed;
};

struct warp_request {
    yl_emu_warp_op op;
    unsigned mask;
    uint64_t value, result;
    int arg, width;
    const char *file;
    int line;
};

/* Everything about the launch being run on this OS thread. */
struct launch {
    const char *kernel;
    yl_emu_body body;
    void *closure;
    dim3 grid, block;
    unsigned nthreads;
    unsigned char *smem;
    size_t smem_bytes;

    bool reverse;           /* threads and blocks run last first (YL_EMU_ORDER=reverse) */
    bool fiber_mode;        /* the current block switched from plain calls to fibers */
    bool failed;
    unsigned cur;           /* linear index of the running thread */
    jmp_buf scheduler;
    thread_state state[max_threads];
    fiber *fiber_of[max_threads];
    jmp_buf context[max_threads];
    warp_request warp[max_threads];
    const char *barrier_file[max_threads];
    int barrier_line[max_threads];
    std::vector<copy_queue> copies; /* per thread, sized at the launch's first cp.async */
};
thread_local launch *run;

const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The thread at position `pos` of the run order; as the order is either way round, also
 * the position of thread `pos`. */
unsigned thread_at(unsigned pos)
{
    return run->reverse ? run->nthreads - 1 - pos : pos;
}

void set_thread_index(unsigned t)
{
    const dim3 &b = run->block;
    run->cur = t;
    yl_emu_idx.thread_idx = uint3{t % b.x, t / b.x % b.y, t / (b.x * b.y)};
}

/* ASan's view of the switches: leaving a context (save == NULL: for good) and arriving. */
#ifdef YL_EMU_ASAN
#define ASAN_LEAVE(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define ASAN_ARRIVE(save, bottom_out, size_out) \
    __sanitizer_finish_switch_fiber(save, bottom_out, size_out)
#else
#define ASAN_LEAVE(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define ASAN_ARRIVE(save, bottom_out, size_out) \
    ((void)(save), (void)(bottom_out), (void)(size_out))
#endif

/* Leave the running fiber for the scheduler; returns when the scheduler resumes it. */
void yield_to_scheduler()
{
    unsigned t = run->cur;
    fiber *self = run->fiber_of[t];
    if (!_setjmp(run->context[t])) {
        ASAN_LEAVE(&self->asan_fake_stack, main_stack_bottom, main_stack_size);
        _longjmp(run->scheduler, 1);
    }
    ASAN_ARRIVE(self->asan_fake_stack, nullptr, nullptr);
}

/* Leave a fiber whose thread was abandoned (the block failed); it is not reused. */
[[noreturn]] void exit_to_scheduler()
{
    ASAN_LEAVE(nullptr, main_stack_bottom, main_stack_size);
    _longjmp(run->scheduler, 1);
}

/* A fiber's life: given a thread, it runs it; in plain-call mode it goes on with the next
 * thread of the block until one reaches a sync point (or the block is done), in fiber mode
 * it finishes the one thread. Then it parks until given another. It never returns. */
void fiber_main()
{
    fiber *self = starting;
    ASAN_ARRIVE(nullptr, &main_stack_bottom, &main_stack_size);
    for (;;) {
        for (;;) {
            run->body(run->closure);
            run->state[run->cur] = T_DONE;
            unsigned next = thread_at(run->cur) + 1;
            if (run->fiber_mode || next == run->nthreads)
                break;
            run->fiber_of[thread_at(next)] = self;
            set_thread_index(thread_at(next));
        }
        self->parked = true;
        if (!_setjmp(self->park_context)) {
            ASAN_LEAVE(&self->asan_fake_stack, main_stack_bottom, main_stack_size);
            _longjmp(run->scheduler, 1);
        }
        ASAN_ARRIVE(self->asan_fake_stack, nullptr, nullptr);
        self->parked = false;
    }
}

/* Run thread t (from the scheduler) until it yields or finishes. */
bool resume(unsigned t, size_t *next_fiber)
{
    set_thread_index(t);
    if (_setjmp(run->scheduler)) {
        ASAN_ARRIVE(main_fake_stack, nullptr, nullptr);
        return true;
    }
    if (run->state[t] == T_NEW) {
        fiber *f = pool.get((*next_fiber)++);
        if (!f) {
            fail(cudaErrorMemoryAllocation, "emulation: no memory for a fiber stack");
            return false;
        }
        run->state[t] = T_RUNNABLE;
        run->fiber_of[t] = f;
        ASAN_LEAVE(&main_fake_stack, f->stack, stack_bytes);
        if (f->parked)
            _longjmp(f->park_context, 1);
        /* New, or abandoned mid-thread by a failed block: (re)create it. */
        ucontext_t uc;
        getcontext(&uc);
        uc.uc_stack.ss_sp = f->stack;
        uc.uc_stack.ss_size = stack_bytes;
        uc.uc_link = nullptr;
        makecontext(&uc, fiber_main, 0);
        starting = f;
        setcontext(&uc);    /* the fiber comes back through the _setjmp above */
    } else {
        ASAN_LEAVE(&main_fake_stack, run->fiber_of[t]->stack, stack_bytes);
        _longjmp(run->context[t], 1);
    }
    return true;    /* not reached: the fiber comes back through the _setjmp above */
}

/* Called at a sync point by the running thread: switches the block to fibers if needed and
 * parks the thread in `wait`. */
void park(thread_state wait)
{
    unsigned t = run->cur;
    if (!run->fiber_mode) {
        /* Threads before t in the run order ran to completion without reaching any sync
         * point, as they would have on a GPU; the ones after t start as fibers. */
        run->fiber_mode = true;
        count(&yl_emu_counters::fiber_blocks);
        for (unsigned pos = thread_at(t) + 1; pos < run->nthreads; pos++)
            run->state[thread_at(pos)] = T_NEW;
    }
    run->state[t] = wait;
    yield_to_scheduler();
}

/* Abandon the block from inside a thread after fail(). */
[[noreturn]] void abort_block()
{
    run->failed = true;
    run->state[run->cur] = T_DONE;
    exit_to_scheduler();
}

const char *block_name()
{
    static thread_local char s[64];
    uint3 b = yl_emu_idx.block_idx;
    snprintf(s, sizeof s, "block (%u,%u,%u)", b.x, b.y, b.z);
    return s;
}

const char *op_name(yl_emu_warp_op op)
{
    static const char *const names[] = {"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync",
                                        "__shfl_xor_sync", "__ballot_sync", "__any_sync",
                                        "__all_sync", "__syncwarp",
                                        "mma.sync.m16n8k16", "ldmatrix.x4"};
    return names[op];
}

/* The operands one lane hands to an MMA collective (they live on its stack while it waits):
 * mi A fragments, ni B fragments, mi * ni C and D fragments (D_ij = A_i B_j + C_ij, index
 * i * ni + j). */
struct mma_operands {
    float *d;
    const uint32_t *a, *b;
    const float *c;
    int mi, ni;
};

float half_of(uint32_t reg, int high)
{
    return yl_emu_half2float(yl_emu_half{(uint16_t)(high ? reg >> 16 : reg & 0xffffu)});
}

enum { max_mma_side = 8 };

/* The 32 lanes of the warp starting at thread `first` are at the MMA: assemble each A (16x16)
 * and B (16x8) from their fragments, then give each lane its D fragments (see yl_device.h).
 * Each sum runs over k in increasing order, rows of B at a time (vectorised). Returns false
 * when the lanes disagree on the number of MMAs. */
bool mma_m16n8k16(unsigned first)
{
    const mma_operands *ops[32];
    for (unsigned lane = 0; lane < 32; lane++)
        ops[lane] = (const mma_operands *)(uintptr_t)run->warp[first + lane].value;
    const int mi = ops[0]->mi, ni = ops[0]->ni;
    for (unsigned lane = 1; lane < 32; lane++)
        if (ops[lane]->mi != mi || ops[lane]->ni != ni)
            return false;
    float A[max_mma_side][16][16], B[max_mma_side][16][8];
    for (unsigned lane = 0; lane < 32; lane++) {
        const mma_operands *o = ops[lane];
        unsigned g = lane / 4, t = lane % 4;
        for (int m = 0; m < mi; m++)
            for (unsigned i = 0; i < 4; i++) {
                unsigned row = g + 8 * (i & 1), col = 2 * t + 8 * (i >> 1);
                A[m][row][col] = half_of(o->a[4 * m + i], 0);
                A[m][row][col + 1] = half_of(o->a[4 * m + i], 1);
            }
        for (int n = 0; n < ni; n++)
            for (unsigned i = 0; i < 2; i++) {
                B[n][2 * t + 8 * i][g] = half_of(o->b[2 * n + i], 0);
                B[n][2 * t + 8 * i + 1][g] = half_of(o->b[2 * n + i], 1);
            }
    }
    for (int m = 0; m < mi; m++) {
        for (int n = 0; n < ni; n++) {
            double S[16][8] = {};
            for (unsigned row = 0; row < 16; row++)
                for (unsigned k = 0; k < 16; k++)
                    for (unsigned col = 0; col < 8; col++)  /* products exact: 11-bit mantissas */
                        S[row][col] += (double)(A[m][row][k] * B[n][k][col]);
            const int f = 4 * (m * ni + n);
            float D[32][4];
            for (unsigned lane = 0; lane < 32; lane++) {
                unsigned g = lane / 4, t = lane % 4;
                for (unsigned i = 0; i < 4; i++)
                    D[lane][i] = (float)((double)ops[lane]->c[f + i] +
                                         S[g + 8 * (i >> 1)][2 * t + (i & 1)]);
            }
            /* Written after every lane's C was read: d may alias c. */
            for (unsigned lane = 0; lane < 32; lane++)
                memcpy(ops[lane]->d + f, D[lane], sizeof D[lane]);
        }
    }
    return true;
}

/* What one lane hands to an ldmatrix collective: count row addresses, count x 4 results. */
struct ldmatrix_operands {
    const void *const *rows;
    uint32_t (*r)[4];
    int count;
};

enum { max_ldmatrix_loads = 8 };

/* The 32 lanes of the warp starting at thread `first` are at ldmatrix: lane l's r[c][i] is
 * word l % 4 of the row lane 8 i + l / 4 addressed in load c. Returns an error message, or
 * NULL. */
const char *ldmatrix_x4(unsigned first)
{
    const ldmatrix_operands *ops[32];
    for (unsigned lane = 0; lane < 32; lane++)
        ops[lane] = (const ldmatrix_operands *)(uintptr_t)run->warp[first + lane].value;
    const int count = ops[0]->count;
    for (unsigned lane = 0; lane < 32; lane++) {
        if (ops[lane]->count != count)
            return "lanes ask for different numbers of loads";
        for (int c = 0; c < count; c++)
            if ((uintptr_t)ops[lane]->rows[c] & 15)
                return "a row address is not 16-byte aligned";
    }
    uint32_t got[32][max_ldmatrix_loads][4];
    for (unsigned lane = 0; lane < 32; lane++)
        for (int c = 0; c < count; c++)
            for (unsigned i = 0; i < 4; i++)
                memcpy(&got[lane][c][i],
                       (const unsigned char *)ops[8 * i + lane / 4]->rows[c] + 4 * (lane % 4),
                       sizeof got[lane][c][i]);
    for (unsigned lane = 0; lane < 32; lane++)
        memcpy(ops[lane]->r, got[lane], sizeof got[lane][0] * count);
    return nullptr;
}

/* Completes warp w's collective if every lane it names is there or has exited.
 * Returns 1 when lanes were released, 0 when there is nothing to do, -1 on an error. */
int resolve_warp(unsigned w)
{
    unsigned first = w * 32, end = first + 32 < run->nthreads ? first + 32 : run->nthreads;
    unsigned required = 0, waiting = 0;
    int ref = -1;
    for (unsigned l = first; l < end; l++) {
        if (run->state[l] != T_WARP)
            continue;
        waiting |= 1u << (l - first);
        required |= run->warp[l].mask;
        if (ref < 0)
            ref = (int)l;
    }
    if (!waiting)
        return 0;
    const warp_request &r0 = run->warp[ref];
    for (unsigned l = first; l < end; l++) {
        unsigned bit = 1u << (l - first);
        if (!(required & bit) || run->state[l] == T_DONE || (waiting & bit))
            continue;
        if (run->state[l] == T_BARRIER) {
            fail(cudaErrorLaunchFailure,
                 "%s at %s:%d in thread %u of %s of %s waits for lane %u, which is at "
                 "__syncthreads() at %s:%d: deadlock",
                 op_name(r0.op), base_name(r0.file), r0.line, (unsigned)ref, block_name(),
                 run->kernel, l - first, base_name(run->barrier_file[l]),
                 run->barrier_line[l]);
            return -1;
        }
        return 0;   /* still running: not complete yet */
    }
    for (unsigned l = first; l < end; l++) {
        if (!(waiting & (1u << (l - first))))
            continue;
        const warp_request &r = run->warp[l];
        if (r.op != r0.op || r.line != r0.line || r.file != r0.file) {
            fail(cudaErrorLaunchFailure,
                 "warp %u of %s of %s diverged: lane %u is at %s (%s:%d), lane %u at %s "
                 "(%s:%d)",
                 w, block_name(), run->kernel, (unsigned)ref - first, op_name(r0.op),
                 base_name(r0.file), r0.line, l - first, op_name(r.op), base_name(r.file),
                 r.line);
            return -1;
        }
    }
    if (r0.op == YL_EMU_MMA_M16N8K16 || r0.op == YL_EMU_LDMATRIX_X4) {
        if (end - first != 32 || waiting != 0xffffffffu) {
            fail(cudaErrorLaunchFailure,
                 "%s at %s:%d in warp %u of %s of %s: only lanes 0x%08x arrived; all "
                 "32 lanes of a full warp must execute it (%s)", op_name(r0.op),
                 base_name(r0.file), r0.line, w, block_name(), run->kernel, waiting,
                 end - first != 32 ? "partial warp" : "the others have exited");
            return -1;
        }
        const char *wrong = r0.op == YL_EMU_LDMATRIX_X4 ? ldmatrix_x4(first) : nullptr;
        if (wrong) {
            fail(cudaErrorLaunchFailure, "ldmatrix.x4 at %s:%d in warp %u of %s of %s: %s",
                 base_name(r0.file), r0.line, w, block_name(), run->kernel, wrong);
            return -1;
        }
        if (r0.op == YL_EMU_MMA_M16N8K16 && !mma_m16n8k16(first)) {
            fail(cudaErrorLaunchFailure,
                 "mma.sync at %s:%d in warp %u of %s of %s: lanes ask for different numbers "
                 "of MMAs", base_name(r0.file), r0.line, w, block_name(), run->kernel);
            return -1;
        }
        for (unsigned l = first; l < end; l++)
            run->state[l] = T_RUNNABLE;
        return 1;
    }
    unsigned votes = 0;
    for (unsigned l = first; l < end; l++)
        if ((waiting & (1u << (l - first))) && run->warp[l].value)
            votes |= 1u << (l - first);
    for (unsigned l = first; l < end; l++) {
        unsigned lane = l - first;
        if (!(waiting & (1u << lane)))
            continue;
        warp_request &r = run->warp[l];
        int width = r.width, base = (int)(lane & ~(unsigned)(width - 1)), src = (int)lane;
        switch (r.op) {
        case YL_EMU_BALLOT: r.result = votes; break;
        case YL_EMU_ANY: r.result = (votes & r.mask) != 0; break;
        case YL_EMU_ALL: r.result = (votes & r.mask & waiting) == (r.mask & waiting); break;
        case YL_EMU_SYNCWARP:
        case YL_EMU_MMA_M16N8K16:
        case YL_EMU_LDMATRIX_X4: r.result = 0; break;   /* MMA, ldmatrix: resolved above */
        case YL_EMU_SHFL_IDX: src = base + (r.arg & (width - 1)); break;
        case YL_EMU_SHFL_UP: src = (int)lane - r.arg >= base ? (int)lane - r.arg : (int)lane; break;
        case YL_EMU_SHFL_DOWN:
            src = (int)lane + r.arg < base + width ? (int)lane + r.arg : (int)lane;
            break;
        case YL_EMU_SHFL_XOR:
            src = (int)(lane ^ (unsigned)r.arg);
            src = src >= base && src < base + width ? src : (int)lane;
            break;
        }
        if (r.op <= YL_EMU_SHFL_XOR) {
            if (src < 0 || src >= 32 || !(waiting & (1u << src))) {
                fail(cudaErrorLaunchFailure,
                     "%s at %s:%d: lane %u of warp %u of %s of %s reads lane %d, which "
                     "%s",
                     op_name(r.op), base_name(r.file), r.line, lane, w, block_name(),
                     run->kernel, src,
                     first + (unsigned)src >= run->nthreads ? "does not exist (partial warp)"
                                                            : "has exited or is elsewhere");
                return -1;
            }
            r.result = run->warp[first + src].value;
        }
    }
    for (unsigned l = first; l < end; l++)
        if (waiting & (1u << (l - first)))
            run->state[l] = T_RUNNABLE;
    return 1;
}

/* All threads not done are at __syncthreads: check that it is a real barrier, release it. */
bool release_barrier()
{
    unsigned done = 0, at = 0, first = max_threads;
    for (unsigned t = 0; t < run->nthreads; t++) {
        if (run->state[t] == T_DONE) {
            done++;
        } else {
            at++;
            if (first == max_threads)
                first = t;
        }
    }
    if (done) {
        fail(cudaErrorLaunchFailure,
             "__syncthreads() at %s:%d reached by %u of %u threads of %s of %s (the other %u "
             "exited without reaching it)",
             base_name(run->barrier_file[first]), run->barrier_line[first], at, run->nthreads,
             block_name(), run->kernel, done);
        return false;
    }
    for (unsigned t = 0; t < run->nthreads; t++) {
        if (run->barrier_line[t] != run->barrier_line[first] ||
            run->barrier_file[t] != run->barrier_file[first]) {
            fail(cudaErrorLaunchFailure,
                 "threads of %s of %s wait at different __syncthreads(): thread %u at %s:%d, "
                 "thread %u at %s:%d",
                 block_name(), run->kernel, first, base_name(run->barrier_file[first]),
                 run->barrier_line[first], t, base_name(run->barrier_file[t]),
                 run->barrier_line[t]);
            return false;
        }
        run->state[t] = T_RUNNABLE;
    }
    return true;
}

const uint64_t smem_canary = 0x5ca1ab1e0ddba11ull;

/* The linker's bounds of the __shared__ variables' section (weak: there may be none). */
extern "C" __attribute__((weak)) char __start_yl_emu_shared[], __stop_yl_emu_shared[];

/* Run the lanes of warp w that can run, in the run order, until each is parked or done. */
bool run_warp(unsigned w, size_t *next_fiber)
{
    unsigned first = w * 32, end = first + 32 < run->nthreads ? first + 32 : run->nthreads;
    for (unsigned i = 0; i < end - first && !run->failed; i++) {
        unsigned t = run->reverse ? end - 1 - i : first + i;
        if (run->state[t] == T_NEW || run->state[t] == T_RUNNABLE) {
            if (!resume(t, next_fiber))
                return false;
        }
    }
    return true;
}

bool run_block()
{
    run->fiber_mode = false;
    run->failed = false;
    if (__start_yl_emu_shared)
        memset(__start_yl_emu_shared, 0xff, __stop_yl_emu_shared - __start_yl_emu_shared);
    if (run->smem_bytes) {
        memset(run->smem, 0xff, run->smem_bytes);
        memcpy(run->smem + run->smem_bytes, &smem_canary, sizeof smem_canary);
    }
    for (copy_queue &q : run->copies)
        q.count = q.committed = 0;
    size_t next_fiber = 0;
    run->state[thread_at(0)] = T_NEW;
    if (!resume(thread_at(0), &next_fiber))
        return false;
    const unsigned warps = (run->nthreads + 31) / 32;
    while (run->fiber_mode && !run->failed) {
        /* Each warp in turn as far as it can go: its collectives complete as soon as its
         * lanes meet, so it runs ahead of the warps after it up to a __syncthreads(), the
         * farthest a GPU may let it; a missing barrier shows as a read of what they have not
         * written yet, or as an overwrite of what they have not read yet. */
        for (unsigned pos = 0; pos < warps && !run->failed; pos++) {
            unsigned w = run->reverse ? warps - 1 - pos : pos;
            int r;
            do {
                if (!run_warp(w, &next_fiber))
                    return false;
                r = run->failed ? 0 : resolve_warp(w);
                if (r < 0)
                    return false;
            } while (r > 0);
        }
        if (run->failed)
            break;
        unsigned done = 0, warp = 0;
        for (unsigned t = 0; t < run->nthreads; t++) {
            done += run->state[t] == T_DONE;
            warp += run->state[t] == T_WARP;
        }
        if (done == run->nthreads)
            break;
        if (warp) {
            for (unsigned t = 0; t < run->nthreads; t++) {
                if (run->state[t] != T_WARP)
                    continue;
                const warp_request &r = run->warp[t];
                fail(cudaErrorLaunchFailure,
                     "%s at %s:%d in thread %u of %s of %s never completes: lanes named in "
                     "its mask 0x%08x did not reach it",
                     op_name(r.op), base_name(r.file), r.line, t, block_name(), run->kernel,
                     r.mask);
                return false;
            }
        }
        if (!release_barrier())
            return false;
    }
    if (run->failed)
        return false;
    for (unsigned t = 0; t < run->copies.size(); t++)
        if (run->copies[t].count)
            return fail(cudaErrorLaunchFailure,
                        "thread %u of %s of %s exited with %u cp.async copies no "
                        "cp.async.wait_group covered",
                        t, block_name(), run->kernel, run->copies[t].count),
                   false;
    if (run->smem_bytes && memcmp(run->smem + run->smem_bytes, &smem_canary,
                                  sizeof smem_canary) != 0)
        return fail(cudaErrorIllegalAddress,
                    "%s wrote past the end of its %zu bytes of dynamic shared memory (%s)",
                    run->kernel, run->smem_bytes, block_name()),
               false;
    return true;
}

/* The launches' order (yl_emu_set_order). */
std::atomic<yl_emu_order> run_order{YL_EMU_ORDER_ENVIRONMENT};

bool reverse_order()
{
    switch (run_order.load()) {
    case YL_EMU_ORDER_FORWARD:
        return false;
    case YL_EMU_ORDER_REVERSE:
        return true;
    default: {
        const char *order = getenv("YL_EMU_ORDER");
        return order && strcmp(order, "reverse") == 0;
    }
    }
}

cudaError_t check_config(const char *kernel, dim3 grid, dim3 block, size_t smem)
{
    unsigned long long threads = (unsigned long long)block.x * block.y * block.z;
    if (!grid.x || !grid.y || !grid.z || !block.x || !block.y || !block.z ||
        grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535 || block.x > 1024 ||
        block.y > 1024 || block.z > 64 || threads > max_threads)
        return fail(cudaErrorInvalidConfiguration,
                    "launch of %s with grid (%u,%u,%u) and block (%u,%u,%u): a block has "
                    "1..1024 threads (x, y <= 1024, z <= 64), a grid y, z <= 65535",
                    kernel, grid.x, grid.y, grid.z, block.x, block.y, block.z);
    if (smem > 48 * 1024)
        return fail(cudaErrorInvalidValue,
                    "launch of %s asks for %zu bytes of dynamic shared memory: more than the "
                    "48 KiB a kernel gets without cudaFuncSetAttribute",
                    kernel, smem);
    return cudaSuccess;
}

} // namespace

/* ---- the device side ------------------------------------------------------------------ */
namespace {
cudaError_t run_launch(const char *kernel, dim3 grid, dim3 block, size_t smem,
                       cudaStream_t stream, yl_emu_body body, void *closure)
{
    if (!run) {     /* every stream is synchronous; the legacy one has a rule */
        cudaError_t e = use_stream(stream, kernel);
        if (e != cudaSuccess)
            return e;
    }
    if (run)
        return fail(cudaErrorLaunchFailure, "%s launched from inside %s (no dynamic "
                    "parallelism)", kernel, run->kernel);
    /* One launch at a time in the process: __shared__ variables have one instance. */
    static std::mutex launch_mutex;
    std::lock_guard<std::mutex> lock(launch_mutex);
    count(replaying_graph ? &yl_emu_counters::graph_kernels : &yl_emu_counters::launches);
    last_error = cudaSuccess;
    error_detail[0] = '\0';
    cudaError_t e = check_config(kernel, grid, block, smem);
    if (e != cudaSuccess)
        return e;
    launch *l = new (std::nothrow) launch;
    unsigned char *s = smem ? (unsigned char *)malloc(smem + sizeof smem_canary) : nullptr;
    if (!l || (smem && !s)) {
        delete l;
        free(s);
        return fail(cudaErrorMemoryAllocation, "emulation: no memory to launch %s", kernel);
    }
    l->kernel = kernel;
    l->body = body;
    l->closure = closure;
    l->grid = grid;
    l->block = block;
    l->nthreads = block.x * block.y * block.z;
    l->smem = s;
    l->smem_bytes = smem;
    l->reverse = reverse_order();
    run = l;
    yl_emu_idx.block_dim = block;
    yl_emu_idx.grid_dim = grid;
    bool ok = true;
    unsigned long long blocks = (unsigned long long)grid.x * grid.y * grid.z;
    for (unsigned long long i = 0; ok && i < blocks; i++) {
        unsigned long long b = l->reverse ? blocks - 1 - i : i;
        yl_emu_idx.block_idx = uint3{(unsigned)(b % grid.x), (unsigned)(b / grid.x % grid.y),
                                     (unsigned)(b / grid.x / grid.y)};
        count(&yl_emu_counters::blocks);
        ok = run_block();
    }
    run = nullptr;
    free(s);
    delete l;
    return ok ? cudaSuccess : last_error;
}
} // namespace

cudaError_t yl_emu_launch(const char *kernel, dim3 grid, dim3 block, size_t smem,
                          cudaStream_t stream, yl_emu_body body, void *closure)
{
    /* A GPU's YL_LAUNCH returns cudaGetLastError(): an error an earlier call left (a failed
     * capture's, say) fails the launch after it, unless the caller cleared it. */
    if (!replaying_graph && last_error != cudaSuccess && !last_error_from_launch) {
        cudaError_t e = last_error;
        last_error = cudaSuccess;
        return e;
    }
    cudaError_t e = run_launch(kernel, grid, block, smem, stream, body, closure);
    last_error_from_launch = e != cudaSuccess;
    return e;
}

void yl_emu_syncthreads(const char *file, int line)
{
    if (!run)
        abort();    /* only reachable from a kernel body */
    run->barrier_file[run->cur] = file;
    run->barrier_line[run->cur] = line;
    park(T_BARRIER);
}

uint64_t yl_emu_warp(yl_emu_warp_op op, unsigned mask, uint64_t value, int arg, int width,
                     const char *file, int line)
{
    unsigned t = run->cur, lane = t % 32;
    if (width < 1 || width > 32 || (width & (width - 1)) || !(mask & (1u << lane))) {
        fail(cudaErrorLaunchFailure,
             "%s at %s:%d in thread %u of %s of %s: %s", op_name(op), base_name(file), line,
             t, block_name(), run->kernel,
             !(mask & (1u << lane)) ? "the calling lane is not in the mask"
                                    : "width is not a power of two in 1..32");
        abort_block();
    }
    run->warp[t] = warp_request{op, mask, value, 0, arg, width, file, line};
    park(T_WARP);
    return run->warp[t].result;
}

void yl_emu_mma_m16n8k16_f16f32(float d[4], const uint32_t a[4], const uint32_t b[2],
                                const float c[4], const char *file, int line)
{
    mma_operands o{d, a, b, c, 1, 1};
    yl_emu_warp(YL_EMU_MMA_M16N8K16, 0xffffffffu, (uint64_t)(uintptr_t)&o, 0, 32, file, line);
}

void yl_emu_mma_grid_m16n8k16_f16f32(float (*d)[4], const uint32_t (*a)[4], int mi,
                                     const uint32_t (*b)[2], int ni, const char *file, int line)
{
    if (mi < 1 || ni < 1 || mi > max_mma_side || ni > max_mma_side) {
        fail(cudaErrorLaunchFailure, "mma grid at %s:%d in thread %u of %s of %s: %d x %d "
             "MMAs (1..%d each way)", base_name(file), line, run->cur, block_name(),
             run->kernel, mi, ni, (int)max_mma_side);
        abort_block();
    }
    mma_operands o{d[0], a[0], b[0], d[0], mi, ni};
    yl_emu_warp(YL_EMU_MMA_M16N8K16, 0xffffffffu, (uint64_t)(uintptr_t)&o, 0, 32, file, line);
}

/* The running thread's pending copies; the launch's queues are made at its first cp.async. */
static copy_queue &thread_copies()
{
    if (run->copies.size() < run->nthreads)
        run->copies.resize(run->nthreads);  /* zeroed: no copies pending */
    return run->copies[run->cur];
}

void yl_emu_cp_async(void *dst, const void *src, int src_bytes, const char *file, int line)
{
    if (src_bytes != 0 && src_bytes != 16) {
        fail(cudaErrorLaunchFailure, "cp.async at %s:%d in thread %u of %s of %s copies %d "
             "source bytes (0 or 16 here)", base_name(file), line, run->cur, block_name(),
             run->kernel, src_bytes);
        abort_block();
    }
    if (((uintptr_t)dst | (src_bytes ? (uintptr_t)src : 0)) & 15) {
        fail(cudaErrorMisalignedAddress, "cp.async at %s:%d in thread %u of %s of %s: "
             "%p <- %p is not 16-byte aligned", base_name(file), line, run->cur, block_name(),
             run->kernel, dst, src);
        abort_block();
    }
    copy_queue &q = thread_copies();
    if (q.count == max_pending_copies) {
        fail(cudaErrorLaunchFailure, "cp.async at %s:%d in thread %u of %s of %s: more than "
             "%u copies in flight (the emulation's limit)", base_name(file), line, run->cur,
             block_name(), run->kernel, max_pending_copies);
        abort_block();
    }
    pending_copy &c = q.copy[q.count++];
    c.dst = (unsigned char *)dst;
    c.group = q.committed;
    if (src_bytes)
        memcpy(c.data, src, sizeof c.data);
    else
        memset(c.data, 0, sizeof c.data);
}

void yl_emu_cp_async_commit(void)
{
    thread_copies().committed++;
}

void yl_emu_cp_async_wait(int pending_groups)
{
    copy_queue &q = thread_copies();
    /* Groups before committed - pending_groups complete; copies never committed stay. */
    long done_below = (long)q.committed - pending_groups;
    unsigned kept = 0;
    for (unsigned i = 0; i < q.count; i++) {
        pending_copy &c = q.copy[i];
        if ((long)c.group < done_below)
            memcpy(c.dst, c.data, sizeof c.data);
        else
            q.copy[kept++] = c;
    }
    q.count = kept;
}

void yl_emu_ldmatrix_x4_grid(uint32_t (*r)[4], const void *const *rows, int count,
                             const char *file, int line)
{
    if (count < 1 || count > max_ldmatrix_loads) {
        fail(cudaErrorLaunchFailure, "ldmatrix grid at %s:%d in thread %u of %s of %s: %d "
             "loads (1..%d)", base_name(file), line, run->cur, block_name(), run->kernel,
             count, (int)max_ldmatrix_loads);
        abort_block();
    }
    ldmatrix_operands o{rows, r, count};
    yl_emu_warp(YL_EMU_LDMATRIX_X4, 0xffffffffu, (uint64_t)(uintptr_t)&o, 0, 32, file, line);
}

void *yl_emu_dynamic_smem(size_t bytes, const char *file, int line)
{
    if (bytes > run->smem_bytes) {
        fail(cudaErrorIllegalAddress,
             "%s at %s:%d uses %zu bytes of dynamic shared memory; the launch gave %zu",
             run->kernel, base_name(file), line, bytes, run->smem_bytes);
        abort_block();
    }
    return run->smem;
}

yl_emu_half yl_emu_float2half_rn(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)   /* inf, NaN (kept quiet) */
        return {(uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0))};
    if (ax >= 0x477ff000u)   /* rounds to >= 65520: overflow */
        return {(uint16_t)(sign | 0x7c00u)};
    if (ax < 0x38800000u) {  /* below the smallest normal half: subnormal or zero */
        float a;
        memcpy(&a, &ax, sizeof a);
        /* Scaling by 2^24 makes the subnormal step 1; rint rounds to nearest even. */
        return {(uint16_t)(sign | (uint32_t)std::nearbyint(a * 16777216.0f))};
    }
    uint32_t mant = ax & 0x7fffffu, exp = (ax >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13), rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1)))
        h++;    /* may carry into the exponent, which is right */
    return {(uint16_t)(sign | h)};
}

float yl_emu_half2float(yl_emu_half h)
{
    uint32_t sign = (uint32_t)(h.bits & 0x8000u) << 16, exp = (h.bits >> 10) & 0x1fu,
             mant = h.bits & 0x3ffu, x;
    if (exp == 0x1f) {
        x = sign | 0x7f800000u | (mant << 13);
    } else if (exp == 0) {
        float f = (float)mant * (1.0f / 16777216.0f);
        return sign ? -f : f;
    } else {
        x = sign | ((exp + 112) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

/* Streams are tokens, but for what a capture records; events hold the time they were
 * recorded; a graph is the recorded operations, replayed in order. */
struct CUstream_st {
    std::vector<std::function<cudaError_t()>> *capture; /* non-NULL while captured */
    bool capture_invalidated;
    bool non_blocking;      /* cudaStreamNonBlocking: no implicit sync with the legacy stream */
};
struct CUgraph_st {
    std::vector<std::function<cudaError_t()>> ops;
};
struct CUgraphExec_st {
    std::vector<std::function<cudaError_t()>> ops;
};
struct CUevent_st {
    std::chrono::steady_clock::time_point at;
    bool recorded;
};

/* ---- stream capture ------------------------------------------------------------------- */
namespace {
thread_local cudaStream_t capturing_stream = nullptr;

/* A synchronous call while this thread captures: refused, and the capture is invalidated. */
cudaError_t refuse_during_capture(const char *call)
{
    capturing_stream->capture_invalidated = true;
    return fail(cudaErrorStreamCaptureUnsupported, "%s while a stream is being captured (it "
                "would not be part of the graph, and would synchronise)", call);
}

/* The blocking streams being captured, by any thread. The legacy default stream
 * synchronises implicitly with every blocking stream, so CUDA refuses any use of it while
 * one is captured, and that capture is invalidated: a library that used it would break the
 * captures of its caller's (or its own other sessions') threads. */
std::mutex captures_mutex;
std::vector<cudaStream_t> blocking_captures;

void end_blocking_capture(cudaStream_t stream)
{
    std::lock_guard<std::mutex> lock(captures_mutex);
    blocking_captures.erase(std::remove(blocking_captures.begin(), blocking_captures.end(),
                                        stream),
                            blocking_captures.end());
}

/* Work on, or a synchronisation of, the legacy default stream (replays excepted: a graph's
 * operations carry no stream here): counted, and refused while a blocking stream of any
 * thread is captured. */
cudaError_t use_legacy_stream(const char *call)
{
    if (replaying_graph)
        return cudaSuccess;
    count(&yl_emu_counters::legacy_stream_uses);
    std::lock_guard<std::mutex> lock(captures_mutex);
    if (blocking_captures.empty())
        return cudaSuccess;
    for (cudaStream_t s : blocking_captures)
        s->capture_invalidated = true;
    return fail(cudaErrorStreamCaptureImplicit, "%s uses the legacy default stream while a "
                "blocking stream is being captured (a stream not created with "
                "cudaStreamNonBlocking)", call);
}

/* An operation on `stream`: use_legacy_stream's rule when it is the legacy one (NULL). */
cudaError_t use_stream(cudaStream_t stream, const char *call)
{
    return stream ? cudaSuccess : use_legacy_stream(call);
}
} // namespace

bool yl_emu_capturing(cudaStream_t stream)
{
    return stream && stream->capture;
}

namespace {
/* yl_emu_set_refuse_capture: -1 from the environment (YL_EMU_REFUSE_CAPTURE=1), 0 no, 1 yes. */
std::atomic<int> capture_refusal{-1};

bool refusing_captures()
{
    int refuse = capture_refusal.load();
    if (refuse >= 0)
        return refuse;
    const char *env = getenv("YL_EMU_REFUSE_CAPTURE");
    return env && strcmp(env, "1") == 0;
}
} // namespace

cudaError_t yl_emu_capture(cudaStream_t stream, std::function<cudaError_t()> op)
{
    if (refusing_captures()) {
        stream->capture_invalidated = true;
        return fail(cudaErrorStreamCaptureUnsupported, "an operation on a stream being captured "
                    "is refused (YL_EMU_REFUSE_CAPTURE), as a GPU refuses one that cannot be "
                    "captured in this capture mode");
    }
    stream->capture->push_back(std::move(op));
    return cudaSuccess;
}

/* ---- the runtime API ------------------------------------------------------------------ */
extern "C" {

cudaError_t cudaMalloc(void **ptr, size_t size)
{
    if (capturing_stream)
        return refuse_during_capture("cudaMalloc");
    if (!ptr)
        return fail(cudaErrorInvalidValue, "cudaMalloc: ptr is NULL");
    *ptr = nullptr;
    if (size == 0)
        return cudaSuccess;
    /* The runtime aligns to 256 bytes; so does this, so alignment bugs show here too. */
    void *p = injected_failure() ? nullptr : aligned_alloc(256, (size + 255) & ~(size_t)255);
    if (!p)
        return fail(cudaErrorMemoryAllocation, "cudaMalloc: %zu bytes", size);
    /* cudaMalloc does not clear; fresh host pages would read as zeros and hide a read of
     * what nothing wrote, so it reads as NaN floats and -1 integers instead. */
    memset(p, 0xff, size);
    {
        std::lock_guard<std::mutex> lock(allocations_mutex);
        allocations[(uintptr_t)p] = size;
    }
    count(&yl_emu_counters::allocations);
    count(&yl_emu_counters::live_allocations);
    count(&yl_emu_counters::live_bytes, size);
    *ptr = p;
    return cudaSuccess;
}

cudaError_t cudaFree(void *ptr)
{
    if (capturing_stream)
        return refuse_during_capture("cudaFree");
    if (!ptr)
        return cudaSuccess;
    size_t size;
    {
        std::lock_guard<std::mutex> lock(allocations_mutex);
        auto it = allocations.find((uintptr_t)ptr);
        if (it == allocations.end())
            return fail(cudaErrorInvalidDevicePointer,
                        "cudaFree(%p): not a pointer returned by cudaMalloc", ptr);
        size = it->second;
        allocations.erase(it);
    }
    free(ptr);
    count(&yl_emu_counters::frees);
    count(&yl_emu_counters::live_allocations, -1L);
    {
        std::lock_guard<std::mutex> lock(counters_mutex);
        counters.live_bytes -= size;
    }
    return cudaSuccess;
}

cudaError_t cudaMallocHost(void **ptr, size_t size)
{
    if (capturing_stream)
        return refuse_during_capture("cudaMallocHost");
    if (!ptr)
        return fail(cudaErrorInvalidValue, "cudaMallocHost: ptr is NULL");
    *ptr = nullptr;
    void *p = injected_failure() ? nullptr : malloc(size ? size : 1);
    if (!p)
        return fail(cudaErrorMemoryAllocation, "cudaMallocHost: %zu bytes", size);
    memset(p, 0xff, size);  /* as cudaMalloc's */
    {
        std::lock_guard<std::mutex> lock(allocations_mutex);
        pinned.insert((uintptr_t)p);
    }
    count(&yl_emu_counters::pinned_allocations);
    *ptr = p;
    return cudaSuccess;
}

cudaError_t cudaFreeHost(void *ptr)
{
    if (capturing_stream)
        return refuse_during_capture("cudaFreeHost");
    if (!ptr)
        return cudaSuccess;
    {
        std::lock_guard<std::mutex> lock(allocations_mutex);
        if (!pinned.erase((uintptr_t)ptr))
            return fail(cudaErrorInvalidValue,
                        "cudaFreeHost(%p): not a pointer returned by cudaMallocHost", ptr);
    }
    free(ptr);
    count(&yl_emu_counters::pinned_frees);
    return cudaSuccess;
}

namespace {
cudaError_t copy_bytes(void *dst, const void *src, size_t n, cudaMemcpyKind kind)
{
    if (n == 0)
        return cudaSuccess;
    if (!dst || !src)
        return fail(cudaErrorInvalidValue, "cudaMemcpy of %zu bytes with a NULL pointer", n);
    bool dst_dev = is_device(dst, n), src_dev = is_device(src, n);
    static const char *const kinds[] = {"HostToHost", "HostToDevice", "DeviceToHost",
                                        "DeviceToDevice", "Default"};
    bool want_dst = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    bool want_src = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if ((unsigned)kind > cudaMemcpyDefault)
        return fail(cudaErrorInvalidMemcpyDirection, "cudaMemcpy: kind %d", (int)kind);
    if (kind != cudaMemcpyDefault && (dst_dev != want_dst || src_dev != want_src))
        return fail(cudaErrorInvalidValue,
                    "cudaMemcpy%s of %zu bytes: destination is %s memory, source is %s "
                    "memory (or a range past the end of an allocation)",
                    kinds[kind], n, dst_dev ? "device" : "host", src_dev ? "device" : "host");
    memmove(dst, src, n);
    if (dst_dev && src_dev) {
        count(&yl_emu_counters::d2d_copies);
    } else if (dst_dev) {
        count(&yl_emu_counters::h2d_copies);
        count(&yl_emu_counters::h2d_bytes, n);
    } else if (src_dev) {
        count(&yl_emu_counters::d2h_copies);
        count(&yl_emu_counters::d2h_bytes, n);
    }
    return cudaSuccess;
}

cudaError_t set_bytes(void *ptr, int value, size_t n)
{
    if (n && !is_device(ptr, n))
        return fail(cudaErrorInvalidValue, "cudaMemset of %zu bytes at %p: not device memory",
                    n, ptr);
    memset(ptr, value, n);
    count(&yl_emu_counters::memsets);
    return cudaSuccess;
}
} // namespace

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, cudaMemcpyKind kind)
{
    if (capturing_stream)
        return refuse_during_capture("cudaMemcpy");
    cudaError_t e = use_legacy_stream("cudaMemcpy");
    return e != cudaSuccess ? e : copy_bytes(dst, src, n, kind);
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind,
                            cudaStream_t stream)
{
    if (yl_emu_capturing(stream))
        return yl_emu_capture(stream, [=] { return copy_bytes(dst, src, n, kind); });
    cudaError_t e = use_stream(stream, "cudaMemcpyAsync");
    return e != cudaSuccess ? e : copy_bytes(dst, src, n, kind);
}

cudaError_t cudaMemset(void *ptr, int value, size_t n)
{
    if (capturing_stream)
        return refuse_during_capture("cudaMemset");
    cudaError_t e = use_legacy_stream("cudaMemset");
    return e != cudaSuccess ? e : set_bytes(ptr, value, n);
}

cudaError_t cudaMemsetAsync(void *ptr, int value, size_t n, cudaStream_t stream)
{
    if (yl_emu_capturing(stream))
        return yl_emu_capture(stream, [=] { return set_bytes(ptr, value, n); });
    cudaError_t e = use_stream(stream, "cudaMemsetAsync");
    return e != cudaSuccess ? e : set_bytes(ptr, value, n);
}

cudaError_t cudaPointerGetAttributes(cudaPointerAttributes *attributes, const void *ptr)
{
    if (!attributes)
        return fail(cudaErrorInvalidValue, "cudaPointerGetAttributes: attributes is NULL");
    bool pinned_host;
    {
        std::lock_guard<std::mutex> lock(allocations_mutex);
        pinned_host = pinned.count((uintptr_t)ptr) != 0;
    }
    const bool device = is_device(ptr, 1);
    attributes->type = device        ? cudaMemoryTypeDevice
                       : pinned_host ? cudaMemoryTypeHost
                                     : cudaMemoryTypeUnregistered;
    attributes->device = device || pinned_host ? 0 : -2;
    attributes->devicePointer = device ? (void *)ptr : nullptr;
    attributes->hostPointer = device ? nullptr : (void *)ptr;
    return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
    return device == 0 ? cudaSuccess
                       : fail(cudaErrorInvalidDevice, "cudaSetDevice(%d): the emulation has one "
                              "device, 0", device);
}

cudaError_t cudaGetDevice(int *device)
{
    if (!device)
        return fail(cudaErrorInvalidValue, "cudaGetDevice: a NULL device");
    *device = 0;
    return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned int flags)
{
    if (!stream || (flags & ~(unsigned)cudaStreamNonBlocking))
        return fail(cudaErrorInvalidValue, "cudaStreamCreateWithFlags: NULL or flags %#x",
                    flags);
    *stream = new (std::nothrow) CUstream_st();
    if (!*stream)
        return fail(cudaErrorMemoryAllocation, "cudaStreamCreateWithFlags");
    (*stream)->non_blocking = flags & cudaStreamNonBlocking;
    if (!(*stream)->non_blocking)
        count(&yl_emu_counters::blocking_streams);
    return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t *stream)
{
    return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
    if (stream && stream->capture) {
        if (capturing_stream == stream)
            capturing_stream = nullptr;
        end_blocking_capture(stream);
        delete stream->capture;
    }
    delete stream;
    return cudaSuccess;
}

cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t fn, void *user_data)
{
    if (!fn)
        return fail(cudaErrorInvalidValue, "cudaLaunchHostFunc: NULL function");
    if (yl_emu_capturing(stream))
        return yl_emu_capture(stream, [=] {
            fn(user_data);
            return cudaSuccess;
        });
    cudaError_t e = use_stream(stream, "cudaLaunchHostFunc");
    if (e != cudaSuccess)
        return e;
    fn(user_data);
    return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode)
{
    (void)mode; /* every mode refuses what the thread-local one refuses */
    if (!stream)
        return fail(cudaErrorStreamCaptureUnsupported, "cudaStreamBeginCapture: the legacy "
                    "default stream cannot be captured");
    if (stream->capture || capturing_stream)
        return fail(cudaErrorIllegalState, "cudaStreamBeginCapture: a capture is already under "
                    "way on this %s", stream->capture ? "stream" : "thread");
    stream->capture = new (std::nothrow) std::vector<std::function<cudaError_t()>>();
    if (!stream->capture)
        return fail(cudaErrorMemoryAllocation, "cudaStreamBeginCapture");
    stream->capture_invalidated = false;
    capturing_stream = stream;
    count(&yl_emu_counters::captures);
    if (!stream->non_blocking) {
        std::lock_guard<std::mutex> lock(captures_mutex);
        blocking_captures.push_back(stream);
    }
    return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus *status)
{
    if (!status)
        return fail(cudaErrorInvalidValue, "cudaStreamIsCapturing: a NULL status");
    *status = !yl_emu_capturing(stream)       ? cudaStreamCaptureStatusNone
              : stream->capture_invalidated ? cudaStreamCaptureStatusInvalidated
                                            : cudaStreamCaptureStatusActive;
    return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph)
{
    if (!stream || !stream->capture || !graph)
        return fail(cudaErrorIllegalState, "cudaStreamEndCapture: the stream is not captured");
    auto *ops = stream->capture;
    stream->capture = nullptr;
    capturing_stream = nullptr;
    end_blocking_capture(stream);
    *graph = nullptr;
    if (stream->capture_invalidated) {
        delete ops;
        return fail(cudaErrorStreamCaptureInvalidated, "cudaStreamEndCapture: the capture was "
                    "invalidated by a call it does not allow");
    }
    *graph = new (std::nothrow) CUgraph_st{std::move(*ops)};
    delete ops;
    return *graph ? cudaSuccess : fail(cudaErrorMemoryAllocation, "cudaStreamEndCapture");
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph,
                                 unsigned long long flags)
{
    if (!exec || !graph || flags)
        return fail(cudaErrorInvalidValue, "cudaGraphInstantiate: NULL argument or flags");
    *exec = new (std::nothrow) CUgraphExec_st{graph->ops};
    return *exec ? cudaSuccess : fail(cudaErrorMemoryAllocation, "cudaGraphInstantiate");
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream)
{
    if (!exec)
        return fail(cudaErrorInvalidValue, "cudaGraphLaunch: NULL graph");
    if (yl_emu_capturing(stream))
        return fail(cudaErrorStreamCaptureUnsupported, "cudaGraphLaunch into a captured "
                    "stream is not emulated");
    count(&yl_emu_counters::graph_launches);
    replaying_graph = true;
    cudaError_t e = cudaSuccess;
    for (auto &op : exec->ops)
        if ((e = op()) != cudaSuccess)
            break;
    replaying_graph = false;
    return e;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph)
{
    delete graph;
    return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec)
{
    delete exec;
    return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
    if (capturing_stream)
        return refuse_during_capture("cudaStreamSynchronize");
    cudaError_t e = use_stream(stream, "cudaStreamSynchronize");
    if (e != cudaSuccess)
        return e;
    count(&yl_emu_counters::synchronizations);
    return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void)
{
    if (capturing_stream)
        return refuse_during_capture("cudaDeviceSynchronize");
    cudaError_t e = use_legacy_stream("cudaDeviceSynchronize"); /* it waits for every stream */
    if (e != cudaSuccess)
        return e;
    count(&yl_emu_counters::synchronizations);
    return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t *event)
{
    if (!event)
        return fail(cudaErrorInvalidValue, "cudaEventCreate: NULL");
    *event = new (std::nothrow) CUevent_st();
    return *event ? cudaSuccess : fail(cudaErrorMemoryAllocation, "cudaEventCreate");
}

cudaError_t cudaEventDestroy(cudaEvent_t event)
{
    delete event;
    return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream)
{
    if (!event)
        return fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: NULL event");
    if (yl_emu_capturing(stream))
        return yl_emu_capture(stream, [=] { return cudaEventRecord(event, nullptr); });
    cudaError_t e = use_stream(stream, "cudaEventRecord");
    if (e != cudaSuccess)
        return e;
    event->at = std::chrono::steady_clock::now();
    event->recorded = true;
    return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event)
{
    if (!event)
        return fail(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: NULL event");
    count(&yl_emu_counters::synchronizations);
    return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end)
{
    if (!ms || !start || !end || !start->recorded || !end->recorded)
        return fail(cudaErrorInvalidResourceHandle,
                    "cudaEventElapsedTime: an event is NULL or was never recorded");
    *ms = std::chrono::duration<float, std::milli>(end->at - start->at).count();
    return cudaSuccess;
}

cudaError_t cudaGetLastError(void)
{
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    return e;
}

cudaError_t cudaPeekAtLastError(void) { return last_error; }

const char *cudaGetErrorName(cudaError_t error)
{
    switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorMisalignedAddress: return "cudaErrorMisalignedAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported: return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated: return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureImplicit: return "cudaErrorStreamCaptureImplicit";
    case cudaErrorIllegalState: return "cudaErrorIllegalState";
    }
    return "cudaErrorUnknown";
}

const char *cudaGetErrorString(cudaError_t error)
{
    switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorMisalignedAddress: return "misaligned address";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is "
                                                   "capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error "
                                                   "during capture";
    case cudaErrorStreamCaptureImplicit: return "operation would make the legacy stream "
                                                "depend on a capturing blocking stream";
    case cudaErrorIllegalState: return "the operation is not permitted in the current state";
    }
    return "unknown error";
}

const char *yl_emu_error_detail(void) { return error_detail; }

void yl_emu_counters_get(yl_emu_counters *out)
{
    std::lock_guard<std::mutex> lock(counters_mutex);
    *out = counters;
}

void yl_emu_fail_allocation(long after)
{
    allocations_before_failure.store(after < 0 ? -1 : after);
}

yl_emu_order yl_emu_set_order(yl_emu_order order)
{
    return run_order.exchange(order);
}

int yl_emu_set_refuse_capture(int refuse)
{
    return capture_refusal.exchange(refuse < 0 ? -1 : refuse != 0);
}

float yl_emu_round_to_half(float f)
{
    return yl_emu_half2float(yl_emu_float2half_rn(f));
}

void yl_emu_counters_reset(void)
{
    std::lock_guard<std::mutex> lock(counters_mutex);
    long live = counters.live_allocations;
    size_t live_bytes = counters.live_bytes;
    counters = yl_emu_counters();
    counters.live_allocations = live;
    counters.live_bytes = live_bytes;
}

} // extern "C"
