/* fields.h — the one table of what a checkpoint holds: named fields that
 * point at live training state, each with a private copy, so that writing
 * and restoring walk the same list and a field cannot be saved and forgotten
 * on load.  The CLI's train_state (train/state_ckpt.c) and a user's own loop
 * (ckpt/manager.h) both describe their state this way; ckpt/write.c
 * writes and ckpt/resume.c restores it.
 *
 *     ckpt_fields f;
 *     ckpt_fields_init(&f);
 *     ckpt_fields_add_params(&f, "/model", &ps, ps.data, &e);  // /model/<name>, float32
 *     ckpt_fields_add(&f, "/meta/epoch", H5C_I64, 0, NULL, &epoch, 0, &e);
 *     ...between two steps:
 *     ckpt_fields_take(&f, step);             // memcpy of every field into its copy
 *     ckpt_fields_serialize(&f, &im, &e);     // any thread: reads copies only
 *     atomic_write_iov(path, im.seg, (int)im.n_seg, &e);
 *   or, writing on the training thread (nothing to copy the state for):
 *     ckpt_fields_take_live(&f, step);        // copies small fields only
 *     ckpt_fields_serialize(&f, &im, &e);     // large ones are referenced in the state
 *     atomic_write_iov(...);                  // before the state changes again
 *     ...in the resumed process, after the same registrations:
 *     ckpt_fields_read(&f, path, &e);         // verify, parse, check shapes: into copies
 *     ckpt_fields_apply(&f, &e);              // checks first, then copies back to the state
 *     ckpt_fields_release(&f);
 *
 * Every table starts with the header every ctrain checkpoint has: root
 * attributes format = "ctrain-checkpoint" and format_version, /meta/step,
 * and attributes /meta@version and /meta@blas_core (after a read, f.step,
 * f.version and f.blas_core hold the file's values).
 *
 * Field flags: CKPT_OPTIONAL may be missing from a file (a field added after
 * checkpoints were already written; the state keeps its value);
 * CKPT_MATCH (strings) must equal the live value, else apply fails with
 * CT_EMISMATCH (e.g. the optimizer's name); CKPT_STASH fields belong to the
 * table's owner (derived values it refreshes before take), and read sets
 * them at once.  Hooks adapt objects whose state is not plain memory (the
 * loader: take copies its position, check validates a restored one before
 * anything is applied, apply rebuilds its permutation).
 */
#ifndef CT_CKPT_FIELDS_H
#define CT_CKPT_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "h5c.h"
#include "../data/loader.h"
#include "../nn/optim.h"
#include "../nn/params.h"
#include "../nn/rng.h"
#include "../util/err.h"
#include "best.h"

#define CKPT_FORMAT "ctrain-checkpoint"
#define CKPT_FORMAT_VERSION 2

enum { CKPT_OPTIONAL = 1, CKPT_MATCH = 2, CKPT_STASH = 4 };

typedef struct ckpt_field {
	char *path; /* "/model/layers.0.weight", "/optim@name" */
	h5c_type type;
	int ndim;
	int64_t shape[H5C_MAX_DIMS];
	void *live; /* the state; H5C_STR: a char ** (malloc'ed string) */
	void *copy; /* the copy (H5C_STR: a char *, the copy itself) */
	size_t bytes;
	int flags;
	int present;   /* read found it (always 1 after take) */
	int from_live; /* take_live left it in the state: serialize uses live */
} ckpt_field;

typedef struct ckpt_hook {
	void (*take)(void *ctx);            /* before the copies are taken */
	int (*check)(void *ctx, ct_err *e); /* after read, before apply writes */
	void (*apply)(void *ctx);           /* after apply wrote the fields */
	void (*release)(void *ctx);         /* frees what ctx holds (may be NULL) */
	void *ctx;                          /* malloc'ed, freed by release */
} ckpt_hook;

typedef struct ckpt_fields {
	ckpt_field *v;
	size_t n, cap;
	ckpt_hook *hooks;
	size_t n_hooks;
	h5c_field *h5; /* the copies as h5c fields, rebuilt by serialize */
	/* header (stash fields) */
	char *format;
	int64_t format_version, step;
	char *version, *blas_core;
	int best_steps; /* index of /meta/best_steps (ckpt_fields_add_best), -1 */
} ckpt_fields;

/* The current OpenBLAS core name ("Haswell", ...). */
const char *blas_core_name(void);

/* Registers the header fields; CT_ENOMEM. */
int ckpt_fields_init(ckpt_fields *f, ct_err *e);
void ckpt_fields_release(ckpt_fields *f);

/* Registers one field (shape NULL for scalars and strings).  The path must
 * be new (CT_ASSERT).  CT_ENOMEM. */
int ckpt_fields_add(ckpt_fields *f, const char *path, h5c_type type, int ndim, const int64_t *shape,
		    void *live, int flags, ct_err *e);
/* A string attribute whose value the table keeps (e.g. a name that must
 * match on restore, with CKPT_MATCH). */
int ckpt_fields_add_const_str(ckpt_fields *f, const char *path, const char *value, int flags,
			      ct_err *e);
/* Takes ownership of h->ctx (freed by release, also on failure). */
int ckpt_fields_add_hook(ckpt_fields *f, const ckpt_hook *h, ct_err *e);

/* The field registered under path, or NULL. */
ckpt_field *ckpt_fields_find(const ckpt_fields *f, const char *path);

/* Adapters for the library's objects (ckpt/adapters.c). */
/* One float32 dataset per parameter: <group>/<name>, data at base + offset
 * (base is ps->data, or an optimizer buffer of the same layout). */
int ckpt_fields_add_params(ckpt_fields *f, const char *group, const params *ps, float *base,
			   ct_err *e);
/* <group>/m/<name>, <group>/v/<name> (the buffers the optimizer has),
 * <group>/step, and attribute <group>@name that must match on restore. */
int ckpt_fields_add_optim(ckpt_fields *f, const char *group, optim *o, const params *layout,
			  ct_err *e);
/* <group>/epoch, <group>/cursor, <group>/shuffle_rng (the loader's position). */
int ckpt_fields_add_loader(ckpt_fields *f, const char *group, loader *ld, ct_err *e);
/* uint64[4] stream state. */
int ckpt_fields_add_rng(ckpt_fields *f, const char *path, rng *r, ct_err *e);
/* The tracker's state: /meta/best_metric, /meta/evals_since_best and
 * (optional, for checkpoints written before keep_best) /meta/best_count,
 * /meta/best_steps int64[BEST_MAX], /meta/best_values float64[BEST_MAX].
 * Its copy of best_steps is what retention protects (f->best_steps). */
int ckpt_fields_add_best(ckpt_fields *f, best_tracker *b, ct_err *e);

/* Refreshes the header (step, version, BLAS core), runs the take hooks and
 * copies every field.  Cheap (memcpy), meant for the training thread. */
void ckpt_fields_take(ckpt_fields *f, int64_t step);
/* ckpt_fields_take without copying the fields of H5C_REF_MIN bytes or more
 * (parameters, moments): the next serialize references them in the state,
 * which must not change until the image is written.  For synchronous
 * checkpoints, where a copy would be written once and thrown away. */
void ckpt_fields_take_live(ckpt_fields *f, int64_t step);
/* Builds the file (HDF5 image + trailer) of what the last take took into im
 * (see h5c_image_build: large fields are referenced, not copied, so the
 * copies, or the state after take_live, must not change until im is
 * written). */
int ckpt_fields_serialize(ckpt_fields *f, h5c_image *im, ct_err *e);
/* Verifies and parses path into the copies: CT_ECORRUPT for a damaged file,
 * a wrong format or a field of another shape, CT_EUNSUPPORTED for a newer
 * format_version, CT_ENOTFOUND for a missing field; messages name the file.
 * The state is not touched. */
int ckpt_fields_read(ckpt_fields *f, const char *path, ct_err *e);
/* After a successful read: CKPT_MATCH checks and check hooks, then copies
 * every field back into the state and runs the apply hooks.  On failure the
 * state is unchanged. */
int ckpt_fields_apply(ckpt_fields *f, ct_err *e);

#endif
