#include "discover.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/log.h"
#include "../util/atomic.h"
#include "h5c.h"
#include "../util/util.h"

#define NAME_PREFIX "ckpt-"
#define NAME_SUFFIX ".h5"
#define MAX_STEP_DIGITS 18 /* every such number fits an int64_t */

/* 1 and *step if name is exactly what ct_ckpt_path_for_step writes for a step
 * (so "ckpt-42.h5" or "ckpt-0000000042.h5.corrupt" never count). */
static int parse_name(const char *name, int64_t *step)
{
	size_t len = strlen(name), pl = strlen(NAME_PREFIX), sl = strlen(NAME_SUFFIX);
	if (len < pl + 10 + sl || len > pl + MAX_STEP_DIGITS + sl)
		return 0;
	if (strncmp(name, NAME_PREFIX, pl) != 0 || strcmp(name + len - sl, NAME_SUFFIX) != 0)
		return 0;
	int64_t v = 0;
	for (size_t i = pl; i < len - sl; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		v = v * 10 + (name[i] - '0');
	}
	char canon[64];
	snprintf(canon, sizeof canon, NAME_PREFIX "%010lld" NAME_SUFFIX, (long long)v);
	if (strcmp(canon, name) != 0)
		return 0;
	*step = v;
	return 1;
}

char *ct_ckpt_path_for_step(const char *dir, int64_t step)
{
	CT_ASSERT(step >= 0);
	char *p = NULL;
	if (asprintf(&p, "%s/" NAME_PREFIX "%010lld" NAME_SUFFIX, dir, (long long)step) < 0)
		return NULL;
	return p;
}

void ct_ckpt_list_free(ct_ckpt_entry *entries, size_t n)
{
	for (size_t i = 0; entries && i < n; i++) {
		free(entries[i].path);
		free(entries[i].reason);
	}
	free(entries);
}

static int cmp_newest_first(const void *a, const void *b)
{
	int64_t x = ((const ct_ckpt_entry *)a)->step, y = ((const ct_ckpt_entry *)b)->step;
	return x < y ? 1 : x > y ? -1 : 0;
}

static int list_add(ct_ckpt_entry **v, size_t *n, size_t *cap, const char *dir, const char *name,
		    int64_t step)
{
	if (ct_grow(v, cap, *n + 1, sizeof **v, 16) < 0)
		return -1;
	char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return -1;
	(*v)[(*n)++] = (ct_ckpt_entry){step, path, -1, NULL};
	return 0;
}

int ct_ckpt_list(const char *dir, ct_ckpt_entry **entries, size_t *n, ct_err *e)
{
	*entries = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return ct_errno(e, errno == ENOENT ? CT_ENOTFOUND : CT_EIO, errno,
				"%s: cannot open checkpoint directory", dir);
	ct_ckpt_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0;
	for (;;) {
		errno = 0;
		struct dirent *ent = readdir(d);
		if (!ent) {
			if (errno)
				rc = ct_errno(e, CT_EIO, errno, "%s: cannot read directory", dir);
			break;
		}
		int64_t step;
		if (parse_name(ent->d_name, &step) &&
		    list_add(&v, &cnt, &cap, dir, ent->d_name, step) < 0) {
			rc = ct_errf(e, CT_ENOMEM, "%s: out of memory listing checkpoints", dir);
			break;
		}
	}
	closedir(d); /* opened for reading: a failing close loses nothing */
	if (rc < 0) {
		ct_ckpt_list_free(v, cnt);
		return rc;
	}
	if (cnt > 1)
		qsort(v, cnt, sizeof *v, cmp_newest_first);
	*entries = v;
	*n = cnt;
	return 0;
}

/* ct_h5c_verify_file messages start with "path: "; the entry keeps the rest. */
static const char *strip_path(const char *msg, const char *path)
{
	size_t n = strlen(path);
	if (strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
		return msg + n + 2;
	return msg;
}

static const char *reason_of(const ct_ckpt_entry *ent)
{
	return ent->reason ? ent->reason : "invalid (no memory to say why)";
}

int ct_ckpt_check(ct_ckpt_entry *ent)
{
	ct_err e = {0};
	free(ent->reason);
	ent->reason = NULL;
	int rc = ct_h5c_verify_file(ent->path, &e);
	if (rc == 0) {
		ent->valid = 1;
		return 1;
	}
	ent->valid = 0;
	ent->reason = strdup(strip_path(e.msg, ent->path));
	/* Only a verdict on the bytes makes a file invalid; read errors and
	 * missing memory say nothing about the checkpoint itself. */
	return rc == CT_ECORRUPT || rc == CT_EUNSUPPORTED ? 0 : rc;
}

/* Retention runs after every checkpoint and would otherwise re-read and
 * re-checksum every kept file each time (88 MB for keep_last = 3 and a 22 MB
 * state).  A file that verified as valid is remembered by (device, inode,
 * size, mtime): any rewrite, truncation or in-place change through the file
 * system changes one of them.  Only retention uses this; resume always
 * verifies the bytes. */
enum { VALID_CACHE = 64 };
static struct {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
} g_valid[VALID_CACHE];
static unsigned g_valid_next;
static pthread_mutex_t g_valid_mu = PTHREAD_MUTEX_INITIALIZER;

static int same_file(int i, const struct stat *st)
{
	return g_valid[i].dev == st->st_dev && g_valid[i].ino == st->st_ino &&
	       g_valid[i].size == st->st_size && g_valid[i].mtime.tv_sec == st->st_mtim.tv_sec &&
	       g_valid[i].mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static void remember_valid(const struct stat *st)
{
	pthread_mutex_lock(&g_valid_mu);
	unsigned i = g_valid_next++ % VALID_CACHE;
	g_valid[i].dev = st->st_dev;
	g_valid[i].ino = st->st_ino;
	g_valid[i].size = st->st_size;
	g_valid[i].mtime = st->st_mtim;
	pthread_mutex_unlock(&g_valid_mu);
}

void ct_ckpt_mark_valid(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0)
		remember_valid(&st);
}

static int ckpt_check_cached(ct_ckpt_entry *ent)
{
	struct stat st;
	if (stat(ent->path, &st) != 0)
		return ct_ckpt_check(ent);
	pthread_mutex_lock(&g_valid_mu);
	for (int i = 0; i < VALID_CACHE; i++) {
		if (same_file(i, &st)) {
			pthread_mutex_unlock(&g_valid_mu);
			ent->valid = 1;
			return 1;
		}
	}
	pthread_mutex_unlock(&g_valid_mu);
	int rc = ct_ckpt_check(ent);
	if (rc == 1)
		remember_valid(&st);
	return rc;
}

/* Renames path to path.corrupt (or .corrupt.1, ... so an older bad file is
 * never overwritten) and fsyncs dir; *to receives the new name. */
static int move_aside(const char *dir, const char *path, char *to, size_t cap, ct_err *e)
{
	for (int i = 0; i < 1000; i++) {
		if (i == 0)
			snprintf(to, cap, "%s.corrupt", path);
		else
			snprintf(to, cap, "%s.corrupt.%d", path, i);
		struct stat st;
		if (lstat(to, &st) == 0)
			continue;
		if (errno != ENOENT)
			return ct_errno(e, CT_EIO, errno, "%s: cannot check", to);
		if (rename(path, to) != 0)
			return ct_errno(e, CT_EIO, errno, "%s: cannot rename to %s", path, to);
		return ct_atomic_fsync_dir(dir, e);
	}
	return ct_errf(e, CT_EIO, "%s: too many .corrupt files already", path);
}

static void skip_invalid(const char *dir, const ct_ckpt_entry *ent)
{
	char to[8192];
	ct_err e = {0};
	if (move_aside(dir, ent->path, to, sizeof to, &e) == 0)
		ct_log_warn("skipping invalid checkpoint %s: %s (moved aside to %s)", ent->path,
			    reason_of(ent), to);
	else
		ct_log_warn("skipping invalid checkpoint %s: %s (could not move it aside: %s)",
			    ent->path, reason_of(ent), e.msg);
}

/* "no valid checkpoint in DIR: ckpt-...: reason; ckpt-...: reason" */
static int none_valid(const char *dir, const ct_ckpt_entry *v, size_t n, ct_err *e)
{
	char msg[sizeof e->msg];
	size_t used = (size_t)snprintf(msg, sizeof msg, "no valid checkpoint in %s:", dir);
	for (size_t i = 0; i < n && used < sizeof msg; i++) {
		const char *base = strrchr(v[i].path, '/');
		used += (size_t)snprintf(msg + used, sizeof msg - used, "%s %s: %s", i ? ";" : "",
					 base ? base + 1 : v[i].path, reason_of(&v[i]));
	}
	return ct_errf(e, CT_ENOTFOUND, "%s", msg);
}

int ct_ckpt_find_latest(const char *dir, char **path, int64_t *step, ct_err *e)
{
	*path = NULL;
	*step = -1;
	ct_ckpt_entry *v;
	size_t n;
	int rc = ct_ckpt_list(dir, &v, &n, e);
	if (rc < 0)
		return rc;
	size_t i = 0;
	for (; rc == 0 && i < n; i++) {
		int ok = ct_ckpt_check(&v[i]);
		if (ok == 1)
			break;
		if (ok == 0)
			skip_invalid(dir, &v[i]);
		else if (ok == CT_ENOTFOUND)
			ct_log_warn("skipping checkpoint %s: it vanished while checking",
				    v[i].path);
		else
			rc = ct_errf(e, ok, "cannot check checkpoint %s: %s", v[i].path,
				     reason_of(&v[i]));
	}
	if (rc == 0 && n == 0)
		rc = ct_errf(e, CT_ENOTFOUND, "no checkpoints in %s", dir);
	else if (rc == 0 && i == n)
		rc = none_valid(dir, v, n, e);
	else if (rc == 0) {
		*step = v[i].step;
		if (!(*path = strdup(v[i].path)))
			rc = ct_errf(e, CT_ENOMEM, "%s: out of memory", dir);
	}
	ct_ckpt_list_free(v, n);
	return rc;
}

/* Deletes ent if it is a valid checkpoint; 1 if deleted, 0 if kept, < 0. */
static int delete_if_valid(ct_ckpt_entry *ent, ct_err *e)
{
	if (ckpt_check_cached(ent) != 1)
		return 0; /* invalid or unreadable ones are never deleted */
	if (unlink(ent->path) != 0) {
		if (errno == ENOENT)
			return 0;
		return ct_errno(e, CT_EIO, errno, "%s: cannot delete old checkpoint", ent->path);
	}
	ct_log_debug("retention: deleted %s", ent->path);
	return 1;
}

static int is_protected(int64_t step, const int64_t *protect, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (protect[i] == step)
			return 1;
	return 0;
}

int ct_ckpt_retain(const char *dir, int keep_last, int keep_every, ct_err *e)
{
	return ct_ckpt_retain_protected(dir, keep_last, keep_every, NULL, 0, e);
}

int ct_ckpt_retain_protected(const char *dir, int keep_last, int keep_every, const int64_t *protect,
			     size_t n_protect, ct_err *e)
{
	if (keep_last <= 0)
		return 0;
	ct_ckpt_entry *v;
	size_t n;
	int rc = ct_ckpt_list(dir, &v, &n, e);
	if (rc < 0)
		return rc;
	int kept = 0, deleted = 0;
	ct_err first = {0};
	for (size_t i = 0; i < n; i++) {
		if (kept < keep_last) { /* still among the newest: count valid ones */
			if (ckpt_check_cached(&v[i]) == 1)
				kept++;
			continue;
		}
		if ((keep_every > 0 && v[i].step % keep_every == 0) ||
		    is_protected(v[i].step, protect, n_protect))
			continue;
		int d = delete_if_valid(&v[i], first.code ? NULL : &first);
		if (d > 0)
			deleted++;
	}
	ct_ckpt_list_free(v, n);
	/* Make the unlinks durable; a failure to delete one file does not stop
	 * the others and is reported after. */
	if (deleted > 0 && (rc = ct_atomic_fsync_dir(dir, e)) < 0)
		return rc;
	if (first.code) {
		if (e)
			*e = first;
		return first.code;
	}
	return deleted;
}
