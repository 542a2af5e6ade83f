/* cli_data.c — `ctrain data convert IN OUT.h5 [--set data.key=value]...` and
 * `ctrain data inspect FILE`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../ckpt/atomic.h"
#include "../data/hdf5in.h"
#include "../util/log.h"
#include "cli.h"
#include "state.h"

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The kind of IN unless --set data.dataset names it. */
static const char *guess_kind(const char *in)
{
	struct stat st;
	if (stat(in, &st) == 0 && S_ISDIR(st.st_mode))
		return "mnist";
	if (ends_with(in, ".h5") || ends_with(in, ".hdf5"))
		return "hdf5";
	if (strcmp(in, "synthetic") == 0)
		return "synthetic";
	return "csv";
}

static int data_convert(int argc, char **argv, ct_err *e)
{
	const char *in = NULL, *out = NULL;
	ct_config c;
	config_defaults(&c);
	const char *sets[CLI_MAX_REPEAT];
	int n_sets = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--set") == 0 && i + 1 < argc) {
			if (cli_repeat(sets, &n_sets, "--set", argv[++i], e) < 0)
				return CT_EUSAGE;
		} else if (argv[i][0] != '-' && !in)
			in = argv[i];
		else if (argv[i][0] != '-' && !out)
			out = argv[i];
		else
			return ct_errf(e, CT_EUSAGE,
				       "unexpected argument '%s' (see ctrain data --help)",
				       argv[i]);
	}
	if (!in || !out)
		return ct_errf(e, CT_EUSAGE,
			       "usage: ctrain data convert IN OUT.h5 [--set data.k=v]...");
	snprintf(c.dataset, sizeof c.dataset, "%s", guess_kind(in));
	snprintf(c.path, sizeof c.path, "%s", in);
	int rc = 0;
	for (int i = 0; rc == 0 && i < n_sets; i++)
		rc = strncmp(sets[i], "data.", 5) == 0
			     ? config_set(&c, sets[i], e)
			     : ct_errf(e, CT_EUSAGE, "--set %s: only data.* keys apply here",
				       sets[i]);
	if (rc < 0)
		return rc;
	c.val_fraction = 0.0; /* every row, in the file's order */
	snprintf(c.val_split, sizeof c.val_split, "tail");
	c.val_path[0] = c.test_path[0] = '\0';
	dataset all, none;
	rc = data_load(&c, 0, &all, &none, e);
	if (rc < 0)
		return rc;
	void *img = NULL;
	size_t len = 0;
	if (!all.y)
		rc = ct_errf(e, CT_EUNSUPPORTED, "%s: no labels to convert", in);
	if (rc == 0)
		rc = hdf5_image(&all, &img, &len, e);
	if (rc == 0)
		rc = atomic_write_file(out, img, len, e);
	if (rc == 0) {
		log_info("wrote %s: %lld rows x %d features, %d classes (%zu bytes)", out,
			 (long long)all.n, all.d, all.n_classes, len);
		printf("rows=%lld features=%d classes=%d bytes=%zu\n", (long long)all.n, all.d,
		       all.n_classes, len);
	}
	free(img);
	dataset_release(&none);
	dataset_release(&all);
	return rc;
}

static int data_inspect(int argc, char **argv, ct_err *e)
{
	if (argc < 1 || argc > 3)
		return ct_errf(e, CT_EUSAGE, "usage: ctrain data inspect FILE.h5 [X Y]");
	h5in h;
	int rc = h5in_open(&h, argv[0], argc > 1 ? argv[1] : "features",
			   argc > 2 ? argv[2] : "labels", e);
	if (rc < 0)
		return rc;
	int64_t block = 65536;
	int32_t *y = malloc((size_t)block * sizeof *y);
	int64_t *lab = malloc((size_t)block * sizeof *lab);
	int64_t *count = calloc(H5IN_MAX_CLASSES, sizeof *count);
	if (!y || !lab || !count)
		rc = ct_errf(e, CT_ENOMEM, "out of memory");
	int32_t ymax = -1;
	for (int64_t r = 0; rc == 0 && r < h.n; r += block) {
		int64_t rows = h.n - r < block ? h.n - r : block;
		rc = h5in_read(&h, r, rows, NULL, y, lab, e);
		for (int64_t i = 0; rc == 0 && i < rows; i++) {
			count[y[i]]++;
			ymax = y[i] > ymax ? y[i] : ymax;
		}
	}
	if (rc == 0) {
		printf("file=%s\nrows=%lld\nfeatures=%d\nfeature_type=%s\nchunk_rows=%lld\n"
		       "classes=%d\n",
		       h.path, (long long)h.n, h.d, h.xtype, (long long)h.chunk_rows, ymax + 1);
		for (int32_t k = 0; k <= ymax; k++)
			printf("label %d: %lld\n", k, (long long)count[k]);
	}
	free(y);
	free(lab);
	free(count);
	h5in_close(&h);
	return rc;
}

int cli_data(int argc, char **argv, ct_err *e)
{
	if (argc >= 1 && strcmp(argv[0], "convert") == 0)
		return data_convert(argc - 1, argv + 1, e);
	if (argc >= 1 && strcmp(argv[0], "inspect") == 0)
		return data_inspect(argc - 1, argv + 1, e);
	return ct_errf(e, CT_EUSAGE,
		       "usage: ctrain data convert IN OUT.h5 | ctrain data inspect FILE");
}
