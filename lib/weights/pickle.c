/* The restricted pickle machine for .pth files. It interprets only the opcodes and globals
 * that a PyTorch state_dict pickle uses, building inert values; no global is ever imported
 * or called, and anything else is refused with YOLACT_ERR_UNSAFE_PICKLE naming it. */
#include "weights/weights_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

/* Limits far above what any state_dict needs (a few stack entries and marks, one memo
 * entry per object) and far below what would exhaust memory. */
enum {
    MAX_STACK = 1 << 20,
    MAX_MARKS = 64,
    MAX_DEPTH = 32,
    MAX_MEMO = 1 << 22,
    MAX_VALUES = 1 << 22,
    MAX_GLOBAL_LINE = 256,
    MAX_BIGINT_BYTES = 16
};

typedef enum pk_kind {
    PK_NONE, PK_BOOL, PK_INT, PK_BIGINT, PK_FLOAT, PK_STR, PK_TUPLE, PK_LIST, PK_DICT,
    PK_GLOBAL, PK_STORAGE, PK_TENSOR
} pk_kind;

static const char *const kind_names[] = {
    "None", "bool", "int", "int", "float", "str", "tuple", "list", "dict",
    "global", "storage", "tensor"
};

typedef enum pk_callable {
    CALL_ORDERED_DICT, CALL_REBUILD_TENSOR_V2, CALL_REBUILD_TENSOR, NOT_CALLABLE
} pk_callable;

/* Every global a state_dict pickle may name. Storage types are never called: they only
 * appear inside persistent ids, giving the storage's dtype (dtype means nothing for the
 * callables). */
static const struct allowed_global {
    const char *module, *name;
    pk_callable call;
    yl_dtype dtype;
} allowed_globals[] = {
    {"collections", "OrderedDict", CALL_ORDERED_DICT, YL_DTYPE_F32},
    {"torch._utils", "_rebuild_tensor_v2", CALL_REBUILD_TENSOR_V2, YL_DTYPE_F32},
    {"torch._utils", "_rebuild_tensor", CALL_REBUILD_TENSOR, YL_DTYPE_F32},
    {"torch", "FloatStorage", NOT_CALLABLE, YL_DTYPE_F32},
    {"torch", "HalfStorage", NOT_CALLABLE, YL_DTYPE_F16},
    {"torch", "BFloat16Storage", NOT_CALLABLE, YL_DTYPE_BF16},
    {"torch", "DoubleStorage", NOT_CALLABLE, YL_DTYPE_F64},
    {"torch", "LongStorage", NOT_CALLABLE, YL_DTYPE_I64},
    {"torch", "IntStorage", NOT_CALLABLE, YL_DTYPE_I32},
    {"torch", "ShortStorage", NOT_CALLABLE, YL_DTYPE_I16},
    {"torch", "CharStorage", NOT_CALLABLE, YL_DTYPE_I8},
    {"torch", "ByteStorage", NOT_CALLABLE, YL_DTYPE_U8},
    {"torch", "BoolStorage", NOT_CALLABLE, YL_DTYPE_BOOL},
};

const char *yl_pth_storage_type(yl_dtype dtype)
{
    for (size_t i = 0; i < sizeof allowed_globals / sizeof allowed_globals[0]; i++)
        if (allowed_globals[i].call == NOT_CALLABLE && allowed_globals[i].dtype == dtype)
            return allowed_globals[i].name;
    return NULL;
}

typedef struct pk_value pk_value;

typedef struct pk_tensor {
    pk_value *storage;
    int64_t offset;
    int ndim;
    int64_t shape[YL_MAX_DIMS];
    int64_t stride[YL_MAX_DIMS];
} pk_tensor;

struct pk_value {
    pk_kind kind;
    int depth;                                   /* container nesting, 0 for scalars */
    union {
        int64_t i;                               /* INT, BOOL */
        double f;
        struct { const uint8_t *p; size_t n; } s;   /* STR, BIGINT (borrowed bytes) */
        struct { pk_value **v; size_t n, cap; } seq; /* TUPLE, LIST; DICT as k,v,k,v... */
        const struct allowed_global *g;
        struct {
            const uint8_t *key;
            size_t key_len;
            yl_dtype dtype;
            int64_t numel;
        } st;
        pk_tensor *t;
    } u;
};

/* Values are never freed one by one (the memo shares them freely); they live in blocks
 * released with the machine. */
typedef struct pk_block {
    struct pk_block *next;
    size_t used;
    pk_value v[512];
} pk_block;

typedef struct pk_machine {
    const uint8_t *data;
    size_t size, pos;
    const char *what;
    size_t op_pos;                               /* offset of the opcode being run */
    uint8_t op;
    pk_value **stack;
    size_t sp, stack_cap;
    size_t marks[MAX_MARKS];
    int nmarks;
    pk_value **memo;                             /* NULL entries are undefined */
    size_t memo_cap, memo_defined;
    pk_block *blocks;
    size_t nvalues;
} pk_machine;

/* ---- opcode names, for messages ------------------------------------------------------ */

static const char *opcode_name(uint8_t op)
{
    switch (op) {
    case '(': return "MARK";          case '.': return "STOP";
    case '0': return "POP";           case '1': return "POP_MARK";
    case '2': return "DUP";           case 'F': return "FLOAT";
    case 'I': return "INT";           case 'J': return "BININT";
    case 'K': return "BININT1";       case 'L': return "LONG";
    case 'M': return "BININT2";       case 'N': return "NONE";
    case 'P': return "PERSID";        case 'Q': return "BINPERSID";
    case 'R': return "REDUCE";        case 'S': return "STRING";
    case 'T': return "BINSTRING";     case 'U': return "SHORT_BINSTRING";
    case 'V': return "UNICODE";       case 'X': return "BINUNICODE";
    case 'a': return "APPEND";        case 'b': return "BUILD";
    case 'c': return "GLOBAL";        case 'd': return "DICT";
    case '}': return "EMPTY_DICT";    case 'e': return "APPENDS";
    case 'g': return "GET";           case 'h': return "BINGET";
    case 'i': return "INST";          case 'j': return "LONG_BINGET";
    case 'l': return "LIST";          case ']': return "EMPTY_LIST";
    case 'o': return "OBJ";           case 'p': return "PUT";
    case 'q': return "BINPUT";        case 'r': return "LONG_BINPUT";
    case 's': return "SETITEM";       case 't': return "TUPLE";
    case ')': return "EMPTY_TUPLE";   case 'u': return "SETITEMS";
    case 'G': return "BINFLOAT";      case 0x80: return "PROTO";
    case 0x81: return "NEWOBJ";       case 0x82: return "EXT1";
    case 0x83: return "EXT2";         case 0x84: return "EXT4";
    case 0x85: return "TUPLE1";       case 0x86: return "TUPLE2";
    case 0x87: return "TUPLE3";       case 0x88: return "NEWTRUE";
    case 0x89: return "NEWFALSE";     case 0x8a: return "LONG1";
    case 0x8b: return "LONG4";        case 'B': return "BINBYTES";
    case 'C': return "SHORT_BINBYTES"; case 0x8c: return "SHORT_BINUNICODE";
    case 0x8d: return "BINUNICODE8";  case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET";    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";    case 0x92: return "NEWOBJ_EX";
    case 0x93: return "STACK_GLOBAL"; case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME";        case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";  case 0x98: return "READONLY_BUFFER";
    }
    return "not a pickle opcode";
}

/* ---- errors ---------------------------------------------------------------------------- */

/* Refuse the current opcode: "x.pth: data.pkl: refused opcode 0x68 (BINGET) at offset 9: ..." */
static yolact_status refuse(pk_machine *m, const char *fmt, ...) YL_PRINTF(2, 3);
static yolact_status refuse(pk_machine *m, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return yl_fail(YOLACT_ERR_UNSAFE_PICKLE, "%s: refused opcode 0x%02x (%s) at offset %zu: %s",
                   m->what, m->op, opcode_name(m->op), m->op_pos, detail);
}

static yolact_status malformed(pk_machine *m, const char *fmt, ...) YL_PRINTF(2, 3);
static yolact_status malformed(pk_machine *m, const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return yl_fail(YOLACT_ERR_FORMAT, "%s: %s (opcode %s at offset %zu)", m->what, detail,
                   opcode_name(m->op), m->op_pos);
}

/* Printable copy of pickle text for a message. */
static void printable(char *out, size_t cap, const uint8_t *p, size_t n)
{
    size_t k = 0, i = 0;
    for (; i < n && k + 4 < cap; i++)
        out[k++] = (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'') ? (char)p[i] : '?';
    if (i < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

/* ---- values -------------------------------------------------------------------------- */

static yolact_status new_value(pk_machine *m, pk_kind kind, pk_value **out)
{
    *out = NULL;
    if (m->nvalues >= MAX_VALUES)
        return refuse(m, "more than %d objects", MAX_VALUES);
    if (!m->blocks || m->blocks->used == sizeof m->blocks->v / sizeof m->blocks->v[0]) {
        pk_block *b = malloc(sizeof *b);
        if (!b)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for pickle objects", m->what);
        b->next = m->blocks;
        b->used = 0;
        m->blocks = b;
    }
    pk_value *v = &m->blocks->v[m->blocks->used++];
    memset(v, 0, sizeof *v);
    v->kind = kind;
    m->nvalues++;
    *out = v;
    return YOLACT_OK;
}

/* Append an item to a tuple/list/dict under construction, tracking its nesting depth. */
static yolact_status seq_append(pk_machine *m, pk_value *c, pk_value *item)
{
    if (item->depth + 1 > c->depth) {
        if (item->depth + 1 > MAX_DEPTH)
            return refuse(m, "objects nested deeper than %d", MAX_DEPTH);
        c->depth = item->depth + 1;
    }
    if (c->u.seq.n == c->u.seq.cap) {
        size_t cap = c->u.seq.cap ? 2 * c->u.seq.cap : 4;
        pk_value **v = realloc(c->u.seq.v, cap * sizeof *v);
        if (!v)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for pickle objects", m->what);
        c->u.seq.v = v;
        c->u.seq.cap = cap;
    }
    c->u.seq.v[c->u.seq.n++] = item;
    return YOLACT_OK;
}

static yolact_status new_container(pk_machine *m, pk_kind kind, pk_value **out)
{
    YL_TRY(new_value(m, kind, out));
    (*out)->depth = 1;
    return YOLACT_OK;
}

static void machine_free(pk_machine *m)
{
    while (m->blocks) {
        pk_block *b = m->blocks;
        for (size_t i = 0; i < b->used; i++) {
            pk_value *v = &b->v[i];
            if (v->kind == PK_TUPLE || v->kind == PK_LIST || v->kind == PK_DICT)
                free(v->u.seq.v);
            else if (v->kind == PK_TENSOR)
                free(v->u.t);
        }
        m->blocks = b->next;
        free(b);
    }
    free(m->stack);
    free(m->memo);
    memset(m, 0, sizeof *m);
}

/* ---- the stack ------------------------------------------------------------------------- */

static size_t stack_base(const pk_machine *m) { return m->nmarks ? m->marks[m->nmarks - 1] : 0; }

static yolact_status push(pk_machine *m, pk_value *v)
{
    if (m->sp == m->stack_cap) {
        if (m->stack_cap >= MAX_STACK)
            return refuse(m, "stack deeper than %d", MAX_STACK);
        size_t cap = m->stack_cap ? 2 * m->stack_cap : 64;
        pk_value **s = realloc(m->stack, cap * sizeof *s);
        if (!s)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for the pickle stack", m->what);
        m->stack = s;
        m->stack_cap = cap;
    }
    m->stack[m->sp++] = v;
    return YOLACT_OK;
}

static yolact_status pop(pk_machine *m, pk_value **v)
{
    *v = NULL;
    if (m->sp <= stack_base(m))
        return refuse(m, "stack underflow");
    *v = m->stack[--m->sp];
    return YOLACT_OK;
}

static yolact_status top(pk_machine *m, pk_value **v)
{
    *v = NULL;
    if (m->sp <= stack_base(m))
        return refuse(m, "stack underflow");
    *v = m->stack[m->sp - 1];
    return YOLACT_OK;
}

/* Close the innermost MARK: *base is where its items start on the stack. */
static yolact_status pop_mark(pk_machine *m, size_t *base)
{
    *base = 0;
    if (m->nmarks == 0)
        return refuse(m, "no MARK to close");
    *base = m->marks[--m->nmarks];
    return YOLACT_OK;
}

/* ---- reading operands -------------------------------------------------------------- */

static yolact_status take(pk_machine *m, size_t n, const uint8_t **p)
{
    *p = m->data + m->pos;
    if (n > m->size - m->pos)
        return malformed(m, "pickle truncated");
    m->pos += n;
    return YOLACT_OK;
}

/* A length declared by the pickle, checked against what is left before anything is made. */
static yolact_status take_declared(pk_machine *m, uint64_t n, const uint8_t **p)
{
    *p = m->data + m->pos;
    if (n > m->size - m->pos)
        return refuse(m, "declares %llu bytes, only %zu remain", (unsigned long long)n,
                      m->size - m->pos);
    m->pos += (size_t)n;
    return YOLACT_OK;
}

static yolact_status take_line(pk_machine *m, const uint8_t **p, size_t *n)
{
    *p = m->data + m->pos;
    *n = 0;
    size_t left = m->size - m->pos, lim = left < MAX_GLOBAL_LINE ? left : MAX_GLOBAL_LINE;
    const uint8_t *nl = memchr(m->data + m->pos, '\n', lim);
    if (!nl)
        return refuse(m, "no newline within %d bytes", MAX_GLOBAL_LINE);
    *n = (size_t)(nl - *p);
    m->pos += *n + 1;
    return YOLACT_OK;
}

/* ---- opcodes ----------------------------------------------------------------------- */

static yolact_status push_int(pk_machine *m, int64_t i, pk_kind kind)
{
    pk_value *v;
    YL_TRY(new_value(m, kind, &v));
    v->u.i = i;
    return push(m, v);
}

static yolact_status push_str(pk_machine *m, uint64_t n)
{
    const uint8_t *p;
    pk_value *v;
    YL_TRY(take_declared(m, n, &p));
    YL_TRY(new_value(m, PK_STR, &v));
    v->u.s.p = p;
    v->u.s.n = (size_t)n;
    return push(m, v);
}

static yolact_status push_global(pk_machine *m, const uint8_t *mod, size_t mod_n,
                                 const uint8_t *name, size_t name_n)
{
    for (size_t i = 0; i < sizeof allowed_globals / sizeof allowed_globals[0]; i++) {
        const struct allowed_global *g = &allowed_globals[i];
        if (strlen(g->module) == mod_n && memcmp(g->module, mod, mod_n) == 0 &&
            strlen(g->name) == name_n && memcmp(g->name, name, name_n) == 0) {
            pk_value *v;
            YL_TRY(new_value(m, PK_GLOBAL, &v));
            v->u.g = g;
            return push(m, v);
        }
    }
    char a[96], b[96];
    printable(a, sizeof a, mod, mod_n);
    printable(b, sizeof b, name, name_n);
    return yl_fail(YOLACT_ERR_UNSAFE_PICKLE, "%s: refused global '%s.%s' (opcode %s at offset %zu)",
                   m->what, a, b, opcode_name(m->op), m->op_pos);
}

/* Pop count stack items into a new tuple. */
static yolact_status make_tuple(pk_machine *m, size_t base)
{
    pk_value *t;
    YL_TRY(new_container(m, PK_TUPLE, &t));
    for (size_t i = base; i < m->sp; i++)
        YL_TRY(seq_append(m, t, m->stack[i]));
    m->sp = base;
    return push(m, t);
}

static yolact_status tuple_n(pk_machine *m, size_t n)
{
    if (m->sp - stack_base(m) < n)
        return refuse(m, "stack underflow");
    return make_tuple(m, m->sp - n);
}

static int is_int(const pk_value *v) { return v->kind == PK_INT; }
static int is_str(const pk_value *v, const char *s)
{
    return v->kind == PK_STR && v->u.s.n == strlen(s) && memcmp(v->u.s.p, s, v->u.s.n) == 0;
}

/* BINPERSID: ('storage', <storage type>, key, location, numel[, view_metadata]) */
static yolact_status persistent_load(pk_machine *m)
{
    pk_value *pid, *st;
    YL_TRY(pop(m, &pid));
    if (pid->kind != PK_TUPLE || pid->u.seq.n < 5 || pid->u.seq.n > 6 ||
        !is_str(pid->u.seq.v[0], "storage"))
        return malformed(m, "persistent id is not a ('storage', type, key, location, numel) tuple");
    pk_value **a = pid->u.seq.v;
    if (a[1]->kind != PK_GLOBAL || a[1]->u.g->call != NOT_CALLABLE)
        return malformed(m, "persistent id names a %s, not a storage type",
                         a[1]->kind == PK_GLOBAL ? a[1]->u.g->name : kind_names[a[1]->kind]);
    if (a[2]->kind != PK_STR || a[3]->kind != PK_STR || !is_int(a[4]) || a[4]->u.i < 0)
        return malformed(m, "persistent id fields are not (str key, str location, int numel)");
    if (pid->u.seq.n == 6 && a[5]->kind != PK_NONE)
        return yl_fail(YOLACT_ERR_UNSUPPORTED,
                       "%s: storage views of pre-1.0 PyTorch are not supported (offset %zu)",
                       m->what, m->op_pos);
    YL_TRY(new_value(m, PK_STORAGE, &st));
    st->u.st.key = a[2]->u.s.p;
    st->u.st.key_len = a[2]->u.s.n;
    st->u.st.dtype = a[1]->u.g->dtype;
    st->u.st.numel = a[4]->u.i;
    return push(m, st);
}

static yolact_status int_tuple(pk_machine *m, const pk_value *t, const char *what, int64_t *out,
                               int *n)
{
    if (t->kind != PK_TUPLE)
        return malformed(m, "tensor %s is a %s, not a tuple", what, kind_names[t->kind]);
    if (t->u.seq.n > YL_MAX_DIMS)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s: a tensor with %zu dimensions (at most %d)",
                       m->what, t->u.seq.n, YL_MAX_DIMS);
    for (size_t i = 0; i < t->u.seq.n; i++) {
        if (!is_int(t->u.seq.v[i]) || t->u.seq.v[i]->u.i < 0)
            return malformed(m, "tensor %s holds a %s", what,
                             is_int(t->u.seq.v[i]) ? "negative int" : kind_names[t->u.seq.v[i]->kind]);
        out[i] = t->u.seq.v[i]->u.i;
    }
    *n = (int)t->u.seq.n;
    return YOLACT_OK;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) or
 * _rebuild_tensor(storage, offset, size, stride): a view description, nothing more. */
static yolact_status rebuild_tensor(pk_machine *m, const pk_value *args, int v2)
{
    size_t n = args->u.seq.n;
    pk_value **a = args->u.seq.v;
    if (v2 ? (n != 6 && n != 7) : n != 4)
        return malformed(m, "%s takes %s arguments, got %zu",
                         v2 ? "_rebuild_tensor_v2" : "_rebuild_tensor", v2 ? "6 or 7" : "4", n);
    if (a[0]->kind != PK_STORAGE)
        return malformed(m, "tensor storage is a %s", kind_names[a[0]->kind]);
    if (!is_int(a[1]) || a[1]->u.i < 0)
        return malformed(m, "tensor storage offset is not a non-negative int");
    if (v2 && (a[4]->kind != PK_BOOL || a[5]->kind != PK_DICT ||
               (n == 7 && a[6]->kind != PK_DICT && a[6]->kind != PK_NONE)))
        return malformed(m, "_rebuild_tensor_v2 requires_grad/hooks/metadata have wrong types");
    pk_tensor *t = calloc(1, sizeof *t);
    pk_value *v;
    if (!t)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for a tensor", m->what);
    yolact_status s = new_value(m, PK_TENSOR, &v);
    if (s != YOLACT_OK) {
        free(t);
        return s;
    }
    v->u.t = t;                                 /* owned by the value from here on */
    t->storage = a[0];
    t->offset = a[1]->u.i;
    int sdim;
    YL_TRY(int_tuple(m, a[2], "size", t->shape, &t->ndim));
    YL_TRY(int_tuple(m, a[3], "stride", t->stride, &sdim));
    if (sdim != t->ndim)
        return malformed(m, "tensor size has %d dimensions, stride %d", t->ndim, sdim);
    return push(m, v);
}

static yolact_status reduce(pk_machine *m)
{
    pk_value *args, *fn, *v;
    YL_TRY(pop(m, &args));
    YL_TRY(pop(m, &fn));
    if (fn->kind != PK_GLOBAL)
        return refuse(m, "call of a %s", kind_names[fn->kind]);
    if (args->kind != PK_TUPLE)
        return refuse(m, "call of '%s.%s' with a %s for arguments", fn->u.g->module,
                      fn->u.g->name, kind_names[args->kind]);
    switch (fn->u.g->call) {
    case CALL_ORDERED_DICT:
        if (args->u.seq.n != 0)
            return refuse(m, "OrderedDict called with arguments");
        YL_TRY(new_container(m, PK_DICT, &v));
        return push(m, v);
    case CALL_REBUILD_TENSOR_V2:
        return rebuild_tensor(m, args, 1);
    case CALL_REBUILD_TENSOR:
        return rebuild_tensor(m, args, 0);
    case NOT_CALLABLE:
        break;
    }
    return refuse(m, "call of '%s.%s'", fn->u.g->module, fn->u.g->name);
}

/* SETITEMS/APPENDS: the items above the closed mark go into the container below it. */
static yolact_status fill_from_mark(pk_machine *m, pk_kind kind)
{
    size_t base;
    YL_TRY(pop_mark(m, &base));
    if (base <= stack_base(m))
        return refuse(m, "stack underflow");
    pk_value *c = m->stack[base - 1];
    if (c->kind != kind)
        return refuse(m, "applied to a %s", kind_names[c->kind]);
    if (kind == PK_DICT && (m->sp - base) % 2)
        return refuse(m, "odd number of items");
    for (size_t i = base; i < m->sp; i++)
        YL_TRY(seq_append(m, c, m->stack[i]));
    m->sp = base;
    return YOLACT_OK;
}

static yolact_status memo_put(pk_machine *m, uint64_t idx)
{
    pk_value *v;
    YL_TRY(top(m, &v));
    if (idx >= MAX_MEMO || idx > m->size)
        return refuse(m, "memo index %llu out of range", (unsigned long long)idx);
    if (idx >= m->memo_cap) {
        size_t cap = m->memo_cap ? m->memo_cap : 64;
        while (cap <= idx)
            cap *= 2;
        pk_value **memo = realloc(m->memo, cap * sizeof *memo);
        if (!memo)
            return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for the pickle memo", m->what);
        memset(memo + m->memo_cap, 0, (cap - m->memo_cap) * sizeof *memo);
        m->memo = memo;
        m->memo_cap = cap;
    }
    if (!m->memo[idx])
        m->memo_defined++;
    m->memo[idx] = v;
    return YOLACT_OK;
}

static yolact_status memo_get(pk_machine *m, uint64_t idx)
{
    if (idx >= m->memo_cap || !m->memo[idx])
        return refuse(m, "memo index %llu was never defined", (unsigned long long)idx);
    return push(m, m->memo[idx]);
}

/* Run one pickle from data[0..size) up to STOP. */
static yolact_status machine_run(pk_machine *m, const uint8_t *data, size_t size,
                                 const char *what, pk_value **result)
{
    memset(m, 0, sizeof *m);
    m->data = data;
    m->size = size;
    m->what = what;
    const uint8_t *p;
    size_t n;
    pk_value *v, *k, *c;
    while (m->pos < m->size) {
        m->op_pos = m->pos;
        m->op = m->data[m->pos++];
        switch (m->op) {
        case 0x80: /* PROTO */
            YL_TRY(take(m, 1, &p));
            if (*p > 5)
                return refuse(m, "protocol %d", *p);
            break;
        case 0x95: /* FRAME: a length hint; the bytes follow inline */
            YL_TRY(take(m, 8, &p));
            if (yl_load_u64le(p) > m->size - m->pos)
                return refuse(m, "frame of %llu bytes, only %zu remain",
                              (unsigned long long)yl_load_u64le(p), m->size - m->pos);
            break;
        case '}': YL_TRY(new_container(m, PK_DICT, &v)); YL_TRY(push(m, v)); break;
        case ']': YL_TRY(new_container(m, PK_LIST, &v)); YL_TRY(push(m, v)); break;
        case ')': YL_TRY(new_container(m, PK_TUPLE, &v)); YL_TRY(push(m, v)); break;
        case '(': /* MARK */
            if (m->nmarks == MAX_MARKS)
                return refuse(m, "MARKs nested deeper than %d", MAX_MARKS);
            m->marks[m->nmarks++] = m->sp;
            break;
        case 't': YL_TRY(pop_mark(m, &n)); YL_TRY(make_tuple(m, n)); break;
        case 0x85: YL_TRY(tuple_n(m, 1)); break;
        case 0x86: YL_TRY(tuple_n(m, 2)); break;
        case 0x87: YL_TRY(tuple_n(m, 3)); break;
        case 'X': YL_TRY(take(m, 4, &p)); YL_TRY(push_str(m, yl_load_u32le(p))); break;
        case 0x8c: YL_TRY(take(m, 1, &p)); YL_TRY(push_str(m, *p)); break;
        case 0x8d: YL_TRY(take(m, 8, &p)); YL_TRY(push_str(m, yl_load_u64le(p))); break;
        case 'J': YL_TRY(take(m, 4, &p)); YL_TRY(push_int(m, (int32_t)yl_load_u32le(p), PK_INT)); break;
        case 'K': YL_TRY(take(m, 1, &p)); YL_TRY(push_int(m, *p, PK_INT)); break;
        case 'M': YL_TRY(take(m, 2, &p)); YL_TRY(push_int(m, yl_load_u16le(p), PK_INT)); break;
        case 0x8a: { /* LONG1: little-endian two's complement of n bytes */
            YL_TRY(take(m, 1, &p));
            n = *p;
            YL_TRY(take_declared(m, n, &p));
            if (n > 8) {
                /* Only the legacy magic number is this long; kept as its bytes. */
                if (n > MAX_BIGINT_BYTES)
                    return refuse(m, "integer of %zu bytes", n);
                YL_TRY(new_value(m, PK_BIGINT, &v));
                v->u.s.p = p;
                v->u.s.n = n;
                YL_TRY(push(m, v));
                break;
            }
            uint64_t u = 0;
            for (size_t i = 0; i < n; i++)
                u |= (uint64_t)p[i] << (8 * i);
            if (n > 0 && n < 8 && (p[n - 1] & 0x80))
                u |= ~(uint64_t)0 << (8 * n);     /* sign-extend */
            YL_TRY(push_int(m, (int64_t)u, PK_INT));
            break;
        }
        case 'G': { /* BINFLOAT: big-endian IEEE double */
            YL_TRY(take(m, 8, &p));
            uint64_t u = 0;
            for (int i = 0; i < 8; i++)
                u = u << 8 | p[i];
            YL_TRY(new_value(m, PK_FLOAT, &v));
            memcpy(&v->u.f, &u, sizeof u);
            YL_TRY(push(m, v));
            break;
        }
        case 'N': YL_TRY(new_value(m, PK_NONE, &v)); YL_TRY(push(m, v)); break;
        case 0x88: YL_TRY(push_int(m, 1, PK_BOOL)); break;
        case 0x89: YL_TRY(push_int(m, 0, PK_BOOL)); break;
        case 'c': { /* GLOBAL "module\nname\n" */
            const uint8_t *mod;
            size_t mod_n;
            YL_TRY(take_line(m, &mod, &mod_n));
            YL_TRY(take_line(m, &p, &n));
            YL_TRY(push_global(m, mod, mod_n, p, n));
            break;
        }
        case 0x93: /* STACK_GLOBAL */
            YL_TRY(pop(m, &v));
            YL_TRY(pop(m, &k));
            if (k->kind != PK_STR || v->kind != PK_STR)
                return refuse(m, "module and name are %s and %s, not str", kind_names[k->kind],
                              kind_names[v->kind]);
            YL_TRY(push_global(m, k->u.s.p, k->u.s.n, v->u.s.p, v->u.s.n));
            break;
        case 'Q': YL_TRY(persistent_load(m)); break;
        case 'R': YL_TRY(reduce(m)); break;
        case 'b': /* BUILD: only an OrderedDict's attributes (_metadata), which are ignored */
            YL_TRY(pop(m, &v));
            YL_TRY(top(m, &c));
            if (c->kind != PK_DICT || (v->kind != PK_DICT && v->kind != PK_NONE))
                return refuse(m, "BUILD of a %s with a %s state", kind_names[c->kind],
                              kind_names[v->kind]);
            break;
        case 's': /* SETITEM */
            YL_TRY(pop(m, &v));
            YL_TRY(pop(m, &k));
            YL_TRY(top(m, &c));
            if (c->kind != PK_DICT)
                return refuse(m, "applied to a %s", kind_names[c->kind]);
            YL_TRY(seq_append(m, c, k));
            YL_TRY(seq_append(m, c, v));
            break;
        case 'u': YL_TRY(fill_from_mark(m, PK_DICT)); break;
        case 'a': /* APPEND */
            YL_TRY(pop(m, &v));
            YL_TRY(top(m, &c));
            if (c->kind != PK_LIST)
                return refuse(m, "applied to a %s", kind_names[c->kind]);
            YL_TRY(seq_append(m, c, v));
            break;
        case 'e': YL_TRY(fill_from_mark(m, PK_LIST)); break;
        case 'q': YL_TRY(take(m, 1, &p)); YL_TRY(memo_put(m, *p)); break;
        case 'r': YL_TRY(take(m, 4, &p)); YL_TRY(memo_put(m, yl_load_u32le(p))); break;
        case 0x94: YL_TRY(memo_put(m, m->memo_defined)); break;
        case 'h': YL_TRY(take(m, 1, &p)); YL_TRY(memo_get(m, *p)); break;
        case 'j': YL_TRY(take(m, 4, &p)); YL_TRY(memo_get(m, yl_load_u32le(p))); break;
        case '.': /* STOP */
            YL_TRY(pop(m, result));
            return YOLACT_OK;
        default:
            return refuse(m, "not an opcode a state_dict needs");
        }
    }
    return yl_fail(YOLACT_ERR_FORMAT, "%s: pickle ends without STOP after %zu bytes", m->what,
                   m->size);
}

/* Run a whole pickle; on success the machine holds *result until machine_free. */
static yolact_status run_pickle(pk_machine *m, const uint8_t *data, size_t size,
                                const char *what, size_t *consumed, pk_value **result)
{
    yolact_status s = machine_run(m, data, size, what, result);
    if (s != YOLACT_OK) {
        machine_free(m);
        return s;
    }
    if (consumed)
        *consumed = m->pos;
    return YOLACT_OK;
}

/* ---- what the readers ask for --------------------------------------------------------- */

static int compare_keys(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

static int compare_storage_values(const void *pa, const void *pb)
{
    const pk_value *a = *(const pk_value *const *)pa, *b = *(const pk_value *const *)pb;
    return compare_keys(a->u.st.key, a->u.st.key_len, b->u.st.key, b->u.st.key_len);
}

size_t yl_pth_find_storage(const yl_pth_state_dict *sd, const uint8_t *key, size_t key_len)
{
    size_t lo = 0, hi = sd->storage_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_keys((const uint8_t *)sd->storages[mid].key, sd->storages[mid].key_len,
                             key, key_len);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SIZE_MAX;
}

/* The distinct storages the tensors name, sorted by key (several tensors may share one). */
static yolact_status collect_storages(const char *what, pk_value **pairs, size_t count,
                                      yl_pth_state_dict *sd)
{
    pk_value **st = malloc((count ? count : 1) * sizeof *st);
    if (!st)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for the storage index", what);
    for (size_t i = 0; i < count; i++)
        st[i] = pairs[2 * i + 1]->u.t->storage;
    qsort(st, count, sizeof *st, compare_storage_values);
    yolact_status s = YOLACT_OK;
    sd->storages = calloc(count ? count : 1, sizeof *sd->storages);
    if (!sd->storages)
        s = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for the storage index", what);
    for (size_t i = 0; s == YOLACT_OK && i < count; i++) {
        const pk_value *v = st[i];
        if (i > 0 && compare_storage_values(&st[i - 1], &st[i]) == 0) {
            if (st[i - 1]->u.st.dtype != v->u.st.dtype || st[i - 1]->u.st.numel != v->u.st.numel)
                s = yl_fail(YOLACT_ERR_FORMAT,
                            "%s: storage '%.*s' is declared twice with different types or sizes",
                            what, (int)v->u.st.key_len, (const char *)v->u.st.key);
            continue;
        }
        yl_pth_storage *out = &sd->storages[sd->storage_count];
        out->key = malloc(v->u.st.key_len + 1);
        if (!out->key) {
            s = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for storage keys", what);
            break;
        }
        memcpy(out->key, v->u.st.key, v->u.st.key_len);
        out->key[v->u.st.key_len] = '\0';
        out->key_len = v->u.st.key_len;
        out->dtype = v->u.st.dtype;
        out->numel = v->u.st.numel;
        sd->storage_count++;
    }
    free(st);
    return s;
}

static yolact_status state_dict_from_value(const char *what, const pk_value *top,
                                           yl_pth_state_dict *sd)
{
    if (top->kind != PK_DICT)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: the pickle holds a %s, not a state_dict", what,
                       kind_names[top->kind]);
    size_t count = top->u.seq.n / 2;
    pk_value **pairs = top->u.seq.v;
    for (size_t i = 0; i < count; i++) {
        const pk_value *k = pairs[2 * i], *v = pairs[2 * i + 1];
        if (k->kind != PK_STR)
            return yl_fail(YOLACT_ERR_FORMAT, "%s: state_dict key #%zu is a %s, not a str", what,
                           i, kind_names[k->kind]);
        if (v->kind != PK_TENSOR) {
            char key[96];
            printable(key, sizeof key, k->u.s.p, k->u.s.n);
            return yl_fail(YOLACT_ERR_FORMAT, "%s: entry '%s' is a %s, not a tensor%s", what, key,
                           kind_names[v->kind],
                           v->kind == PK_DICT ? " (a checkpoint wrapping its state_dict?)" : "");
        }
    }
    YL_TRY(collect_storages(what, pairs, count, sd));
    sd->tensors = calloc(count ? count : 1, sizeof *sd->tensors);
    if (!sd->tensors)
        return yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for %zu tensors", what, count);
    for (size_t i = 0; i < count; i++) {
        const pk_value *k = pairs[2 * i];
        const pk_tensor *t = pairs[2 * i + 1]->u.t;
        yl_pth_tensor *out = &sd->tensors[i];
        out->name = k->u.s.p;
        out->name_len = k->u.s.n;
        out->storage = yl_pth_find_storage(sd, t->storage->u.st.key, t->storage->u.st.key_len);
        out->ndim = t->ndim;
        memcpy(out->shape, t->shape, sizeof out->shape);
        memcpy(out->stride, t->stride, sizeof out->stride);
        out->offset = t->offset;
    }
    sd->tensor_count = count;
    return YOLACT_OK;
}

yolact_status yl_pickle_read_state_dict(const uint8_t *pkl, size_t size, const char *what,
                                        size_t *consumed, yl_pth_state_dict *sd)
{
    memset(sd, 0, sizeof *sd);
    pk_machine m;
    pk_value *top;
    YL_TRY(run_pickle(&m, pkl, size, what, consumed, &top));
    yolact_status s = state_dict_from_value(what, top, sd);
    machine_free(&m);
    if (s != YOLACT_OK)
        yl_pth_state_dict_free(sd);
    return s;
}

/* The legacy magic number 0x1950a86a20f9469cfc6c as LONG1 stores it (little-endian). */
static const uint8_t legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
enum { LEGACY_PROTOCOL_VERSION = 1001 };

yolact_status yl_pickle_read_legacy_header(const uint8_t *data, size_t size, const char *what,
                                           size_t *consumed)
{
    pk_machine m;
    pk_value *v;
    size_t pos = 0, n;

    YL_TRY(run_pickle(&m, data, size, what, &n, &v));
    int ok = v->kind == PK_BIGINT && v->u.s.n == sizeof legacy_magic &&
             memcmp(v->u.s.p, legacy_magic, sizeof legacy_magic) == 0;
    machine_free(&m);
    if (!ok)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: not a PyTorch file (no legacy magic number)", what);
    pos += n;

    YL_TRY(run_pickle(&m, data + pos, size - pos, what, &n, &v));
    int64_t version = v->kind == PK_INT ? v->u.i : -1;
    machine_free(&m);
    if (version != LEGACY_PROTOCOL_VERSION)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s: legacy protocol version %lld (only %d is known)",
                       what, (long long)version, LEGACY_PROTOCOL_VERSION);
    pos += n;

    YL_TRY(run_pickle(&m, data + pos, size - pos, what, &n, &v));
    int little = -1;
    for (size_t i = 0; v->kind == PK_DICT && i + 1 < v->u.seq.n; i += 2)
        if (is_str(v->u.seq.v[i], "little_endian") && v->u.seq.v[i + 1]->kind == PK_BOOL)
            little = (int)v->u.seq.v[i + 1]->u.i;
    machine_free(&m);
    if (little < 0)
        return yl_fail(YOLACT_ERR_FORMAT, "%s: legacy sys_info without little_endian", what);
    if (!little)
        return yl_fail(YOLACT_ERR_UNSUPPORTED, "%s: saved on a big-endian machine", what);
    *consumed = pos + n;
    return YOLACT_OK;
}

yolact_status yl_pickle_read_str_list(const uint8_t *data, size_t size, const char *what,
                                      size_t *consumed, yl_byte_span **keys, size_t *count)
{
    pk_machine m;
    pk_value *v;
    *keys = NULL;
    *count = 0;
    YL_TRY(run_pickle(&m, data, size, what, consumed, &v));
    yolact_status s = YOLACT_OK;
    if (v->kind != PK_LIST)
        s = yl_fail(YOLACT_ERR_FORMAT, "%s: storage key list is a %s", what, kind_names[v->kind]);
    for (size_t i = 0; s == YOLACT_OK && i < v->u.seq.n; i++)
        if (v->u.seq.v[i]->kind != PK_STR)
            s = yl_fail(YOLACT_ERR_FORMAT, "%s: storage key #%zu is a %s", what, i,
                        kind_names[v->u.seq.v[i]->kind]);
    if (s == YOLACT_OK) {
        *keys = malloc((v->u.seq.n ? v->u.seq.n : 1) * sizeof **keys);
        if (!*keys)
            s = yl_fail(YOLACT_ERR_OUT_OF_MEMORY, "%s: no memory for storage keys", what);
    }
    for (size_t i = 0; s == YOLACT_OK && i < v->u.seq.n; i++) {
        (*keys)[i].data = v->u.seq.v[i]->u.s.p;
        (*keys)[i].size = v->u.seq.v[i]->u.s.n;
        *count = i + 1;
    }
    machine_free(&m);
    return s;
}
