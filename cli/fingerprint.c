#include "fingerprint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/atomic.h"
#include "../util/util.h"
#include "../ckpt/crc32c.h"
#include "../util/log.h"

typedef struct sbuf {
	char *p;
	size_t len, cap;
} sbuf;

static int sb_add(sbuf *b, const char *s, ct_err *e)
{
	size_t n = strlen(s);
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p)
			return ct_errf(e, CT_ENOMEM, "out of memory");
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
	return 0;
}

/* "size crc32c name\n" of one file. */
static int file_line(const char *path, sbuf *out, ct_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ct_errno(e, errno == ENOENT ? CT_ENOTFOUND : CT_EIO, errno,
				"%s: cannot open the data file", path);
	struct stat st;
	int rc = fstat(fd, &st) == 0 ? 0 : ct_errno(e, CT_EIO, errno, "%s: cannot stat", path);
	uint64_t size = rc == 0 ? (uint64_t)st.st_size : 0;
	size_t bufsize = size <= FP_WHOLE_MAX ? (size_t)size : FP_BLOCK;
	char *buf = rc == 0 ? malloc(bufsize ? bufsize : 1) : NULL;
	if (rc == 0 && !buf)
		rc = ct_errf(e, CT_ENOMEM, "out of memory");
	uint32_t crc = 0;
	if (rc == 0 && size <= FP_WHOLE_MAX) {
		rc = ct_pread_all(fd, buf, bufsize, 0, path, e);
		if (rc == 0)
			crc = crc32c_update(0, buf, bufsize);
	}
	for (uint64_t i = 0; rc == 0 && size > FP_WHOLE_MAX && i < FP_BLOCKS; i++) {
		uint64_t off = i * (size - FP_BLOCK) / (FP_BLOCKS - 1);
		rc = ct_pread_all(fd, buf, FP_BLOCK, (off_t)off, path, e);
		if (rc == 0)
			crc = crc32c_update(crc, buf, FP_BLOCK);
	}
	free(buf);
	(void)close(fd); /* read-only */
	if (rc < 0)
		return rc;
	const char *slash = strrchr(path, '/');
	char line[4400];
	snprintf(line, sizeof line, "%" PRIu64 " %08" PRIx32 " %s\n", size, crc,
		 slash ? slash + 1 : path);
	return sb_add(out, line, e);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* mnist / fashion-mnist: every file of the directory whose name starts with
 * "train-" (what training reads), in name order. */
static int dir_lines(const char *dir, sbuf *out, ct_err *e)
{
	DIR *d = opendir(dir);
	if (!d)
		return ct_errno(e, CT_ENOTFOUND, errno, "%s: cannot open the data directory", dir);
	char *names[64] = {0};
	int n = 0, rc = 0;
	const struct dirent *de;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "train-", 6) != 0 || n == 64)
			continue;
		names[n] = strdup(de->d_name);
		if (!names[n])
			rc = ct_errf(e, CT_ENOMEM, "out of memory");
		else
			n++;
	}
	(void)closedir(d); /* read-only */
	qsort(names, (size_t)n, sizeof names[0], cmp_names);
	for (int i = 0; i < n; i++) {
		char path[4400];
		if (rc == 0)
			rc = ct_path_join_e(path, sizeof path, dir, names[i], e);
		if (rc == 0)
			rc = file_line(path, out, e);
		free(names[i]);
	}
	return rc;
}

int fingerprint_data(const ct_config *cfg, char **text, ct_err *e)
{
	sbuf b = {0};
	int rc = sb_add(&b, "", e);
	/* csv and hdf5 name a file, mnist and fashion-mnist a directory */
	int one_file = cfg->dataset == CT_DATA_CSV || cfg->dataset == CT_DATA_HDF5;
	if (rc == 0 && one_file)
		rc = file_line(cfg->path, &b, e);
	else if (rc == 0 && cfg->dataset != CT_DATA_SYNTHETIC)
		rc = dir_lines(cfg->path, &b, e);
	/* validation rows from their own file shape the run as much as the rest */
	if (rc == 0 && one_file && cfg->val_path[0])
		rc = file_line(cfg->val_path, &b, e);
	if (rc < 0) {
		free(b.p);
		return rc;
	}
	*text = b.p;
	return 0;
}

int fingerprint_record(const char *dir, const ct_config *cfg, ct_err *e)
{
	char *text = NULL;
	int rc = fingerprint_data(cfg, &text, e);
	char path[4200];
	if (rc == 0)
		rc = ct_path_join_e(path, sizeof path, dir, FP_FILE, e);
	if (rc == 0 && text[0])
		rc = ct_atomic_write_file(path, text, strlen(text), e);
	free(text);
	return rc;
}

/* The lines without their names: a moved or renamed file is the same data. */
static void strip_names(char *s)
{
	char *w = s;
	for (const char *line = s; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *sp = memchr(line, ' ', len);
		sp = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - line)) : NULL;
		size_t keep = sp ? (size_t)(sp - line) : len;
		memmove(w, line, keep);
		w += keep;
		*w++ = '\n';
		line += len + (nl ? 1 : 0);
	}
	*w = '\0';
}

int fingerprint_check(const char *dir, const ct_config *cfg, int accept, int *same, ct_err *e)
{
	*same = 0;
	char path[4200];
	int rc = ct_path_join_e(path, sizeof path, dir, FP_FILE, e);
	if (rc < 0)
		return rc;
	char *rec = NULL, *now = NULL;
	size_t len;
	if (access(path, F_OK) != 0)
		return 0; /* recorded by no one: a run of an older ctrain, or synthetic data */
	rc = ct_file_read_all(path, 1u << 20, &rec, &len, e);
	if (rc == 0)
		rc = fingerprint_data(cfg, &now, e);
	if (rc == 0) {
		char *a = strdup(rec), *b = strdup(now);
		if (!a || !b)
			rc = ct_errf(e, CT_ENOMEM, "out of memory");
		else {
			strip_names(a);
			strip_names(b);
			*same = strcmp(a, b) == 0;
		}
		free(a);
		free(b);
	}
	if (rc == 0 && !*same) {
		/* one line each is enough to see what changed */
		char *nl1 = strchr(rec, '\n'), *nl2 = strchr(now, '\n');
		if (nl1)
			*nl1 = '\0';
		if (nl2)
			*nl2 = '\0';
		if (!accept)
			rc = ct_errf(
				e, CT_EMISMATCH,
				"%s: the data changed since training started (%s: recorded "
				"\"%s\", now \"%s\" as size, CRC-32C, file): resuming would not "
				"continue the same run; restore the data, or pass "
				"--accept-data-change to go on with the new data",
				cfg->path, path, rec, now[0] ? now : "no file");
		else {
			ct_log_warn(
				"%s: the data changed since training started (recorded \"%s\", "
				"now \"%s\"); continuing on it (--accept-data-change): the result "
				"will not match an uninterrupted run",
				cfg->path, rec, now);
			rc = fingerprint_record(dir, cfg, e);
		}
	}
	free(rec);
	free(now);
	return rc;
}
