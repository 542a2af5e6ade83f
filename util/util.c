#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ct_grow(void *arrp, size_t *cap, size_t need, size_t elem, size_t first)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : first;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			return -1;
		c *= 2;
	}
	if (c > SIZE_MAX / elem)
		return -1;
	void *p; /* read and written as bytes: arrp may point to any T * */
	memcpy(&p, arrp, sizeof p);
	void *np = realloc(p, c * elem);
	if (!np)
		return -1;
	memcpy(arrp, &np, sizeof np);
	*cap = c;
	return 0;
}

size_t ct_utf8_bad_at(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t k;
		unsigned lo = 0x80, hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90; /* overlong */
			if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return i;
		}
		if (n - i <= k)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t j = 2; j <= k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return i;
		i += k + 1;
	}
	return n;
}

void ct_shape_format(char *buf, size_t len, int ndim, const int64_t *shape, const char *sep)
{
	size_t used = (size_t)snprintf(buf, len, "[");
	for (int i = 0; i < ndim && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? sep : "",
					 (long long)shape[i]);
	if (used < len)
		snprintf(buf + used, len - used, "]");
}

int ct_split_fields(char *line, char **f, int max)
{
	int n = 0;
	for (char *p = line; n < max;) {
		f[n++] = p;
		p = strchr(p, ',');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

int ct_index_of(char *const *names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

int ct_path_join(char *out, size_t n, const char *dir, const char *name)
{
	CT_ASSERT(out && n > 0 && dir && name);
	const char *sep = dir[0] && name[0] ? "/" : "";
	int len = snprintf(out, n, "%s%s%s", dir, sep, name);
	if (len < 0 || (size_t)len >= n) {
		out[0] = '\0';
		return CT_EUNSUPPORTED;
	}
	return 0;
}

int ct_path_join_e(char *out, size_t n, const char *dir, const char *name, ct_err *e)
{
	if (ct_path_join(out, n, dir, name) == 0)
		return 0;
	size_t dl = strlen(dir);
	if (dl > 600) /* keep the name and the reason inside the message */
		return ct_errf(e, CT_EUNSUPPORTED, "%.300s...%s/%s: path longer than %zu bytes",
			       dir, dir + dl - 200, name, n - 1);
	return ct_errf(e, CT_EUNSUPPORTED, "%s/%s: path longer than %zu bytes", dir, name, n - 1);
}

int ct_pread_all(int fd, void *buf, size_t len, off_t off, const char *path, ct_err *e)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ct_errno(e, CT_EIO, errno, "%s: read failed", path);
		if (n == 0)
			return ct_errf(e, CT_EIO, "%s: file shrank while reading", path);
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}
