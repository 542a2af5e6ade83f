/* events.c — DIR/events.csv (see events.h). */
#include "events.h"
#include "../util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int events_append(const char *run_dir, const char *event, int64_t step, int64_t total_steps,
		  const char *detail, ct_err *e)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/events.csv", run_dir);
	char line[1024];
	struct timespec ts;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		memset(&ts, 0, sizeof ts);
	int n = snprintf(line, sizeof line, "%lld.%03ld,%s,%" PRId64 ",%" PRId64 ",",
			 (long long)ts.tv_sec, ts.tv_nsec / 1000000, event, step, total_steps);
	CT_ASSERT(n > 0 && (size_t)n < sizeof line);
	size_t len = (size_t)n;
	for (const char *p = detail ? detail : ""; *p && len < sizeof line - 2; p++)
		line[len++] = *p == '\n' || *p == '\r' ? ' ' : *p;
	line[len++] = '\n';
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return ct_errno(e, CT_EIO, errno, "%s: cannot open", path);
	struct stat st;
	int rc = fstat(fd, &st);
	if (rc == 0 && st.st_size == 0)
		rc = write_all(fd, EVENTS_HEADER "\n", strlen(EVENTS_HEADER) + 1);
	if (rc == 0)
		rc = write_all(fd, line, len);
	if (rc == 0)
		rc = fsync(fd);
	int err = errno;
	if (close(fd) != 0 && rc == 0) {
		rc = -1;
		err = errno;
	}
	if (rc != 0)
		return ct_errno(e, CT_EIO, err, "%s: cannot append event", path);
	return 0;
}

static int parse_line(char *line, run_event *ev)
{
	char *f[5];
	char *p = line;
	for (int i = 0; i < 4; i++) {
		f[i] = p;
		p = strchr(p, ',');
		if (!p)
			return -1;
		*p++ = '\0';
	}
	f[4] = p;
	char *end;
	memset(ev, 0, sizeof *ev);
	ev->time = strtod(f[0], &end);
	if (end == f[0] || *end)
		return -1;
	if (strlen(f[1]) == 0 || strlen(f[1]) >= sizeof ev->event)
		return -1;
	memcpy(ev->event, f[1], strlen(f[1]) + 1);
	ev->step = strtoll(f[2], &end, 10);
	if (end == f[2] || *end)
		return -1;
	ev->total_steps = strtoll(f[3], &end, 10);
	if (end == f[3] || *end)
		return -1;
	f[4][strcspn(f[4], "\r\n")] = '\0';
	snprintf(ev->detail, sizeof ev->detail, "%s", f[4]);
	return 0;
}

int events_read(const char *run_dir, run_event **v, size_t *n, ct_err *e)
{
	*v = NULL;
	*n = 0;
	char path[4200];
	snprintf(path, sizeof path, "%s/events.csv", run_dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : ct_errno(e, CT_EIO, errno, "%s: cannot open", path);
	char line[2048];
	size_t cap = 0;
	int rc = 0;
	while (fgets(line, sizeof line, f)) {
		run_event ev;
		if (parse_line(line, &ev) < 0)
			continue; /* the header, or a line torn by a crash */
		if (ct_grow(v, &cap, *n + 1, sizeof **v, 16) < 0) {
			rc = ct_errf(e, CT_ENOMEM, "%s: out of memory", path);
			break;
		}
		(*v)[(*n)++] = ev;
	}
	if (rc == 0 && ferror(f))
		rc = ct_errno(e, CT_EIO, errno, "%s: read failed", path);
	(void)fclose(f); /* read only: nothing to lose */
	if (rc < 0) {
		free(*v);
		*v = NULL;
		*n = 0;
	}
	return rc;
}
