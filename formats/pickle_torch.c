/* pickle_torch.c — the opcodes that name or call Python objects.  GLOBAL and
 * STACK_GLOBAL resolve against a fixed allow-list (anything else is refused
 * before any later opcode runs); REDUCE, BINPERSID and BUILD are interpreted
 * for the few shapes torch.save produces and refused otherwise.  Nothing is
 * ever imported or called. */
#include "pickle_vm.h"

#include <string.h>

#define MAX_GLOBAL_PART 256 /* bytes of a module or attribute name */

static const struct allowed {
	const char *module, *attr;
	pickle_global_kind kind;
	int dtype;
	const char *full;
} g_allowed[] = {
	{"collections", "OrderedDict", PICKLE_G_ORDERED_DICT, -1, "collections.OrderedDict"},
	{"torch._utils", "_rebuild_tensor_v2", PICKLE_G_REBUILD_TENSOR_V2, -1,
	 "torch._utils._rebuild_tensor_v2"},
	{"torch._utils", "_rebuild_parameter", PICKLE_G_REBUILD_PARAMETER, -1,
	 "torch._utils._rebuild_parameter"},
	{"torch._utils", "_rebuild_parameter_with_state", PICKLE_G_REBUILD_PARAMETER_WITH_STATE, -1,
	 "torch._utils._rebuild_parameter_with_state"},
	{"torch", "FloatStorage", PICKLE_G_STORAGE_TYPE, CT_DT_F32, "torch.FloatStorage"},
	{"torch", "HalfStorage", PICKLE_G_STORAGE_TYPE, CT_DT_F16, "torch.HalfStorage"},
	{"torch", "BFloat16Storage", PICKLE_G_STORAGE_TYPE, CT_DT_BF16, "torch.BFloat16Storage"},
	{"torch", "DoubleStorage", PICKLE_G_STORAGE_TYPE, CT_DT_F64, "torch.DoubleStorage"},
	{"torch", "LongStorage", PICKLE_G_STORAGE_TYPE, CT_DT_I64, "torch.LongStorage"},
	{"torch", "IntStorage", PICKLE_G_STORAGE_TYPE, CT_DT_I32, "torch.IntStorage"},
	{"torch", "ShortStorage", PICKLE_G_STORAGE_TYPE, CT_DT_I16, "torch.ShortStorage"},
	{"torch", "CharStorage", PICKLE_G_STORAGE_TYPE, CT_DT_I8, "torch.CharStorage"},
	{"torch", "ByteStorage", PICKLE_G_STORAGE_TYPE, CT_DT_U8, "torch.ByteStorage"},
	{"torch", "BoolStorage", PICKLE_G_STORAGE_TYPE, CT_DT_BOOL, "torch.BoolStorage"},
	/* torch 1.13 saves a bare untyped storage as torch.storage.UntypedStorage,
	 * torch 2 as torch.UntypedStorage; its elements are bytes. */
	{"torch.storage", "UntypedStorage", PICKLE_G_STORAGE_TYPE, CT_DT_U8,
	 "torch.storage.UntypedStorage"},
	{"torch", "UntypedStorage", PICKLE_G_STORAGE_TYPE, CT_DT_U8, "torch.UntypedStorage"},
	/* dtypes pickle as module attributes (torch.float16.__reduce__() == "float16") */
	{"torch", "float32", PICKLE_G_DTYPE, CT_DT_F32, "torch.float32"},
	{"torch", "float16", PICKLE_G_DTYPE, CT_DT_F16, "torch.float16"},
	{"torch", "bfloat16", PICKLE_G_DTYPE, CT_DT_BF16, "torch.bfloat16"},
	{"torch", "float64", PICKLE_G_DTYPE, CT_DT_F64, "torch.float64"},
	{"torch", "int64", PICKLE_G_DTYPE, CT_DT_I64, "torch.int64"},
	{"torch", "int32", PICKLE_G_DTYPE, CT_DT_I32, "torch.int32"},
	{"torch", "int16", PICKLE_G_DTYPE, CT_DT_I16, "torch.int16"},
	{"torch", "int8", PICKLE_G_DTYPE, CT_DT_I8, "torch.int8"},
	{"torch", "uint8", PICKLE_G_DTYPE, CT_DT_U8, "torch.uint8"},
	{"torch", "bool", PICKLE_G_DTYPE, CT_DT_BOOL, "torch.bool"},
};

static int part_is(const char *s, size_t n, const char *want)
{
	return strlen(want) == n && memcmp(s, want, n) == 0;
}

static int has_prefix(const char *s, size_t n, const char *pre)
{
	size_t k = strlen(pre);
	return n >= k && memcmp(s, pre, k) == 0;
}

static int refuse(vm *m, const char *mod, size_t ml, const char *attr, size_t al)
{
	char pm[128], pa[128];
	pickle_printable(pm, sizeof pm, mod, ml);
	pickle_printable(pa, sizeof pa, attr, al);
	if (part_is(mod, ml, "torch") && al > 7 && memcmp(attr + al - 7, "Storage", 7) == 0) {
		m->err = CT_EUNSUPPORTED;
		return ct_errf(
			m->e, CT_EUNSUPPORTED,
			"%s: tensor storage type '%s.%s' is not supported (only float64/32/16, "
			"bfloat16, int64/32/16/8, uint8 and bool)",
			m->name, pm, pa);
	}
	if ((part_is(mod, ml, "torch._utils") || part_is(mod, ml, "torch._tensor")) &&
	    has_prefix(attr, al, "_rebuild_")) {
		m->err = CT_EUNSUPPORTED;
		return ct_errf(
			m->e, CT_EUNSUPPORTED,
			"%s: '%s.%s' rebuilds a kind of tensor ctrain does not read (sparse, "
			"quantized, subclass or tensor with attributes)",
			m->name, pm, pa);
	}
	const char *hint = "";
	if (has_prefix(mod, ml, "torch.nn") || has_prefix(mod, ml, "__main__"))
		hint = " (the file holds a pickled Python object, not a state_dict: "
		       "save model.state_dict() instead)";
	m->err = CT_ECORRUPT;
	return ct_errf(m->e, CT_ECORRUPT, "%s: pickle references forbidden global '%s.%s'%s",
		       m->name, pm, pa, hint);
}

static int resolve(vm *m, const char *mod, size_t ml, const char *attr, size_t al)
{
	for (size_t i = 0; i < sizeof g_allowed / sizeof g_allowed[0]; i++) {
		const struct allowed *a = &g_allowed[i];
		if (!part_is(mod, ml, a->module) || !part_is(attr, al, a->attr))
			continue;
		pickle_value *v;
		int rc = vm_node(m, PICKLE_GLOBAL, &v);
		if (rc < 0)
			return rc;
		v->g.kind = a->kind;
		v->g.dtype = a->dtype;
		v->g.name = a->full;
		return vm_push(m, v);
	}
	return refuse(m, mod, ml, attr, al);
}

/* One newline-terminated argument of GLOBAL. */
static int read_line(vm *m, const char **s, size_t *n)
{
	size_t left = m->len - m->pos;
	const char *start = (const char *)m->p + m->pos;
	const char *nl =
		memchr(start, '\n', left < MAX_GLOBAL_PART + 1 ? left : MAX_GLOBAL_PART + 1);
	if (!nl)
		return vm_fail(m, CT_ECORRUPT, "GLOBAL argument is not a line of at most %d bytes",
			       MAX_GLOBAL_PART);
	*s = start;
	*n = (size_t)(nl - start);
	m->pos += *n + 1;
	return 0;
}

int vm_op_global(vm *m)
{
	const char *mod, *attr;
	size_t ml, al;
	int rc = read_line(m, &mod, &ml);
	if (rc < 0 || (rc = read_line(m, &attr, &al)) < 0)
		return rc;
	return resolve(m, mod, ml, attr, al);
}

int vm_op_stack_global(vm *m)
{
	pickle_value *mod = NULL, *attr = NULL;
	int rc = vm_pop(m, &attr);
	if (rc < 0 || (rc = vm_pop(m, &mod)) < 0)
		return rc;
	if (mod->type != PICKLE_STR || attr->type != PICKLE_STR)
		return vm_fail(m, CT_ECORRUPT, "STACK_GLOBAL needs two strings, got %s and %s",
			       pickle_type_name(mod), pickle_type_name(attr));
	return resolve(m, mod->s.p, mod->s.len, attr->s.p, attr->s.len);
}

/* ---- REDUCE ------------------------------------------------------------------ */

static int want_int(vm *m, const pickle_value *v, const char *what, int64_t *out)
{
	if (v->type != PICKLE_INT || v->big || v->i < 0)
		return vm_fail(m, CT_ECORRUPT,
			       "_rebuild_tensor_v2: %s must be an int >= 0 (got %s%s)", what,
			       pickle_type_name(v),
			       v->type == PICKLE_INT ? (v->big ? " too large" : " < 0") : "");
	*out = v->i;
	return 0;
}

static int want_dims(vm *m, const pickle_value *v, const char *what, int64_t *dims, int *ndim)
{
	if (v->type != PICKLE_TUPLE)
		return vm_fail(m, CT_ECORRUPT, "_rebuild_tensor_v2: %s must be a tuple, got %s",
			       what, pickle_type_name(v));
	if (v->seq.n > CT_MAX_DIMS) {
		return vm_fail(m, CT_EUNSUPPORTED,
			       "_rebuild_tensor_v2: tensor has %zu dimensions "
			       "(at most %d supported)",
			       v->seq.n, CT_MAX_DIMS);
	}
	for (size_t i = 0; i < v->seq.n; i++) {
		int rc = want_int(m, v->seq.v[i], what, &dims[i]);
		if (rc < 0)
			return rc;
	}
	*ndim = (int)v->seq.n;
	return 0;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
 * backward_hooks[, metadata]) */
static int rebuild_tensor(vm *m, const pickle_value *args)
{
	size_t n = args->seq.n;
	pickle_value *const *a = args->seq.v;
	if (n != 6 && n != 7)
		return vm_fail(m, CT_ECORRUPT, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %zu",
			       n);
	if (a[0]->type != PICKLE_STORAGE)
		return vm_fail(m, CT_ECORRUPT,
			       "_rebuild_tensor_v2: argument 1 is a %s, not a storage",
			       pickle_type_name(a[0]));
	if (a[4]->type != PICKLE_BOOL || a[5]->type != PICKLE_DICT ||
	    (n == 7 && a[6]->type != PICKLE_DICT && a[6]->type != PICKLE_NONE))
		return vm_fail(m, CT_ECORRUPT,
			       "_rebuild_tensor_v2: requires_grad, backward_hooks or "
			       "metadata has the wrong type");
	pickle_tensor t = {.storage = a[0]};
	int nstride, rc;
	if ((rc = want_int(m, a[1], "storage offset", &t.offset)) < 0 ||
	    (rc = want_dims(m, a[2], "size", t.shape, &t.ndim)) < 0 ||
	    (rc = want_dims(m, a[3], "stride", t.stride, &nstride)) < 0)
		return rc;
	if (nstride != t.ndim)
		return vm_fail(m, CT_ECORRUPT, "_rebuild_tensor_v2: %d sizes but %d strides",
			       t.ndim, nstride);
	pickle_value *v = NULL;
	if ((rc = vm_node(m, PICKLE_TENSOR, &v)) < 0)
		return rc;
	v->t = malloc(sizeof *v->t);
	if (!v->t)
		return vm_fail(m, CT_ENOMEM, "out of memory");
	*v->t = t;
	return vm_push(m, v);
}

/* _rebuild_parameter(data, requires_grad, backward_hooks[, state]): a
 * Parameter is its data as far as a state dict is concerned. */
static int rebuild_parameter(vm *m, const pickle_value *args, size_t want)
{
	pickle_value *const *a = args->seq.v;
	if (args->seq.n != want || a[0]->type != PICKLE_TENSOR || a[1]->type != PICKLE_BOOL ||
	    a[2]->type != PICKLE_DICT)
		return vm_fail(m, CT_ECORRUPT,
			       "_rebuild_parameter: expected (tensor, bool, dict%s)",
			       want == 4 ? ", state" : "");
	return vm_push(m, a[0]);
}

int vm_op_reduce(vm *m)
{
	pickle_value *f = NULL, *args = NULL;
	int rc = vm_pop(m, &args);
	if (rc < 0 || (rc = vm_pop(m, &f)) < 0)
		return rc;
	if (f->type != PICKLE_GLOBAL)
		return vm_fail(m, CT_ECORRUPT, "REDUCE calls a %s, not an allowed callable",
			       pickle_type_name(f));
	if (args->type != PICKLE_TUPLE)
		return vm_fail(m, CT_ECORRUPT, "REDUCE arguments are a %s, not a tuple",
			       pickle_type_name(args));
	switch (f->g.kind) {
	case PICKLE_G_ORDERED_DICT: {
		if (args->seq.n != 0)
			return vm_fail(m, CT_ECORRUPT,
				       "OrderedDict() with arguments is not supported");
		pickle_value *d;
		if ((rc = vm_node(m, PICKLE_DICT, &d)) < 0)
			return rc;
		return vm_push(m, d);
	}
	case PICKLE_G_REBUILD_TENSOR_V2: return rebuild_tensor(m, args);
	case PICKLE_G_REBUILD_PARAMETER: return rebuild_parameter(m, args, 3);
	case PICKLE_G_REBUILD_PARAMETER_WITH_STATE: return rebuild_parameter(m, args, 4);
	default:
		return vm_fail(m, CT_ECORRUPT, "REDUCE calls '%s', which is not callable here",
			       f->g.name);
	}
}

/* ---- BINPERSID, BUILD ----------------------------------------------------------- */

/* torch's persistent id: ('storage', storage_type, key, location, numel). */
int vm_op_binpersid(vm *m)
{
	pickle_value *pid = NULL;
	int rc = vm_pop(m, &pid);
	if (rc < 0)
		return rc;
	pickle_value *const *a = pid->seq.v;
	if (pid->type != PICKLE_TUPLE || pid->seq.n != 5 || a[0]->type != PICKLE_STR ||
	    strcmp(a[0]->s.p, "storage") != 0 || a[1]->type != PICKLE_GLOBAL ||
	    a[1]->g.kind != PICKLE_G_STORAGE_TYPE || a[2]->type != PICKLE_STR || a[2]->s.len == 0 ||
	    a[3]->type != PICKLE_STR || a[4]->type != PICKLE_INT)
		return vm_fail(m, CT_ECORRUPT,
			       "persistent id is not ('storage', <storage type>, "
			       "key, location, numel)");
	size_t es = ct_dtype_size((ct_dtype)a[1]->g.dtype);
	if (a[4]->big || a[4]->i < 0 || (uint64_t)a[4]->i > (uint64_t)INT64_MAX / es)
		return vm_fail(m, CT_ECORRUPT, "storage element count out of range");
	pickle_value *v = NULL;
	if ((rc = vm_node(m, PICKLE_STORAGE, &v)) < 0)
		return rc;
	v->st.key = a[2]->s.p;
	v->st.dtype = (ct_dtype)a[1]->g.dtype;
	v->st.numel = a[4]->i;
	return vm_push(m, v);
}

/* BUILD sets an object's state.  The only object torch.save builds is a
 * state_dict OrderedDict getting its _metadata attribute, which tensors do not
 * depend on: accept a dict/None state on a dict and ignore it. */
int vm_op_build(vm *m)
{
	pickle_value *state = NULL, *obj = NULL;
	int rc = vm_pop(m, &state);
	if (rc < 0 || (rc = vm_top(m, &obj)) < 0)
		return rc;
	if (obj->type != PICKLE_DICT || (state->type != PICKLE_DICT && state->type != PICKLE_NONE))
		return vm_fail(m, CT_ECORRUPT, "BUILD of a %s with a %s state is not allowed",
			       pickle_type_name(obj), pickle_type_name(state));
	return 0;
}
