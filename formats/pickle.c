/* pickle.c — the restricted unpickler's machine: arena, stack, memo and the
 * opcodes that only move data.  Opcodes that name or call Python objects
 * (GLOBAL, STACK_GLOBAL, REDUCE, BINPERSID, BUILD) are in pickle_torch.c. */
#include "pickle_vm.h"

#include "../util/util.h"

#include <stdarg.h>
#include <string.h>

#define ARENA_BLOCK 1024 /* nodes per arena block */

/* ---- errors -------------------------------------------------------------- */

int(vm_fail)(vm *m, int code, const char *fmt, ...) /* (): not the analyser's macro */
{
	char what[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	m->err = code;
	return ct_errf(m->e, code, "%s: data.pkl offset %zu: %s", m->name, m->op_pos, what);
}

static int nomem(vm *m)
{
	m->err = CT_ENOMEM;
	return ct_errf(m->e, CT_ENOMEM, "%s: out of memory while unpickling", m->name);
}

/* ---- arena ------------------------------------------------------------------ */

int vm_node(vm *m, pickle_type type, pickle_value **out)
{
	pickle_doc *d = m->doc;
	if (d->n_nodes >= PICKLE_MAX_NODES)
		return vm_fail(m, CT_ECORRUPT, "more than %u values", PICKLE_MAX_NODES);
	size_t slot = d->n_nodes % ARENA_BLOCK;
	if (slot == 0) {
		if (ct_grow(&d->blocks, &d->cap_blocks, d->n_blocks + 1, sizeof *d->blocks, 16) < 0)
			return nomem(m);
		d->blocks[d->n_blocks] = calloc(ARENA_BLOCK, sizeof(pickle_value));
		if (!d->blocks[d->n_blocks])
			return nomem(m);
		d->n_blocks++;
	}
	pickle_value *v = &d->blocks[d->n_blocks - 1][slot];
	v->type = type;
	d->n_nodes++;
	*out = v;
	return 0;
}

/* Releases what each node owns, then the blocks: a flat loop, so neither
 * deep nor cyclic trees can exhaust the C stack. */
void pickle_free(pickle_doc *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n_nodes; i++) {
		pickle_value *v = &d->blocks[i / ARENA_BLOCK][i % ARENA_BLOCK];
		switch (v->type) {
		case PICKLE_STR:
		case PICKLE_BYTES: free(v->s.p); break;
		case PICKLE_TUPLE:
		case PICKLE_LIST:
		case PICKLE_DICT: free(v->seq.v); break;
		case PICKLE_TENSOR: free(v->t); break;
		default: break;
		}
	}
	for (size_t b = 0; b < d->n_blocks; b++)
		free(d->blocks[b]);
	free(d->blocks);
	free(d);
}

const pickle_value *pickle_root(const pickle_doc *doc) { return doc->root; }

size_t pickle_count(const pickle_doc *doc) { return doc->n_nodes; }

/* Appends x to container c, tracking total slots and nesting depth. */
static int vm_seq_push(vm *m, pickle_value *c, pickle_value *x)
{
	if (m->n_items >= PICKLE_MAX_ITEMS)
		return vm_fail(m, CT_ECORRUPT, "more than %u container items", PICKLE_MAX_ITEMS);
	if (ct_grow(&c->seq.v, &c->seq.cap, c->seq.n + 1, sizeof *c->seq.v, 4) < 0)
		return nomem(m);
	c->seq.v[c->seq.n++] = x;
	m->n_items++;
	if (x->depth + 1 > c->depth)
		c->depth = x->depth + 1;
	if (c->depth > PICKLE_MAX_DEPTH)
		return vm_fail(m, CT_ECORRUPT, "values nested deeper than %d levels",
			       PICKLE_MAX_DEPTH);
	return 0;
}

/* ---- stack, marks, memo ---------------------------------------------------- */

int vm_push(vm *m, pickle_value *v)
{
	if (m->sp == m->stack_cap) {
		if (m->sp >= PICKLE_MAX_STACK)
			return vm_fail(m, CT_ECORRUPT, "stack deeper than %u values",
				       PICKLE_MAX_STACK);
		if (ct_grow(&m->stack, &m->stack_cap, m->sp + 1, sizeof *m->stack, 64) < 0)
			return nomem(m);
	}
	m->stack[m->sp++] = v;
	return 0;
}

/* Values above the innermost MARK belong to it: like CPython's unpickler,
 * plain pops may not cross it. */
static size_t fence(const vm *m) { return m->n_marks ? m->marks[m->n_marks - 1] : 0; }

int vm_pop(vm *m, pickle_value **out)
{
	if (m->sp <= fence(m))
		return vm_fail(m, CT_ECORRUPT, "stack underflow");
	*out = m->stack[--m->sp];
	return 0;
}

int vm_top(vm *m, pickle_value **out)
{
	if (m->sp <= fence(m))
		return vm_fail(m, CT_ECORRUPT, "stack underflow");
	*out = m->stack[m->sp - 1];
	return 0;
}

/* Pops the innermost MARK; the values above it are stack[*start .. sp). */
static int pop_mark(vm *m, size_t *start)
{
	if (m->n_marks == 0)
		return vm_fail(m, CT_ECORRUPT, "opcode needs a MARK but none is open");
	*start = m->marks[--m->n_marks];
	return 0;
}

static int op_mark(vm *m)
{
	if (m->n_marks == PICKLE_MAX_MARKS)
		return vm_fail(m, CT_ECORRUPT, "more than %d nested MARKs", PICKLE_MAX_MARKS);
	m->marks[m->n_marks++] = m->sp;
	return 0;
}

/* Picklers number memo entries in order, so an index past the end is never
 * legitimate; refusing it keeps the memo dense and bounded. */
static int memo_put(vm *m, uint64_t idx)
{
	pickle_value *v = NULL;
	int rc = vm_top(m, &v);
	if (rc < 0)
		return rc;
	if (idx > m->memo_len)
		return vm_fail(m, CT_ECORRUPT,
			       "memo index %llu out of range (memo has %zu entries)",
			       (unsigned long long)idx, m->memo_len);
	if (idx < m->memo_len) {
		m->memo[idx] = v;
		return 0;
	}
	if (m->memo_len >= PICKLE_MAX_MEMO)
		return vm_fail(m, CT_ECORRUPT, "memo larger than %u entries", PICKLE_MAX_MEMO);
	if (ct_grow(&m->memo, &m->memo_cap, m->memo_len + 1, sizeof *m->memo, 64) < 0)
		return nomem(m);
	m->memo[m->memo_len++] = v;
	return 0;
}

static int memo_get(vm *m, uint64_t idx)
{
	if (idx >= m->memo_len)
		return vm_fail(m, CT_ECORRUPT,
			       "memo index %llu out of range (memo has %zu entries)",
			       (unsigned long long)idx, m->memo_len);
	return vm_push(m, m->memo[idx]);
}

/* ---- reading the byte stream ----------------------------------------------- */

static int need(vm *m, size_t n)
{
	if (m->len - m->pos < n)
		return vm_fail(m, CT_ECORRUPT, "truncated: opcode needs %zu more bytes, %zu left",
			       n, m->len - m->pos);
	return 0;
}

static uint64_t rd_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Reads an n-byte little-endian unsigned argument. */
static int arg_u(vm *m, int n, uint64_t *v)
{
	int rc = need(m, (size_t)n);
	if (rc < 0)
		return rc;
	*v = rd_le(m->p + m->pos, n);
	m->pos += (size_t)n;
	return 0;
}

/* Strict UTF-8 (what Python's decoder accepts, minus surrogates), and no NUL
 * so that names survive as C strings unchanged. */
static int utf8_ok(const unsigned char *s, size_t n)
{
	return memchr(s, 0, n) == NULL && ct_utf8_bad_at(s, n) == n;
}

/* STR or BYTES whose length is an lenbytes-wide little-endian prefix. */
static int op_string(vm *m, int lenbytes, pickle_type type)
{
	uint64_t n = 0;
	int rc = arg_u(m, lenbytes, &n);
	if (rc < 0)
		return rc;
	if (n > m->len - m->pos)
		return vm_fail(m, CT_ECORRUPT, "string of %llu bytes runs past the end (%zu left)",
			       (unsigned long long)n, m->len - m->pos);
	const unsigned char *src = m->p + m->pos;
	if (type == PICKLE_STR && !utf8_ok(src, (size_t)n))
		return vm_fail(m, CT_ECORRUPT, "string is not valid UTF-8 (or contains NUL)");
	pickle_value *v = NULL;
	if ((rc = vm_node(m, type, &v)) < 0)
		return rc;
	v->s.p = malloc((size_t)n + 1);
	if (!v->s.p)
		return nomem(m);
	memcpy(v->s.p, src, (size_t)n);
	v->s.p[n] = '\0';
	v->s.len = (size_t)n;
	m->pos += (size_t)n;
	return vm_push(m, v);
}

/* A new value of type (INT, BOOL, NONE, ...) holding i on the stack. */
static int push_simple(vm *m, pickle_type type, int64_t i)
{
	pickle_value *v = NULL;
	int rc = vm_node(m, type, &v);
	if (rc < 0)
		return rc;
	CT_ASSERT(v); /* as in collect() */
	v->i = i;
	return vm_push(m, v);
}

static int push_int(vm *m, int64_t i, int big)
{
	int rc = push_simple(m, PICKLE_INT, i);
	if (rc == 0)
		m->stack[m->sp - 1]->big = big;
	return rc;
}

static int op_binint(vm *m, int n)
{
	uint64_t u = 0;
	int rc = arg_u(m, n, &u);
	if (rc < 0)
		return rc;
	if (n == 4) /* BININT is signed */
		return push_int(m, (int32_t)(uint32_t)u, 0);
	return push_int(m, (int64_t)u, 0);
}

/* LONG1: little-endian two's complement of 0..255 bytes. */
static int op_long1(vm *m)
{
	uint64_t n = 0;
	int rc = arg_u(m, 1, &n);
	if (rc < 0 || (rc = need(m, (size_t)n)) < 0)
		return rc;
	const unsigned char *p = m->p + m->pos;
	m->pos += (size_t)n;
	if (n == 0)
		return push_int(m, 0, 0);
	unsigned char ext = (p[n - 1] & 0x80) ? 0xff : 0x00;
	size_t sig = (size_t)n; /* drop high bytes that only repeat the sign */
	while (sig > 1 && p[sig - 1] == ext && ((p[sig - 2] ^ ext) & 0x80) == 0)
		sig--;
	if (sig > 8)
		return push_int(m, 0, 1);
	uint64_t u = ext ? UINT64_MAX : 0;
	for (size_t i = 0; i < sig; i++) {
		u &= ~((uint64_t)0xff << (8 * i));
		u |= (uint64_t)p[i] << (8 * i);
	}
	int64_t i;
	memcpy(&i, &u, sizeof i);
	return push_int(m, i, 0);
}

static int op_binfloat(vm *m)
{
	int rc = need(m, 8);
	if (rc < 0)
		return rc;
	uint64_t u = 0;
	for (int i = 0; i < 8; i++) /* big-endian */
		u = (u << 8) | m->p[m->pos + (size_t)i];
	m->pos += 8;
	rc = push_simple(m, PICKLE_FLOAT, 0);
	if (rc == 0)
		memcpy(&m->stack[m->sp - 1]->f, &u, sizeof u);
	return rc;
}

/* ---- containers -------------------------------------------------------------- */

/* New container holding stack[start .. sp), which it consumes. */
static int collect(vm *m, pickle_type type, size_t start)
{
	pickle_value *c = NULL;
	int rc = vm_node(m, type, &c);
	if (rc < 0)
		return rc;
	CT_ASSERT(c); /* set on success; said for clang's analyser, which loses it on deep paths */
	if (type == PICKLE_DICT && (m->sp - start) % 2)
		return vm_fail(m, CT_ECORRUPT, "DICT with an odd number of items");
	for (size_t i = start; i < m->sp; i++)
		if ((rc = vm_seq_push(m, c, m->stack[i])) < 0)
			return rc;
	m->sp = start;
	return vm_push(m, c);
}

static int op_tuple_n(vm *m, size_t n)
{
	if (m->sp < fence(m) + n)
		return vm_fail(m, CT_ECORRUPT, "stack underflow");
	return collect(m, PICKLE_TUPLE, m->sp - n);
}

static int op_collect_mark(vm *m, pickle_type type)
{
	size_t start = 0;
	int rc = pop_mark(m, &start);
	return rc < 0 ? rc : collect(m, type, start);
}

/* APPENDS / SETITEMS: move stack[start..sp) into the container just below. */
static int extend(vm *m, pickle_type want, size_t start)
{
	pickle_value *c = NULL;
	size_t saved = m->sp;
	m->sp = start; /* so that vm_top sees the container below the mark */
	int rc = vm_top(m, &c);
	if (rc < 0)
		return rc;
	if (c->type != want)
		return vm_fail(m, CT_ECORRUPT, "%s needs a %s below its items, found %s",
			       want == PICKLE_LIST ? "APPEND(S)" : "SETITEM(S)",
			       want == PICKLE_LIST ? "list" : "dict", pickle_type_name(c));
	if (want == PICKLE_DICT && (saved - start) % 2)
		return vm_fail(m, CT_ECORRUPT, "SETITEMS with an odd number of items");
	for (size_t i = start; i < saved; i++)
		if ((rc = vm_seq_push(m, c, m->stack[i])) < 0)
			return rc;
	return 0;
}

static int op_extend_mark(vm *m, pickle_type want)
{
	size_t start = 0;
	int rc = pop_mark(m, &start);
	return rc < 0 ? rc : extend(m, want, start);
}

/* APPEND / SETITEM: the last n values go into the container below them. */
static int op_extend_n(vm *m, pickle_type want, size_t n)
{
	if (m->sp < fence(m) + n + 1)
		return vm_fail(m, CT_ECORRUPT, "stack underflow");
	return extend(m, want, m->sp - n);
}

static int op_frame(vm *m)
{
	uint64_t n = 0;
	int rc = arg_u(m, 8, &n);
	if (rc < 0)
		return rc;
	/* Frames only batch I/O; their content is ordinary opcodes. */
	if (n > m->len - m->pos)
		return vm_fail(m, CT_ECORRUPT, "frame of %llu bytes runs past the end",
			       (unsigned long long)n);
	return 0;
}

static int op_proto(vm *m)
{
	uint64_t v = 0;
	int rc = arg_u(m, 1, &v);
	if (rc < 0)
		return rc;
	if (v > 5)
		return vm_fail(m, CT_ECORRUPT, "unsupported pickle protocol %llu",
			       (unsigned long long)v);
	return 0;
}

static int op_stop(vm *m)
{
	if (m->n_marks || m->sp != 1)
		return vm_fail(m, CT_ECORRUPT, "STOP with %zu values and %zu MARKs on the stack",
			       m->sp, m->n_marks);
	m->doc->root = m->stack[0];
	m->stopped = 1;
	return 0;
}

/* ---- dispatch ------------------------------------------------------------------ */

static int op_memo(vm *m, int argbytes)
{
	uint64_t idx = 0;
	int rc = arg_u(m, argbytes, &idx);
	return rc < 0 ? rc : memo_put(m, idx);
}

static int op_get(vm *m, int argbytes)
{
	uint64_t idx = 0;
	int rc = arg_u(m, argbytes, &idx);
	return rc < 0 ? rc : memo_get(m, idx);
}

static int step(vm *m, unsigned char op)
{
	switch (op) {
	case 0x80: return op_proto(m);                     /* PROTO */
	case 0x95: return op_frame(m);                     /* FRAME */
	case '}': return push_simple(m, PICKLE_DICT, 0);   /* EMPTY_DICT */
	case ']': return push_simple(m, PICKLE_LIST, 0);   /* EMPTY_LIST */
	case ')': return push_simple(m, PICKLE_TUPLE, 0);  /* EMPTY_TUPLE */
	case '(': return op_mark(m);                       /* MARK */
	case 'X': return op_string(m, 4, PICKLE_STR);      /* BINUNICODE */
	case 0x8c: return op_string(m, 1, PICKLE_STR);     /* SHORT_BINUNICODE */
	case 0x8d: return op_string(m, 8, PICKLE_STR);     /* BINUNICODE8 */
	case 'C': return op_string(m, 1, PICKLE_BYTES);    /* SHORT_BINBYTES */
	case 'B': return op_string(m, 4, PICKLE_BYTES);    /* BINBYTES */
	case 0x8e: return op_string(m, 8, PICKLE_BYTES);   /* BINBYTES8 */
	case 'q': return op_memo(m, 1);                    /* BINPUT */
	case 'r': return op_memo(m, 4);                    /* LONG_BINPUT */
	case 0x94: return memo_put(m, m->memo_len);        /* MEMOIZE */
	case 'h': return op_get(m, 1);                     /* BINGET */
	case 'j': return op_get(m, 4);                     /* LONG_BINGET */
	case 'J': return op_binint(m, 4);                  /* BININT */
	case 'K': return op_binint(m, 1);                  /* BININT1 */
	case 'M': return op_binint(m, 2);                  /* BININT2 */
	case 0x8a: return op_long1(m);                     /* LONG1 */
	case 'G': return op_binfloat(m);                   /* BINFLOAT */
	case 'N': return push_simple(m, PICKLE_NONE, 0);   /* NONE */
	case 0x88: return push_simple(m, PICKLE_BOOL, 1);  /* NEWTRUE */
	case 0x89: return push_simple(m, PICKLE_BOOL, 0);  /* NEWFALSE */
	case 't': return op_collect_mark(m, PICKLE_TUPLE); /* TUPLE */
	case 0x85: return op_tuple_n(m, 1);                /* TUPLE1 */
	case 0x86: return op_tuple_n(m, 2);                /* TUPLE2 */
	case 0x87: return op_tuple_n(m, 3);                /* TUPLE3 */
	case 'l': return op_collect_mark(m, PICKLE_LIST);  /* LIST */
	case 'd': return op_collect_mark(m, PICKLE_DICT);  /* DICT */
	case 'a': return op_extend_n(m, PICKLE_LIST, 1);   /* APPEND */
	case 'e': return op_extend_mark(m, PICKLE_LIST);   /* APPENDS */
	case 's': return op_extend_n(m, PICKLE_DICT, 2);   /* SETITEM */
	case 'u': return op_extend_mark(m, PICKLE_DICT);   /* SETITEMS */
	case 'c': return vm_op_global(m);                  /* GLOBAL */
	case 0x93: return vm_op_stack_global(m);           /* STACK_GLOBAL */
	case 'R': return vm_op_reduce(m);                  /* REDUCE */
	case 'Q': return vm_op_binpersid(m);               /* BINPERSID */
	case 'b': return vm_op_build(m);                   /* BUILD */
	case '.': return op_stop(m);                       /* STOP */
	default: return vm_fail(m, CT_ECORRUPT, "unknown or unsupported opcode 0x%02x", op);
	}
}

static void vm_release(vm *m)
{
	free(m->stack);
	free(m->marks);
	free(m->memo);
}

int pickle_load(const void *buf, size_t len, const char *name, pickle_doc **out, ct_err *e)
{
	*out = NULL;
	vm m = {.p = buf, .len = len, .name = name, .e = e};
	m.doc = calloc(1, sizeof *m.doc);
	m.marks = malloc(PICKLE_MAX_MARKS * sizeof *m.marks);
	if (!m.doc || !m.marks) {
		free(m.doc);
		free(m.marks);
		return ct_errf(e, CT_ENOMEM, "%s: out of memory while unpickling", name);
	}
	int rc = 0;
	while (!m.stopped && rc == 0) {
		m.op_pos = m.pos;
		if (m.pos == m.len)
			rc = vm_fail(&m, CT_ECORRUPT, "truncated: pickle ends without STOP");
		else
			rc = step(&m, m.p[m.pos++]);
	}
	vm_release(&m);
	if (rc < 0) {
		pickle_free(m.doc);
		return rc;
	}
	*out = m.doc;
	return 0;
}

/* ---- helpers for callers ------------------------------------------------------ */

const char *pickle_type_name(const pickle_value *v)
{
	switch (v->type) {
	case PICKLE_NONE: return "None";
	case PICKLE_BOOL: return "bool";
	case PICKLE_INT: return "int";
	case PICKLE_FLOAT: return "float";
	case PICKLE_STR: return "str";
	case PICKLE_BYTES: return "bytes";
	case PICKLE_TUPLE: return "tuple";
	case PICKLE_LIST: return "list";
	case PICKLE_DICT: return "dict";
	case PICKLE_GLOBAL: return v->g.kind == PICKLE_G_DTYPE ? "dtype" : "global";
	case PICKLE_STORAGE: return "storage";
	case PICKLE_TENSOR: return "tensor";
	}
	return "?";
}

const pickle_value *pickle_dict_get(const pickle_value *dict, const char *key)
{
	CT_ASSERT(dict->type == PICKLE_DICT);
	const pickle_value *found = NULL;
	for (size_t i = 0; i + 1 < dict->seq.n; i += 2) {
		const pickle_value *k = dict->seq.v[i];
		if (k->type == PICKLE_STR && strcmp(k->s.p, key) == 0)
			found = dict->seq.v[i + 1];
	}
	return found;
}

void pickle_printable(char *dst, size_t n, const char *src, size_t len)
{
	CT_ASSERT(n > 0);
	size_t o = 0, i = 0;
	for (; i < len && o + 1 < n; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[o] = '\0';
	if (i < len && o >= 3)
		memcpy(dst + o - 3, "...", 3);
}
