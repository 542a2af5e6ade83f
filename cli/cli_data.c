/* cli_data.c — `ctrain data convert IN OUT.h5 [--set data.key=value]...` and
 * `ctrain data inspect FILE`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/atomic.h"
#include "../data/csvparse.h"
#include "../data/hdf5in.h"
#include "../util/pool.h"
#include "../util/log.h"
#include "../util/util.h"
#include "cli.h"
#include "../train/progress.h"
#include "../train/state.h"

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The kind of IN unless --set data.dataset names it. */
static ct_data_kind guess_kind(const char *in)
{
	struct stat st;
	if (stat(in, &st) == 0 && S_ISDIR(st.st_mode))
		return CT_DATA_MNIST;
	if (ends_with(in, ".h5") || ends_with(in, ".hdf5"))
		return CT_DATA_HDF5;
	if (strcmp(in, "synthetic") == 0)
		return CT_DATA_SYNTHETIC;
	return CT_DATA_CSV;
}

/* ---- convert: read blocks of rows, append them to OUT ---------------------- */

/* One input read a block of rows at a time, as they are written (constant
 * memory).  A CSV's rows are counted first by a pass that only splits lines
 * (OUT's layout depends on the row count), then parsed block by block. */
typedef struct conv_src {
	const char *path;
	int64_t n;
	int d, n_classes;
	ct_synthetic *syn;
	pool *workers;
	ct_mnist_stream mn;
	h5in h5;
	int h5_open;
	int64_t *lab; /* hdf5: scratch of a block's labels */
	csv_reader *csv;
	float *extra; /* csv: room for one row more than counted */
} conv_src;

/* Parses the rest of the CSV, keeping nothing: the first error ct_csv_load
 * would report (a bad cell before a damaged or unreadable part), or 0. */
static int csv_validate(conv_src *s, ct_err *e)
{
	int64_t block = 4096;
	float *x = malloc((size_t)block * (size_t)s->d * sizeof *x);
	int32_t *y = malloc((size_t)block * sizeof *y);
	int64_t got = x && y ? block : ct_errf(e, CT_ENOMEM, "out of memory");
	while (got == block)
		got = csv_reader_read(s->csv, block, x, y, e);
	free(x);
	free(y);
	return got < 0 ? (int)got : 0;
}

static int csv_open(conv_src *s, const ct_config *c, ct_err *e)
{
	int rc = csv_reader_open(&s->csv, c->path, c->label_column, (int)c->header, CSV_BLOCK, e);
	if (rc < 0)
		return rc;
	s->d = csv_reader_features(s->csv);
	if (!csv_reader_labelled(s->csv)) {
		rc = csv_validate(s, e); /* its errors came first when the file was loaded */
		return rc < 0 ? rc
			      : ct_errf(e, CT_EUNSUPPORTED, "%s: no labels to convert", c->path);
	}
	ct_err count_err = {0};
	rc = csv_reader_count(s->csv, &s->n, &count_err);
	if (rc < 0) {
		/* the rows before the damage may hold the error ct_csv_load reported */
		int vrc = csv_validate(s, e);
		if (vrc < 0)
			return vrc;
		*e = count_err;
		return rc;
	}
	if (!(s->extra = malloc((size_t)s->d * sizeof *s->extra)))
		return ct_errf(e, CT_ENOMEM, "out of memory");
	return 0;
}

static int src_open(conv_src *s, const ct_config *c, ct_err *e)
{
	memset(s, 0, sizeof *s);
	s->path = c->path;
	int rc = 0;
	if (c->dataset == CT_DATA_SYNTHETIC) {
		rc = ct_synthetic_new(&s->syn, c->seed, c->n_samples, c->n_features, c->n_classes,
				      (int)c->generator, e);
		s->n = c->n_samples;
		s->d = c->n_features;
		s->n_classes = c->n_classes;
		if (rc == 0 && c->threads > 1 && !(s->workers = pool_new(c->threads)))
			rc = ct_errf(e, CT_ENOMEM, "cannot start %d threads", c->threads);
	} else if (c->dataset == CT_DATA_MNIST || c->dataset == CT_DATA_FASHION_MNIST) {
		rc = ct_mnist_stream_open(&s->mn, c->path, 1, e);
		s->n = s->mn.n;
		s->d = s->mn.d;
		s->n_classes = 10;
	} else if (c->dataset == CT_DATA_HDF5) {
		rc = h5in_open(&s->h5, c->path, c->x_name, c->y_name, e);
		s->h5_open = rc == 0;
		if (rc == 0 && s->h5.y < 0)
			rc = ct_errf(e, CT_EUNSUPPORTED, "%s: no labels to convert", c->path);
		s->n = s->h5.n;
		s->d = s->h5.d;
	} else {
		rc = csv_open(s, c, e);
	}
	return rc;
}

static int src_read(conv_src *s, int64_t row0, int64_t rows, float *x, int32_t *y, ct_err *e)
{
	if (s->syn) {
		ct_synthetic_rows(s->syn, row0, rows, x, y, s->workers);
		return 0;
	}
	if (s->mn.open)
		return ct_mnist_stream_read(&s->mn, rows, x, y, e);
	if (s->h5_open) {
		if (!s->lab &&
		    !(s->lab = malloc((size_t)rows * sizeof *s->lab))) /* the largest block */
			return ct_errf(e, CT_ENOMEM, "out of memory");
		int rc = h5in_read(&s->h5, row0, rows, x, y, s->lab, e);
		for (int64_t i = 0; rc == 0 && i < rows; i++)
			s->n_classes = y[i] + 1 > s->n_classes ? y[i] + 1 : s->n_classes;
		return rc;
	}
	int64_t got = csv_reader_read(s->csv, rows, x, y, e), more = 0;
	int32_t y1;
	if (got == rows && row0 + rows == s->n) /* the end: nothing may follow */
		more = csv_reader_read(s->csv, 1, s->extra, &y1, e);
	if (got < 0 || more < 0)
		return got < 0 ? (int)got : (int)more;
	if (got != rows || more != 0)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: changed while it was converted (%lld data rows counted, "
			       "then %s read)",
			       s->path, (long long)s->n, got != rows ? "fewer" : "more");
	s->n_classes = s->n_classes < 1 ? 1 : s->n_classes; /* as ct_csv_load counts them */
	for (int64_t i = 0; i < rows; i++)
		s->n_classes = y[i] + 1 > s->n_classes ? y[i] + 1 : s->n_classes;
	return 0;
}

static int src_close(conv_src *s, ct_err *e)
{
	int rc = 0;
	ct_synthetic_free(s->syn);
	pool_free(s->workers);
	if (s->mn.open)
		rc = ct_mnist_stream_close(&s->mn, e);
	if (s->h5_open)
		h5in_close(&s->h5);
	free(s->lab);
	free(s->extra);
	int crc = csv_reader_close(s->csv, rc == 0 ? e : NULL);
	return rc == 0 ? crc : rc;
}

/* The bar (stderr a terminal, not -q) or, otherwise, a log line per quarter. */
typedef struct conv_bar {
	int tty, quarter;
	double t0, last;
} conv_bar;

static void bar_update(conv_bar *b, int64_t done, int64_t n, int d)
{
	double now = progress_now(), t = now - b->t0;
	double mb = (double)done * d * 4.0 / 1e6, frac = (double)done / (double)n;
	char eta[32] = "";
	if (done > 0 && done < n)
		format_duration(eta, sizeof eta, t / frac - t);
	if (b->tty && (done == n || now - b->last >= 0.1)) {
		char bar[31];
		int full = (int)(frac * 30);
		for (int i = 0; i < 30; i++)
			bar[i] = i < full ? '#' : ' ';
		bar[30] = '\0';
		/* a lost redraw of the bar is harmless */
		(void)fprintf(stderr, "\rconvert [%s] %3.0f%% %lld/%lld rows  %.0f MB/s%s%s\033[K",
			      bar, frac * 100, (long long)done, (long long)n, t > 0 ? mb / t : 0.0,
			      eta[0] ? "  ETA " : "", eta);
		if (done == n)
			(void)fputc('\n', stderr);
		b->last = now;
	} else if (!b->tty && (int)(frac * 4) > b->quarter) {
		b->quarter = (int)(frac * 4);
		ct_log_info("convert: %lld/%lld rows (%.0f%%), %.0f MB/s", (long long)done,
			    (long long)n, frac * 100, t > 0 ? mb / t : 0.0);
	}
}

/* Removes .tmp-<base>-<pid>-* beside out left by a convert that was killed
 * (its pid is gone); a live writer's file is left alone. */
static void remove_stale_tmp(const char *dir, const char *base)
{
	DIR *dh = opendir(dir);
	if (!dh)
		return;
	char prefix[1100];
	snprintf(prefix, sizeof prefix, "%s%s-", CT_ATOMIC_TMP_PREFIX, base);
	struct dirent *ent;
	int removed = 0;
	while ((ent = readdir(dh)) != NULL) {
		if (strncmp(ent->d_name, prefix, strlen(prefix)) != 0)
			continue;
		long pid = strtol(ent->d_name + strlen(prefix), NULL, 10);
		if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno == EPERM)
			continue;
		char p[8192];
		ct_err e;
		if (ct_path_join_e(p, sizeof p, dir, ent->d_name, &e) < 0) {
			ct_log_warn("%s", e.msg); /* not ours to remove if we cannot name it */
			continue;
		}
		if (unlink(p) == 0) {
			ct_log_info("removed %s, left by a convert that was stopped", p);
			removed++;
		}
	}
	closedir(dh);
	ct_err ignore;
	if (removed)
		(void)ct_atomic_fsync_dir(dir, &ignore); /* redone next time if lost */
}

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

/* Writes the rows of src to tmp, then makes it durable and renames it to out. */
static int convert_rows(conv_src *src, const char *tmp, const char *out, ct_err *e)
{
	int64_t chunk = h5out_chunk_rows(src->n, src->d);
	/* whole chunks per block, about 8 MiB of features */
	int64_t per = (int64_t)((8u << 20) / ((uint64_t)chunk * (uint64_t)src->d * 4));
	int64_t block = chunk * (per < 1 ? 1 : per);
	block = block > src->n ? src->n : block;
	float *x = ct_aligned_alloc(CT_DATASET_ALIGN, (size_t)block * (size_t)src->d * sizeof *x);
	int32_t *y = malloc((size_t)block * sizeof *y);
	h5out w = {.file = -1, .x = -1, .y = -1};
	int rc = 0, created = 0;
	if (!x || !y)
		rc = ct_errf(e, CT_ENOMEM, "out of memory for a block of %lld rows",
			     (long long)block);
	if (rc == 0) {
		rc = h5out_create(&w, tmp, src->n, src->d, e);
		created = rc == 0 || access(tmp, F_OK) == 0;
	}
	conv_bar bar = {.tty = isatty(STDERR_FILENO) && ct_log_get_level() <= CT_LOG_INFO,
			.t0 = progress_now()};
	for (int64_t r = 0; rc == 0 && r < src->n; r += block) {
		int64_t rows = src->n - r < block ? src->n - r : block;
		rc = src_read(src, r, rows, x, y, e);
		if (rc == 0)
			rc = h5out_write(&w, x, y, rows, e);
		if (rc == 0)
			bar_update(&bar, r + rows, src->n, src->d);
	}
	if (rc == 0 && bar.tty == 0 && bar.quarter < 4)
		bar_update(&bar, src->n, src->n, src->d);
	if (created && w.file >= 0) {
		int crc = h5out_close(&w, rc == 0 ? e : NULL);
		rc = rc == 0 ? crc : rc;
	}
	free(x);
	free(y);
	if (rc == 0) {
		int fd = open(tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) != 0)
			rc = ct_errno(e, CT_EIO, errno, "%s: fsync of temporary file %s failed",
				      out, tmp);
		if (fd >= 0 && close(fd) != 0 && rc == 0)
			rc = ct_errno(e, CT_EIO, errno, "%s: close of %s failed", out, tmp);
	}
	if (rc == 0 && rename(tmp, out) != 0)
		rc = ct_errno(e, CT_EIO, errno, "%s: rename of temporary file failed", out);
	if (rc < 0 && created)
		(void)unlink(tmp); /* already failing; nothing else was touched */
	if (rc == 0 && ct_atomic_fsync_parent(out, e) < 0)
		rc = ct_err_prefix(e, "%s: written, but not durable", out);
	return rc;
}

static int data_convert(int argc, char **argv, ct_err *e)
{
	const char *in = NULL, *out = NULL;
	ct_config c;
	ct_config_defaults(&c);
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
			return cli_unexpected(argv[i], "data", e);
	}
	if (!in || !out)
		return ct_errf(e, CT_EUSAGE,
			       "usage: ctrain data convert IN OUT.h5 [--set data.k=v]...");
	c.dataset = guess_kind(in);
	snprintf(c.path, sizeof c.path, "%s", in);
	int rc = 0;
	for (int i = 0; rc == 0 && i < n_sets; i++)
		rc = strncmp(sets[i], "data.", 5) == 0 ||
				     strncmp(sets[i], "train.seed=", 11) == 0 ||
				     strncmp(sets[i], "train.threads=", 14) == 0
			     ? ct_config_set(&c, sets[i], e)
			     : ct_errf(e, CT_EUSAGE,
				       "--set %s: only data.*, train.seed and train.threads apply "
				       "here",
				       sets[i]);
	if (rc < 0)
		return rc;
	if (same_file(in, out))
		return ct_errf(e, CT_EUSAGE, "%s is both the input and the output", out);
	char dir[4096], tmp[8192];
	const char *slash = strrchr(out, '/');
	const char *base = slash ? slash + 1 : out;
	if (slash)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - out) ? (int)(slash - out) : 1, out);
	else
		snprintf(dir, sizeof dir, ".");
	if (!base[0])
		return ct_errf(e, CT_EUSAGE, "%s: names a directory, not a file", out);
	snprintf(tmp, sizeof tmp, "%s/%s%s-%ld-0", dir, CT_ATOMIC_TMP_PREFIX, base, (long)getpid());
	remove_stale_tmp(dir, base);
	conv_src src;
	rc = src_open(&src, &c, e);
	if (rc == 0)
		rc = convert_rows(&src, tmp, out, e);
	int crc = src_close(&src, rc == 0 ? e : NULL);
	rc = rc == 0 ? crc : rc;
	struct stat st;
	if (rc == 0 && stat(out, &st) == 0) {
		ct_log_info("wrote %s: %lld rows x %d features, %d classes (%lld bytes)", out,
			    (long long)src.n, src.d, src.n_classes, (long long)st.st_size);
		printf("rows=%lld features=%d classes=%d bytes=%lld\n", (long long)src.n, src.d,
		       src.n_classes, (long long)st.st_size);
	}
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
