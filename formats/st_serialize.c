/* st_serialize.c — the safetensors writer's byte layout: ct_st_header_build (the
 * length field and the padded JSON header; the data section is the tensors'
 * bytes in order, written from where they live) and ct_st_serialize (all of it
 * in one buffer).
 *
 * jansson builds the header: objects keep insertion order and JSON_COMPACT
 * prints no spaces, so the same tdict always gives the same bytes, in the
 * same shape as the reference writer ("__metadata__" first, then tensors in
 * offset order, fields dtype/shape/data_offsets).
 */
#include "safetensors.h"
#include "st_internal.h"

#include <jansson.h>
#include <string.h>

static int meta_json(const ct_tdict *d, json_t **out, ct_err *e)
{
	json_t *m = json_object();
	if (!m)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	for (size_t i = 0; i < d->n_meta; i++) {
		if (!st_utf8_ok(d->meta_keys[i]) || !st_utf8_ok(d->meta_vals[i])) {
			json_decref(m);
			return ct_errf(e, CT_EUNSUPPORTED, "metadata '%s' is not valid UTF-8 text",
				       d->meta_keys[i]);
		}
		json_t *v = json_string(d->meta_vals[i]);
		if (!v || json_object_set_new(m, d->meta_keys[i], v) != 0) {
			json_decref(m);
			return ct_errf(e, CT_ENOMEM, "out of memory");
		}
	}
	*out = m;
	return 0;
}

/* {"dtype":..,"shape":[..],"data_offsets":[begin,end]} */
static json_t *tensor_json(const ct_tdict_entry *t, size_t begin)
{
	json_t *o = json_object(), *shape = json_array();
	size_t end = begin + t->nbytes; /* header_text checked that it is <= INT64_MAX */
	json_t *offs = json_pack("[I,I]", (json_int_t)begin, (json_int_t)end);
	int bad = !o || !shape || !offs;
	for (int i = 0; i < t->ndim && !bad; i++)
		bad = json_array_append_new(shape, json_integer(t->shape[i])) != 0;
	if (!bad)
		bad = json_object_set_new(o, "dtype", json_string(ct_dtype_name(t->dtype))) != 0;
	if (!bad) {
		bad = json_object_set(o, "shape", shape) != 0 ||
		      json_object_set(o, "data_offsets", offs) != 0;
	}
	json_decref(shape);
	json_decref(offs);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int add_tensor(json_t *root, const ct_tdict_entry *t, size_t begin, ct_err *e)
{
	int64_t numel = ct_shape_numel(t->ndim, t->shape);
	CT_ASSERT(numel >= 0 && (uint64_t)numel * ct_dtype_size(t->dtype) == t->nbytes);
	if (strcmp(t->name, "__metadata__") == 0)
		return ct_errf(e, CT_EUNSUPPORTED, "tensor name '__metadata__' is reserved");
	if (!st_utf8_ok(t->name))
		return ct_errf(e, CT_EUNSUPPORTED, "tensor name '%s' is not valid UTF-8", t->name);
	if (json_object_get(root, t->name))
		return ct_errf(e, CT_EMISMATCH, "duplicate tensor name '%s'", t->name);
	json_t *o = tensor_json(t, begin);
	if (!o || json_object_set_new(root, t->name, o) != 0) /* set_new frees o on failure */
		return ct_errf(e, CT_ENOMEM, "out of memory");
	return 0;
}

/* The compact JSON header text (malloc'ed) and the data section size. */
static int header_text(const ct_tdict *d, char **text, size_t *data_len, ct_err *e)
{
	json_t *root = json_object(), *meta = NULL;
	if (!root)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	int rc = 0;
	if (d->n_meta > 0) {
		rc = meta_json(d, &meta, e);
		if (rc == 0 && json_object_set_new(root, "__metadata__", meta) != 0)
			rc = ct_errf(e, CT_ENOMEM, "out of memory");
	}
	size_t off = 0;
	for (size_t i = 0; i < d->n && rc == 0; i++) {
		/* offsets are JSON integers: int64 */
		if (d->v[i].nbytes > (uint64_t)INT64_MAX - off)
			rc = ct_errf(e, CT_ENOMEM, "tensors too large to serialise");
		else
			rc = add_tensor(root, &d->v[i], off, e);
		off += d->v[i].nbytes;
	}
	if (rc == 0) {
		*text = json_dumps(root, JSON_COMPACT);
		if (!*text)
			rc = ct_errf(e, CT_ENOMEM, "out of memory");
	}
	json_decref(root);
	*data_len = off;
	return rc;
}

int ct_st_header_build(const ct_tdict *d, unsigned char **hdr, size_t *hdr_len, size_t *data_len,
		       ct_err *e)
{
	char *text = NULL;
	*hdr = NULL;
	int rc = header_text(d, &text, data_len, e);
	if (rc < 0)
		return rc;
	size_t tl = strlen(text);
	size_t n = (tl + 7) & ~(size_t)7; /* 8 + n is then a multiple of 8 */
	/* header_text kept data_len <= INT64_MAX and the text is in memory: the
	 * sum of the two cannot wrap a 64-bit size_t */
	CT_ASSERT(*data_len <= SIZE_MAX - 8 - n);
	unsigned char *b = malloc(8 + n);
	if (!b) {
		free(text);
		return ct_errf(e, CT_ENOMEM, "out of memory");
	}
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)n >> (8 * i));
	memcpy(b + 8, text, tl);
	memset(b + 8 + tl, ' ', n - tl);
	free(text);
	*hdr = b;
	*hdr_len = 8 + n;
	return 0;
}

int ct_st_serialize(const ct_tdict *d, void **buf, size_t *len, ct_err *e)
{
	unsigned char *hdr;
	size_t hl, data_len;
	int rc = ct_st_header_build(d, &hdr, &hl, &data_len, e);
	if (rc < 0)
		return rc;
	unsigned char *b = realloc(hdr, hl + data_len);
	if (!b) {
		free(hdr);
		return ct_errf(e, CT_ENOMEM, "out of memory");
	}
	size_t off = hl;
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].nbytes)
			memcpy(b + off, d->v[i].data, d->v[i].nbytes);
		off += d->v[i].nbytes;
	}
	*buf = b;
	*len = off;
	return 0;
}
