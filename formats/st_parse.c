/* st_parse.c — the strict safetensors reader (ct_st_parse).
 *
 * Order of the checks: header length field, UTF-8, JSON (jansson, duplicates
 * rejected), space padding, each entry on its own (fields, dtype, shape,
 * offsets, byte size), then all offsets together (exact cover of the data
 * section).  Only when everything holds is the tdict filled, so a rejected
 * file leaves nothing behind.
 */
#include "st_internal.h"

#include <inttypes.h>
#include <string.h>

/* One tensor entry as validated from the header, before the tdict is filled. */
typedef struct st_info {
	const char *name; /* owned by the JSON tree */
	ct_dtype dtype;
	int ndim;
	int64_t shape[CT_MAX_DIMS];
	uint64_t begin, end;
	size_t idx; /* header order, the final tie-break when sorting */
} st_info;

/* json_t * rather than const: jansson's object iteration takes a mutable object. */
static int check_meta(json_t *meta, ct_err *e)
{
	const char *k;
	json_t *v;
	char buf[80];
	if (!json_is_object(meta))
		return ct_errf(e, CT_ECORRUPT, "__metadata__ is not an object");
	json_object_foreach(meta, k, v)
	{
		if (!json_is_string(v))
			return ct_errf(e, CT_ECORRUPT,
				       "__metadata__ value for '%s' is not a string",
				       st_show_name(k, buf, sizeof buf));
	}
	return 0;
}

/* A non-negative JSON integer, or -1. */
static int64_t json_nonneg(const json_t *v)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	return (int64_t)json_integer_value(v);
}

/* Sets up the three fields of an entry, rejecting anything else. */
static int entry_fields(json_t *v, const char *nm, json_t **f, ct_err *e)
{
	static const char *const names[3] = {"dtype", "shape", "data_offsets"};
	const char *k;
	json_t *x;
	char buf[80];
	if (!json_is_object(v))
		return ct_errf(e, CT_ECORRUPT, "tensor '%s': entry is not an object", nm);
	json_object_foreach(v, k, x)
	{
		int i = 0;
		while (i < 3 && strcmp(k, names[i]) != 0)
			i++;
		if (i == 3)
			return ct_errf(e, CT_ECORRUPT, "tensor '%s': unknown field '%s'", nm,
				       st_show_name(k, buf, sizeof buf));
		f[i] = x;
	}
	for (int i = 0; i < 3; i++)
		if (!f[i])
			return ct_errf(e, CT_ECORRUPT, "tensor '%s': missing field '%s'", nm,
				       names[i]);
	return 0;
}

static int entry_dtype(const json_t *v, const char *nm, st_info *t, ct_err *e)
{
	if (!json_is_string(v))
		return ct_errf(e, CT_ECORRUPT, "tensor '%s': dtype is not a string", nm);
	int dt = ct_dtype_from_name(json_string_value(v));
	if (dt < 0) {
		char buf[80];
		return ct_errf(e, CT_ECORRUPT, "tensor '%s': unknown dtype '%s'", nm,
			       st_show_name(json_string_value(v), buf, sizeof buf));
	}
	t->dtype = (ct_dtype)dt;
	return 0;
}

static int entry_shape(const json_t *v, const char *nm, st_info *t, ct_err *e)
{
	if (!json_is_array(v))
		return ct_errf(e, CT_ECORRUPT, "tensor '%s': shape is not an array", nm);
	size_t r = json_array_size(v);
	if (r > CT_MAX_DIMS)
		return ct_errf(e, CT_ECORRUPT, "tensor '%s': rank %zu exceeds the maximum of %d",
			       nm, r, CT_MAX_DIMS);
	t->ndim = (int)r;
	for (size_t i = 0; i < r; i++) {
		t->shape[i] = json_nonneg(json_array_get(v, i));
		if (t->shape[i] < 0)
			return ct_errf(e, CT_ECORRUPT,
				       "tensor '%s': shape[%zu] is not a non-negative integer", nm,
				       i);
	}
	return 0;
}

static int entry_offsets(const json_t *v, const char *nm, st_info *t, ct_err *e)
{
	if (!json_is_array(v) || json_array_size(v) != 2)
		return ct_errf(e, CT_ECORRUPT,
			       "tensor '%s': data_offsets is not an array of 2 integers", nm);
	int64_t b = json_nonneg(json_array_get(v, 0)), x = json_nonneg(json_array_get(v, 1));
	if (b < 0 || x < 0)
		return ct_errf(e, CT_ECORRUPT,
			       "tensor '%s': data_offsets[%d] is not a non-negative integer", nm,
			       b < 0 ? 0 : 1);
	if (b > x)
		return ct_errf(e, CT_ECORRUPT,
			       "tensor '%s': data_offsets [%" PRId64 ",%" PRId64
			       "] has begin > end",
			       nm, b, x);
	t->begin = (uint64_t)b;
	t->end = (uint64_t)x;
	return 0;
}

/* "3x2x4 = 24": the shape, the element size and their product. */
static void size_formula(const st_info *t, uint64_t bytes, char *out, size_t cap)
{
	size_t m = 0;
	out[0] = '\0';
	for (int i = 0; i < t->ndim && m < cap; i++)
		m += (size_t)snprintf(out + m, cap - m, "%" PRId64 "x", t->shape[i]);
	if (m < cap)
		snprintf(out + m, cap - m, "%zu = %" PRIu64, ct_dtype_size(t->dtype), bytes);
}

static int entry_size(const char *nm, const st_info *t, uint64_t data_len, ct_err *e)
{
	uint64_t dsz = ct_dtype_size(t->dtype);
	int64_t numel = ct_shape_numel(t->ndim, t->shape);
	if (numel < 0 || (uint64_t)numel > UINT64_MAX / dsz)
		return ct_errf(e, CT_ECORRUPT,
			       "tensor '%s': byte size of the shape overflows 64 bits", nm);
	uint64_t bytes = (uint64_t)numel * dsz;
	if (t->end - t->begin != bytes) {
		char f[CT_MAX_DIMS * 24 + 48];
		size_formula(t, bytes, f, sizeof f);
		return ct_errf(e, CT_ECORRUPT,
			       "tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64 "] size %" PRIu64
			       " != %s",
			       nm, t->begin, t->end, t->end - t->begin, f);
	}
	if (t->end > data_len)
		return ct_errf(e, CT_ECORRUPT,
			       "tensor '%s': data_offsets end %" PRIu64
			       " exceeds the data section size %" PRIu64,
			       nm, t->end, data_len);
	return 0;
}

static int parse_entry(const char *name, json_t *v, uint64_t data_len, st_info *t, ct_err *e)
{
	char nm[80];
	json_t *f[3] = {NULL, NULL, NULL};
	st_show_name(name, nm, sizeof nm);
	t->name = name;
	int rc = entry_fields(v, nm, f, e);
	if (rc == 0)
		rc = entry_dtype(f[0], nm, t, e);
	if (rc == 0)
		rc = entry_shape(f[1], nm, t, e);
	if (rc == 0)
		rc = entry_offsets(f[2], nm, t, e);
	if (rc == 0)
		rc = entry_size(nm, t, data_len, e);
	return rc;
}

static int cmp_offsets(const void *pa, const void *pb)
{
	const st_info *a = *(const st_info *const *)pa, *b = *(const st_info *const *)pb;
	if (a->begin != b->begin)
		return a->begin < b->begin ? -1 : 1;
	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* The entries, in any header order, must tile [0, data_len) exactly. */
static int check_cover(st_info *t, size_t n, uint64_t data_len, ct_err *e)
{
	st_info **s = malloc((n ? n : 1) * sizeof *s);
	if (!s)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		s[i] = &t[i];
	qsort(s, n, sizeof *s, cmp_offsets);
	uint64_t pos = 0;
	int rc = 0;
	char a[80], b[80];
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (s[i]->begin > pos)
			rc = ct_errf(e, CT_ECORRUPT,
				     "data section has a hole at byte %" PRIu64
				     " (before tensor '%s')",
				     pos, st_show_name(s[i]->name, a, sizeof a));
		else if (s[i]->begin < pos)
			rc = ct_errf(e, CT_ECORRUPT,
				     "tensors overlap at byte %" PRIu64 " ('%s' and '%s')",
				     s[i]->begin, st_show_name(s[i - 1]->name, a, sizeof a),
				     st_show_name(s[i]->name, b, sizeof b));
		pos = s[i]->end;
	}
	free(s);
	if (rc == 0 && pos < data_len)
		rc = ct_errf(e, CT_ECORRUPT, "%" PRIu64 " trailing bytes after the last tensor",
			     data_len - pos);
	return rc;
}

/* Fills out from validated entries.  Appends directly instead of through
 * ct_tdict_add/ct_tdict_set_meta: the JSON parser already rejected duplicates, and
 * their linear name search would make a header of a million names quadratic. */
static int fill_tensors(ct_tdict *out, const st_info *t, size_t n, const unsigned char *data,
			int copy, ct_err *e)
{
	out->v = calloc(n ? n : 1, sizeof *out->v);
	if (!out->v)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	out->cap = n;
	for (size_t i = 0; i < n; i++) {
		ct_tdict_entry *x = &out->v[i];
		x->name = strdup(t[i].name);
		if (!x->name)
			return ct_errf(e, CT_ENOMEM, "out of memory");
		out->n++;
		x->dtype = t[i].dtype;
		x->ndim = t[i].ndim;
		memcpy(x->shape, t[i].shape, sizeof x->shape);
		x->nbytes = (size_t)(t[i].end - t[i].begin);
		/* borrowed view of the caller's bytes, never written (see tdict.h) */
		x->data = (void *)(uintptr_t)(data + t[i].begin);
		if (copy) {
			x->data = malloc(x->nbytes ? x->nbytes : 1);
			if (!x->data)
				return ct_errf(e, CT_ENOMEM, "out of memory");
			x->owned = 1;
			memcpy(x->data, data + t[i].begin, x->nbytes);
		}
	}
	return 0;
}

static int fill_meta(ct_tdict *out, json_t *meta, ct_err *e)
{
	size_t m = json_object_size(meta);
	const char *k;
	json_t *v;
	out->meta_keys = calloc(m ? m : 1, sizeof *out->meta_keys);
	out->meta_vals = calloc(m ? m : 1, sizeof *out->meta_vals);
	if (!out->meta_keys || !out->meta_vals)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	out->cap_meta = m;
	json_object_foreach(meta, k, v)
	{
		char *ks = strdup(k), *vs = strdup(json_string_value(v));
		if (!ks || !vs) {
			free(ks);
			free(vs);
			return ct_errf(e, CT_ENOMEM, "out of memory");
		}
		out->meta_keys[out->n_meta] = ks;
		out->meta_vals[out->n_meta++] = vs;
	}
	return 0;
}

/* Validates every entry of root; *meta receives "__metadata__" or NULL. */
static int parse_entries(json_t *root, uint64_t data_len, st_info *t, size_t *n, json_t **meta,
			 ct_err *e)
{
	const char *k;
	json_t *v;
	int rc = 0;
	*n = 0;
	*meta = NULL;
	json_object_foreach(root, k, v)
	{
		if (strcmp(k, "__metadata__") == 0) {
			*meta = v;
			rc = check_meta(v, e);
		} else {
			t[*n].idx = *n;
			rc = parse_entry(k, v, data_len, &t[*n], e);
			(*n)++;
		}
		if (rc < 0)
			return rc;
	}
	return check_cover(t, *n, data_len, e);
}

int ct_st_parse(const void *buf, size_t len, ct_tdict *out, int copy, ct_err *e)
{
	const unsigned char *b = buf;
	uint64_t hlen = 0;
	json_t *root = NULL, *meta = NULL;
	ct_tdict_init(out);
	int rc = st_header_check_length(b, len, &hlen, e);
	if (rc == 0)
		rc = st_header_load(b + 8, (size_t)hlen, &root, e);
	if (rc < 0)
		return rc;
	uint64_t data_len = len - 8 - hlen;
	size_t cnt = json_object_size(root), n = 0;
	st_info *t = calloc(cnt ? cnt : 1, sizeof *t);
	if (!t)
		rc = ct_errf(e, CT_ENOMEM, "out of memory");
	if (rc == 0)
		rc = parse_entries(root, data_len, t, &n, &meta, e);
	if (rc == 0)
		rc = fill_tensors(out, t, n, b + 8 + hlen, copy, e);
	if (rc == 0 && meta)
		rc = fill_meta(out, meta, e);
	free(t);
	json_decref(root);
	if (rc < 0)
		ct_tdict_release(out);
	return rc;
}
