/* libFuzzer target for the restricted unpickler and the tensor views built on
 * it (make fuzz): the input is a data.pkl image, read in both modes of
 * pth_parse_pickle with every storage it declares (up to 1 MiB) present and
 * filled with a byte pattern.
 *
 * Every input must be accepted or rejected with CT_ECORRUPT, CT_EUNSUPPORTED
 * or CT_EMISMATCH and a one-line printable message naming the file; accepted
 * tensors must have nbytes == numel x dtype size.  Anything else (or a
 * sanitizer report, or a leak) traps.  Seeds: tests/fuzz/corpus/pickle, the
 * data.pkl of valid fixtures written by tests/fixtures/make_pth.py. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../formats/pickle.h"
#include "../../formats/pth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                          \
	do {                              \
		if (!(c))                 \
			__builtin_trap(); \
	} while (0)

static int pattern_get(void *ctx, const char *key, size_t nbytes, void **out, ct_err *e)
{
	(void)ctx;
	if (nbytes > ((size_t)1 << 20))
		return ct_errf(e, CT_ECORRUPT, "fuzz: storage '%.16s' larger than 1 MiB", key);
	if (out) {
		unsigned char *p = malloc(nbytes ? nbytes : 1);
		if (!p)
			return ct_errf(e, CT_ENOMEM, "fuzz: out of memory");
		for (size_t i = 0; i < nbytes; i++)
			p[i] = (unsigned char)(i * 31 + 7);
		*out = p;
	}
	return 0;
}

static void check_message(const ct_err *e, int rc)
{
	CHECK(rc == CT_ECORRUPT || rc == CT_EUNSUPPORTED || rc == CT_EMISMATCH);
	CHECK(e->code == rc && strncmp(e->msg, "fuzz: ", 6) == 0);
	for (const char *p = e->msg; *p; p++)
		CHECK(*p >= 0x20 && *p < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int mode = PTH_ALL; mode <= PTH_STATE_DICT; mode++) {
		ct_tdict d;
		char **skipped;
		size_t n_skipped;
		ct_err e = {0};
		int rc = pth_parse_pickle(data, size, "fuzz", (pth_mode)mode, pattern_get, NULL, &d,
					  &skipped, &n_skipped, &e);
		if (rc < 0) {
			check_message(&e, rc);
			CHECK(d.n == 0 && skipped == NULL && n_skipped == 0);
			continue;
		}
		for (size_t i = 0; i < d.n; i++) {
			int64_t numel = ct_shape_numel(d.v[i].ndim, d.v[i].shape);
			CHECK(numel >= 0);
			CHECK((uint64_t)numel * ct_dtype_size(d.v[i].dtype) == d.v[i].nbytes);
		}
		for (size_t i = 0; i < n_skipped; i++)
			CHECK(skipped[i] && strchr(skipped[i], '('));
		pth_skipped_free(skipped, n_skipped);
		ct_tdict_release(&d);
	}
	return 0;
}
