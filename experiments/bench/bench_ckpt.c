/* bench_ckpt.c — what a checkpoint costs compared with the bytes it writes.
 *
 * For a train_state of the given model (Adam by default: params + m + v,
 * about 22 MB for 784-1024-1024-10) it measures, each --reps times, median:
 *   sync    what checkpoint.async = false costs:     vs plain write+fsync of
 *           take_live + image build + atomic write      the file's byte count
 *           (and ct_ckpt_manager_save in sync mode, which also runs retention)
 *   async   ct_ckpt_manager_save stall in async mode    vs memcpy of the state
 *   resume  ct_ckpt_fields_read + ct_ckpt_fields_apply (page cache warm, and cold after
 *           posix_fadvise(DONTNEED) on the clean file)
 *   export  ct_model_export (safetensors, f32)          vs plain write+fsync
 *           and how much it raises the peak resident size (VmHWM)
 * Measurements alternate with their baseline so that load drift hits both.
 * Every file goes into --dir (one filesystem for both sides); the caller
 * removes --dir afterwards (the managers leave their last 2 files). */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tests/peak_rss.h"
#include "../../util/atomic.h"
#include "../../train/export.h"
#include "../../train/state_ckpt.h"
#include "../../train/state.h"

#define MAX_REPS 64

typedef struct ckpt_ctx {
	const bench_opts *o;
	ct_train_state s;
	char path[4096];
	size_t state_bytes;
	char *plain;      /* bytes for the plain write baseline */
	size_t plain_cap;
	int seq;          /* file name counter */
} ckpt_ctx;

static int state_init(ckpt_ctx *c, ct_err *e)
{
	char ini[512];
	snprintf(ini, sizeof ini,
		 "[model]\nlayers = %s\n[optim]\nname = %s\nlr = 0.001\nmomentum = %s\n"
		 "[data]\ndataset = synthetic\nn_samples = 256\nn_features = %d\nn_classes = %d\n"
		 "batch_size = 32\n",
		 c->o->layers, c->o->optim, strcmp(c->o->optim, "sgd") == 0 ? "0.9" : "0",
		 c->o->sizes[0], c->o->sizes[c->o->n_sizes - 1]);
	ct_config cfg;
	ct_config_defaults(&cfg);
	int rc = ct_config_parse_string(&cfg, ini, "bench.ini", e);
	if (rc == 0)
		rc = ct_config_validate(&cfg, "bench.ini", e);
	if (rc == 0)
		rc = ct_train_state_init(&c->s, &cfg, "bench.ini", e);
	if (rc < 0)
		return rc;
	size_t arrays = 1u + (c->s.opt.m != NULL ? 1u : 0u) + (c->s.opt.v != NULL ? 1u : 0u);
	c->state_bytes = arrays * c->s.model.ps.n * sizeof(float);
	/* Non-trivial optimizer moments, as after some training. */
	for (size_t i = 0; i < c->s.model.ps.n; i++) {
		if (c->s.opt.m)
			c->s.opt.m[i] = c->s.model.ps.data[i] * 0.01f;
		if (c->s.opt.v)
			c->s.opt.v[i] = c->s.model.ps.data[i] * c->s.model.ps.data[i];
	}
	return 0;
}

static const char *next_path(ckpt_ctx *c, const char *stem, const char *ext)
{
	snprintf(c->path, sizeof c->path, "%s/%s-%d.%s", c->o->dir, stem, c->seq++, ext);
	return c->path;
}

static int file_size(const char *path, size_t *len, ct_err *e)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return ct_errno(e, CT_EIO, errno, "%s: stat failed", path);
	*len = (size_t)st.st_size;
	return 0;
}

static int unlink_checked(const char *path, ct_err *e)
{
	if (unlink(path) != 0)
		return ct_errno(e, CT_EIO, errno, "%s: unlink failed", path);
	return 0;
}

/* open + write loop + fsync + close of len bytes into a new file; seconds. */
static int plain_write(ckpt_ctx *c, size_t len, double *sec, ct_err *e)
{
	if (len > c->plain_cap) {
		free(c->plain);
		if (!(c->plain = malloc(len)))
			return ct_errf(e, CT_ENOMEM, "out of memory for %zu bytes", len);
		for (size_t i = 0; i < len; i++) /* touched, and not all zeros */
			c->plain[i] = (char)(i * 131u >> 7);
		c->plain_cap = len;
	}
	const char *path = next_path(c, "plain", "bin");
	double t0 = bench_now();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return ct_errno(e, CT_EIO, errno, "%s: open failed", path);
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, c->plain + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int err = errno;
			close(fd);
			return ct_errno(e, CT_EIO, err, "%s: write failed", path);
		}
		off += (size_t)w;
	}
	int err = fsync(fd) != 0 ? errno : 0;
	if (close(fd) != 0 && !err)
		err = errno;
	*sec = bench_now() - t0;
	if (err)
		return ct_errno(e, CT_EIO, err, "%s: fsync/close failed", path);
	return unlink_checked(path, e);
}

typedef struct series {
	double v[MAX_REPS];
	int n;
} series;

static void add(series *s, double x)
{
	if (s->n < MAX_REPS)
		s->v[s->n++] = x;
}

static double med(const series *s)
{
	double tmp[MAX_REPS];
	memcpy(tmp, s->v, (size_t)s->n * sizeof *tmp);
	return bench_median(tmp, s->n);
}

typedef struct results {
	series sync, sync_plain, take, serialize, atomic, cp_sync, stall, bg_write, mcpy, warm, cold, exp, exp_plain;
	size_t ckpt_bytes, export_bytes;
	long export_peak_kb; /* largest growth of the peak resident size during an export */
} results;

/* A synchronous checkpoint as the trainer makes one (ct_ckpt_manager_save with
 * checkpoint.async = false, retention aside): take the small fields (the
 * large ones stay in the state), build the image around them, write it
 * atomically; then the same byte count written plainly.  The image is
 * reused across checkpoints, as the manager does. */
static int measure_sync(ckpt_ctx *c, ct_ckpt_fields *f, ct_h5c_image *im, results *r, ct_err *e)
{
	const char *path = next_path(c, "ckpt-sync", "h5");
	double t0 = bench_now();
	ct_ckpt_fields_take_live(f, ++c->s.step);
	double t1 = bench_now();
	int rc = ct_ckpt_fields_serialize(f, im, e);
	double t2 = bench_now();
	if (rc == 0)
		rc = ct_atomic_write_iov(path, im->seg, (int)im->n_seg, e);
	double t3 = bench_now();
	if (rc == 0)
		rc = file_size(path, &r->ckpt_bytes, e);
	if (rc == 0)
		rc = unlink_checked(path, e);
	double sec = 0;
	if (rc == 0)
		rc = plain_write(c, r->ckpt_bytes, &sec, e);
	if (rc == 0) {
		add(&r->sync, t3 - t0);
		add(&r->take, t1 - t0);
		add(&r->serialize, t2 - t1);
		add(&r->atomic, t3 - t2);
		add(&r->sync_plain, sec);
	}
	return rc;
}

/* ct_ckpt_manager_save as the trainer calls it with checkpoint.async = false.
 * Deleting the oldest file runs on the manager's thread; training steps
 * between two checkpoints give it time, so it is waited for untimed. */
static int measure_cp_sync(ckpt_ctx *c, ct_ckpt_manager *cm, series *out, ct_err *e)
{
	int rc = ct_ckpt_manager_wait(cm, e);
	if (rc < 0)
		return rc;
	c->s.step++;
	double t0 = bench_now();
	rc = ct_ckpt_manager_save(cm, c->s.step, e);
	if (rc == 0)
		add(out, bench_now() - t0);
	return rc;
}

/* The async stall: the previous write has finished (waited for outside the
 * timing), so this is what the loop pays between two steps. */
static int measure_async(ckpt_ctx *c, ct_ckpt_manager *cm, series *stall, series *write_sec,
			 series *mcpy, char *dst, ct_err *e)
{
	c->s.step++;
	double t0 = bench_now();
	int rc = ct_ckpt_manager_save(cm, c->s.step, e);
	double t1 = bench_now();
	if (rc == 0)
		rc = ct_ckpt_manager_wait(cm, e);
	if (rc < 0)
		return rc;
	add(stall, t1 - t0);
	add(write_sec, ct_ckpt_manager_get_stats(cm).last_write_sec);
	size_t n = c->s.model.ps.n * sizeof(float), off = 0;
	t0 = bench_now();
	memcpy(dst, c->s.model.ps.data, n);
	off += n;
	if (c->s.opt.m) {
		memcpy(dst + off, c->s.opt.m, n);
		off += n;
	}
	if (c->s.opt.v)
		memcpy(dst + off, c->s.opt.v, n);
	add(mcpy, bench_now() - t0);
	return 0;
}

/* Drops a clean file's pages from the page cache (no effect on other files). */
static void evict(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); /* best effort */
		close(fd);
	}
}

static int measure_resume(ct_ckpt_fields *rd, const char *path, int cold, series *out, ct_err *e)
{
	if (cold)
		evict(path);
	double t0 = bench_now();
	int rc = ct_ckpt_fields_read(rd, path, e);
	if (rc == 0)
		rc = ct_ckpt_fields_apply(rd, e);
	if (rc == 0)
		add(out, bench_now() - t0);
	return rc;
}
/* Resets the peak resident size (VmHWM) to the current one; 0 or -1. */
static int measure_export(ckpt_ctx *c, results *r, ct_err *e)
{
	const char *path = next_path(c, "model", "safetensors");
	int peak_ok = peak_rss_reset() == 0;
	long rss0 = peak_rss_kb("VmRSS");
	double t0 = bench_now();
	int rc = ct_model_export(&c->s.model, path, CT_DT_F32, NULL, e);
	double t1 = bench_now(), sec = 0;
	long peak = peak_rss_kb("VmHWM");
	if (peak_ok && rss0 > 0 && peak > 0 && peak - rss0 > r->export_peak_kb)
		r->export_peak_kb = peak - rss0;
	if (rc == 0)
		rc = file_size(path, &r->export_bytes, e);
	if (rc == 0)
		rc = unlink_checked(path, e);
	if (rc == 0)
		rc = plain_write(c, r->export_bytes, &sec, e);
	if (rc == 0) {
		add(&r->exp, t1 - t0);
		add(&r->exp_plain, sec);
	}
	return rc;
}


/* A table of the state's fields (train/state_ckpt.c), as the manager holds. */
static int state_fields(ckpt_ctx *c, ct_ckpt_fields *f, ct_err *e)
{
	int rc = ct_ckpt_fields_init(f, e);
	if (rc == 0 && (rc = state_ckpt_register(f, &c->s, e)) < 0)
		ct_ckpt_fields_release(f);
	return rc;
}

static int run_sync_and_resume(ckpt_ctx *c, results *r, ct_err *e)
{
	ct_ckpt_fields sn, rd;
	int rc = state_fields(c, &sn, e);
	if (rc < 0)
		return rc;
	rc = state_fields(c, &rd, e);
	if (rc < 0) {
		ct_ckpt_fields_release(&sn);
		return rc;
	}
	ct_h5c_image im;
	ct_h5c_image_init(&im);
	for (int i = 0; i < c->o->reps && rc == 0; i++)
		rc = measure_sync(c, &sn, &im, r, e);
	ct_ckpt_fields_take(&sn, c->s.step); /* the resume file below is written from copies */
	const char *path = next_path(c, "ckpt-resume", "h5");
	char keep[4096];
	snprintf(keep, sizeof keep, "%s", path);
	if (rc == 0)
		rc = ct_ckpt_fields_serialize(&sn, &im, e);
	if (rc == 0)
		rc = ct_atomic_write_iov(keep, im.seg, (int)im.n_seg, e);
	ct_h5c_image_release(&im);
	for (int i = 0; i < c->o->reps && rc == 0; i++) {
		rc = measure_resume(&rd, keep, 0, &r->warm, e);
		if (rc == 0)
			rc = measure_resume(&rd, keep, 1, &r->cold, e);
	}
	if (rc == 0)
		rc = unlink_checked(keep, e);
	ct_ckpt_fields_release(&rd);
	ct_ckpt_fields_release(&sn);
	return rc;
}

/* A checkpoint manager in its own sub-directory, keeping the last 2 files. */
static int run_checkpointer(ckpt_ctx *c, int async, results *r, char *dst, ct_err *e)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/%s", c->o->dir, async ? "async" : "sync");
	ct_ckpt_manager_opts o = {.keep_last = 2, .async = async};
	ct_ckpt_manager *cm = state_ckpt_manager(dir, &c->s, &o, e);
	if (!cm)
		return e->code;
	int rc = 0;
	for (int i = 0; i < c->o->reps && rc == 0; i++)
		rc = async ? measure_async(c, cm, &r->stall, &r->bg_write, &r->mcpy, dst, e)
			   : measure_cp_sync(c, cm, &r->cp_sync, e);
	ct_err we = {0};
	if (ct_ckpt_manager_wait(cm, &we) < 0 && rc == 0) {
		rc = we.code;
		*e = we;
	}
	ct_ckpt_manager_free(cm); /* its last 2 files go with --dir (run.sh removes it) */
	return rc;
}

static void print_results(const ckpt_ctx *c, results *r)
{
	double sync = med(&r->sync), plain = med(&r->sync_plain), stall = med(&r->stall);
	double mcpy = med(&r->mcpy), ex = med(&r->exp), exp_plain = med(&r->exp_plain);
	printf("{\"kind\":\"ckpt\",\"impl\":\"ctrain\",\"layers\":\"%s\",\"optim\":\"%s\","
	       "\"reps\":%d,\"state_bytes\":%zu,\"ckpt_bytes\":%zu,\"export_bytes\":%zu,",
	       c->o->layers, c->o->optim, c->o->reps, c->state_bytes, r->ckpt_bytes,
	       r->export_bytes);
	printf("\"sync_sec\":%.6g,\"sync_plain_sec\":%.6g,\"sync_ratio\":%.4g,\"take_sec\":%.6g,"
	       "\"serialize_sec\":%.6g,\"atomic_write_sec\":%.6g,\"checkpointer_sync_sec\":%.6g,",
	       sync, plain, sync / plain, med(&r->take), med(&r->serialize), med(&r->atomic),
	       med(&r->cp_sync));
	printf("\"async_stall_sec\":%.6g,\"memcpy_sec\":%.6g,\"async_ratio\":%.4g,"
	       "\"async_write_sec\":%.6g,",
	       stall, mcpy, stall / mcpy, med(&r->bg_write));
	printf("\"resume_warm_sec\":%.6g,\"resume_cold_sec\":%.6g,", med(&r->warm), med(&r->cold));
	printf("\"export_sec\":%.6g,\"export_plain_sec\":%.6g,\"export_ratio\":%.4g,"
	       "\"export_peak_rss_growth_kb\":%ld,",
	       ex, exp_plain, ex / exp_plain, r->export_peak_kb);
	bench_json_array(stdout, "sync_all", r->sync.v, r->sync.n);
	putchar(',');
	bench_json_array(stdout, "sync_plain_all", r->sync_plain.v, r->sync_plain.n);
	putchar(',');
	bench_json_array(stdout, "async_stall_all", r->stall.v, r->stall.n);
	puts("}");
}

static int ckpt_run(ckpt_ctx *c, ct_err *e)
{
	results *r = calloc(1, sizeof *r);
	char *dst = malloc(c->state_bytes);
	int rc = r && dst ? 0 : ct_errf(e, CT_ENOMEM, "out of memory");
	if (rc == 0) {
		memset(dst, 1, c->state_bytes); /* fault the pages in before timing */
		rc = run_sync_and_resume(c, r, e);
	}
	if (rc == 0)
		rc = run_checkpointer(c, 0, r, dst, e);
	if (rc == 0)
		rc = run_checkpointer(c, 1, r, dst, e);
	for (int i = 0; i < c->o->reps && rc == 0; i++)
		rc = measure_export(c, r, e);
	if (rc == 0)
		print_results(c, r);
	free(dst);
	free(r);
	return rc;
}

int bench_cmd_ckpt(const bench_opts *o, ct_err *e)
{
	if (!o->dir)
		return ct_errf(e, CT_EUSAGE, "ckpt: --dir DIR is required (an empty directory)");
	if (o->reps > MAX_REPS)
		return ct_errf(e, CT_EUSAGE, "ckpt: --reps must be <= %d", MAX_REPS);
	if (!bench_threads_setup(o->threads, o->deterministic))
		return ct_errf(e, CT_ENOMEM, "cannot start %d worker threads", o->threads);
	ckpt_ctx c;
	memset(&c, 0, sizeof c);
	c.o = o;
	int rc = state_init(&c, e);
	if (rc == 0)
		rc = ckpt_run(&c, e);
	ct_train_state_release(&c.s);
	free(c.plain);
	return rc;
}
