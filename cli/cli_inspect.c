/* cli_inspect.c — `ctrain inspect FILE`: what a checkpoint, safetensors or
 * .pth file holds, and whether it is valid. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../ckpt/h5c.h"
#include "../formats/pth.h"
#include "../formats/safetensors.h"
#include "cli.h"
#include "source.h"
#include "../util/util.h"

static void print_tensor(const ct_tdict_entry *t, size_t begin)
{
	char shape[128];
	ct_shape_format(shape, sizeof shape, t->ndim, t->shape, ", ");
	size_t n = t->nbytes / ct_dtype_size(t->dtype);
	printf("  %-32s %-5s %-16s bytes [%zu, %zu)", t->name, ct_dtype_name(t->dtype), shape,
	       begin, begin + t->nbytes);
	float *f = n ? malloc(n * sizeof(float)) : NULL;
	if (f && ct_tdict_entry_to_f32(t, f, NULL) == 0) {
		double mn = HUGE_VAL, mx = -HUGE_VAL, sum = 0;
		for (size_t i = 0; i < n; i++) {
			mn = fmin(mn, (double)f[i]);
			mx = fmax(mx, (double)f[i]);
			sum += (double)f[i];
		}
		printf("  min %.4g max %.4g mean %.4g", mn, mx, sum / (double)n);
	}
	free(f);
	putchar('\n');
}

static int inspect_tdict(const char *path, const char *kind, const ct_tdict *d)
{
	printf("%s: valid %s, %zu tensors\n", path, kind, d->n);
	for (size_t i = 0; i < d->n_meta; i++)
		printf("  metadata %s = %s\n", d->meta_keys[i], d->meta_vals[i]);
	size_t off = 0;
	for (size_t i = 0; i < d->n; i++) {
		print_tensor(&d->v[i], off);
		off += d->v[i].nbytes;
	}
	return 0;
}

static int inspect_checkpoint(const char *path, ct_err *e)
{
	ct_h5c_reader *r;
	int rc = ct_h5c_open(path, &r, e);
	if (rc < 0)
		return ct_err_prefix(e, "invalid checkpoint");
	int64_t step = -1, epoch = -1;
	char *core = NULL, *version = NULL;
	ct_h5c_field f[] = {{"/meta/step", CT_H5C_I64, 0, {0}, &step},
			    {"/meta/epoch", CT_H5C_I64, 0, {0}, &epoch},
			    {"/meta@blas_core", CT_H5C_STR, 0, {0}, &core},
			    {"/meta@version", CT_H5C_STR, 0, {0}, &version}};
	for (size_t i = 0; i < 4 && rc == 0; i++)
		rc = ct_h5c_read(r, &f[i], e);
	ct_h5c_close(r);
	if (rc == 0) {
		printf("%s: valid ctrain checkpoint (checksum ok), step %lld, epoch %lld, "
		       "ctrain %s, OpenBLAS core %s\n",
		       path, (long long)step, (long long)epoch + 1, version, core);
		ct_tdict d;
		ct_tdict_init(&d);
		rc = source_read_tdict(path, SRC_CHECKPOINT, &d, e);
		for (size_t i = 0; rc == 0 && i < d.n; i++)
			print_tensor(&d.v[i], 0);
		ct_tdict_release(&d);
	}
	free(core);
	free(version);
	return rc;
}

int cli_inspect(int argc, char **argv, ct_err *e)
{
	if (argc != 1 || argv[0][0] == '-')
		return ct_errf(e, CT_EUSAGE, "usage: ctrain inspect FILE");
	const char *path = argv[0];
	char *resolved = NULL;
	source_kind kind;
	int rc = source_resolve(path, &resolved, &kind, e);
	if (rc < 0)
		return rc;
	ct_tdict d;
	ct_tdict_init(&d);
	if (kind == SRC_CHECKPOINT) {
		rc = inspect_checkpoint(resolved, e);
	} else if (kind == SRC_SAFETENSORS) {
		rc = ct_st_read(resolved, &d, e);
		if (rc == 0)
			inspect_tdict(resolved, "safetensors", &d);
	} else {
		char **skipped = NULL;
		size_t n_skipped = 0;
		rc = pth_read(resolved, &d, &skipped, &n_skipped, e);
		if (rc == 0) {
			inspect_tdict(resolved, "PyTorch zip file", &d);
			for (size_t i = 0; i < n_skipped; i++)
				printf("  non-tensor entry %s\n", skipped[i]);
		}
		for (size_t i = 0; i < n_skipped; i++)
			free(skipped[i]);
		free(skipped);
	}
	ct_tdict_release(&d);
	free(resolved);
	return rc;
}
