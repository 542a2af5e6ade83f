#include "fields.h"

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_OWNS_LIVE 0x100 /* live is a char ** this table allocated */

const char *ct_blas_core_name(void)
{
	const char *n = openblas_get_corename();
	return n ? n : "unknown";
}

static size_t type_size(ct_h5c_type t)
{
	switch (t) {
	case CT_H5C_F32: return 4;
	case CT_H5C_U8: return 1;
	case CT_H5C_STR: return sizeof(char *);
	default: return 8;
	}
}

/* Replaces a malloc'ed string unless it is already equal. */
static void set_str(char **dst, const char *src)
{
	if (*dst && strcmp(*dst, src) == 0)
		return;
	free(*dst);
	*dst = strdup(src);
	CT_ASSERT(*dst); /* a few bytes between steps; no way to report from take */
}

int ct_ckpt_fields_add(ct_ckpt_fields *f, const char *path, ct_h5c_type type, int ndim,
		       const int64_t *shape, void *live, int flags, ct_err *e)
{
	CT_ASSERT(path[0] == '/' && live && ndim >= 0 && ndim <= CT_H5C_MAX_DIMS);
	CT_ASSERT(type != CT_H5C_STR || ndim == 0);
	CT_ASSERT(!ct_ckpt_fields_find(f, path));
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 32;
		ct_ckpt_field *v = realloc(f->v, cap * sizeof *v);
		if (!v)
			return ct_errf(e, CT_ENOMEM, "out of memory registering %s", path);
		f->v = v;
		f->cap = cap;
	}
	ct_ckpt_field *d = &f->v[f->n];
	memset(d, 0, sizeof *d);
	d->type = type;
	d->ndim = ndim;
	size_t numel = 1;
	for (int i = 0; i < ndim; i++) {
		CT_ASSERT(shape[i] > 0);
		d->shape[i] = shape[i];
		numel *= (size_t)shape[i];
	}
	d->bytes = numel * type_size(type);
	d->live = live;
	d->flags = flags;
	d->path = strdup(path);
	if (type != CT_H5C_STR)
		d->copy = calloc(1, d->bytes);
	if (!d->path || (type != CT_H5C_STR && !d->copy)) {
		free(d->path);
		free(d->copy);
		return ct_errf(e, CT_ENOMEM, "out of memory registering %s", path);
	}
	f->n++;
	return 0;
}

int ct_ckpt_fields_add_const_str(ct_ckpt_fields *f, const char *path, const char *value, int flags,
				 ct_err *e)
{
	char **holder = malloc(sizeof *holder);
	char *s = strdup(value);
	int rc = holder && s ? 0 : ct_errf(e, CT_ENOMEM, "out of memory registering %s", path);
	if (rc == 0) {
		*holder = s;
		rc = ct_ckpt_fields_add(f, path, CT_H5C_STR, 0, NULL, holder,
					flags | CKPT_OWNS_LIVE, e);
	}
	if (rc < 0) {
		free(s);
		free(holder);
	}
	return rc;
}

int ct_ckpt_fields_add_hook(ct_ckpt_fields *f, const ct_ckpt_hook *h, ct_err *e)
{
	ct_ckpt_hook *v = realloc(f->hooks, (f->n_hooks + 1) * sizeof *v);
	if (!v) {
		if (h->release)
			h->release(h->ctx);
		free(h->ctx);
		return ct_errf(e, CT_ENOMEM, "out of memory registering a checkpoint hook");
	}
	f->hooks = v;
	f->hooks[f->n_hooks++] = *h;
	return 0;
}

ct_ckpt_field *ct_ckpt_fields_find(const ct_ckpt_fields *f, const char *path)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].path, path) == 0)
			return &f->v[i];
	return NULL;
}

int ct_ckpt_fields_init(ct_ckpt_fields *f, ct_err *e)
{
	memset(f, 0, sizeof *f);
	f->best_steps = -1;
	f->format_version = CT_CKPT_FORMAT_VERSION;
	f->format = strdup(CT_CKPT_FORMAT);
	f->version = strdup(CTRAIN_VERSION);
	f->blas_core = strdup(ct_blas_core_name());
	int rc = f->format && f->version && f->blas_core ? 0
							 : ct_errf(e, CT_ENOMEM, "out of memory");
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/@format", CT_H5C_STR, 0, NULL, &f->format,
					CT_CKPT_STASH, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/@format_version", CT_H5C_I64, 0, NULL,
					&f->format_version, CT_CKPT_STASH, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta/step", CT_H5C_I64, 0, NULL, &f->step,
					CT_CKPT_STASH, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta@version", CT_H5C_STR, 0, NULL, &f->version,
					CT_CKPT_STASH, e);
	if (rc == 0)
		rc = ct_ckpt_fields_add(f, "/meta@blas_core", CT_H5C_STR, 0, NULL, &f->blas_core,
					CT_CKPT_STASH, e);
	if (rc < 0)
		ct_ckpt_fields_release(f);
	return rc;
}

void ct_ckpt_fields_release(ct_ckpt_fields *f)
{
	for (size_t i = 0; i < f->n; i++) {
		ct_ckpt_field *d = &f->v[i];
		free(d->copy);
		if (d->flags & CKPT_OWNS_LIVE) {
			free(*(char **)d->live);
			free(d->live);
		}
		free(d->path);
	}
	for (size_t i = 0; i < f->n_hooks; i++) {
		if (f->hooks[i].release)
			f->hooks[i].release(f->hooks[i].ctx);
		free(f->hooks[i].ctx);
	}
	free(f->v);
	free(f->hooks);
	free(f->h5);
	free(f->format);
	free(f->version);
	free(f->blas_core);
	memset(f, 0, sizeof *f);
	f->best_steps = -1;
}

/* ---- take, write, read, apply ----------------------------------------------- */

static void copy_in(ct_ckpt_field *d)
{
	if (d->type == CT_H5C_STR)
		set_str((char **)&d->copy, *(char **)d->live);
	else
		memcpy(d->copy, d->live, d->bytes);
	d->present = 1;
}

static void copy_out(ct_ckpt_field *d)
{
	if (d->type == CT_H5C_STR)
		set_str((char **)d->live, (const char *)d->copy);
	else
		memcpy(d->live, d->copy, d->bytes);
}

static void take(ct_ckpt_fields *f, int64_t step, size_t live_min)
{
	/* After a read the header holds the file's values: this process's go out. */
	set_str(&f->format, CT_CKPT_FORMAT);
	set_str(&f->version, CTRAIN_VERSION);
	set_str(&f->blas_core, ct_blas_core_name());
	f->format_version = CT_CKPT_FORMAT_VERSION;
	f->step = step;
	for (size_t i = 0; i < f->n_hooks; i++)
		if (f->hooks[i].take)
			f->hooks[i].take(f->hooks[i].ctx);
	for (size_t i = 0; i < f->n; i++) {
		ct_ckpt_field *d = &f->v[i];
		d->from_live = d->type != CT_H5C_STR && d->bytes >= live_min;
		if (d->from_live)
			d->present = 1;
		else
			copy_in(d);
	}
}

void ct_ckpt_fields_take(ct_ckpt_fields *f, int64_t step) { take(f, step, SIZE_MAX); }

void ct_ckpt_fields_take_live(ct_ckpt_fields *f, int64_t step) { take(f, step, CT_H5C_REF_MIN); }

int ct_ckpt_fields_serialize(ct_ckpt_fields *f, ct_h5c_image *im, ct_err *e)
{
	ct_h5c_field *h = realloc(f->h5, (f->n ? f->n : 1) * sizeof *h);
	if (!h)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	f->h5 = h;
	for (size_t i = 0; i < f->n; i++) {
		ct_ckpt_field *d = &f->v[i];
		void *data = d->type == CT_H5C_STR ? &d->copy : d->from_live ? d->live : d->copy;
		h[i] = (ct_h5c_field){d->path, d->type, d->ndim, {0}, data};
		memcpy(h[i].shape, d->shape, sizeof d->shape);
	}
	return ct_h5c_image_build(im, h, f->n, e);
}

/* The root attributes first, so that another kind of file is named as such
 * rather than as missing a field. */
static int check_format(ct_h5c_reader *r, const char *path, ct_err *e)
{
	char *format = NULL;
	int64_t version = 0;
	int rc = ct_h5c_read(r, &(ct_h5c_field){"/@format", CT_H5C_STR, 0, {0}, &format}, e);
	if (rc == 0 && strcmp(format, CT_CKPT_FORMAT) != 0)
		rc = ct_errf(e, CT_ECORRUPT, "%s: format is '%s', not '%s'", path, format,
			     CT_CKPT_FORMAT);
	free(format);
	if (rc == 0)
		rc = ct_h5c_read(
			r, &(ct_h5c_field){"/@format_version", CT_H5C_I64, 0, {0}, &version}, e);
	/* Every older version stays readable (fields added since are
	 * CT_CKPT_OPTIONAL); a newer one is refused rather than half understood. */
	if (rc == 0 && (version < 1 || version > CT_CKPT_FORMAT_VERSION))
		rc = ct_errf(e, version < 1 ? CT_ECORRUPT : CT_EUNSUPPORTED,
			     "%s: checkpoint format_version %lld; this ctrain reads 1 to %d", path,
			     (long long)version, CT_CKPT_FORMAT_VERSION);
	return rc;
}

static int read_field(ct_h5c_reader *r, ct_ckpt_field *d, ct_err *e)
{
	ct_h5c_field h = {d->path, d->type, d->ndim, {0}, d->copy};
	memcpy(h.shape, d->shape, sizeof d->shape);
	char *s = NULL;
	if (d->type == CT_H5C_STR)
		h.data = &s;
	int rc = ct_h5c_read(r, &h, e);
	d->present = rc == 0;
	d->from_live = 0;
	if (rc == 0 && d->type == CT_H5C_STR) {
		free(d->copy);
		d->copy = s;
	}
	if (rc == CT_ENOTFOUND && (d->flags & CT_CKPT_OPTIONAL))
		return 0;
	return rc;
}

static int read_from(ct_ckpt_fields *f, ct_h5c_reader *r, const char *path, ct_err *e);

int ct_ckpt_fields_read(ct_ckpt_fields *f, const char *path, ct_err *e)
{
	ct_h5c_reader *r;
	int rc = ct_h5c_open(path, &r, e);
	return rc < 0 ? rc : read_from(f, r, path, e);
}

int ct_ckpt_fields_read_buffer(ct_ckpt_fields *f, const void *buf, size_t len, const char *name,
			       ct_err *e)
{
	ct_h5c_reader *r;
	int rc = ct_h5c_open_buffer(buf, len, name, &r, e);
	return rc < 0 ? rc : read_from(f, r, name, e);
}

/* Closes r. */
static int read_from(ct_ckpt_fields *f, ct_h5c_reader *r, const char *path, ct_err *e)
{
	int rc = check_format(r, path, e);
	for (size_t i = 0; rc == 0 && i < f->n; i++)
		rc = read_field(r, &f->v[i], e);
	ct_h5c_close(r);
	for (size_t i = 0; rc == 0 && i < f->n; i++)
		if ((f->v[i].flags & CT_CKPT_STASH) && f->v[i].present)
			copy_out(&f->v[i]);
	return rc;
}

int ct_ckpt_fields_apply(ct_ckpt_fields *f, ct_err *e)
{
	for (size_t i = 0; i < f->n; i++) {
		ct_ckpt_field *d = &f->v[i];
		if ((d->flags & CT_CKPT_MATCH) && d->present &&
		    strcmp((const char *)d->copy, *(char **)d->live) != 0)
			return ct_errf(e, CT_EMISMATCH,
				       "checkpoint %s is '%s' but this run has '%s'", d->path,
				       (const char *)d->copy, *(char **)d->live);
	}
	for (size_t i = 0; i < f->n_hooks; i++) {
		int rc = f->hooks[i].check ? f->hooks[i].check(f->hooks[i].ctx, e) : 0;
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < f->n; i++) {
		ct_ckpt_field *d = &f->v[i];
		if (d->present && !(d->flags & (CT_CKPT_STASH | CT_CKPT_MATCH)))
			copy_out(d);
	}
	for (size_t i = 0; i < f->n_hooks; i++)
		if (f->hooks[i].apply)
			f->hooks[i].apply(f->hooks[i].ctx);
	return 0;
}
