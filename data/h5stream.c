/* Streaming training rows from HDF5 (see h5stream.h). */
#include "h5stream.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hdf5in.h"

#define STREAM_BLOCK_BYTES (1u << 20)

enum { JOB_IDLE, JOB_REQUESTED, JOB_RUNNING, JOB_DONE };

typedef struct win_key {
	uint64_t rng[4];
	int64_t win;
} win_key;

struct h5stream {
	h5in h;
	int64_t n, block, nblocks, nwin;
	int window, shuffle;
	size_t max_rows; /* rows of the largest window */
	win_key ep;      /* ep.rng: the current epoch's stream state at its start */
	uint64_t next_rng[4];
	int64_t *bperm, *bperm_next, *rperm;
	float *x[2];
	int32_t *y[2];
	int64_t *lab[2];
	int cur; /* buffer holding the current window, -1 none */
	win_key cur_key;
	int64_t cur_start, cur_rows;
	/* read-ahead */
	pthread_t th;
	int th_ok, quit, job;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	win_key job_key;
	int job_buf, job_rc;
	int64_t *job_blocks; /* window entries, -1 padded */
	ct_err job_err;
};

int h5stream_features(const h5stream *s) { return s->h.d; }
int64_t h5stream_rows(const h5stream *s) { return s->n; }
int64_t h5stream_block_rows(const h5stream *s) { return s->block; }
int h5stream_window_blocks(const h5stream *s) { return s->window; }

static int64_t block_len(const h5stream *s, int64_t b)
{
	int64_t r0 = b * s->block;
	return s->n - r0 < s->block ? s->n - r0 : s->block;
}

/* Reads the listed blocks (-1 ends the list) into buffer `buf`. */
static int load_blocks(h5stream *s, const int64_t *blocks, int buf, ct_err *e)
{
	size_t off = 0, d = (size_t)s->h.d;
	for (int i = 0; i < s->window && blocks[i] >= 0; i++) {
		int64_t rows = block_len(s, blocks[i]);
		int rc = h5in_read(&s->h, blocks[i] * s->block, rows, s->x[buf] + off * d,
				   s->y[buf] + off, s->lab[buf], e);
		if (rc < 0)
			return rc;
		off += (size_t)rows;
	}
	return 0;
}

static void *reader(void *arg)
{
	h5stream *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->quit && s->job != JOB_REQUESTED)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->quit)
			break;
		s->job = JOB_RUNNING;
		pthread_mutex_unlock(&s->mu);
		ct_err err = {0};
		int rc = load_blocks(s, s->job_blocks, s->job_buf, &err);
		pthread_mutex_lock(&s->mu);
		s->job_rc = rc;
		s->job_err = err;
		s->job = JOB_DONE;
		pthread_cond_broadcast(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Blocks of window w of the epoch whose order is bperm, -1 padded. */
static void window_blocks(const h5stream *s, const int64_t *bperm, int64_t w, int64_t *out)
{
	for (int i = 0; i < s->window; i++) {
		int64_t k = w * s->window + i;
		out[i] = k < s->nblocks ? bperm[k] : -1;
	}
}

static void block_order(const h5stream *s, const uint64_t st[4], int64_t *bperm, uint64_t *after)
{
	ct_rng r;
	memcpy(r.s, st, sizeof r.s);
	if (s->shuffle) {
		ct_data_permutation(bperm, s->nblocks, &r);
	} else {
		for (int64_t i = 0; i < s->nblocks; i++)
			bperm[i] = i;
	}
	if (after)
		memcpy(after, r.s, sizeof r.s);
}

/* Waits until the reader is not busy; returns the state it left. */
static int reader_wait(h5stream *s)
{
	while (s->job == JOB_REQUESTED || s->job == JOB_RUNNING)
		pthread_cond_wait(&s->cv, &s->mu);
	return s->job;
}

static void prefetch(h5stream *s, const win_key *k, const int64_t *bperm)
{
	if (!s->th_ok)
		return;
	pthread_mutex_lock(&s->mu);
	reader_wait(s);
	s->job_key = *k;
	s->job_buf = 1 - s->cur;
	window_blocks(s, bperm, k->win, s->job_blocks);
	s->job = JOB_REQUESTED;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Makes window w of the current epoch the current one. */
static int load_window(h5stream *s, int64_t w, int64_t start, ct_err *e)
{
	win_key k = s->ep;
	k.win = w;
	int buf = -1, rc = 0;
	if (s->th_ok) {
		pthread_mutex_lock(&s->mu);
		if (reader_wait(s) == JOB_DONE && memcmp(&s->job_key, &k, sizeof k) == 0) {
			buf = s->job_buf;
			rc = s->job_rc;
			if (rc < 0)
				*e = s->job_err;
		}
		s->job = JOB_IDLE;
		pthread_mutex_unlock(&s->mu);
	}
	if (buf < 0) { /* not read ahead (a resume, a seek): read it now */
		buf = s->cur == 0 ? 1 : 0;
		window_blocks(s, s->bperm, w, s->job_blocks);
		rc = load_blocks(s, s->job_blocks, buf, e);
	}
	s->cur = -1;
	if (rc < 0)
		return rc;
	int64_t rows = 0;
	for (int i = 0; i < s->window; i++) {
		int64_t kb = w * s->window + i;
		rows += kb < s->nblocks ? block_len(s, s->bperm[kb]) : 0;
	}
	if (s->shuffle) {
		ct_rng r;
		uint64_t mix = s->ep.rng[0] ^ (s->ep.rng[1] << 17 | s->ep.rng[1] >> 47) ^
			       ((uint64_t)w + 1) * 0x9E3779B97F4A7C15ull;
		ct_rng_seed(&r, mix, CT_RNG_STREAM_SHUFFLE);
		ct_data_permutation(s->rperm, rows, &r);
	} else {
		for (int64_t i = 0; i < rows; i++)
			s->rperm[i] = i;
	}
	s->cur = buf;
	s->cur_key = k;
	s->cur_start = start;
	s->cur_rows = rows;
	/* read the following window (or the next epoch's first) meanwhile */
	win_key nk = s->ep;
	nk.win = w + 1;
	const int64_t *bp = s->bperm;
	if (w + 1 >= s->nwin) {
		memcpy(nk.rng, s->next_rng, sizeof nk.rng);
		nk.win = 0;
		bp = s->bperm_next;
	}
	prefetch(s, &nk, bp);
	return 0;
}

void h5stream_seek(h5stream *s, const uint64_t epoch_rng[4], int shuffle, uint64_t cursor)
{
	(void)cursor; /* the window is found by the next h5stream_next */
	s->shuffle = shuffle;
	if (memcmp(s->ep.rng, epoch_rng, sizeof s->ep.rng) == 0 && s->bperm[0] >= 0)
		return;
	memcpy(s->ep.rng, epoch_rng, sizeof s->ep.rng);
	block_order(s, s->ep.rng, s->bperm, s->next_rng);
	block_order(s, s->next_rng, s->bperm_next, NULL);
	s->cur = -1;
}

int h5stream_next(h5stream *s, uint64_t cursor, int batch, float *xb, int32_t *yb, ct_err *e)
{
	int64_t want = (int64_t)s->n - (int64_t)cursor;
	want = want < batch ? want : batch;
	size_t d = (size_t)s->h.d, row = d * sizeof(float);
	int64_t done = 0;
	while (done < want) {
		int64_t at = (int64_t)cursor + done;
		if (s->cur < 0 || memcmp(s->cur_key.rng, s->ep.rng, sizeof s->ep.rng) != 0 ||
		    at < s->cur_start || at >= s->cur_start + s->cur_rows) {
			/* the window holding row `at` of the epoch */
			int64_t w = 0, start = 0;
			for (;; w++) {
				int64_t rows = 0;
				for (int i = 0; i < s->window; i++) {
					int64_t kb = w * s->window + i;
					rows += kb < s->nblocks ? block_len(s, s->bperm[kb]) : 0;
				}
				if (at < start + rows)
					break;
				start += rows;
			}
			int rc = load_window(s, w, start, e);
			if (rc < 0)
				return rc;
		}
		int64_t pos = at - s->cur_start;
		int64_t take = s->cur_rows - pos < want - done ? s->cur_rows - pos : want - done;
		for (int64_t i = 0; i < take; i++) {
			int64_t r = s->rperm[pos + i];
			memcpy(xb + (size_t)(done + i) * d, s->x[s->cur] + (size_t)r * d, row);
			if (yb)
				yb[done + i] = s->y[s->cur][r];
		}
		done += take;
	}
	return (int)done;
}

/* One pass over the training labels: checks them, finds the largest. */
static int scan_labels(h5stream *s, int *n_classes, ct_err *e)
{
	int32_t ymax = -1;
	int64_t step = s->block * s->window;
	for (int64_t r = 0; r < s->n; r += step) {
		int64_t rows = s->n - r < step ? s->n - r : step;
		/* features are checked when their window is read */
		int rc = h5in_read(&s->h, r, rows, NULL, s->y[0], s->lab[0], e);
		if (rc < 0)
			return rc;
		for (int64_t i = 0; i < rows; i++)
			ymax = s->y[0][i] > ymax ? s->y[0][i] : ymax;
	}
	*n_classes = ymax + 1;
	return 0;
}

int h5stream_open(h5stream **out, const char *path, const char *xname, const char *yname,
		  int64_t n_train, size_t window_bytes, int *n_classes, ct_err *e)
{
	*out = NULL;
	h5stream *s = calloc(1, sizeof *s);
	if (!s)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	s->cur = -1;
	int rc = h5in_open(&s->h, path, xname, yname, e);
	if (rc < 0) {
		free(s);
		return rc;
	}
	CT_ASSERT(n_train >= 1 && n_train <= s->h.n && s->h.y >= 0);
	s->n = n_train;
	size_t rowb = (size_t)s->h.d * sizeof(float);
	int64_t target = (int64_t)(STREAM_BLOCK_BYTES / rowb);
	target = target < 1 ? 1 : target;
	if (s->h.chunk_rows > 0) /* whole chunks: each is decompressed once per epoch */
		target = (target + s->h.chunk_rows - 1) / s->h.chunk_rows * s->h.chunk_rows;
	s->block = target < s->n ? target : s->n;
	s->nblocks = (s->n + s->block - 1) / s->block;
	int64_t wb = (int64_t)(window_bytes / (rowb * (size_t)s->block));
	wb = wb < 1 ? 1 : wb;
	s->window = wb > s->nblocks ? (int)s->nblocks : (int)wb;
	s->nwin = (s->nblocks + s->window - 1) / s->window;
	s->max_rows = (size_t)s->window * (size_t)s->block;
	s->bperm = malloc((size_t)s->nblocks * sizeof(int64_t));
	s->bperm_next = malloc((size_t)s->nblocks * sizeof(int64_t));
	s->rperm = malloc(s->max_rows * sizeof(int64_t));
	s->job_blocks = malloc((size_t)s->window * sizeof(int64_t));
	int ok = s->bperm && s->bperm_next && s->rperm && s->job_blocks;
	for (int b = 0; b < 2; b++) {
		s->x[b] = ct_aligned_alloc(CT_DATASET_ALIGN, s->max_rows * rowb);
		s->y[b] = malloc(s->max_rows * sizeof(int32_t));
		s->lab[b] = malloc((size_t)s->block * sizeof(int64_t) * (size_t)s->window);
		ok = ok && s->x[b] && s->y[b] && s->lab[b];
	}
	if (!ok)
		rc = ct_errf(e, CT_ENOMEM, "%s: out of memory for two windows of %zu rows", path,
			     s->max_rows);
	if (rc == 0) {
		s->bperm[0] = -1; /* no epoch yet */
		rc = scan_labels(s, n_classes, e);
	}
	if (rc == 0) {
		pthread_mutex_init(&s->mu, NULL);
		pthread_cond_init(&s->cv, NULL);
		s->th_ok = pthread_create(&s->th, NULL, reader, s) == 0;
		if (!s->th_ok) {
			pthread_mutex_destroy(&s->mu);
			pthread_cond_destroy(&s->cv);
		}
	}
	if (rc < 0) {
		h5stream_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void h5stream_close(h5stream *s)
{
	if (!s)
		return;
	if (s->th_ok) {
		pthread_mutex_lock(&s->mu);
		s->quit = 1;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->th, NULL);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->cv);
	}
	h5in_close(&s->h);
	for (int b = 0; b < 2; b++) {
		free(s->x[b]);
		free(s->y[b]);
		free(s->lab[b]);
	}
	free(s->bperm);
	free(s->bperm_next);
	free(s->rperm);
	free(s->job_blocks);
	free(s);
}
