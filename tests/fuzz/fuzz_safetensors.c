/* libFuzzer target for the safetensors reader (make fuzz).
 *
 * Every input must be either rejected with CT_ECORRUPT and a message, or
 * accepted; a message is one printable line; an accepted file must describe tensors inside the input and must
 * survive ct_st_serialize -> ct_st_parse unchanged (same names, dtypes, shapes,
 * bytes and metadata), with copy=0 and copy=1 agreeing.  Anything else traps. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../formats/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

static void check_same(const ct_tdict *a, const ct_tdict *b)
{
	CHECK(a->n == b->n && a->n_meta == b->n_meta);
	for (size_t i = 0; i < a->n; i++) {
		const ct_tdict_entry *x = &a->v[i], *y = &b->v[i];
		CHECK(strcmp(x->name, y->name) == 0 && x->dtype == y->dtype);
		CHECK(x->ndim == y->ndim && x->nbytes == y->nbytes);
		CHECK(memcmp(x->shape, y->shape, (size_t)x->ndim * sizeof x->shape[0]) == 0);
		CHECK(x->nbytes == 0 || memcmp(x->data, y->data, x->nbytes) == 0);
	}
	for (size_t i = 0; i < a->n_meta; i++) {
		CHECK(strcmp(a->meta_keys[i], b->meta_keys[i]) == 0);
		CHECK(strcmp(a->meta_vals[i], b->meta_vals[i]) == 0);
	}
}

static void check_accepted(const uint8_t *data, size_t size, const ct_tdict *d)
{
	for (size_t i = 0; i < d->n; i++) {
		const uint8_t *p = d->v[i].data;
		int64_t numel = ct_shape_numel(d->v[i].ndim, d->v[i].shape);
		CHECK(p >= data && p + d->v[i].nbytes <= data + size);
		CHECK(numel >= 0 &&
		      (uint64_t)numel * ct_dtype_size(d->v[i].dtype) == d->v[i].nbytes);
	}
	void *buf = NULL;
	size_t len = 0;
	ct_err e = {0};
	ct_tdict r;
	CHECK(ct_st_serialize(d, &buf, &len, &e) == 0);
	CHECK(ct_st_parse(buf, len, &r, 1, &e) == 0);
	check_same(d, &r);
	ct_tdict_release(&r);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ct_tdict d, c;
	ct_err e = {0}, e2 = {0};
	int rc = ct_st_parse(data, size, &d, 0, &e);
	int rc2 = ct_st_parse(data, size, &c, 1, &e2);
	CHECK(rc == rc2);
	if (rc == 0) {
		check_accepted(data, size, &d);
		check_same(&d, &c);
	} else {
		CHECK(rc == CT_ECORRUPT && e.msg[0] != '\0' && strcmp(e.msg, e2.msg) == 0);
		for (const char *p = e.msg; *p; p++) /* file bytes are quoted sanitised */
			CHECK(*p >= 0x20 && *p < 0x7f);
		CHECK(d.n == 0 && d.v == NULL && c.n == 0);
	}
	ct_tdict_release(&d);
	ct_tdict_release(&c);
	return 0;
}
