#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/atomic.h"
#include "../util/log.h"

/* Keeps the header and complete rows whose step <= last; returns the new text. */
static char *truncate_rows(const char *text, int64_t last, size_t *out_len, int64_t *dropped)
{
	size_t len = strlen(text);
	/* an 8-column file gets the new header and two empty cells per row */
	int upgrade = strncmp(text, METRICS_HEADER_V1 "\n", sizeof METRICS_HEADER_V1) == 0;
	char *out = malloc(2 * len + sizeof METRICS_HEADER + 2);
	CT_ASSERT(out);
	size_t used = 0;
	const char *p = text;
	int first = 1;
	*dropped = 0;
	while (*p) {
		const char *nl = strchr(p, '\n');
		if (!nl) { /* torn last line from a killed writer */
			(*dropped)++;
			break;
		}
		size_t n = (size_t)(nl - p) + 1;
		int keep;
		if (first) {
			keep = strncmp(p, "step,", 5) == 0;
		} else {
			char *end;
			long long step = strtoll(p, &end, 10);
			keep = end != p && *end == ',' && step <= last;
		}
		if (keep && upgrade && first) {
			used += (size_t)sprintf(out + used, "%s\n", METRICS_HEADER);
		} else if (keep && upgrade) {
			memcpy(out + used, p, n - 1);
			used += n - 1;
			memcpy(out + used, ",,\n", 3);
			used += 3;
		} else if (keep) {
			memcpy(out + used, p, n);
			used += n;
		} else if (!first) {
			(*dropped)++;
		}
		first = 0;
		p = nl + 1;
	}
	if (used == 0) { /* no header survived: start clean */
		used = (size_t)sprintf(out, "%s\n", METRICS_HEADER);
	}
	out[used] = '\0';
	*out_len = used;
	return out;
}

int metrics_open(metrics *m, const char *path, int64_t resume_step, ct_err *e)
{
	memset(m, 0, sizeof *m);
	snprintf(m->path, sizeof m->path, "%s", path);
	char *text = NULL;
	size_t len = 0;
	if (resume_step >= 0) {
		int rc = ct_file_read_all(path, (size_t)1 << 30, &text, &len, e);
		if (rc == CT_ENOTFOUND) {
			ct_log_warn("%s is missing; starting it again from step %lld", path,
				    (long long)resume_step);
			text = NULL;
		} else if (rc < 0) {
			return rc;
		}
	}
	int64_t dropped = 0;
	size_t out_len;
	char *out = truncate_rows(text ? text : "", resume_step, &out_len, &dropped);
	free(text);
	if (dropped)
		ct_log_info("%s: dropped %lld row(s) written after the checkpoint at step %lld",
			    path, (long long)dropped, (long long)resume_step);
	int rc = ct_atomic_write_file(path, out, out_len, e);
	if (rc < 0) {
		free(out);
		return rc;
	}
	m->text = out;
	m->len = out_len;
	m->cap = out_len + 1;
	m->f = fopen(path, "a");
	if (!m->f)
		return ct_errno(e, CT_EIO, errno, "%s: cannot open for appending", path);
	return 0;
}

static void fmt_opt(char *buf, size_t len, int has, double v)
{
	if (has)
		snprintf(buf, len, "%.9g", v);
	else
		buf[0] = '\0';
}

static int is_broken(metrics *m) { return __atomic_load_n(&m->broken, __ATOMIC_ACQUIRE); }

void metrics_mark_broken(metrics *m) { __atomic_store_n(&m->broken, 1, __ATOMIC_RELEASE); }

/* Appends to the in-memory copy; -1 when out of memory. */
static int keep_text(metrics *m, const char *s, size_t n)
{
	if (m->len + n + 1 > m->cap) {
		size_t cap = 2 * (m->len + n + 1);
		char *p = realloc(m->text, cap);
		if (!p)
			return -1;
		m->text = p;
		m->cap = cap;
	}
	memcpy(m->text + m->len, s, n + 1);
	m->len += n;
	return 0;
}

/* Replaces the file by the in-memory text (atomically) and reopens it. */
static int repair(metrics *m, ct_err *e)
{
	if (m->f) /* may write its leftover buffer to the old file: replaced below */
		(void)fclose(m->f);
	m->f = NULL;
	int rc = ct_atomic_write_file(m->path, m->text, m->len, e);
	if (rc < 0)
		return rc;
	m->f = fopen(m->path, "a");
	if (!m->f)
		return ct_errno(e, CT_EIO, errno, "%s: cannot open for appending", m->path);
	__atomic_store_n(&m->broken, 0, __ATOMIC_RELEASE);
	ct_log_info("%s rewritten after a failed write; no row lost", m->path);
	return 0;
}

int metrics_write(metrics *m, const metrics_row *r, ct_err *e)
{
	char vl[32], va[32], ck[32], line[1024];
	fmt_opt(vl, sizeof vl, r->has_val, r->val_loss);
	fmt_opt(va, sizeof va, r->has_val, r->val_accuracy);
	if (r->has_ckpt)
		snprintf(ck, sizeof ck, "%.6f", r->ckpt_sec);
	else
		ck[0] = '\0';
	int n = snprintf(line, sizeof line,
			 "%" PRId64 ",%" PRId64 ",%.9g,%.9g,%s,%s,%.1f,%.3f,%.9g,%s\n", r->step,
			 r->epoch, r->loss, r->lr, vl, va, r->samples_per_sec, r->elapsed_sec,
			 r->grad_norm, ck);
	CT_ASSERT(n > 0 && (size_t)n < sizeof line);
	if (keep_text(m, line, (size_t)n) < 0)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory for its rows", m->path);
	/* A failure here is reported (or repaired) by the next flush, where
	 * checkpoint.on_error applies. */
	if (!is_broken(m) && fputs(line, m->f) == EOF)
		metrics_mark_broken(m);
	return 0;
}

int metrics_flush(metrics *m, ct_err *e)
{
	if (is_broken(m))
		return repair(m, e);
	if (fflush(m->f) != 0) {
		int err = errno;
		metrics_mark_broken(m);
		return ct_errno(e, CT_EIO, err, "%s: write failed", m->path);
	}
	return 0;
}

int metrics_sync(metrics *m, ct_err *e)
{
	int rc = metrics_flush(m, e);
	if (rc == 0 && fsync(fileno(m->f)) != 0) {
		int err = errno;
		metrics_mark_broken(m);
		rc = ct_errno(e, CT_EIO, err, "%s: fsync failed", m->path);
	}
	return rc;
}

int metrics_close(metrics *m, ct_err *e)
{
	int rc = 0;
	if (m->f || (m->text && is_broken(m)))
		rc = metrics_sync(m, e);
	if (m->f && fclose(m->f) != 0 && rc == 0)
		rc = ct_errno(e, CT_EIO, errno, "%s: close failed", m->path);
	m->f = NULL;
	free(m->text);
	m->text = NULL;
	return rc;
}
