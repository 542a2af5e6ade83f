/* source.h — turning the SRC argument of eval/predict/export/inspect into a
 * model: a run directory, a checkpoint (.h5), a .safetensors or a .pth file.
 *
 * For a run directory: DIR/model.safetensors when it exists (training
 * completed), otherwise the newest valid checkpoint in DIR/checkpoints; the
 * choice and the reason are logged at INFO.  A file named explicitly is used
 * as is: if it is missing or invalid that is an error, never a silent
 * fallback to something else.  A base path without extension prefers
 * PATH.safetensors and falls back to PATH.pth.
 *
 *     ct_mlp m; ct_config cfg; int has_cfg;
 *     model_load_source("runs/x", &m, &cfg, &has_cfg, &e);
 */
#ifndef CT_SOURCE_H
#define CT_SOURCE_H

#include "../formats/tdict.h"
#include "../data/normalize.h"
#include "../nn/mlp.h"
#include "../train/config.h"

typedef enum { SRC_SAFETENSORS, SRC_CHECKPOINT, SRC_PTH } source_kind;

/* Resolves src to a file; *path malloc'ed. */
int source_resolve(const char *src, char **path, source_kind *kind, ct_err *e);
/* Reads the state dict of a file of any kind into d (F32 model tensors for a
 * checkpoint's /model group). */
int source_read_tdict(const char *path, source_kind kind, ct_tdict *d, ct_err *e);
/* --rename OLD=NEW pairs (prefix mappings) applied by source_read_tdict to
 * every file it reads from now on (the strings must outlive the calls). */
void source_set_renames(const char *const *pairs, int n);
/* CT_EUSAGE unless pair is OLD=NEW with a non-empty OLD. */
int source_check_rename(const char *pair, ct_err *e);
/* Applies such pairs to d; a pair that renames nothing is CT_EMISMATCH. */
int source_rename(const char *path, ct_tdict *d, const char *const *pairs, int n, ct_err *e);
/* Loads a model; *has_cfg says whether cfg was filled (run dir config.ini or
 * the checkpoint's own config). */
int model_load_source(const char *src, ct_mlp *m, ct_config *cfg, int *has_cfg, ct_err *e);
/* `--best`: *path (malloc'ed) is the best checkpoint of run directory dir by
 * checkpoint.monitor, as keep_best recorded it in the newest valid checkpoint
 * (/meta/best_steps[0]), verified.  Not a directory: CT_EUSAGE; nothing
 * recorded (keep_best = 0, no evaluation yet) or file gone: CT_ENOTFOUND. */
int source_best(const char *dir, char **path, ct_err *e);

/* model_load_source that also returns the input normalization the model was
 * trained with (ns->d = 0 when none): from __metadata__ of a safetensors
 * file, /data/norm_mean and /data/norm_std of a checkpoint. */
int model_load_source_norm(const char *src, ct_mlp *m, ct_config *cfg, int *has_cfg,
			   ct_norm_stats *ns, ct_err *e);

#endif
