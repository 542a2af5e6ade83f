/* powerloss.c — an LD_PRELOAD shim that records what each fsync made durable,
 * so that tests/powerloss_rebuild.py can build the states a power loss may
 * leave (tests/e2e/e2e_powerloss.sh, experiments/powerloss_campaign.sh).
 *
 * Model (ALICE, OSDI 2014; CrashMonkey, OSDI 2018): after a power loss a file
 * holds what its last fsync made durable, and a directory lists what it listed
 * at its last fsync.  A kill -9 keeps the page cache and tests nothing of this.
 *
 * Makefile rule (built like libfaultinject.so, never instrumented):
 *   $(BUILD)/libpowerloss.so: tests/powerloss.c
 *
 * Calling sequence (all through the environment):
 *   CTRAIN_PL_DIR=DIR        only fsyncs of DIR itself and of paths under it
 *                            count (unset: the shim does nothing at all)
 *   CTRAIN_PL_JOURNAL=JDIR   an existing directory; each counted fsync N
 *                            appends one line to JDIR/log:
 *                              "N F <inode> <path>"  file: its bytes at that
 *                                                    moment are copied to JDIR/N
 *                              "N D <inode> <path>"  directory: JDIR/N lists
 *                                                    "<inode> <d|f> <name>" per entry
 *   CTRAIN_PL_AT=N           stop the process (SIGKILL) at the N-th counted fsync
 *   CTRAIN_PL_WHEN=before|after   ... before it is recorded and done (default),
 *                            or after it is done and recorded
 * When the shim is loaded it records what DIR already holds as durable
 * ("b<k> D|F ..." lines before any fsync's: a run being resumed was synced
 * before the power loss that matters here).
 * fsync and fdatasync are interposed (fdatasync is recorded as fsync: ctrain
 * does not rely on its weaker promise).  Calls are serialised, so the journal
 * order is the order in which the fsyncs took effect (the async checkpoint
 * writer fsyncs from its own thread).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct {
	int active, kill_after, jfd;
	char dir[PATH_MAX];
	size_t dir_len;
	char journal[PATH_MAX];
	unsigned long at;
} g;

static unsigned long g_count;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);

static void die(const char *what)
{
	/* The test must not take a broken journal for a durable state. */
	dprintf(2, "powerloss shim: %s: %s\n", what, strerror(errno));
	abort();
}

static void init(void)
{
	r_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	r_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	const char *d = getenv("CTRAIN_PL_DIR");
	if (!d || !*d || !realpath(d, g.dir))
		return;
	g.dir_len = strlen(g.dir);
	const char *j = getenv("CTRAIN_PL_JOURNAL");
	g.jfd = -1;
	if (j && *j) {
		snprintf(g.journal, sizeof g.journal, "%s", j);
		char p[PATH_MAX + 8];
		snprintf(p, sizeof p, "%s/log", j);
		g.jfd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (g.jfd < 0)
			die(p);
	}
	const char *at = getenv("CTRAIN_PL_AT");
	g.at = at ? strtoul(at, NULL, 10) : 0;
	const char *w = getenv("CTRAIN_PL_WHEN");
	g.kill_after = w && strcmp(w, "after") == 0;
	g.active = 1;
}

/* The canonical path of fd if it is DIR or under it, else 0. */
static int tracked(int fd, char *path, size_t len)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, len - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	return strncmp(path, g.dir, g.dir_len) == 0 &&
	       (path[g.dir_len] == '\0' || path[g.dir_len] == '/');
}

static void copy_file(int fd, const char *out)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	int in = open(link, O_RDONLY | O_CLOEXEC); /* fd itself may be write-only */
	if (in < 0)
		die(link);
	int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o < 0)
		die(out);
	char buf[65536];
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(in, buf, sizeof buf, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die(link);
		if (n == 0)
			break;
		if (write(o, buf, (size_t)n) != n)
			die(out);
		off += n;
	}
	close(in);
	close(o);
}

static void list_dir(const char *path, const char *out)
{
	DIR *d = opendir(path);
	if (!d)
		die(path);
	FILE *o = fopen(out, "w");
	if (!o)
		die(out);
	const struct dirent *ent;
	while ((ent = readdir(d)) != NULL) {
		if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
			continue;
		fprintf(o, "%lu %c %s\n", (unsigned long)ent->d_ino,
			ent->d_type == DT_DIR ? 'd' : 'f', ent->d_name);
	}
	closedir(d);
	if (fclose(o) != 0)
		die(out);
}

static void record(unsigned long n, int fd, const char *path)
{
	if (g.jfd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) != 0)
		die(path);
	char out[PATH_MAX + 32];
	snprintf(out, sizeof out, "%s/%lu", g.journal, n);
	int is_dir = S_ISDIR(st.st_mode);
	if (is_dir)
		list_dir(path, out);
	else
		copy_file(fd, out);
	/* a file unlinked before its fsync keeps its bytes under no name */
	dprintf(g.jfd, "%lu %c %lu %s\n", n, is_dir ? 'D' : 'F', (unsigned long)st.st_ino, path);
}

/* Records dir and everything under it as durable ("b<k>" records). */
static void record_base(const char *dir, unsigned long *k)
{
	char out[PATH_MAX + 32];
	struct stat st;
	if (stat(dir, &st) != 0)
		return; /* DIR does not exist yet: nothing to record */
	snprintf(out, sizeof out, "%s/b%lu", g.journal, ++*k);
	list_dir(dir, out);
	dprintf(g.jfd, "b%lu D %lu %s\n", *k, (unsigned long)st.st_ino, dir);
	DIR *d = opendir(dir);
	if (!d)
		die(dir);
	const struct dirent *ent;
	while ((ent = readdir(d)) != NULL) {
		if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", dir, ent->d_name);
		if (lstat(p, &st) != 0)
			die(p);
		if (S_ISDIR(st.st_mode)) {
			record_base(p, k);
			continue;
		}
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die(p);
		snprintf(out, sizeof out, "%s/b%lu", g.journal, ++*k);
		copy_file(fd, out);
		close(fd);
		dprintf(g.jfd, "b%lu F %lu %s\n", *k, (unsigned long)st.st_ino, p);
	}
	closedir(d);
}

/* At load, before main: what DIR holds already is durable. */
__attribute__((constructor)) static void at_load(void)
{
	pthread_once(&g_once, init);
	unsigned long k = 0;
	if (g.active && g.jfd >= 0)
		record_base(g.dir, &k);
}

static int hook(int fd, int (*real)(int))
{
	pthread_once(&g_once, init);
	char path[PATH_MAX];
	if (!g.active || !tracked(fd, path, sizeof path))
		return real(fd);
	pthread_mutex_lock(&g_mu);
	unsigned long n = ++g_count;
	if (n == g.at && !g.kill_after)
		raise(SIGKILL);
	int rc = real(fd);
	int err = errno;
	if (rc == 0)
		record(n, fd, path);
	if (n == g.at)
		raise(SIGKILL);
	pthread_mutex_unlock(&g_mu);
	errno = err;
	return rc;
}

int fsync(int fd)
{
	pthread_once(&g_once, init);
	return hook(fd, r_fsync);
}

int fdatasync(int fd)
{
	pthread_once(&g_once, init);
	return hook(fd, r_fdatasync);
}
