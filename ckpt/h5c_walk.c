#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/atomic.h"
#include "crc32c.h"
#include "h5c_internal.h"

/* h5c_walk.c — structure check: the metadata walked here before libhdf5 sees it.
 * libhdf5 1.10.8 trusts the sizes and addresses in a file's metadata (a
 * local heap's data size, a B-tree node's entry count, a message's length),
 * and a forged file crashes it (ckpt/README.md, "Hostile files").  So at
 * open, every object reachable from the root is walked here first, with
 * every offset checked against the image: groups (old style: symbol table
 * message -> local heap + B-tree of symbol nodes), and each object header's
 * messages, whose kinds must be ones ctrain writes and whose sizes must
 * agree with their contents.  Anything else makes the file invalid, named. */
#define WALK_MAX_DEPTH 16 /* groups in groups, and B-tree levels */
#define WALK_MAX_OBJECTS 100000
#define UNDEF_ADDR UINT64_MAX
#define HEAP_FREE_NULL 1 /* the end of a local heap's free list */
#define MSG_NIL 0x0000
#define MSG_DATASPACE 0x0001
#define MSG_DATATYPE 0x0003
#define MSG_FILL_OLD 0x0004
#define MSG_FILL 0x0005
#define MSG_EXTERNAL 0x0007
#define MSG_LAYOUT 0x0008
#define MSG_FILTERS 0x000b
#define MSG_MTIME_OLD 0x000e
#define MSG_STAB 0x0011
#define MSG_MTIME 0x0012

typedef struct walk {
	const ct_h5c_reader *r;
	const unsigned char *p;
	unsigned leaf_k, node_k; /* symbols per node / children per B-tree node, halved */
	unsigned objects;
	char path[PATH_MAX_LEN]; /* of the object being walked ("" for the root) */
	char why[PATH_MAX_LEN + 256];
} walk;

__attribute__((format(printf, 2, 3))) static int walk_bad(walk *w, const char *fmt, ...)
{
	char what[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(w->why, sizeof w->why, "%s: %s", w->path[0] ? w->path : "/", what);
	return -1;
}

/* A datatype of t_len bytes: integer, float, fixed or variable-length
 * string (vlen of characters), nothing else. */
static int check_dtype(walk *w, const unsigned char *t, uint64_t t_len, uint64_t at)
{
	if (t_len < 8)
		return walk_bad(w, "datatype message at %llu is %llu bytes", (unsigned long long)at,
				(unsigned long long)t_len);
	unsigned cls = t[0] & 0x0f;
	uint64_t size = h5c_get_le(t + 4, 4);
	if (cls != 0 && cls != 1 && cls != 3 && cls != 9)
		return walk_bad(w, "datatype class %u at %llu (ctrain writes numbers and strings)",
				cls, (unsigned long long)at);
	if (size == 0 || size > CT_H5C_STR_MAX || (cls == 9 && ((t[1] & 0x0f) != 1 || size != 16)))
		return walk_bad(w, "datatype at %llu: class %u of %llu bytes",
				(unsigned long long)at, cls, (unsigned long long)size);
	if ((cls == 0 && t_len < 12) || (cls == 1 && t_len < 20))
		return walk_bad(w, "datatype at %llu: %llu bytes for class %u",
				(unsigned long long)at, (unsigned long long)t_len, cls);
	return 0;
}

/* A dataspace of s_len bytes: version 1 or 2, rank at most CT_H5C_MAX_DIMS,
 * its dimensions inside s_len. */
static int check_dspace(walk *w, const unsigned char *s, uint64_t s_len, uint64_t at)
{
	if (s_len < 4 || s[0] < 1 || s[0] > 2 || s[1] > CT_H5C_MAX_DIMS)
		return walk_bad(w, "dataspace at %llu: version %u, rank %u", (unsigned long long)at,
				s_len ? (unsigned)s[0] : 0u, s_len > 1 ? (unsigned)s[1] : 0u);
	uint64_t head = s[0] == 1 ? 8 : 4, dims = (uint64_t)s[1] * 8 * ((s[2] & 1) ? 2 : 1);
	if (head + dims > s_len || (s[0] == 2 && s[3] > 2))
		return walk_bad(w, "dataspace at %llu: %u dimensions in %llu bytes",
				(unsigned long long)at, s[1], (unsigned long long)s_len);
	return 0;
}

static int check_attr(walk *w, const unsigned char *d, uint64_t m, uint64_t at)
{
	if (m < 9 || d[0] < 1 || d[0] > 3)
		return walk_bad(w, "attribute message at %llu: version %u", (unsigned long long)at,
				m ? (unsigned)d[0] : 0u);
	uint64_t off = d[0] == 3 ? 9 : 8, n = h5c_get_le(d + 2, 2), nt = h5c_get_le(d + 4, 2),
		 ns = h5c_get_le(d + 6, 2);
	uint64_t pn = d[0] == 1 ? h5c_pad8(n) : n, pt = d[0] == 1 ? h5c_pad8(nt) : nt,
		 ps = d[0] == 1 ? h5c_pad8(ns) : ns;
	if (n == 0 || off + pn + pt + ps > m || d[off + n - 1] != '\0' || (d[0] > 1 && d[1] != 0))
		return walk_bad(
			w, "attribute message at %llu: parts of %llu+%llu+%llu bytes in %llu",
			(unsigned long long)at, (unsigned long long)n, (unsigned long long)nt,
			(unsigned long long)ns, (unsigned long long)m);
	const unsigned char *t = d + off + pn, *s = t + pt;
	if (check_dtype(w, t, nt, at) < 0 || check_dspace(w, s, ns, at) < 0)
		return -1;
	/* the value: elements x element size, inside the message */
	uint64_t numel = 1;
	for (unsigned i = 0; i < s[1]; i++) {
		uint64_t dim = h5c_get_le(s + (s[0] == 1 ? 8 : 4) + 8 * (size_t)i, 8);
		if (dim > m) /* an attribute value lives in this message */
			return walk_bad(w, "attribute at %llu has a dimension of %llu",
					(unsigned long long)at, (unsigned long long)dim);
		numel *= dim;
		if (numel > m)
			return walk_bad(w, "attribute at %llu has more elements than bytes",
					(unsigned long long)at);
	}
	if (s[0] == 2 && s[3] == 2) /* null dataspace: no value */
		numel = 0;
	if (numel * h5c_get_le(t + 4, 4) > m - off - pn - pt - ps)
		return walk_bad(w, "attribute at %llu: its value does not fit its message",
				(unsigned long long)at);
	return 0;
}

static int check_layout(walk *w, const unsigned char *d, uint64_t m, uint64_t at)
{
	if (m < 2 || d[0] != 3)
		return walk_bad(w, "layout message at %llu: version %u (ctrain writes 3)",
				(unsigned long long)at, m ? (unsigned)d[0] : 0u);
	if (d[1] == 0) { /* compact: size, data */
		if (m < 4 || h5c_get_le(d + 2, 2) > m - 4)
			return walk_bad(w, "compact layout at %llu does not fit its message",
					(unsigned long long)at);
		return 0;
	}
	if (d[1] != 1 || m < 18)
		return walk_bad(w,
				"layout at %llu: class %u (ctrain writes contiguous and compact)",
				(unsigned long long)at, d[1]);
	uint64_t addr = h5c_get_le(d + 2, 8), size = h5c_get_le(d + 10, 8);
	if (addr != UNDEF_ADDR && !h5c_in_image(w->r, addr, size))
		return walk_bad(w, "contiguous data at %llu of %llu bytes is outside the image",
				(unsigned long long)addr, (unsigned long long)size);
	return 0;
}

static int check_object(walk *w, uint64_t addr, int depth);

/* A local heap: its data inside the image; *data and *size describe it. */
static int check_heap(walk *w, uint64_t addr, const unsigned char **data, uint64_t *size)
{
	const unsigned char *p = w->p;
	if (!h5c_in_image(w->r, addr, 32) || memcmp(p + addr, "HEAP", 4) != 0 || p[addr + 4] != 0)
		return walk_bad(w, "no local heap at %llu", (unsigned long long)addr);
	uint64_t n = h5c_get_le(p + addr + 8, 8), free_off = h5c_get_le(p + addr + 16, 8),
		 at = h5c_get_le(p + addr + 24, 8);
	if (n < 8 || !h5c_in_image(w->r, at, n) ||
	    (free_off != HEAP_FREE_NULL && free_off > n - 16))
		return walk_bad(w, "local heap at %llu: %llu bytes at %llu, free list at %llu",
				(unsigned long long)addr, (unsigned long long)n,
				(unsigned long long)at, (unsigned long long)free_off);
	for (unsigned k = 0; free_off != HEAP_FREE_NULL; k++) { /* free blocks: next, size */
		uint64_t next = h5c_get_le(p + at + free_off, 8),
			 len = h5c_get_le(p + at + free_off + 8, 8);
		if (k > n / 16 || len < 16 || len > n - free_off ||
		    (next != HEAP_FREE_NULL && (next <= free_off || next > n - 16)))
			return walk_bad(w, "local heap at %llu: bad free list",
					(unsigned long long)addr);
		free_off = next;
	}
	*data = p + at;
	*size = n;
	return 0;
}

static int heap_name(const unsigned char *heap, uint64_t size, uint64_t off)
{
	return off < size && memchr(heap + off, 0, (size_t)(size - off)) != NULL;
}

static int check_snod(walk *w, uint64_t addr, const unsigned char *heap, uint64_t hsize, int depth)
{
	const unsigned char *p = w->p;
	uint64_t cap = 2 * (uint64_t)w->leaf_k;
	if (!h5c_in_image(w->r, addr, 8 + cap * 40) || memcmp(p + addr, "SNOD", 4) != 0 ||
	    p[addr + 4] != 1 || h5c_get_le(p + addr + 6, 2) > cap)
		return walk_bad(w, "symbol table node at %llu is malformed",
				(unsigned long long)addr);
	uint64_t n = h5c_get_le(p + addr + 6, 2);
	for (uint64_t i = 0; i < n; i++) {
		const unsigned char *s = p + addr + 8 + i * 40;
		uint64_t cache = h5c_get_le(s + 16, 4);
		if (!heap_name(heap, hsize, h5c_get_le(s, 8)))
			return walk_bad(w, "symbol %llu of the node at %llu has no name",
					(unsigned long long)i, (unsigned long long)addr);
		const char *name = (const char *)heap + h5c_get_le(s, 8);
		size_t len = strlen(w->path);
		snprintf(w->path + len, sizeof w->path - len, "/%s", name);
		if (cache > 1)
			return walk_bad(w, "a %s link; only hard links are followed",
					cache == 2 ? "soft" : "non-hard");
		if (check_object(w, h5c_get_le(s + 8, 8), depth + 1) < 0)
			return -1;
		w->path[len] = '\0';
	}
	return 0;
}

static int check_btree(walk *w, uint64_t addr, const unsigned char *heap, uint64_t hsize, int depth)
{
	const unsigned char *p = w->p;
	uint64_t cap = 2 * (uint64_t)w->node_k;
	if (depth > WALK_MAX_DEPTH || !h5c_in_image(w->r, addr, 24 + cap * 16 + 8) ||
	    memcmp(p + addr, "TREE", 4) != 0 || p[addr + 4] != 0 ||
	    h5c_get_le(p + addr + 6, 2) > cap || p[addr + 5] > WALK_MAX_DEPTH)
		return walk_bad(w, "group B-tree node at %llu is malformed",
				(unsigned long long)addr);
	unsigned level = p[addr + 5];
	uint64_t n = h5c_get_le(p + addr + 6, 2);
	for (uint64_t i = 0; i <= n; i++)
		if (!heap_name(heap, hsize, h5c_get_le(p + addr + 24 + 16 * i, 8)))
			return walk_bad(w, "group B-tree node at %llu: key %llu",
					(unsigned long long)addr, (unsigned long long)i);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t child = h5c_get_le(p + addr + 32 + 16 * i, 8);
		if (level > 0) {
			if (h5c_in_image(w->r, child, 8) && p[child + 5] != level - 1)
				return walk_bad(w, "group B-tree node at %llu: child level",
						(unsigned long long)addr);
			if (check_btree(w, child, heap, hsize, depth + 1) < 0)
				return -1;
		} else if (check_snod(w, child, heap, hsize, depth) < 0) {
			return -1;
		}
	}
	return 0;
}

static int check_group(walk *w, uint64_t btree, uint64_t heap_addr, int depth)
{
	const unsigned char *heap = NULL;
	uint64_t hsize = 0;
	if (check_heap(w, heap_addr, &heap, &hsize) < 0)
		return -1;
	return check_btree(w, btree, heap, hsize, depth);
}

/* One message of an object header (type, flags, m bytes at d). */
static int check_message(walk *w, unsigned type, unsigned flags, const unsigned char *d, uint64_t m,
			 uint64_t at, int depth)
{
	if (flags & 0x02)
		return walk_bad(w, "shared message at %llu (ctrain writes none)",
				(unsigned long long)at);
	switch (type) {
	case MSG_NIL:
	case MSG_FILL_OLD:
	case MSG_FILL:
	case MSG_MTIME_OLD:
	case MSG_MTIME:
	case MSG_CONTINUATION: return 0; /* continuations: checked by check_object */
	case MSG_FILTERS:
		return walk_bad(w, "filter pipeline (compression) at %llu; ctrain reads none",
				(unsigned long long)at);
	case MSG_EXTERNAL:
		return walk_bad(w, "external data files at %llu; ctrain reads none",
				(unsigned long long)at);
	case MSG_DATASPACE: return check_dspace(w, d, m, at);
	case MSG_DATATYPE: return check_dtype(w, d, m, at);
	case MSG_LAYOUT: return check_layout(w, d, m, at);
	case MSG_ATTRIBUTE: return check_attr(w, d, m, at);
	case MSG_STAB:
		if (m < 16)
			return walk_bad(w, "symbol table message at %llu", (unsigned long long)at);
		return check_group(w, h5c_get_le(d, 8), h5c_get_le(d + 8, 8), depth + 1);
	default:
		return walk_bad(w, "object header message of type %u at %llu (ctrain writes none)",
				type, (unsigned long long)at);
	}
}

/* A version-1 object header and its continuation blocks. */
static int check_object(walk *w, uint64_t addr, int depth)
{
	const unsigned char *p = w->p;
	uint64_t blk[OH_MAX_BLOCKS][2];
	if (depth > WALK_MAX_DEPTH || ++w->objects > WALK_MAX_OBJECTS)
		return walk_bad(w, "groups nested too deeply or too many objects");
	if (!h5c_in_image(w->r, addr, 16) || p[addr] != 1)
		return walk_bad(w, "no version-1 object header at %llu", (unsigned long long)addr);
	blk[0][0] = addr + 16;
	blk[0][1] = h5c_get_le(p + addr + 8, 4);
	int nb = 1;
	unsigned msgs = 0, nmsgs = (unsigned)h5c_get_le(p + addr + 2, 2);
	for (int b = 0; b < nb; b++) {
		uint64_t at = blk[b][0], size = blk[b][1];
		if (!h5c_in_image(w->r, at, size))
			return walk_bad(w, "object header block at %llu of %llu bytes",
					(unsigned long long)at, (unsigned long long)size);
		for (uint64_t pos = 0; pos + 8 <= size;) {
			const unsigned char *m = p + at + pos;
			uint64_t type = h5c_get_le(m, 2), msize = h5c_get_le(m + 2, 2),
				 here = at + pos;
			if (msize > size - pos - 8 || (msize & 7) || ++msgs > OH_MAX_MESSAGES)
				return walk_bad(w, "object header message at %llu: %llu bytes",
						(unsigned long long)here,
						(unsigned long long)msize);
			if (type == MSG_CONTINUATION) {
				if (msize < 16 || nb == OH_MAX_BLOCKS)
					return walk_bad(w, "continuation at %llu",
							(unsigned long long)here);
				blk[nb][0] = h5c_get_le(m + 8, 8);
				blk[nb][1] = h5c_get_le(m + 16, 8);
				nb++;
			}
			if (check_message(w, (unsigned)type, m[4], m + 8, msize, at + pos + 8,
					  depth) < 0)
				return -1;
			pos += 8 + msize;
		}
	}
	if (msgs != nmsgs)
		return walk_bad(w, "object header at %llu counts %u messages, holds %u",
				(unsigned long long)addr, nmsgs, msgs);
	return 0;
}

int h5c_check_structure(const ct_h5c_reader *r, ct_err *e)
{
	const unsigned char *p = r->image;
	walk w = {r,  p, (unsigned)h5c_get_le(p + 16, 2), (unsigned)h5c_get_le(p + 18, 2), 0,
		  "", ""};
	int rc = 0;
	if (w.leaf_k == 0 || w.leaf_k > 1024 || w.node_k == 0 || w.node_k > 1024)
		rc = walk_bad(&w, "superblock B-tree sizes %u and %u", w.leaf_k, w.node_k);
	/* the root's symbol table entry: object header, cached symbol table */
	else if (h5c_get_le(p + 72, 4) > 1)
		rc = walk_bad(&w, "root group entry of kind %u", (unsigned)h5c_get_le(p + 72, 4));
	else if ((h5c_get_le(p + 72, 4) == 1 &&
		  check_group(&w, h5c_get_le(p + 80, 8), h5c_get_le(p + 88, 8), 0) < 0) ||
		 check_object(&w, h5c_get_le(p + 64, 8), 0) < 0)
		rc = -1;
	if (rc < 0)
		return ct_errf(e, CT_ECORRUPT, "%s: HDF5 metadata rejected before parsing: %s",
			       r->name, w.why);
	return 0;
}
