#include "tdict.h"
#include "../util/util.h"

#include <math.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

static const struct {
	const char *name;
	size_t size;
} g_dtypes[CT_DT_COUNT] = {
	[CT_DT_F32] = {"F32", 4},   [CT_DT_F16] = {"F16", 2}, [CT_DT_BF16] = {"BF16", 2},
	[CT_DT_F64] = {"F64", 8},   [CT_DT_I64] = {"I64", 8}, [CT_DT_I32] = {"I32", 4},
	[CT_DT_I16] = {"I16", 2},   [CT_DT_I8] = {"I8", 1},   [CT_DT_U8] = {"U8", 1},
	[CT_DT_BOOL] = {"BOOL", 1},
};

size_t ct_dtype_size(ct_dtype t)
{
	CT_ASSERT(t >= 0 && t < CT_DT_COUNT);
	return g_dtypes[t].size;
}

const char *ct_dtype_name(ct_dtype t)
{
	CT_ASSERT(t >= 0 && t < CT_DT_COUNT);
	return g_dtypes[t].name;
}

int ct_dtype_from_name(const char *s)
{
	for (int i = 0; i < CT_DT_COUNT; i++)
		if (strcmp(s, g_dtypes[i].name) == 0)
			return i;
	return -1;
}

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float bits_f32(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

uint16_t ct_f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it quiet and a NaN */
		return (uint16_t)((u >> 16) | 0x0040u);
	uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)((u + rounding) >> 16);
}

float ct_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t ct_f32_to_f16(float f)
{
	uint32_t u = f32_bits(f);
	uint32_t sign = (u >> 16) & 0x8000u;
	uint32_t abs = u & 0x7fffffffu;
	if (abs > 0x7f800000u) /* NaN */
		return (uint16_t)(sign | 0x7e00u);
	if (abs >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
		return (uint16_t)(sign | 0x7c00u);
	if (abs < 0x38800000u) { /* result is subnormal or zero */
		/* Add 0.5 (as float) so the FPU rounds to nearest even at the
		 * subnormal half's resolution (2^-24). */
		float r = bits_f32(abs) + 0.5f;
		return (uint16_t)(sign | (f32_bits(r) - 0x3f000000u));
	}
	uint32_t mant_odd = (abs >> 13) & 1u;
	abs += 0xc8000fffu + mant_odd; /* rebias exponent (-112 << 23) and round */
	return (uint16_t)(sign | (abs >> 13));
}

float ct_f16_to_f32(uint16_t h)
{
	uint32_t sign = ((uint32_t)h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t mant = h & 0x3ffu;
	if (exp == 0x1f)
		return bits_f32(sign | 0x7f800000u | (mant << 13));
	if (exp == 0) {
		float v = ldexpf((float)mant, -24);
		return sign ? -v : v;
	}
	return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

void ct_tdict_init(ct_tdict *d) { memset(d, 0, sizeof *d); }

void ct_tdict_release(ct_tdict *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].name);
		if (d->v[i].owned)
			free(d->v[i].data);
	}
	for (size_t i = 0; i < d->n_meta; i++) {
		free(d->meta_keys[i]);
		free(d->meta_vals[i]);
	}
	free(d->v);
	free(d->slots);
	free(d->meta_keys);
	free(d->meta_vals);
	if (d->backing) {
		if (d->backing_mmapped)
			munmap(d->backing, d->backing_len);
		else
			free(d->backing);
	}
	memset(d, 0, sizeof *d);
}

int64_t ct_shape_numel(int ndim, const int64_t *shape)
{
	int64_t n = 1;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0)
			return -1;
		if (shape[i] != 0 && n > INT64_MAX / shape[i])
			return -1;
		n *= shape[i];
	}
	return n;
}

/* A per-process seed, so that the names of a hostile file cannot be chosen
 * to collide (which would make the index a linear scan again). */
static uint64_t g_seed;
static pthread_once_t g_seed_once = PTHREAD_ONCE_INIT;

static void seed_init(void)
{
	if (getrandom(&g_seed, sizeof g_seed, GRND_NONBLOCK) != (ssize_t)sizeof g_seed)
		g_seed = (uint64_t)(uintptr_t)&g_seed ^ (uint64_t)time(NULL);
}

/* FNV-1a from a random basis, then a multiply whose top bits pick the slot
 * (they depend on every bit of the hash). */
static size_t slot_of(const ct_tdict *d, const char *s)
{
	pthread_once(&g_seed_once, seed_init);
	uint64_t h = 0xcbf29ce484222325u ^ g_seed;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3u;
	int bits = __builtin_ctzll((unsigned long long)d->n_slots);
	return (size_t)((h * 0x9e3779b97f4a7c15u) >> (64 - bits));
}

static void index_put(ct_tdict *d, size_t i)
{
	size_t mask = d->n_slots - 1, k = slot_of(d, d->v[i].name);
	while (d->slots[k])
		k = (k + 1) & mask;
	d->slots[k] = i + 1;
}

/* Room for n names at most half full; also indexes entries appended without
 * ct_tdict_add (the safetensors reader fills v directly). */
static int index_reserve(ct_tdict *d, size_t n)
{
	if (2 * n <= d->n_slots && d->n_indexed == d->n)
		return 0;
	size_t want = 64;
	while (want < 2 * n)
		want *= 2;
	size_t *slots = calloc(want, sizeof *slots);
	if (!slots)
		return -1;
	free(d->slots);
	d->slots = slots;
	d->n_slots = want;
	for (size_t i = 0; i < d->n; i++)
		index_put(d, i);
	d->n_indexed = d->n;
	return 0;
}

const ct_tdict_entry *ct_tdict_find(const ct_tdict *d, const char *name)
{
	if (d->n_slots) {
		size_t mask = d->n_slots - 1;
		for (size_t k = slot_of(d, name); d->slots[k]; k = (k + 1) & mask)
			if (strcmp(d->v[d->slots[k] - 1].name, name) == 0)
				return &d->v[d->slots[k] - 1];
	}
	for (size_t i = d->n_indexed; i < d->n; i++) /* appended without ct_tdict_add */
		if (strcmp(d->v[i].name, name) == 0)
			return &d->v[i];
	return NULL;
}

int ct_tdict_rename_prefix(ct_tdict *d, const char *from, const char *to, ct_err *e)
{
	size_t lf = strlen(from), lt = strlen(to);
	int n = 0;
	for (size_t i = 0; i < d->n; i++) {
		const char *name = d->v[i].name;
		if (strncmp(name, from, lf) != 0)
			continue;
		size_t rest = strlen(name + lf);
		char *nn = malloc(lt + rest + 1);
		if (!nn)
			return ct_errf(e, CT_ENOMEM, "out of memory");
		memcpy(nn, to, lt);
		memcpy(nn + lt, name + lf, rest + 1);
		free(d->v[i].name);
		d->v[i].name = nn;
		n++;
	}
	free(d->slots); /* names changed: index them again */
	d->slots = NULL;
	d->n_slots = 0;
	d->n_indexed = 0;
	if (index_reserve(d, d->n) < 0)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	for (size_t i = 0; i < d->n; i++)
		if (ct_tdict_find(d, d->v[i].name) != &d->v[i])
			return ct_errf(e, CT_EMISMATCH,
				       "renaming '%s' to '%s' gives two tensors named '%s'", from,
				       to, d->v[i].name);
	return n;
}

int ct_tdict_add(ct_tdict *d, const char *name, ct_dtype dt, int ndim, const int64_t *shape,
		 const void *data, int copy, ct_err *e)
{
	CT_ASSERT(ndim >= 0 && ndim <= CT_MAX_DIMS);
	if (index_reserve(d, d->n + 1) < 0)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	if (ct_tdict_find(d, name))
		return ct_errf(e, CT_EMISMATCH, "duplicate tensor name '%s'", name);
	int64_t numel = ct_shape_numel(ndim, shape);
	if (numel < 0 || (uint64_t)numel > SIZE_MAX / ct_dtype_size(dt))
		return ct_errf(e, CT_ECORRUPT, "tensor '%s': shape too large", name);
	if (ct_grow(&d->v, &d->cap, d->n + 1, sizeof *d->v, 16) < 0)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	ct_tdict_entry *t = &d->v[d->n];
	memset(t, 0, sizeof *t);
	t->name = strdup(name);
	if (!t->name)
		return ct_errf(e, CT_ENOMEM, "out of memory");
	t->dtype = dt;
	t->ndim = ndim;
	if (ndim)
		memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
	t->nbytes = (size_t)numel * ct_dtype_size(dt);
	if (copy) {
		t->data = malloc(t->nbytes ? t->nbytes : 1);
		if (!t->data) {
			free(t->name);
			return ct_errf(e, CT_ENOMEM, "out of memory");
		}
		if (t->nbytes)
			memcpy(t->data, data, t->nbytes);
		t->owned = 1;
	} else {
		/* A borrowed entry is never written through (only owned ones are);
		 * the field is mutable for the owned case, hence the uintptr_t trip. */
		t->data = (void *)(uintptr_t)data;
	}
	d->n++;
	index_put(d, d->n - 1);
	d->n_indexed = d->n;
	return 0;
}

int ct_tdict_set_meta(ct_tdict *d, const char *key, const char *val, ct_err *e)
{
	for (size_t i = 0; i < d->n_meta; i++) {
		if (strcmp(d->meta_keys[i], key) == 0) {
			char *v = strdup(val);
			if (!v)
				return ct_errf(e, CT_ENOMEM, "out of memory");
			free(d->meta_vals[i]);
			d->meta_vals[i] = v;
			return 0;
		}
	}
	if (d->n_meta == d->cap_meta) {
		size_t cap = d->cap_meta ? d->cap_meta * 2 : 8;
		char **k = realloc(d->meta_keys, cap * sizeof *k);
		if (!k)
			return ct_errf(e, CT_ENOMEM, "out of memory");
		d->meta_keys = k;
		char **v = realloc(d->meta_vals, cap * sizeof *v);
		if (!v)
			return ct_errf(e, CT_ENOMEM, "out of memory");
		d->meta_vals = v;
		d->cap_meta = cap;
	}
	d->meta_keys[d->n_meta] = strdup(key);
	d->meta_vals[d->n_meta] = strdup(val);
	if (!d->meta_keys[d->n_meta] || !d->meta_vals[d->n_meta]) {
		free(d->meta_keys[d->n_meta]);
		free(d->meta_vals[d->n_meta]);
		return ct_errf(e, CT_ENOMEM, "out of memory");
	}
	d->n_meta++;
	return 0;
}

const char *ct_tdict_get_meta(const ct_tdict *d, const char *key)
{
	for (size_t i = 0; i < d->n_meta; i++)
		if (strcmp(d->meta_keys[i], key) == 0)
			return d->meta_vals[i];
	return NULL;
}

int ct_tdict_entry_to_f32(const ct_tdict_entry *t, float *dst, ct_err *e)
{
	size_t n = t->nbytes / ct_dtype_size(t->dtype);
	const unsigned char *p = t->data;
	switch (t->dtype) {
	case CT_DT_F32: memcpy(dst, p, n * 4); return 0;
	case CT_DT_F64:
		for (size_t i = 0; i < n; i++) {
			double v;
			memcpy(&v, p + 8 * i, 8);
			dst[i] = (float)v;
		}
		return 0;
	case CT_DT_F16:
	case CT_DT_BF16:
		for (size_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);
			dst[i] = t->dtype == CT_DT_F16 ? ct_f16_to_f32(h) : ct_bf16_to_f32(h);
		}
		return 0;
	default:
		return ct_errf(e, CT_EUNSUPPORTED,
			       "tensor '%s' has dtype %s, expected a float type", t->name,
			       ct_dtype_name(t->dtype));
	}
}
