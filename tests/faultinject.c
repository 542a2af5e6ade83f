/* faultinject.c — an LD_PRELOAD shim that makes the N-th I/O operation on files
 * under one directory fail (or kills the process right there), so the real
 * code paths of ctrain meet full disks, I/O errors and crashes at every
 * operation of a checkpoint write, not a mock of them.
 *
 * Makefile rule (add $(BUILD)/libfaultinject.so to `all`; e2e scripts find it
 * next to $CTRAIN):
 *
 *   $(BUILD)/libfaultinject.so: tests/faultinject.c
 *   	@mkdir -p $(dir $@)
 *   	$(CC) $(OPT) -std=c11 -D_GNU_SOURCE -fPIC -shared $(WARN) -o $@ $< -ldl -lpthread
 *
 * Calling sequence (all through the environment):
 *   CTRAIN_FAULT_DIR=DIR      only operations on DIR itself and paths under it
 *                             count (unset: the shim does nothing at all)
 *   CTRAIN_FAULT_MATCH=S      ... and whose path contains S (e.g. a checkpoint's
 *                             step, "ckpt-0000000040": its temporary file too)
 *   CTRAIN_FAULT_AT=N         the N-th counted operation (from 1) is hit
 *   CTRAIN_FAULT_STICKY=1     ... and so is every later one (the disk stays full)
 *   CTRAIN_FAULT_ERRNO=E      ENOSPC (default), EIO, EDQUOT or a number
 *   CTRAIN_FAULT_ACTION=A     fail (default): return -1/E without doing the
 *                             operation (close: do it, then fail, as Linux does);
 *                             kill-before / kill-after: SIGKILL the process just
 *                             before / after doing it; sigint / sigterm: raise
 *                             that signal just before doing it, then do it;
 *                             zero: a hit write returns 0 having written nothing
 *                             (other operations fail as with fail)
 *   CTRAIN_FAULT_SHORT=1      a failing write first writes half its bytes and
 *                             returns that count; the next write on the fd fails
 *                             (uncounted), which is what a filling disk does
 *   CTRAIN_FAULT_COUNT=FILE   writes the number of counted operations at exit
 *   CTRAIN_FAULT_TRACE=FILE   appends "N seconds kind path" per counted operation
 *   CTRAIN_FAULT_VERBOSE=1    logs the hit operation (kind, path) to stderr
 *
 * Counted operations: open/openat (and their 64/_2 variants, creat, fopen),
 * write/pwrite/writev, fflush of a tracked stream, fsync/fdatasync, close/fclose,
 * rename/renameat/renameat2.  Descriptors are tracked from their open to their
 * close.  Not interposable from outside libc: writes that stdio makes on its
 * own (a full buffer, fclose, exit) and opendir; a failing fflush is made
 * faithfully by pointing the stream's descriptor at /dev/full for the real
 * fflush, so glibc drops the buffered bytes exactly as on a full disk.
 * unlink, read and dup are passed through uncounted.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FI_MAX_FD 4096

enum fi_action { FI_FAIL, FI_KILL_BEFORE, FI_KILL_AFTER, FI_SIGINT, FI_SIGTERM, FI_ZERO };

static struct {
	int active;
	char dir[PATH_MAX];
	size_t dir_len;
	const char *match;
	unsigned long at;
	int sticky, err, action, shortw, verbose, trace_fd;
	const char *count_file;
	struct timespec t0;
} g;

static unsigned long g_count;    /* counted operations so far */
static char *g_paths[FI_MAX_FD]; /* tracked fd -> canonical path */
static int g_pending[FI_MAX_FD]; /* errno owed after a short write */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* The real functions, found once. */
static int (*r_open)(const char *, int, ...);
static int (*r_openat)(int, const char *, int, ...);
static FILE *(*r_fopen)(const char *, const char *);
static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static int (*r_fflush)(FILE *);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_close)(int);
static int (*r_fclose)(FILE *);
static int (*r_rename)(const char *, const char *);
static int (*r_renameat)(int, const char *, int, const char *);
static int (*r_renameat2)(int, const char *, int, const char *, unsigned);

static void *real(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p) {
		fprintf(stderr, "faultinject: no symbol %s\n", name);
		abort();
	}
	return p;
}

static int parse_errno(const char *s)
{
	if (!s || !*s || strcmp(s, "ENOSPC") == 0)
		return ENOSPC;
	if (strcmp(s, "EIO") == 0)
		return EIO;
	if (strcmp(s, "EDQUOT") == 0)
		return EDQUOT;
	int v = atoi(s);
	return v > 0 ? v : ENOSPC;
}

static int parse_action(const char *s)
{
	if (!s || strcmp(s, "fail") == 0)
		return FI_FAIL;
	if (strcmp(s, "kill-before") == 0)
		return FI_KILL_BEFORE;
	if (strcmp(s, "kill-after") == 0)
		return FI_KILL_AFTER;
	if (strcmp(s, "sigint") == 0)
		return FI_SIGINT;
	if (strcmp(s, "sigterm") == 0)
		return FI_SIGTERM;
	if (strcmp(s, "zero") == 0)
		return FI_ZERO;
	fprintf(stderr, "faultinject: unknown CTRAIN_FAULT_ACTION '%s'\n", s);
	abort();
}

static int env_flag(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0;
}

static void init_once(void)
{
	r_open = real("open");
	r_openat = real("openat");
	r_fopen = real("fopen");
	r_write = real("write");
	r_pwrite = real("pwrite");
	r_writev = real("writev");
	r_fflush = real("fflush");
	r_fsync = real("fsync");
	r_fdatasync = real("fdatasync");
	r_close = real("close");
	r_fclose = real("fclose");
	r_rename = real("rename");
	r_renameat = real("renameat");
	r_renameat2 = real("renameat2");
	g.trace_fd = -1;
	const char *dir = getenv("CTRAIN_FAULT_DIR");
	if (!dir || !*dir || !realpath(dir, g.dir))
		return; /* a directory that does not exist yet cannot be watched */
	g.dir_len = strlen(g.dir);
	g.match = getenv("CTRAIN_FAULT_MATCH");
	const char *at = getenv("CTRAIN_FAULT_AT");
	g.at = at ? strtoul(at, NULL, 10) : 0;
	g.sticky = env_flag("CTRAIN_FAULT_STICKY");
	g.err = parse_errno(getenv("CTRAIN_FAULT_ERRNO"));
	g.action = parse_action(getenv("CTRAIN_FAULT_ACTION"));
	g.shortw = env_flag("CTRAIN_FAULT_SHORT");
	g.verbose = env_flag("CTRAIN_FAULT_VERBOSE");
	g.count_file = getenv("CTRAIN_FAULT_COUNT");
	const char *trace = getenv("CTRAIN_FAULT_TRACE");
	if (trace && *trace)
		g.trace_fd = r_open(trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	clock_gettime(CLOCK_MONOTONIC, &g.t0);
	g.active = 1;
}

static int active(void)
{
	pthread_once(&g_once, init_once);
	return g.active;
}

__attribute__((destructor)) static void write_count(void)
{
	if (!g.active || !g.count_file)
		return;
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%lu\n", __atomic_load_n(&g_count, __ATOMIC_SEQ_CST));
	int fd = r_open(g.count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (r_write(fd, buf, (size_t)n) != n)
		fprintf(stderr, "faultinject: cannot write %s\n", g.count_file);
	r_close(fd);
}

/* Canonical absolute form of dirfd/path into out (the file itself may not
 * exist yet: then its directory is canonicalised).  0 on success. */
static int canonical(int dirfd, const char *path, char *out)
{
	char full[PATH_MAX * 2];
	if (path[0] == '/') {
		snprintf(full, sizeof full, "%s", path);
	} else {
		char base[PATH_MAX];
		if (dirfd == AT_FDCWD) {
			if (!getcwd(base, sizeof base))
				return -1;
		} else {
			char link[64];
			snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
			ssize_t n = readlink(link, base, sizeof base - 1);
			if (n < 0)
				return -1;
			base[n] = '\0';
		}
		snprintf(full, sizeof full, "%s/%s", base, path);
	}
	int saved = errno;
	if (realpath(full, out)) {
		errno = saved;
		return 0;
	}
	char *slash = strrchr(full, '/');
	*slash = '\0';
	char parent[PATH_MAX];
	int rc = realpath(full[0] ? full : "/", parent) ? 0 : -1;
	/* A path too long to hold is not one of ours. */
	if (rc == 0 && snprintf(out, PATH_MAX, "%s/%s", strcmp(parent, "/") ? parent : "",
				slash + 1) >= PATH_MAX)
		rc = -1;
	errno = saved;
	return rc;
}

static int under_dir(const char *canon)
{
	return strncmp(canon, g.dir, g.dir_len) == 0 &&
	       (canon[g.dir_len] == '\0' || canon[g.dir_len] == '/') &&
	       (!g.match || !*g.match || strstr(canon + g.dir_len, g.match));
}

/* Canonical path if dirfd/path is watched, else NULL (malloc'ed). */
static char *watched_path(int dirfd, const char *path)
{
	if (!active() || !path)
		return NULL;
	char canon[PATH_MAX];
	if (canonical(dirfd, path, canon) != 0 || !under_dir(canon))
		return NULL;
	return strdup(canon);
}

static char *fd_path(int fd)
{
	if (!active() || fd < 0 || fd >= FI_MAX_FD)
		return NULL;
	pthread_mutex_lock(&g_mu);
	char *p = g_paths[fd] ? strdup(g_paths[fd]) : NULL;
	pthread_mutex_unlock(&g_mu);
	return p;
}

static void track(int fd, char *path)
{
	if (fd < 0 || fd >= FI_MAX_FD || !path) {
		free(path);
		return;
	}
	pthread_mutex_lock(&g_mu);
	free(g_paths[fd]);
	g_paths[fd] = path;
	g_pending[fd] = 0;
	pthread_mutex_unlock(&g_mu);
}

static void untrack(int fd)
{
	if (fd < 0 || fd >= FI_MAX_FD)
		return;
	pthread_mutex_lock(&g_mu);
	free(g_paths[fd]);
	g_paths[fd] = NULL;
	g_pending[fd] = 0;
	pthread_mutex_unlock(&g_mu);
}

static double elapsed(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - g.t0.tv_sec) + (double)(t.tv_nsec - g.t0.tv_nsec) * 1e-9;
}

static void say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int fd, const char *fmt, ...)
{
	char buf[PATH_MAX + 128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof buf - 1)
		n = (int)sizeof buf - 1;
	if (n > 0 && r_write(fd, buf, (size_t)n) != n)
		return; /* diagnostics only */
}

/* Counts one operation; returns 1 if it is to be hit. */
static int hit(const char *kind, const char *path)
{
	unsigned long n = __atomic_add_fetch(&g_count, 1, __ATOMIC_SEQ_CST);
	if (g.trace_fd >= 0)
		say(g.trace_fd, "%lu %.6f %s %s\n", n, elapsed(), kind, path);
	int h = g.at > 0 && (n == g.at || (g.sticky && n > g.at));
	if (h && g.verbose)
		say(2, "faultinject: op %lu %s %s: %s\n", n, kind, path,
		    g.action == FI_FAIL ? strerror(g.err) : getenv("CTRAIN_FAULT_ACTION"));
	return h;
}

/* Applies a non-failing action before the operation; returns 1 when the
 * caller must fail it instead of doing it. */
static int act_before(int h)
{
	if (!h)
		return 0;
	switch (g.action) {
	case FI_KILL_BEFORE: raise(SIGKILL); break;
	case FI_SIGINT: raise(SIGINT); return 0;
	case FI_SIGTERM: raise(SIGTERM); return 0;
	case FI_KILL_AFTER: return 0;
	}
	return 1;
}

static void act_after(int h)
{
	if (h && g.action == FI_KILL_AFTER)
		raise(SIGKILL);
}

static int failed(void)
{
	errno = g.err;
	return -1;
}

/* ---- open -------------------------------------------------------------- */

static int do_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	char *w = watched_path(dirfd, path);
	if (!w)
		return r_openat(dirfd, path, flags, mode);
	int h = hit("open", w);
	if (act_before(h)) {
		free(w);
		return failed();
	}
	int fd = r_openat(dirfd, path, flags, mode);
	int saved = errno;
	if (fd >= 0)
		track(fd, w);
	else
		free(w);
	act_after(h);
	errno = saved;
	return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...);
int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	pthread_once(&g_once, init_once);
	return do_openat(AT_FDCWD, path, flags, m);
}

int open64(const char *path, int flags, ...);
int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	pthread_once(&g_once, init_once);
	return do_openat(AT_FDCWD, path, flags, m);
}

int openat(int dirfd, const char *path, int flags, ...);
int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	pthread_once(&g_once, init_once);
	return do_openat(dirfd, path, flags, m);
}

int openat64(int dirfd, const char *path, int flags, ...);
int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t m = mode_arg(flags, ap);
	va_end(ap);
	pthread_once(&g_once, init_once);
	return do_openat(dirfd, path, flags, m);
}

/* _FORTIFY_SOURCE builds call these for open without a mode. */
int __open_2(const char *path, int flags);
int __open_2(const char *path, int flags)
{
	pthread_once(&g_once, init_once);
	return do_openat(AT_FDCWD, path, flags, 0);
}

int __open64_2(const char *path, int flags);
int __open64_2(const char *path, int flags)
{
	pthread_once(&g_once, init_once);
	return do_openat(AT_FDCWD, path, flags, 0);
}

int __openat_2(int dirfd, const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags)
{
	pthread_once(&g_once, init_once);
	return do_openat(dirfd, path, flags, 0);
}

int creat(const char *path, mode_t mode);
int creat(const char *path, mode_t mode)
{
	pthread_once(&g_once, init_once);
	return do_openat(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

FILE *fopen(const char *path, const char *mode);
FILE *fopen(const char *path, const char *mode)
{
	pthread_once(&g_once, init_once);
	char *w = watched_path(AT_FDCWD, path);
	if (!w)
		return r_fopen(path, mode);
	int h = hit("open", w);
	if (act_before(h)) {
		free(w);
		failed();
		return NULL;
	}
	FILE *f = r_fopen(path, mode);
	int saved = errno;
	if (f)
		track(fileno(f), w);
	else
		free(w);
	act_after(h);
	errno = saved;
	return f;
}

FILE *fopen64(const char *path, const char *mode);
FILE *fopen64(const char *path, const char *mode) { return fopen(path, mode); }

/* ---- write ------------------------------------------------------------- */

/* Returns -1 with errno set when a short write earlier owes an error. */
static int take_pending(int fd)
{
	if (fd < 0 || fd >= FI_MAX_FD)
		return 0;
	pthread_mutex_lock(&g_mu);
	int err = g_pending[fd];
	g_pending[fd] = 0;
	pthread_mutex_unlock(&g_mu);
	if (!err)
		return 0;
	errno = err;
	return -1;
}

/* A hit write: fails, or (CTRAIN_FAULT_SHORT) writes half and owes the error,
 * or (action zero) writes nothing and says so. */
static ssize_t hit_write(int fd, const void *buf, size_t len, off_t off, int positional)
{
	if (g.action == FI_ZERO)
		return 0;
	if (!g.shortw || len < 2)
		return failed();
	ssize_t n = positional ? r_pwrite(fd, buf, len / 2, off) : r_write(fd, buf, len / 2);
	if (n >= 0) {
		pthread_mutex_lock(&g_mu);
		g_pending[fd] = g.err;
		pthread_mutex_unlock(&g_mu);
	}
	return n;
}

static ssize_t do_write(int fd, const void *buf, size_t len, off_t off, int positional)
{
	char *w = fd_path(fd);
	if (!w)
		return positional ? r_pwrite(fd, buf, len, off) : r_write(fd, buf, len);
	if (take_pending(fd) < 0) {
		free(w);
		return -1;
	}
	int h = hit(positional ? "pwrite" : "write", w);
	free(w);
	if (act_before(h))
		return hit_write(fd, buf, len, off, positional);
	ssize_t n = positional ? r_pwrite(fd, buf, len, off) : r_write(fd, buf, len);
	int saved = errno;
	act_after(h);
	errno = saved;
	return n;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	pthread_once(&g_once, init_once);
	return do_write(fd, buf, len, 0, 0);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	pthread_once(&g_once, init_once);
	return do_write(fd, buf, len, off, 1);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off);
ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	pthread_once(&g_once, init_once);
	return do_write(fd, buf, len, off, 1);
}

/* Counted as a write (traces say "write"); a short hit writes half of the
 * first buffer. */
ssize_t writev(int fd, const struct iovec *iov, int n)
{
	pthread_once(&g_once, init_once);
	char *w = fd_path(fd);
	if (!w)
		return r_writev(fd, iov, n);
	if (take_pending(fd) < 0) {
		free(w);
		return -1;
	}
	int h = hit("write", w);
	free(w);
	if (act_before(h))
		return hit_write(fd, n > 0 ? iov[0].iov_base : NULL, n > 0 ? iov[0].iov_len : 0, 0,
				 0);
	ssize_t r = r_writev(fd, iov, n);
	int saved = errno;
	act_after(h);
	errno = saved;
	return r;
}

/* The real fflush against /dev/full: glibc then does what it does on a full
 * disk (drops the buffered bytes, sets the error flag); errno becomes ours. */
static int fflush_into_full(FILE *f)
{
	int fd = fileno(f);
	int saved = dup(fd), full = r_open("/dev/full", O_WRONLY | O_CLOEXEC);
	if (saved < 0 || full < 0 || dup2(full, fd) < 0) {
		fprintf(stderr, "faultinject: cannot redirect fd %d to /dev/full\n", fd);
		abort();
	}
	int rc = r_fflush(f);
	if (dup2(saved, fd) < 0)
		abort();
	r_close(saved);
	r_close(full);
	if (rc == 0) /* nothing was buffered: report the error all the same */
		rc = EOF;
	errno = g.err;
	return rc;
}

int fflush(FILE *f)
{
	pthread_once(&g_once, init_once);
	char *w = f ? fd_path(fileno(f)) : NULL;
	if (!w)
		return r_fflush(f);
	int h = hit("fflush", w);
	free(w);
	if (act_before(h))
		return fflush_into_full(f);
	int rc = r_fflush(f);
	int saved = errno;
	act_after(h);
	errno = saved;
	return rc;
}

/* ---- fsync, close -------------------------------------------------------- */

static int do_sync(int fd, int data_only)
{
	char *w = fd_path(fd);
	if (!w)
		return data_only ? r_fdatasync(fd) : r_fsync(fd);
	int h = hit(data_only ? "fdatasync" : "fsync", w);
	free(w);
	if (act_before(h))
		return failed();
	int rc = data_only ? r_fdatasync(fd) : r_fsync(fd);
	int saved = errno;
	act_after(h);
	errno = saved;
	return rc;
}

int fsync(int fd)
{
	pthread_once(&g_once, init_once);
	return do_sync(fd, 0);
}

int fdatasync(int fd)
{
	pthread_once(&g_once, init_once);
	return do_sync(fd, 1);
}

int close(int fd)
{
	pthread_once(&g_once, init_once);
	char *w = fd_path(fd);
	if (!w)
		return r_close(fd);
	int h = hit("close", w);
	free(w);
	int fail = act_before(h);
	untrack(fd);
	int rc = r_close(fd);
	int saved = errno;
	act_after(h);
	if (fail)
		return failed(); /* Linux closes the fd even when close reports an error */
	errno = saved;
	return rc;
}

int fclose(FILE *f)
{
	pthread_once(&g_once, init_once);
	int fd = f ? fileno(f) : -1;
	char *w = fd_path(fd);
	if (!w)
		return r_fclose(f);
	int h = hit("close", w);
	free(w);
	int fail = act_before(h);
	untrack(fd);
	int rc = r_fclose(f);
	int saved = errno;
	act_after(h);
	if (fail) {
		errno = g.err;
		return EOF;
	}
	errno = saved;
	return rc;
}

/* ---- rename ------------------------------------------------------------- */

static int do_rename(int ofd, const char *from, int nfd, const char *to, unsigned flags,
		     int with_flags)
{
	char *w = watched_path(ofd, from);
	if (!w)
		w = watched_path(nfd, to);
	if (!w)
		return with_flags ? r_renameat2(ofd, from, nfd, to, flags)
				  : r_renameat(ofd, from, nfd, to);
	int h = hit("rename", w);
	free(w);
	if (act_before(h))
		return failed();
	int rc = with_flags ? r_renameat2(ofd, from, nfd, to, flags)
			    : r_renameat(ofd, from, nfd, to);
	int saved = errno;
	act_after(h);
	errno = saved;
	return rc;
}

int rename(const char *from, const char *to)
{
	pthread_once(&g_once, init_once);
	if (!g.active)
		return r_rename(from, to);
	return do_rename(AT_FDCWD, from, AT_FDCWD, to, 0, 0);
}

int renameat(int ofd, const char *from, int nfd, const char *to)
{
	pthread_once(&g_once, init_once);
	return do_rename(ofd, from, nfd, to, 0, 0);
}

int renameat2(int ofd, const char *from, int nfd, const char *to, unsigned flags);
int renameat2(int ofd, const char *from, int nfd, const char *to, unsigned flags)
{
	pthread_once(&g_once, init_once);
	return do_rename(ofd, from, nfd, to, flags, 1);
}
