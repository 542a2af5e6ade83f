/* convert.c — .pth -> .safetensors with a read-back check. */
#include "convert.h"
#include "../util/atomic.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pth.h"
#include "safetensors.h"
#include "tdict.h"

static int differs(const ct_tdict_entry *a, const ct_tdict_entry *b)
{
	if (strcmp(a->name, b->name) != 0)
		return 1;
	if (a->dtype != b->dtype || a->ndim != b->ndim || a->nbytes != b->nbytes)
		return 1;
	if (memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof a->shape[0]) != 0)
		return 1;
	return a->nbytes && memcmp(a->data, b->data, a->nbytes) != 0;
}

/* The writer keeps tdict order and the reader header order, so entry i of
 * both must be the same tensor. */
static int verify(const ct_tdict *want, const char *out, ct_err *e)
{
	ct_tdict got;
	int rc = ct_st_read(out, &got, e);
	if (rc < 0)
		return rc;
	if (got.n != want->n)
		rc = ct_errf(e, CT_EMISMATCH,
			     "%s: round-trip check failed: %zu tensors written, "
			     "%zu read back",
			     out, want->n, got.n);
	for (size_t i = 0; rc == 0 && i < want->n; i++)
		if (differs(&want->v[i], &got.v[i]))
			rc = ct_errf(e, CT_EMISMATCH,
				     "%s: round-trip check failed at tensor '%s': "
				     "name, dtype, shape or bytes differ",
				     out, want->v[i].name);
	const char *fmt = ct_tdict_get_meta(&got, "format");
	if (rc == 0 && (!fmt || strcmp(fmt, "pt") != 0))
		rc = ct_errf(e, CT_EMISMATCH,
			     "%s: round-trip check failed: metadata format is "
			     "not \"pt\"",
			     out);
	ct_tdict_release(&got);
	return rc;
}

int convert_pth_to_safetensors(const char *in, const char *out, convert_summary *s, ct_err *e)
{
	return convert_pth_to_safetensors_map(in, out, NULL, NULL, s, e);
}

int convert_pth_to_safetensors_map(const char *in, const char *out, convert_map_fn map, void *ctx,
				   convert_summary *s, ct_err *e)
{
	memset(s, 0, sizeof *s);
	ct_tdict d;
	char **skipped = NULL;
	size_t n_skipped = 0;
	int rc = pth_read_state_dict(in, &d, &skipped, &n_skipped, e);
	if (rc < 0)
		return rc;
	if (d.n == 0)
		rc = ct_errf(e, CT_EUNSUPPORTED, "%s: no tensors to convert", in);
	if (rc == 0 && map)
		rc = map(&d, ctx, e);
	if (rc == 0)
		rc = ct_tdict_set_meta(&d, "format", "pt", e);
	if (rc == 0)
		rc = ct_st_write(out, &d, e);
	if (rc == 0 && (rc = verify(&d, out, e)) < 0) {
		/* a file that failed its check must not look like a good export */
		if (unlink(out) != 0 && e)
			ct_err_prefix(e, "%s: could not remove the unverified output (%s)", out,
				      strerror(errno));
		else /* the check's error is the one reported */
			(void)ct_atomic_fsync_parent(out, NULL);
	}
	if (rc == 0) {
		s->n_tensors = d.n;
		for (size_t i = 0; i < d.n; i++)
			s->n_bytes += d.v[i].nbytes;
		s->skipped = skipped;
		s->n_skipped = n_skipped;
	} else {
		pth_skipped_free(skipped, n_skipped);
	}
	ct_tdict_release(&d);
	return rc;
}

void convert_summary_release(convert_summary *s)
{
	pth_skipped_free(s->skipped, s->n_skipped);
	memset(s, 0, sizeof *s);
}
