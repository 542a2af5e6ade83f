#include "rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/atomic.h"
#include "../util/util.h"

/* The pid written in DIR/.lock, or 0 if none can be read. */
static long rundir_lock_pid(const char *dir)
{
	char path[4200], buf[32];
	if (ct_path_join(path, sizeof path, dir, RUNDIR_LOCK_NAME) < 0)
		return 0; /* as unreadable: rundir_lock reports the long path */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	(void)close(fd); /* read-only: nothing to lose */
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end = NULL;
	long pid = strtol(buf, &end, 10);
	return end != buf && pid > 0 ? pid : 0;
}

int rundir_lock(const char *dir, int *fd, ct_err *e)
{
	char path[4200];
	*fd = -1;
	if (ct_path_join_e(path, sizeof path, dir, RUNDIR_LOCK_NAME, e) < 0)
		return CT_EUNSUPPORTED;
	int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (f < 0)
		return ct_errno(e, CT_EIO, errno, "%s: cannot open the run directory's lock", path);
	if (flock(f, LOCK_EX | LOCK_NB) != 0) {
		int err = errno;
		(void)close(f); /* only the failed lock attempt is lost */
		if (err != EWOULDBLOCK)
			return ct_errno(e, CT_EIO, err, "%s: cannot lock", path);
		long pid = rundir_lock_pid(dir);
		if (pid > 0)
			return ct_errf(e, CT_EIO,
				       "%s: another ctrain process (pid %ld) is writing this run "
				       "directory; wait for it to end or stop it first",
				       dir, pid);
		return ct_errf(e, CT_EIO,
			       "%s: another ctrain process is writing this run directory (%s is "
			       "locked); wait for it to end or stop it first",
			       dir, path);
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(f, 0) != 0 || pwrite(f, pid, (size_t)n, 0) != (ssize_t)n) {
		int err = errno;
		(void)close(f); /* closing releases the lock: the run does not start */
		return ct_errno(e, CT_EIO, err, "%s: cannot write the pid", path);
	}
	*fd = f;
	return 0;
}

void rundir_unlock(int fd)
{
	if (fd >= 0)
		(void)close(
			fd); /* releases the flock; the file's pid text is no longer meaningful */
}

static const char *const run_files[] = {"config.ini", "metrics.csv", "model.safetensors",
					"checkpoints"};

int rundir_holds_run(const char *dir)
{
	char path[4200];
	for (size_t i = 0; i < sizeof run_files / sizeof run_files[0]; i++) {
		struct stat st;
		/* a directory whose files cannot be named holds no run of ours */
		if (ct_path_join(path, sizeof path, dir, run_files[i]) == 0 &&
		    lstat(path, &st) == 0)
			return 1;
	}
	return 0;
}

static int unlink_if_present(const char *path, ct_err *e)
{
	if (unlink(path) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	return ct_errno(e, CT_EIO, errno, "%s: cannot remove", path);
}

/* Every entry of DIR/checkpoints (files only), then the directory. */
static int clear_checkpoints(const char *ck, ct_err *e)
{
	DIR *d = opendir(ck);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return ct_errno(e, CT_EIO, errno, "%s: cannot open", ck);
	}
	int rc = 0;
	const struct dirent *de;
	char path[4400];
	while (rc >= 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = ct_path_join_e(path, sizeof path, ck, de->d_name, e);
		if (rc == 0)
			rc = unlink_if_present(path, e);
	}
	(void)closedir(d); /* read-only handle */
	if (rc < 0)
		return rc;
	rc = ct_atomic_fsync_dir(ck, e);
	if (rc == 0 && rmdir(ck) != 0)
		rc = ct_errno(e, CT_EIO, errno, "%s: cannot remove", ck);
	return rc;
}

int rundir_clear(const char *dir, ct_err *e)
{
	static const char *const names[] = {"model.safetensors", "metrics.csv",      "curves.svg",
					    "train.log",         "data.fingerprint", "config.ini"};
	char path[4200];
	int rc = ct_path_join_e(path, sizeof path, dir, "checkpoints", e);
	if (rc == 0)
		rc = clear_checkpoints(path, e);
	for (size_t i = 0; rc >= 0 && i < sizeof names / sizeof names[0]; i++) {
		rc = ct_path_join_e(path, sizeof path, dir, names[i], e);
		if (rc == 0)
			rc = unlink_if_present(path, e);
	}
	if (rc >= 0)
		rc = ct_atomic_fsync_dir(dir, e);
	return rc < 0 ? rc : 0;
}

int rundir_remove(const char *dir, const char *name, ct_err *e)
{
	char path[4200];
	int rc = ct_path_join_e(path, sizeof path, dir, name, e);
	if (rc < 0)
		return rc;
	rc = unlink_if_present(path, e);
	if (rc == 1) {
		int frc = ct_atomic_fsync_dir(dir, e);
		if (frc < 0)
			return frc;
	}
	return rc;
}
