/* pth_walk.c — from an unpickled torch.save object to a tdict: name the
 * tensors (walking the value tree with a depth and work limit, since memo
 * references can make it a DAG or a cycle), check every view against its
 * storage, then copy each view out contiguously, fetching each storage once
 * and freeing it after its last use. */
#include "pickle.h"
#include "pth.h"

#include <stdio.h>
#include <string.h>

typedef struct item {
	char *name;
	const pickle_tensor *t;
	size_t slot; /* index into the storage table */
} item;

typedef struct slot {
	const char *key;
	ct_dtype dtype;
	int64_t numel;
	void *data; /* fetched lazily, freed when refs drops to 0 */
	size_t refs;
} slot;

typedef struct walk {
	const char *file;
	ct_err *e;
	item *items;
	size_t n_items, cap_items;
	char **skipped;
	size_t n_skipped, cap_skipped;
	size_t visits, max_visits;
	char *path; /* name of the value being visited */
	size_t path_len, path_cap;
} walk;

static int nomem(walk *w) { return ct_errf(w->e, CT_ENOMEM, "%s: out of memory", w->file); }

/* ---- names ------------------------------------------------------------------ */

/* Appends ".part" (or "part" at the top) to the path; returns the old length. */
static int path_push(walk *w, const char *part, size_t *saved)
{
	size_t n = strlen(part), need = w->path_len + n + 2;
	if (need > w->path_cap) {
		size_t cap = need * 2;
		char *p = realloc(w->path, cap);
		if (!p)
			return nomem(w);
		w->path = p;
		w->path_cap = cap;
	}
	*saved = w->path_len;
	if (w->path_len)
		w->path[w->path_len++] = '.';
	memcpy(w->path + w->path_len, part, n + 1);
	w->path_len += n;
	return 0;
}

static void path_pop(walk *w, size_t saved)
{
	w->path_len = saved;
	w->path[saved] = '\0';
}

/* Text of a dict key: str as is, int/bool/None as Python prints them. */
static const char *key_text(const pickle_value *k, char *buf, size_t n)
{
	switch (k->type) {
	case PICKLE_STR: return k->s.p;
	case PICKLE_INT:
		if (k->big)
			return "<int>";
		snprintf(buf, n, "%lld", (long long)k->i);
		return buf;
	case PICKLE_BOOL: return k->i ? "True" : "False";
	case PICKLE_NONE: return "None";
	default: snprintf(buf, n, "<%s>", pickle_type_name(k)); return buf;
	}
}

static int add_skipped(walk *w, const char *type)
{
	if (w->n_skipped == w->cap_skipped) {
		size_t cap = w->cap_skipped ? 2 * w->cap_skipped : 16;
		char **s = realloc(w->skipped, cap * sizeof *s);
		if (!s)
			return nomem(w);
		w->skipped = s;
		w->cap_skipped = cap;
	}
	char *s;
	if (asprintf(&s, "%s (%s)", w->path, type) < 0)
		return nomem(w);
	w->skipped[w->n_skipped++] = s;
	return 0;
}

static int add_item(walk *w, const pickle_tensor *t)
{
	if (w->n_items == w->cap_items) {
		size_t cap = w->cap_items ? 2 * w->cap_items : 16;
		item *v = realloc(w->items, cap * sizeof *v);
		if (!v)
			return nomem(w);
		w->items = v;
		w->cap_items = cap;
	}
	char *name = strdup(w->path);
	if (!name)
		return nomem(w);
	w->items[w->n_items++] = (item){.name = name, .t = t};
	return 0;
}

/* ---- walking the tree ------------------------------------------------------------ */

static int walk_value(walk *w, const pickle_value *v, int depth);

static int walk_child(walk *w, const char *part, const pickle_value *v, int depth)
{
	size_t saved = 0;
	int rc = path_push(w, part, &saved);
	if (rc < 0)
		return rc;
	rc = walk_value(w, v, depth);
	path_pop(w, saved);
	return rc;
}

static int walk_children(walk *w, const pickle_value *v, int depth)
{
	char buf[32];
	int rc = 0;
	if (v->type == PICKLE_DICT) {
		for (size_t i = 0; i + 1 < v->seq.n && rc == 0; i += 2)
			rc = walk_child(w, key_text(v->seq.v[i], buf, sizeof buf), v->seq.v[i + 1],
					depth + 1);
	} else {
		for (size_t i = 0; i < v->seq.n && rc == 0; i++) {
			snprintf(buf, sizeof buf, "%zu", i);
			rc = walk_child(w, buf, v->seq.v[i], depth + 1);
		}
	}
	return rc;
}

static int walk_value(walk *w, const pickle_value *v, int depth)
{
	if (++w->visits > w->max_visits)
		return ct_errf(w->e, CT_ECORRUPT,
			       "%s: more than %zu values to walk (shared "
			       "references repeated too often)",
			       w->file, w->max_visits);
	if (depth > PICKLE_MAX_DEPTH)
		return ct_errf(w->e, CT_ECORRUPT,
			       "%s: values nested deeper than %d levels "
			       "(or a reference cycle)",
			       w->file, PICKLE_MAX_DEPTH);
	if (v->type == PICKLE_TENSOR)
		return add_item(w, v->t);
	if (v->type != PICKLE_DICT && v->type != PICKLE_LIST && v->type != PICKLE_TUPLE)
		return add_skipped(w, pickle_type_name(v));
	size_t n_items = w->n_items, n_skipped = w->n_skipped;
	int rc = walk_children(w, v, depth);
	if (rc < 0 || w->n_items > n_items)
		return rc;
	/* No tensor below: one entry for the whole container is more useful. */
	while (w->n_skipped > n_skipped)
		free(w->skipped[--w->n_skipped]);
	return add_skipped(w, pickle_type_name(v));
}

/* The dict a checkpoint wraps its state_dict in, or NULL. */
static const pickle_value *find_wrapped(const pickle_value *root, const char **key)
{
	static const char *const keys[] = {"state_dict", "model_state_dict", "model"};
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		const pickle_value *v = pickle_dict_get(root, keys[k]);
		if (!v || v->type != PICKLE_DICT)
			continue;
		for (size_t i = 1; i < v->seq.n; i += 2) {
			if (v->seq.v[i]->type == PICKLE_TENSOR) {
				*key = keys[k];
				return v;
			}
		}
	}
	return NULL;
}

static int walk_root(walk *w, const pickle_value *root, pth_mode mode)
{
	if (root->type != PICKLE_DICT)
		return ct_errf(w->e, CT_EUNSUPPORTED,
			       "%s: the saved object is a %s, expected a dict "
			       "(state_dict)",
			       w->file, pickle_type_name(root));
	const char *wkey = NULL;
	const pickle_value *inner = mode == PTH_STATE_DICT ? find_wrapped(root, &wkey) : NULL;
	if (!inner)
		return walk_children(w, root, 0);
	char buf[32];
	int rc = 0;
	for (size_t i = 0; i + 1 < root->seq.n && rc == 0; i += 2) {
		const pickle_value *k = root->seq.v[i], *v = root->seq.v[i + 1];
		if (v == inner && k->type == PICKLE_STR && strcmp(k->s.p, wkey) == 0) {
			rc = walk_children(w, inner, 1);
			continue;
		}
		size_t saved = 0;
		if ((rc = path_push(w, key_text(k, buf, sizeof buf), &saved)) < 0)
			break;
		rc = add_skipped(w, pickle_type_name(v));
		path_pop(w, saved);
	}
	return rc;
}

/* "module._orig_mod.0.weight" -> "0.weight" */
static void strip_prefixes(char *name)
{
	static const char *const pre[] = {"module.", "_orig_mod."};
	for (int again = 1; again;) {
		again = 0;
		for (size_t i = 0; i < 2; i++) {
			size_t n = strlen(pre[i]);
			if (strncmp(name, pre[i], n) == 0) {
				memmove(name, name + n, strlen(name + n) + 1);
				again = 1;
			}
		}
	}
}

/* ---- storages and bounds ------------------------------------------------------------ */

static int cmp_item_key(const void *a, const void *b)
{
	const item *x = *(item *const *)a, *y = *(item *const *)b;
	int c = strcmp(x->t->storage->st.key, y->t->storage->st.key);
	if (c == 0) /* file order among equals, so that messages are reproducible */
		c = (x > y) - (x < y);
	return c;
}

/* Groups tensors by storage key (sorting, so that many tensors stay cheap) and
 * checks that every reference to one key declares the same dtype and size. */
static int build_slots(walk *w, slot **out, size_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	if (w->n_items == 0)
		return 0;
	item **order = malloc(w->n_items * sizeof *order);
	slot *slots = calloc(w->n_items, sizeof *slots);
	if (!order || !slots) {
		free(order);
		free(slots);
		return nomem(w);
	}
	for (size_t i = 0; i < w->n_items; i++)
		order[i] = &w->items[i];
	qsort(order, w->n_items, sizeof *order, cmp_item_key);
	size_t n = 0;
	for (size_t i = 0; i < w->n_items; i++) {
		const pickle_value *st = order[i]->t->storage;
		slot *s = n ? &slots[n - 1] : NULL;
		if (!s || strcmp(s->key, st->st.key) != 0) {
			s = &slots[n++];
			*s = (slot){
				.key = st->st.key, .dtype = st->st.dtype, .numel = st->st.numel};
		} else if (s->dtype != st->st.dtype || s->numel != st->st.numel) {
			char k[64];
			pickle_printable(k, sizeof k, s->key, strlen(s->key));
			ct_errf(w->e, CT_ECORRUPT,
				"%s: storage '%s' is declared both as %s[%lld] and "
				"as %s[%lld]",
				w->file, k, ct_dtype_name(s->dtype), (long long)s->numel,
				ct_dtype_name(st->st.dtype), (long long)st->st.numel);
			free(order);
			free(slots);
			return CT_ECORRUPT;
		}
		s->refs++;
		order[i]->slot = (size_t)(s - slots);
	}
	free(order);
	*out = slots;
	*n_out = n;
	return 0;
}

/* Elements of the view and the largest storage index it touches (-1 if it
 * touches none); returns -1 on int64 overflow. */
static int view_extent(const pickle_tensor *t, int64_t *numel, int64_t *last)
{
	*numel = ct_shape_numel(t->ndim, t->shape);
	if (*numel < 0)
		return -1;
	*last = -1;
	if (*numel == 0)
		return 0; /* as in torch: an empty view touches nothing */
	int64_t idx = t->offset;
	for (int d = 0; d < t->ndim; d++) {
		int64_t span = t->shape[d] - 1;
		if (t->stride[d] && span > (INT64_MAX - idx) / t->stride[d])
			return -1;
		idx += span * t->stride[d];
	}
	*last = idx;
	return 0;
}

static int check_view(walk *w, const item *it, const slot *s, size_t *nbytes)
{
	int64_t numel, last;
	int overflow = view_extent(it->t, &numel, &last) < 0 ||
		       (uint64_t)numel > SIZE_MAX / ct_dtype_size(s->dtype);
	if (!overflow && last < s->numel) {
		*nbytes = (size_t)numel * ct_dtype_size(s->dtype);
		return 0;
	}
	char name[128], key[64];
	pickle_printable(name, sizeof name, it->name, strlen(it->name));
	pickle_printable(key, sizeof key, s->key, strlen(s->key));
	if (overflow)
		return ct_errf(w->e, CT_ECORRUPT, "%s: tensor '%s': sizes and strides overflow",
			       w->file, name);
	return ct_errf(w->e, CT_ECORRUPT,
		       "%s: tensor '%s': storage offset %lld, sizes and strides "
		       "reach element %lld but storage '%s' has %lld elements",
		       w->file, name, (long long)it->t->offset, (long long)last, key,
		       (long long)s->numel);
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* Checks every view before any storage is read, and bounds the total output
 * (the slots' sizes have been checked against the archive by then). */
static int check_views(walk *w, const slot *slots, size_t n_slots)
{
	uint64_t in = 0, out = 0;
	for (size_t i = 0; i < n_slots; i++)
		in = sat_add(in, (uint64_t)slots[i].numel * ct_dtype_size(slots[i].dtype));
	uint64_t limit = in > (UINT64_MAX - PTH_OUT_SLACK) / PTH_OUT_FACTOR
				 ? UINT64_MAX
				 : in * PTH_OUT_FACTOR + PTH_OUT_SLACK;
	for (size_t i = 0; i < w->n_items; i++) {
		size_t nb = 0;
		int rc = check_view(w, &w->items[i], &slots[w->items[i].slot], &nb);
		if (rc < 0)
			return rc;
		out = sat_add(out, nb);
		if (out > limit)
			return ct_errf(w->e, CT_ECORRUPT,
				       "%s: tensor views need more than %d x the "
				       "storage bytes + %zu MiB (stride-0 or repeated views)",
				       w->file, PTH_OUT_FACTOR, PTH_OUT_SLACK >> 20);
	}
	return 0;
}

/* ---- copying views out ------------------------------------------------------------- */

/* n elements of size es, src elements stride apart, to contiguous dst. */
static void copy_run(unsigned char *dst, const unsigned char *src, int64_t n, int64_t stride,
		     size_t es)
{
	if (stride == 1) {
		memcpy(dst, src, (size_t)n * es);
		return;
	}
#define RUN(W)                                                                        \
	for (int64_t i = 0; i < n; i++)                                               \
		memcpy(dst + (size_t)i * (W), src + (size_t)(i * stride) * (W), (W)); \
	break
	switch (es) { /* fixed sizes so that each memcpy is a single move */
	case 1: RUN(1);
	case 2: RUN(2);
	case 4: RUN(4);
	case 8: RUN(8);
	default: CT_ASSERT(0);
	}
#undef RUN
}

/* Row-major copy of a view that check_view accepted. */
static void gather(unsigned char *dst, const unsigned char *src, size_t es, const pickle_tensor *t)
{
	if (ct_shape_numel(t->ndim, t->shape) == 0)
		return;
	if (t->ndim == 0) {
		memcpy(dst, src + (size_t)t->offset * es, es);
		return;
	}
	int nd = t->ndim;
	int64_t idx[CT_MAX_DIMS] = {0}, inner = t->shape[nd - 1];
	for (;;) {
		int64_t base = t->offset;
		for (int d = 0; d < nd - 1; d++)
			base += idx[d] * t->stride[d];
		copy_run(dst, src + (size_t)base * es, inner, t->stride[nd - 1], es);
		dst += (size_t)inner * es;
		int d = nd - 2; /* odometer over the outer dimensions */
		while (d >= 0 && ++idx[d] == t->shape[d])
			idx[d--] = 0;
		if (d < 0)
			return;
	}
}

static int emit(walk *w, const item *it, slot *s, pth_storage_fn get, void *ctx, ct_tdict *out)
{
	size_t es = ct_dtype_size(s->dtype);
	int rc;
	if (!s->data && (rc = get(ctx, s->key, (size_t)s->numel * es, &s->data, w->e)) < 0)
		return rc;
	size_t nb = (size_t)ct_shape_numel(it->t->ndim, it->t->shape) * es;
	unsigned char *buf = malloc(nb ? nb : 1);
	if (!buf)
		return nomem(w);
	gather(buf, s->data, es, it->t);
	/* The entry takes the buffer over instead of copying it: tensors can be
	 * large and a reader may hand its own allocations to the tdict. */
	rc = ct_tdict_add(out, it->name, s->dtype, it->t->ndim, it->t->shape, buf, 0, w->e);
	if (rc < 0) {
		free(buf);
		if (w->e)
			ct_err_prefix(w->e, "%s", w->file);
		return rc;
	}
	/* As in safetensors.c: clang's analyser takes ct_tdict_add's const pointer
	 * for "not kept" and would report a leak of buf. */
	out->v[out->n - 1].owned = 1; /* NOLINT(clang-analyzer-unix.Malloc) */
	if (--s->refs == 0) {
		free(s->data);
		s->data = NULL;
	}
	return 0;
}

static int emit_all(walk *w, slot *slots, size_t n_slots, pth_storage_fn get, void *ctx,
		    ct_tdict *out)
{
	int rc = 0;
	/* Probe every record's size first, so that a missing or short storage is
	 * reported before anything is allocated for the views. */
	for (size_t i = 0; i < n_slots && rc == 0; i++)
		rc = get(ctx, slots[i].key, (size_t)slots[i].numel * ct_dtype_size(slots[i].dtype),
			 NULL, w->e);
	if (rc == 0)
		rc = check_views(w, slots, n_slots);
	for (size_t i = 0; i < w->n_items && rc == 0; i++)
		rc = emit(w, &w->items[i], &slots[w->items[i].slot], get, ctx, out);
	return rc;
}

static void walk_release(walk *w, slot *slots, size_t n_slots)
{
	for (size_t i = 0; i < w->n_items; i++)
		free(w->items[i].name);
	free(w->items);
	free(w->path);
	for (size_t i = 0; i < n_slots; i++)
		free(slots[i].data);
	free(slots);
}

int pth_parse_pickle(const void *pkl, size_t len, const char *name, pth_mode mode,
		     pth_storage_fn get, void *ctx, ct_tdict *out, char ***skipped,
		     size_t *n_skipped, ct_err *e)
{
	ct_tdict_init(out);
	if (skipped) {
		*skipped = NULL;
		*n_skipped = 0;
	}
	walk w = {.file = name, .e = e};
	slot *slots = NULL;
	size_t n_slots = 0;
	pickle_doc *doc = NULL;
	int rc = pickle_load(pkl, len, name, &doc, e);
	if (rc == 0) {
		w.max_visits = PTH_VISIT_FACTOR * pickle_count(doc) + PTH_VISIT_SLACK;
		rc = path_push(&w, "", &(size_t){0});
	}
	if (rc == 0)
		rc = walk_root(&w, pickle_root(doc), mode);
	for (size_t i = 0; rc == 0 && mode == PTH_STATE_DICT && i < w.n_items; i++)
		strip_prefixes(w.items[i].name);
	if (rc == 0)
		rc = build_slots(&w, &slots, &n_slots);
	if (rc == 0)
		rc = emit_all(&w, slots, n_slots, get, ctx, out);
	walk_release(&w, slots, n_slots);
	pickle_free(doc);
	if (rc < 0) {
		ct_tdict_release(out);
		pth_skipped_free(w.skipped, w.n_skipped);
	} else if (skipped) {
		*skipped = w.skipped;
		*n_skipped = w.n_skipped;
	} else {
		pth_skipped_free(w.skipped, w.n_skipped);
	}
	return rc;
}

void pth_skipped_free(char **skipped, size_t n_skipped)
{
	for (size_t i = 0; i < n_skipped; i++)
		free(skipped[i]);
	free(skipped);
}
