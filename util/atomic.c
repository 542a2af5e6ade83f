#include "atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util.h"

/* Splits path into its directory (or ".") and base name. */
static void split_path(const char *path, char *dir, size_t dlen, char *base, size_t blen)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		snprintf(dir, dlen, ".");
		snprintf(base, blen, "%s", path);
	} else if (slash == path) {
		snprintf(dir, dlen, "/");
		snprintf(base, blen, "%s", slash + 1);
	} else {
		snprintf(dir, dlen, "%.*s", (int)(slash - path), path);
		snprintf(base, blen, "%s", slash + 1);
	}
}

#define IOV_BATCH 64

/* Advances past n written bytes: *i is the buffer being written, *done its
 * bytes already written. */
static void advance(const ct_atomic_buf *bufs, int nbufs, int *i, size_t *done, size_t n)
{
	while (*i < nbufs && n >= bufs[*i].len - *done) {
		n -= bufs[*i].len - *done;
		(*i)++;
		*done = 0;
	}
	if (*i < nbufs)
		*done += n;
}

/* Writes every byte of bufs with writev (one system call for the usual case
 * of fewer than IOV_BATCH buffers), retrying short writes and EINTR. */
static int write_all(int fd, const ct_atomic_buf *bufs, int nbufs)
{
	int i = 0;
	size_t done = 0;
	advance(bufs, nbufs, &i, &done, 0); /* skips empty buffers */
	while (i < nbufs) {
		struct iovec iov[IOV_BATCH];
		int k = 0;
		for (int j = i; j < nbufs && k < IOV_BATCH; j++, k++) {
			size_t skip = j == i ? done : 0;
			/* writev does not write through iov_base; it is not const only
			 * because readv shares the struct. */
			iov[k].iov_base = (void *)((uintptr_t)bufs[j].data + skip);
			iov[k].iov_len = bufs[j].len - skip;
		}
		ssize_t n = writev(fd, iov, k);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) { /* should not happen for regular files; treat as full */
			errno = ENOSPC;
			return -1;
		}
		advance(bufs, nbufs, &i, &done, (size_t)n);
	}
	return 0;
}

int ct_atomic_fsync_dir(const char *dir, ct_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ct_errno(e, CT_EIO, errno, "%s: cannot open directory for fsync", dir);
	if (fsync(fd) != 0) {
		int err = errno;
		close(fd);
		return ct_errno(e, CT_EIO, err, "%s: fsync of directory failed", dir);
	}
	if (close(fd) != 0)
		return ct_errno(e, CT_EIO, errno, "%s: close of directory failed", dir);
	return 0;
}

int ct_atomic_fsync_parent(const char *path, ct_err *e)
{
	char dir[4096], base[1024];
	split_path(path, dir, sizeof dir, base, sizeof base);
	return ct_atomic_fsync_dir(dir, e);
}

int ct_atomic_mkdir_p(const char *dir, ct_err *e)
{
	char tmp[4096];
	size_t len = strlen(dir);
	if (len == 0 || len >= sizeof tmp)
		return ct_errf(e, CT_EUSAGE, "%.64s: directory name empty or too long", dir);
	memcpy(tmp, dir, len + 1);
	while (len > 1 && tmp[len - 1] == '/') /* "run/" is "run" */
		tmp[--len] = '\0';
	for (char *p = tmp + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = '\0';
		int made = mkdir(tmp, 0755) == 0;
		if (!made && errno != EEXIST)
			return ct_errno(e, CT_EIO, errno, "%s: cannot create directory", tmp);
		if ((made || !c) && ct_atomic_fsync_parent(tmp, e) < 0)
			return ct_err_prefix(e, "%s: created, but not durable", tmp);
		if (!c)
			return 0;
		*p = c;
		while (p[1] == '/') /* "a//b" */
			p++;
	}
}

int ct_atomic_write_iov(const char *path, const ct_atomic_buf *bufs, int nbufs, ct_err *e)
{
	static unsigned counter; /* distinguishes concurrent writers in one process */
	char dir[4096], base[1024], tmp[8192];
	split_path(path, dir, sizeof dir, base, sizeof base);
	unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
	snprintf(tmp, sizeof tmp, "%s/" CT_ATOMIC_TMP_PREFIX "%s-%ld-%u", dir, base, (long)getpid(),
		 n);

	const char *step = "open";
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return ct_errno(e, CT_EIO, errno, "%s: cannot create temporary file %s", path, tmp);
	step = "write";
	if (write_all(fd, bufs, nbufs) != 0)
		goto werr;
	step = "fsync";
	if (fsync(fd) != 0)
		goto werr;
	step = "close";
	int cfd = fd;
	fd = -1;
	if (close(cfd) != 0)
		goto werr;
	step = "rename";
	if (rename(tmp, path) != 0)
		goto werr;
	/* From here the new file is in place; a failed directory fsync means the
	 * rename may not survive a power loss, which the caller must hear about,
	 * but there is no temporary file left to remove. */
	if (ct_atomic_fsync_dir(dir, e) != 0)
		return ct_err_prefix(e, "%s: written, but not durable", path);
	return 0;

werr : {
	int err = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return ct_errno(e, CT_EIO, err, "%s: %s of temporary file failed", path, step);
}
}

int ct_atomic_write_file(const char *path, const void *buf, size_t len, ct_err *e)
{
	ct_atomic_buf b = {buf, len};
	return ct_atomic_write_iov(path, &b, 1, e);
}

/* The writer's pid in ".tmp-<base>-<pid>-<n>", or -1 if the name has none. */
static long tmp_owner(const char *name)
{
	const char *last = strrchr(name, '-');
	if (!last)
		return -1;
	const char *p = last;
	while (p > name && p[-1] >= '0' && p[-1] <= '9')
		p--;
	if (p == last || p == name || p[-1] != '-')
		return -1;
	return strtol(p, NULL, 10);
}

/* 1 if another process that may still be writing the file is alive: its
 * file is left alone, removing it would make that writer's rename fail. */
static int owner_alive(const char *name)
{
	long pid = tmp_owner(name);
	if (pid <= 0 || pid == (long)getpid())
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int ct_atomic_cleanup_tmp(const char *dir, ct_err *e)
{
	DIR *d = opendir(dir);
	if (!d)
		return ct_errno(e, CT_EIO, errno, "%s: cannot open directory", dir);
	int removed = 0;
	struct dirent *ent;
	while ((ent = readdir(d)) != NULL) {
		if (strncmp(ent->d_name, CT_ATOMIC_TMP_PREFIX, strlen(CT_ATOMIC_TMP_PREFIX)) != 0)
			continue;
		if (owner_alive(ent->d_name)) /* e.g. an export into the run directory */
			continue;
		char p[8192];
		if (ct_path_join_e(p, sizeof p, dir, ent->d_name, e) < 0) {
			closedir(d);
			return CT_EUNSUPPORTED;
		}
		if (unlink(p) == 0)
			removed++;
	}
	closedir(d);
	/* Not needed for correctness (a removal lost to a power loss is redone
	 * next time), but a name deleted is made durable like every other. */
	if (removed > 0 && ct_atomic_fsync_dir(dir, e) < 0)
		return ct_err_prefix(e, "%s: temporary files removed", dir);
	return removed;
}

int ct_file_read_all(const char *path, size_t max_len, char **buf, size_t *len, ct_err *e)
{
	*buf = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ct_errno(e, errno == ENOENT ? CT_ENOTFOUND : CT_EIO, errno, "%s", path);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int err = errno;
		close(fd);
		return ct_errno(e, CT_EIO, err, "%s: stat failed", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return ct_errf(e, CT_EIO, "%s: not a regular file", path);
	}
	if ((size_t)st.st_size > max_len) {
		close(fd);
		return ct_errf(e, CT_ECORRUPT, "%s: file is %lld bytes, more than the %zu allowed",
			       path, (long long)st.st_size, max_len);
	}
	size_t size = (size_t)st.st_size;
	char *p = malloc(size + 1);
	if (!p) {
		close(fd);
		return ct_errf(e, CT_ENOMEM, "%s: out of memory reading %zu bytes", path, size);
	}
	int rc = ct_pread_all(fd, p, size, 0, path, e);
	close(fd);
	if (rc < 0) {
		free(p);
		return rc;
	}
	p[size] = '\0';
	*buf = p;
	*len = size;
	return 0;
}
