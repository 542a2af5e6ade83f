/* Numeric CSV reader (see dataset.h).  The whole (decompressed) file is read
 * into memory, scanned once to find the header and count the rows, then
 * parsed straight into the dataset, so there is no growing and copying. */
#include "dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "gzio.h"

#define CELL_SHOWN 40 /* longest piece of a bad cell quoted in a message */

typedef struct csv_src {
	char *p, *end;
	int64_t lineno; /* 1-based number of the line last returned */
} csv_src;

typedef struct cell {
	char *s;
	size_t len;
} cell;

/* Sets [*s, *e) to the next line without its "\n" or "\r\n"; 0 at the end. */
static int next_line(csv_src *c, char **s, char **e)
{
	if (c->p >= c->end)
		return 0;
	char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	*s = c->p;
	*e = nl ? nl : c->end;
	c->p = nl ? nl + 1 : c->end;
	/* cppcheck-suppress knownConditionTrueFalse ; false positive: *e > *s unless the line is empty */
	if (*e > *s && (*e)[-1] == '\r')
		(*e)--;
	c->lineno++;
	return 1;
}

static int is_blank_char(char ch) { return ch == ' ' || ch == '\t'; }

static int is_blank_line(const char *s, const char *e)
{
	while (s < e && is_blank_char(*s))
		s++;
	return s == e;
}

/* Next non-blank line, or 0 at the end. */
static int next_row(csv_src *c, char **s, char **e)
{
	while (next_line(c, s, e))
		if (!is_blank_line(*s, *e))
			return 1;
	return 0;
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
	char save = c.s[c.len], *endp = c.s; /* the buffer is NUL-terminated past its end */
	c.s[c.len] = '\0';
	*v = as_float ? (double)strtof(c.s, &endp) : strtod(c.s, &endp);
	c.s[c.len] = save;
	return endp == c.s + c.len;
}

typedef struct csv_shape {
	int ncols;
	int header;    /* the first non-blank line is a header */
	int64_t first; /* its line number */
	int64_t rows;  /* data rows */
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
	log_info("%s: line %lld taken as a header (none of its cells is a number)", path,
		 (long long)sh->first);
	sh->header = 1;
	return 0;
}

/* First pass: header detection and row count. */
static int csv_scan(char *buf, size_t len, const char *path, int header_mode, csv_shape *sh,
		    ct_err *e)
{
	csv_src c = {buf, buf + len, 0};
	char *s, *end;
	if (!next_row(&c, &s, &end))
		return ct_errf(e, CT_ECORRUPT, "%s: empty file (no rows)", path);
	sh->first = c.lineno;
	sh->ncols = split_cells(s, end, NULL, 0);
	sh->cells = malloc((size_t)sh->ncols * sizeof *sh->cells);
	if (!sh->cells)
		return ct_errf(e, CT_ENOMEM, "%s: out of memory for %d columns", path, sh->ncols);
	split_cells(s, end, sh->cells, sh->ncols);
	if (header_mode == CSV_HEADER_TRUE)
		sh->header = 1;
	else if (header_mode == CSV_HEADER_AUTO) {
		int rc = detect_header(path, sh, e);
		if (rc < 0)
			return rc;
	}
	sh->rows = sh->header ? 0 : 1;
	while (next_row(&c, &s, &end))
		sh->rows++;
	if (sh->rows == 0)
		return ct_errf(e, CT_ECORRUPT, "%s: no data rows after the header on line %lld",
			       path, (long long)sh->first);
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

/* Parses one data row into row r of ds. */
static int parse_row(const char *path, int64_t line, const csv_shape *sh, int lcol, dataset *ds,
		     int64_t r, ct_err *e)
{
	float *x = ds->x + r * ds->d;
	for (int k = 0, j = 0; k < sh->ncols; k++) {
		cell c = sh->cells[k];
		double v;
		if (k == lcol) {
			int rc = parse_label(path, line, k + 1, c, &ds->y[r], e);
			if (rc < 0)
				return rc;
			continue;
		}
		if (!cell_number(c, 1, &v))
			return bad_cell(path, line, k + 1, c, "not a number", e);
		if (!isfinite(v))
			return bad_cell(path, line, k + 1, c, "not a finite float", e);
		x[j++] = (float)v;
	}
	return 0;
}

/* Second pass: every data row. */
static int csv_parse(char *buf, size_t len, const char *path, csv_shape *sh, int lcol, dataset *ds,
		     ct_err *e)
{
	csv_src c = {buf, buf + len, 0};
	char *s, *end;
	int64_t r = 0;
	if (sh->header)
		next_row(&c, &s, &end);
	while (next_row(&c, &s, &end)) {
		int n = split_cells(s, end, sh->cells, sh->ncols);
		if (n != sh->ncols)
			return ct_errf(
				e, CT_ECORRUPT,
				"%s: line %lld: ragged row: %d columns, but line %lld has %d", path,
				(long long)c.lineno, n, (long long)sh->first, sh->ncols);
		int rc = parse_row(path, c.lineno, sh, lcol, ds, r++, e);
		if (rc < 0)
			return rc;
	}
	CT_ASSERT(r == ds->n);
	return 0;
}

/* Resolves label_column against the column count; -1 means no label. */
static int label_index(const char *path, int label_column, int ncols, int *lcol, ct_err *e)
{
	*lcol = -1;
	if (label_column == CSV_NO_LABEL)
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

static int32_t max_label(const dataset *ds)
{
	int32_t m = 0;
	for (int64_t i = 0; i < ds->n; i++)
		if (ds->y[i] > m)
			m = ds->y[i];
	return m;
}

int csv_load(const char *path, int label_column, dataset *ds, ct_err *e)
{
	return csv_load_header(path, label_column, CSV_HEADER_AUTO, ds, e);
}

int csv_load_header(const char *path, int label_column, int header_mode, dataset *ds, ct_err *e)
{
	char *buf;
	size_t len;
	memset(ds, 0, sizeof *ds);
	int rc = gzio_read_all(path, &buf, &len, e);
	if (rc < 0)
		return rc;
	char *text = buf;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) { /* UTF-8 byte order mark */
		text += 3;
		len -= 3;
	}
	csv_shape sh = {0};
	int lcol = -1;
	rc = csv_scan(text, len, path, header_mode, &sh, e);
	if (rc == 0)
		rc = label_index(path, label_column, sh.ncols, &lcol, e);
	if (rc == 0)
		rc = dataset_alloc(ds, sh.rows, lcol >= 0 ? sh.ncols - 1 : sh.ncols, lcol >= 0,
				   path, e);
	if (rc == 0)
		rc = csv_parse(text, len, path, &sh, lcol, ds, e);
	free(sh.cells);
	free(buf);
	if (rc < 0) {
		dataset_release(ds);
		return rc;
	}
	ds->n_classes = ds->y ? max_label(ds) + 1 : 0;
	return 0;
}
