/* Numeric CSV reader (see dataset.h).  The (decompressed) file is read in
 * blocks of CSV_BLOCK bytes and parsed as it arrives: a line cut by the end
 * of a block is carried to the front of the buffer and completed by the next
 * block, so the buffer holds one block plus the longest line.  Rows go into
 * chunks of about CHUNK_BYTES mapped one by one as the rows come (a gzip
 * stream cannot be read twice to count them first, and growing one array by
 * realloc would hold two copies while it moves); at the end the chunks are
 * copied into the dataset's aligned array, each unmapped as soon as it is
 * copied, so the peak is the parsed floats plus one chunk and the buffer.
 *
 * A row is first parsed by a fast path: plain decimal numbers separated by
 * bare commas, each through csv_parse_float (strtof's result, bit for bit,
 * or a refusal) and a label of at most 9 digits.  Any other row (blanks,
 * quotes, hex, inf/nan, long mantissas, errors...) goes through the general
 * path below, cell by cell with strtof/strtod, which also words the errors,
 * so results and messages are those of the general path alone. */
#include "csvparse.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../util/log.h"
#include "gzio.h"

#define CELL_SHOWN 40 /* longest piece of a bad cell quoted in a message */
#define CHUNK_BYTES ((size_t)4 << 20)

typedef struct csv_src {
	gzFile f;
	const char *path;
	char *buf;
	size_t cap, block;
	size_t pos, used; /* the text not consumed yet is buf[pos, used) */
	size_t scanned;   /* its first `scanned` bytes hold no '\n' */
	int eof;
	int64_t lineno; /* 1-based number of the line last returned */
} csv_src;

typedef struct cell {
	char *s;
	size_t len;
} cell;

/* Moves the unconsumed text to the front and appends one block after it. */
static int src_fill(csv_src *c, ct_err *e)
{
	size_t left = c->used - c->pos;
	if (c->pos > 0) {
		memmove(c->buf, c->buf + c->pos, left);
		c->used = left;
		c->pos = 0;
	}
	if (c->cap - c->used < c->block + 1) { /* a line longer than the buffer */
		size_t ncap = c->cap;
		while (ncap - c->used < c->block + 1) {
			if (ncap > SIZE_MAX / 2)
				return ct_errf(e, CT_ENOMEM, "%s: line %lld is too long", c->path,
					       (long long)c->lineno + 1);
			ncap *= 2;
		}
		char *nb = realloc(c->buf, ncap);
		if (!nb)
			return ct_errf(e, CT_ENOMEM,
				       "%s: out of memory for line %lld (%zu bytes so far)",
				       c->path, (long long)c->lineno + 1, c->used);
		c->buf = nb;
		c->cap = ncap;
	}
	int64_t n = gzio_read(c->f, c->path, c->buf + c->used, c->block, e);
	if (n < 0)
		return (int)n;
	c->used += (size_t)n;
	if ((size_t)n < c->block)
		c->eof = 1;
	return 0;
}

/* Sets [*s, *e) to the next line without its "\n" or "\r\n" (and the first
 * line without a UTF-8 byte order mark); 1, or 0 at the end, or < 0 if the
 * file cannot be read.  The line stays valid until the next call, and the
 * byte at *e may be overwritten (there is always one). */
static int next_line(csv_src *c, char **s, char **e, ct_err *err)
{
	for (;;) {
		char *p = c->buf + c->pos;
		size_t avail = c->used - c->pos;
		char *nl = avail > c->scanned ? memchr(p + c->scanned, '\n', avail - c->scanned)
					      : NULL;
		if (nl || c->eof) {
			if (!nl && avail == 0)
				return 0;
			*s = p;
			*e = nl ? nl : p + avail;
			c->pos = nl ? (size_t)(nl + 1 - c->buf) : c->used;
			c->scanned = 0;
			if (*e > *s && (*e)[-1] == '\r')
				(*e)--;
			if (c->lineno++ == 0 && *e - *s >= 3 && memcmp(*s, "\xef\xbb\xbf", 3) == 0)
				*s += 3;
			return 1;
		}
		c->scanned = avail;
		int rc = src_fill(c, err);
		if (rc < 0)
			return rc;
	}
}

static int is_blank_char(char ch) { return ch == ' ' || ch == '\t'; }

static int is_blank_line(const char *s, const char *e)
{
	while (s < e && is_blank_char(*s))
		s++;
	return s == e;
}

/* Next non-blank line: 1, or 0 at the end, or < 0 on a read error. */
static int next_row(csv_src *c, char **s, char **e, ct_err *err)
{
	int rc;
	while ((rc = next_line(c, s, e, err)) > 0)
		if (!is_blank_line(*s, *e))
			return 1;
	return rc;
}

/* Scans one cell starting at s; returns where the next cell starts (after
 * the comma) or e.  Blanks around the cell and surrounding quotes are
 * dropped; a doubled quote inside quotes does not end them. */
static char *scan_cell(char *s, char *e, cell *out, int *more)
{
	while (s < e && is_blank_char(*s))
		s++;
	char *start = s, *stop;
	if (s < e && *s == '"') {
		start = ++s;
		while (s < e && !(*s == '"' && (s + 1 == e || s[1] != '"')))
			s += *s == '"' ? 2 : 1;
		stop = s < e ? s : e;
		char *comma = memchr(s, ',', (size_t)(e - s));
		s = comma ? comma : e;
	} else {
		char *comma = memchr(s, ',', (size_t)(e - s));
		s = comma ? comma : e;
		stop = s;
		while (stop > start && is_blank_char(stop[-1]))
			stop--;
	}
	out->s = start;
	out->len = (size_t)(stop - start);
	*more = s < e;
	return s < e ? s + 1 : e;
}

/* Splits a line into cells; stores at most cap of them; returns the count. */
static int split_cells(char *s, char *e, cell *cells, int cap)
{
	int n = 0, more = 1;
	while (more) {
		cell c;
		s = scan_cell(s, e, &c, &more);
		if (n < cap && cells)
			cells[n] = c;
		if (n < INT_MAX)
			n++;
	}
	return n;
}

/* Parses the whole cell as a number (as a float when as_float, so that it
 * is rounded once, correctly); 0 if it is empty or has anything else in it. */
static int cell_number(cell c, int as_float, double *v)
{
	if (c.len == 0)
		return 0;
	char save = c.s[c.len], *endp = c.s; /* a line is always followed by one more byte */
	c.s[c.len] = '\0';
	*v = as_float ? (double)strtof(c.s, &endp) : strtod(c.s, &endp);
	c.s[c.len] = save;
	return endp == c.s + c.len;
}

typedef struct csv_shape {
	int ncols;
	int header;    /* the first non-blank line is a header */
	int64_t first; /* its line number */
	cell *cells;   /* scratch, ncols entries */
} csv_shape;

/* data.header = auto: a first row none of whose cells is a number is a
 * header (logged); one with some numbers in it is an error naming the first
 * cell that is not (a damaged data row must not vanish as a "header"). */
static int detect_header(const char *path, csv_shape *sh, ct_err *e)
{
	double v;
	int numeric = 0, first_text = -1;
	for (int k = 0; k < sh->ncols; k++) {
		if (cell_number(sh->cells[k], 0, &v))
			numeric++;
		else if (first_text < 0)
			first_text = k;
	}
	if (first_text < 0)
		return 0;
	if (numeric > 0) {
		cell c = sh->cells[first_text];
		int shown = c.len > CELL_SHOWN ? CELL_SHOWN : (int)c.len;
		return ct_errf(e, CT_ECORRUPT,
			       "%s: line %lld, column %d: not a number: \"%.*s%s\" (the first row "
			       "has numbers too, so it is not taken as a header; if it is one, set "
			       "data.header = true)",
			       path, (long long)sh->first, first_text + 1, shown, c.s,
			       c.len > CELL_SHOWN ? "..." : "");
	}
	ct_log_info("%s: line %lld taken as a header (none of its cells is a number)", path,
		    (long long)sh->first);
	sh->header = 1;
	return 0;
}

static int bad_cell(const char *path, int64_t line, int col, cell c, const char *what, ct_err *e)
{
	int shown = c.len > CELL_SHOWN ? CELL_SHOWN : (int)c.len;
	if (c.len == 0)
		return ct_errf(e, CT_ECORRUPT, "%s: line %lld, column %d: empty cell", path,
			       (long long)line, col);
	return ct_errf(e, CT_ECORRUPT, "%s: line %lld, column %d: %s: \"%.*s%s\"", path,
		       (long long)line, col, what, shown, c.s, c.len > CELL_SHOWN ? "..." : "");
}

static int parse_label(const char *path, int64_t line, int col, cell c, int32_t *y, ct_err *e)
{
	double v;
	if (!cell_number(c, 0, &v))
		return bad_cell(path, line, col, c, "label is not a number", e);
	if (v < 0)
		return bad_cell(path, line, col, c, "label is negative", e);
	if (v != floor(v) || !isfinite(v))
		return bad_cell(path, line, col, c, "label is not an integer", e);
	if (v >= INT_MAX)
		return bad_cell(path, line, col, c, "label is too large", e);
	*y = (int32_t)v;
	return 0;
}

/* Parses one data row, split into sh->cells, into x (d floats) and *y. */
static int parse_row(const char *path, int64_t line, const csv_shape *sh, int lcol, float *x,
		     int32_t *y, ct_err *e)
{
	for (int k = 0; k < sh->ncols; k++) {
		cell c = sh->cells[k];
		double v;
		if (k == lcol) {
			int rc = parse_label(path, line, k + 1, c, y, e);
			if (rc < 0)
				return rc;
			continue;
		}
		if (!cell_number(c, 1, &v))
			return bad_cell(path, line, k + 1, c, "not a number", e);
		if (!isfinite(v))
			return bad_cell(path, line, k + 1, c, "not a finite float", e);
		*x++ = (float)v;
	}
	return 0;
}

/* Resolves label_column against the column count; -1 means no label. */
static int label_index(const char *path, int label_column, int ncols, int *lcol, ct_err *e)
{
	*lcol = -1;
	if (label_column == CT_CSV_NO_LABEL)
		return 0;
	int64_t k = label_column < 0 ? (int64_t)ncols + label_column : label_column;
	if (k < 0 || k >= ncols)
		return ct_errf(e, CT_EMISMATCH,
			       "%s: label_column %d is out of range for %d columns", path,
			       label_column, ncols);
	if (ncols < 2)
		return ct_errf(e, CT_EMISMATCH, "%s: only a label column, no feature columns",
			       path);
	*lcol = (int)k;
	return 0;
}

static int32_t max_label(const ct_dataset *ds)
{
	int32_t m = 0;
	for (int64_t i = 0; i < ds->n; i++)
		if (ds->y[i] > m)
			m = ds->y[i];
	return m;
}

/* ---- fast path ------------------------------------------------------------ */

/* 10^0 .. 10^22, every one exact in a double. */
static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int is_digit(char ch) { return (unsigned)(ch - '0') < 10u; }

/* See csvparse.h.  [+-]digits[.digits][(e|E)[+-]digits] with at least one
 * digit before the exponent and at most 19 significant ones: the value is
 * m * 10^k with m < 10^19 exact.  When m <= 2^53 and |k| <= 22, m and 10^|k|
 * are exact doubles, so m * 10^k or m / 10^-k is the correctly rounded double
 * d of the exact value x (Clinger).  Rounding d to float gives the float
 * nearest x unless a float rounding boundary (a midpoint between two
 * adjacent floats) lies between x and d or at d: midpoints of normal floats
 * have 25 significant bits, so they are doubles, and one strictly between x
 * and d would be a double nearer x than d, which cannot be; so only d itself
 * being a midpoint (the 29 bits of the double's mantissa below the float's
 * are 1000...0) can go wrong, and that case is left to strtof, as is every
 * m or k out of the bounds above.  Results below FLT_MIN (fewer float bits:
 * the argument does not hold) or above FLT_MAX are refused too, although
 * these bounds keep |x| within [1e-22, 2^53 * 1e22], so that widening them
 * later stays safe. */
static inline const char *parse_float(const char *s, const char *e, float *out)
{
	const char *p = s;
	int neg = 0;
	if (p < e && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	uint64_t m = 0;
	int nd = 0, any = 0; /* significant digits in m; any digit at all */
	int64_t k = 0;
	while (p < e && *p == '0') {
		p++;
		any = 1;
	}
	for (; p < e && is_digit(*p); p++, any = 1) {
		if (nd == 19)
			return NULL;
		m = m * 10 + (uint64_t)(*p - '0');
		nd++;
	}
	if (p < e && *p == '.') {
		p++;
		if (nd == 0)
			for (; p < e && *p == '0'; p++, any = 1)
				k--;
		for (; p < e && is_digit(*p); p++, any = 1) {
			if (nd == 19)
				return NULL;
			m = m * 10 + (uint64_t)(*p - '0');
			nd++;
			k--;
		}
	}
	if (!any)
		return NULL;
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		int eneg = 0;
		if (p < e && (*p == '-' || *p == '+'))
			eneg = *p++ == '-';
		if (!(p < e && is_digit(*p)))
			return NULL; /* "1e" or "1e+": strtof stops before the e */
		int64_t x = 0;
		for (; p < e && is_digit(*p); p++)
			if (x < 100000)
				x = x * 10 + (*p - '0');
		k += eneg ? -x : x;
	}
	if (p < e && (*p == 'x' || *p == 'X'))
		return NULL; /* "0x1p3": hexadecimal for strtof */
	if (m == 0) {
		*out = neg ? -0.0f : 0.0f;
		return p;
	}
	if (m > ((uint64_t)1 << 53) || k < -22 || k > 22)
		return NULL;
	double d = (double)m;
	d = k >= 0 ? d * pow10_exact[k] : d / pow10_exact[-k];
	if (d < (double)FLT_MIN || d > (double)FLT_MAX)
		return NULL;
	uint64_t bits;
	memcpy(&bits, &d, sizeof bits);
	if ((bits & 0x1fffffffu) == 0x10000000u)
		return NULL;
	float f = (float)d;
	*out = neg ? -f : f;
	return p;
}

const char *csv_parse_float(const char *s, const char *e, float *out)
{
	return parse_float(s, e, out);
}

/* The whole row [s, e) as bare comma-separated plain numbers, the label (if
 * lcol >= 0) at most 9 digits; 0 if the row needs the general path. */
static int fast_row(const char *s, const char *e, int ncols, int lcol, float *x, int32_t *y)
{
	for (int k = 0; k < ncols; k++) {
		if (k == lcol) {
			const char *p = s;
			int32_t v = 0;
			for (; p < e && is_digit(*p) && p - s < 9; p++)
				v = v * 10 + (*p - '0');
			if (p == s)
				return 0;
			*y = v;
			s = p;
		} else {
			s = parse_float(s, e, x++);
			if (!s)
				return 0;
		}
		if (k + 1 < ncols) {
			if (s == e || *s != ',')
				return 0;
			s++;
		}
	}
	return s == e;
}

/* ---- rows, stored in chunks while the file is read ------------------------ */

typedef struct row_store {
	int d, labelled;
	int64_t per_chunk; /* rows in a chunk: per_chunk * d floats, then per_chunk labels */
	size_t chunk_bytes;
	void **chunks;
	int64_t n_chunks, cap_chunks;
	int64_t n; /* rows stored */
} row_store;

static void store_init(row_store *st, int d, int labelled)
{
	memset(st, 0, sizeof *st);
	st->d = d;
	st->labelled = labelled;
	size_t row = (size_t)d * sizeof(float) + (labelled ? sizeof(int32_t) : 0);
	st->per_chunk = CHUNK_BYTES / row > 0 ? (int64_t)(CHUNK_BYTES / row) : 1;
	st->chunk_bytes = (size_t)st->per_chunk * row;
}

static void store_release(row_store *st)
{
	for (int64_t i = 0; i < st->n_chunks; i++)
		if (st->chunks[i])
			(void)munmap(st->chunks[i],
				     st->chunk_bytes); /* cannot fail on our own map */
	free(st->chunks);
	st->chunks = NULL;
	st->n_chunks = 0;
}

/* Room for one more row: *x (d floats) and *y (NULL when unlabelled). */
static int store_row(row_store *st, const char *path, float **x, int32_t **y, ct_err *e)
{
	int64_t c = st->n / st->per_chunk, r = st->n % st->per_chunk;
	if (c == st->n_chunks) {
		if (st->n_chunks == st->cap_chunks) {
			int64_t ncap = st->cap_chunks ? 2 * st->cap_chunks : 16;
			void **nc = realloc(st->chunks, (size_t)ncap * sizeof *nc);
			if (!nc)
				return ct_errf(e, CT_ENOMEM, "%s: out of memory after %lld rows",
					       path, (long long)st->n);
			st->chunks = nc;
			st->cap_chunks = ncap;
		}
		void *p = mmap(NULL, st->chunk_bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return ct_errf(e, CT_ENOMEM, "%s: out of memory after %lld rows", path,
				       (long long)st->n);
		(void)madvise(p, st->chunk_bytes, MADV_HUGEPAGE); /* fewer faults; advice only */
		st->chunks[st->n_chunks++] = p;
	}
	float *xs = st->chunks[c];
	*x = xs + r * st->d;
	if (st->labelled) {
		int32_t *ys = (void *)(xs + st->per_chunk * st->d);
		*y = ys + r;
	} else {
		*y = NULL;
	}
	st->n++;
	return 0;
}

/* Asks for transparent huge pages on the whole pages inside [p, p + len):
 * one fault per 2 MiB instead of one per 4 KiB while the rows are copied
 * in (a third of the load time on this machine otherwise).  Advice only. */
static void hugepage_advice(void *p, size_t len)
{
	if (len < ((size_t)4 << 20))
		return; /* small arrays come from the heap: leave it alone */
	uintptr_t page = 4096, a = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t b = ((uintptr_t)p + len) & ~(page - 1);
	if (b > a)
		(void)madvise((void *)a, b - a, MADV_HUGEPAGE); /* advice only */
}

/* Copies the rows into ds, unmapping each chunk once it is copied. */
static int store_finish(row_store *st, const char *path, ct_dataset *ds, ct_err *e)
{
	int rc = ct_dataset_alloc(ds, st->n, st->d, st->labelled, path, e);
	if (rc < 0)
		return rc;
	hugepage_advice(ds->x, (size_t)st->n * (size_t)st->d * sizeof(float));
	for (int64_t c = 0; c < st->n_chunks; c++) {
		int64_t first = c * st->per_chunk;
		int64_t rows = st->n - first < st->per_chunk ? st->n - first : st->per_chunk;
		const float *xs = st->chunks[c];
		memcpy(ds->x + first * st->d, xs, (size_t)rows * (size_t)st->d * sizeof(float));
		if (st->labelled) {
			const int32_t *ys = (const void *)(xs + st->per_chunk * st->d);
			memcpy(ds->y + first, ys, (size_t)rows * sizeof(int32_t));
		}
		(void)munmap(st->chunks[c], st->chunk_bytes); /* cannot fail on our own map */
		st->chunks[c] = NULL;
	}
	return 0;
}

/* ---- the reader ----------------------------------------------------------- */

/* One data row [s, end) (line c->lineno) into x (d floats) and *y. */
static int parse_line(csv_src *c, csv_shape *sh, int lcol, char *s, char *end, float *x, int32_t *y,
		      ct_err *e)
{
	if (fast_row(s, end, sh->ncols, lcol, x, y))
		return 0;
	int n = split_cells(s, end, sh->cells, sh->ncols);
	if (n != sh->ncols)
		return ct_errf(e, CT_ECORRUPT,
			       "%s: line %lld: ragged row: %d columns, but line %lld has %d",
			       c->path, (long long)c->lineno, n, (long long)sh->first, sh->ncols);
	return parse_row(c->path, c->lineno, sh, lcol, x, y, e);
}

/* One data row [s, end) (line c->lineno) into the store. */
static int data_row(csv_src *c, csv_shape *sh, int lcol, row_store *st, char *s, char *end,
		    ct_err *e)
{
	float *x = NULL;
	int32_t *y = NULL;
	int rc = store_row(st, c->path, &x, &y, e);
	if (rc < 0)
		return rc;
	return parse_line(c, sh, lcol, s, end, x, y, e);
}

static int no_data_rows(const csv_src *c, const csv_shape *sh, ct_err *e)
{
	return ct_errf(e, CT_ECORRUPT, "%s: no data rows after the header on line %lld", c->path,
		       (long long)sh->first);
}

/* The first row: the column count, whether it is a header, the label's
 * column (*lcol, -1 for none).  Unless it is a header, [*s, *end) is left
 * as the first data row, still to be parsed. */
static int csv_begin(csv_src *c, int header_mode, int label_column, csv_shape *sh, int *lcol,
		     char **s, char **end, ct_err *e)
{
	int rc = next_row(c, s, end, e);
	if (rc <= 0)
		return rc < 0 ? rc : ct_errf(e, CT_ECORRUPT, "%s: empty file (no rows)", c->path);
	sh->first = c->lineno;
	sh->ncols = split_cells(*s, *end, NULL, 0);
	sh->cells = malloc((size_t)sh->ncols * sizeof *sh->cells);
	if (!sh->cells)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory for %d columns", c->path,
			       sh->ncols);
	split_cells(*s, *end, sh->cells, sh->ncols);
	if (header_mode == CT_CSV_HEADER_TRUE)
		sh->header = 1;
	else if (header_mode == CT_CSV_HEADER_AUTO) {
		rc = detect_header(c->path, sh, e);
		if (rc < 0)
			return rc;
	}
	*lcol = -1;
	rc = label_index(c->path, label_column, sh->ncols, lcol, e);
	if (rc < 0 && sh->header) { /* a header alone is reported first, as it always was */
		ct_err e2 = {0};
		int more = next_row(c, s, end, &e2);
		if (more <= 0) {
			*e = e2;
			return more < 0 ? more : no_data_rows(c, sh, e);
		}
	}
	return rc;
}

/* The first row (header or not), then every data row as it is read. */
static int csv_read(csv_src *c, int header_mode, int label_column, csv_shape *sh, row_store *st,
		    ct_err *e)
{
	char *s, *end;
	int lcol = -1;
	int rc = csv_begin(c, header_mode, label_column, sh, &lcol, &s, &end, e);
	if (rc < 0)
		return rc;
	store_init(st, lcol >= 0 ? sh->ncols - 1 : sh->ncols, lcol >= 0);
	if (!sh->header) {
		rc = data_row(c, sh, lcol, st, s, end, e);
		if (rc < 0)
			return rc;
	}
	while ((rc = next_row(c, &s, &end, e)) > 0) {
		rc = data_row(c, sh, lcol, st, s, end, e);
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (st->n == 0)
		return no_data_rows(c, sh, e);
	return 0;
}

static int src_start(csv_src *c, const char *path, size_t block, ct_err *e)
{
	memset(c, 0, sizeof *c);
	c->path = path;
	c->block = block;
	int rc = gzio_open(path, &c->f, e);
	if (rc < 0)
		return rc;
	c->cap = block + 1;
	c->buf = malloc(c->cap);
	if (!c->buf) {
		(void)gzclose_r(c->f); /* already failing */
		c->f = NULL;
		return ct_errf(e, CT_ENOMEM, "%s: out of memory for a read buffer", path);
	}
	return 0;
}

/* Frees the buffer and closes the file; a close error is reported only when
 * e is given (the caller is not already failing). */
static int src_end(csv_src *c, ct_err *e)
{
	int rc = 0;
	free(c->buf);
	c->buf = NULL;
	if (c->f && e)
		rc = gzio_close(c->f, c->path, e);
	else if (c->f)
		(void)gzclose_r(c->f); /* already failing */
	c->f = NULL;
	return rc;
}

/* ---- the streaming reader (csvparse.h) ------------------------------------ */

struct csv_reader {
	csv_src c;
	csv_shape sh;
	int lcol, d;
	int pending; /* [ps, pe) is the first data row, not returned yet */
	char *ps, *pe;
	int64_t rows; /* rows returned so far */
};

int csv_reader_open(csv_reader **out, const char *path, int label_column, int header_mode,
		    size_t block, ct_err *e)
{
	CT_ASSERT(block > 0 && block < SIZE_MAX / 4);
	*out = NULL;
	csv_reader *r = calloc(1, sizeof *r);
	if (!r)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory", path);
	int rc = src_start(&r->c, path, block, e);
	if (rc == 0)
		rc = csv_begin(&r->c, header_mode, label_column, &r->sh, &r->lcol, &r->ps, &r->pe,
			       e);
	if (rc < 0) {
		(void)src_end(&r->c, NULL);
		free(r->sh.cells);
		free(r);
		return rc;
	}
	r->d = r->lcol >= 0 ? r->sh.ncols - 1 : r->sh.ncols;
	r->pending = !r->sh.header;
	*out = r;
	return 0;
}

int csv_reader_features(const csv_reader *r) { return r->d; }

int csv_reader_labelled(const csv_reader *r) { return r->lcol >= 0; }

int csv_reader_count(const csv_reader *r, int64_t *rows, ct_err *e)
{
	*rows = 0;
	csv_src c;
	int rc = src_start(&c, r->c.path, r->c.block, e);
	if (rc < 0)
		return rc;
	char *s, *end;
	int64_t lines = 0;
	while ((rc = next_row(&c, &s, &end, e)) > 0)
		lines++;
	if (rc < 0) {
		(void)src_end(&c, NULL);
		return rc;
	}
	rc = src_end(&c, e);
	if (rc < 0)
		return rc;
	*rows = lines - (r->sh.header ? 1 : 0);
	if (*rows < 1)
		return r->sh.header
			       ? no_data_rows(&r->c, &r->sh, e)
			       : ct_errf(e, CT_ECORRUPT, "%s: empty file (no rows)", r->c.path);
	return 0;
}

int64_t csv_reader_read(csv_reader *r, int64_t rows, float *x, int32_t *y, ct_err *e)
{
	CT_ASSERT(rows >= 0 && (y || r->lcol < 0));
	int64_t got = 0;
	while (got < rows) {
		char *s = r->ps, *end = r->pe;
		int rc = 1;
		if (!r->pending)
			rc = next_row(&r->c, &s, &end, e);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		r->pending = 0;
		rc = parse_line(&r->c, &r->sh, r->lcol, s, end, x + got * r->d, y ? y + got : NULL,
				e);
		if (rc < 0)
			return rc;
		got++;
	}
	r->rows += got;
	if (got == 0 && rows > 0 && r->rows == 0)
		return no_data_rows(&r->c, &r->sh, e);
	return got;
}

int csv_reader_close(csv_reader *r, ct_err *e)
{
	if (!r)
		return 0;
	int rc = src_end(&r->c, e);
	free(r->sh.cells);
	free(r);
	return rc;
}

int csv_load_block(const char *path, int label_column, int header_mode, size_t block,
		   ct_dataset *ds, ct_err *e)
{
	CT_ASSERT(block > 0 && block < SIZE_MAX / 4);
	memset(ds, 0, sizeof *ds);
	csv_src c;
	int rc = src_start(&c, path, block, e);
	if (rc < 0)
		return rc;
	csv_shape sh = {0};
	row_store st = {0};
	rc = csv_read(&c, header_mode, label_column, &sh, &st, e);
	if (rc == 0)
		rc = store_finish(&st, path, ds, e);
	store_release(&st);
	free(sh.cells);
	int crc = src_end(&c, rc == 0 ? e : NULL);
	rc = rc == 0 ? crc : rc;
	if (rc < 0) {
		ct_dataset_release(ds);
		return rc;
	}
	ds->n_classes = ds->y ? max_label(ds) + 1 : 0;
	return 0;
}

int ct_csv_load(const char *path, int label_column, ct_dataset *ds, ct_err *e)
{
	return ct_csv_load_header(path, label_column, CT_CSV_HEADER_AUTO, ds, e);
}

int ct_csv_load_header(const char *path, int label_column, int header_mode, ct_dataset *ds,
		       ct_err *e)
{
	return csv_load_block(path, label_column, header_mode, CSV_BLOCK, ds, e);
}
