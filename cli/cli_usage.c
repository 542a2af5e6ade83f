#include <string.h>

#include "cli.h"

static const char USAGE_MAIN[] =
	"ctrain " CTRAIN_VERSION " - train MLPs in C; crash-safe checkpoints, bit-exact resume,\n"
	"safetensors export.\n\n"
	"usage: ctrain COMMAND [ARGS]\n\n"
	"commands:\n"
	"  train    --config FILE --run-dir DIR [--set section.key=value]... [--overwrite]\n"
	"           [--init-from FILE [--non-strict] [--rename OLD=NEW]... [--with-optimizer]]\n"
	"           [--restarts N [-- LAUNCHER...]]\n"
	"  resume   DIR [--from ckpt-<step>.h5] [--set section.key=value]... [--accept-data-change]\n"
	"           [--restarts N [-- LAUNCHER...]]\n"
	"  export   SRC [--best] -o OUT.safetensors [--dtype f32|f16|bf16] [--verify]\n"
	"  inspect  FILE                       .h5 checkpoint, .safetensors or .pth\n"
	"  eval     --model SRC [--best] [--data SPEC | --set data.key=value]...\n"
	"  predict  --model SRC [--best] --input FILE.csv[.gz] [-o OUT.csv|-]\n"
	"  convert  IN.pth OUT.safetensors [--rename OLD=NEW]...   PyTorch state_dict -> safetensors\n"
	"  status   [--json] DIR...            state and progress of runs (or of every run under DIR)\n"
	"  compare  SRC1 SRC2                  same weights? first differing step, config keys\n"
	"  plot     DIR... -o OUT.svg|OUT.png  training curves (gnuplot)\n"
	"  report   DIR... -o OUT.html         self-contained HTML: charts, checkpoints, events\n"
	"  data     convert IN OUT.h5 [--set data.key=value]... | inspect FILE.h5\n\n"
	"SRC is a run directory, a checkpoint (.h5) or a .safetensors file.\n"
	"Options for every command: -q (warnings only), -v (debug), -h/--help.\n\n"
	"examples:\n"
	"  ctrain train --config experiments/configs/fashion-mnist.ini --run-dir runs/fm\n"
	"  ctrain resume runs/fm                 # after a crash, kill or Ctrl-C\n"
	"  ctrain eval --model runs/fm\n"
	"  ctrain export runs/fm -o fm-f16.safetensors --dtype f16 --verify\n\n"
	"exit status: 0 ok, 2 usage or config error, 1 other errors (I/O, corrupt input),\n"
	"130/143/129 after SIGINT/SIGTERM/SIGHUP once the checkpoint is written.\n"
	"Run 'ctrain COMMAND --help' for details.\n";

static const char USAGE_TRAIN[] =
	"usage: ctrain train --config FILE --run-dir DIR [--set section.key=value]... [--overwrite]\n"
	"                    [--init-from FILE.safetensors|FILE.pth|CKPT.h5 [--non-strict]\n"
	"                     [--rename OLD=NEW]... [--with-optimizer]]\n"
	"                    [--restarts N [-- LAUNCHER ARGS...]]\n\n"
	"Trains the model of FILE (INI), writing into DIR: config.ini (frozen), metrics.csv,\n"
	"checkpoints/ckpt-<step>.h5 and, at the end, model.safetensors.  Refuses a DIR that\n"
	"already holds a run (any of those files): use 'ctrain resume DIR' to continue it, or\n"
	"--overwrite to delete it first.  DIR may not be the folder of FILE (unless FILE is a\n"
	"run's frozen config.ini).\n"
	"--init-from starts from the weights of a file (strict: every key and shape must match;\n"
	"--non-strict loads what matches and lists missing/unexpected keys; matching nothing is an\n"
	"error).  --rename OLD=NEW (repeatable) renames the file's keys by prefix first, e.g.\n"
	"--rename 0.=layers.0. --rename 2.=layers.1. for an nn.Sequential state_dict.\n"
	"One process at a time writes DIR (train and resume lock DIR/.lock); a second one\n"
	"exits 1 naming the pid of the first.  With a checkpoint,\n"
	"--with-optimizer also takes its optimizer state (momentum, Adam moments and step\n"
	"count; same optimizer kind) to fine-tune with new settings.\n"
	"Validation rows: with data.val_split = tail (the default) the LAST\n"
	"round(rows * data.val_fraction) rows of the data file, as Keras' validation_split;\n"
	"with random, that many rows drawn with train.seed.  The training rows keep the\n"
	"file's order: data.shuffle = false takes them in that order every epoch.\n"
	"Under 'mpirun -np P' (P dividing train.shards) the processes train one model data-\n"
	"parallel with the same bytes as one process; rank 0 owns DIR (README: several\n"
	"processes).\n"
	"--restarts N supervises the run: when the training process dies (a signal, exit 1) it\n"
	"is resumed from the newest valid checkpoint, after 0.1 s doubling up to 5 s, at most\n"
	"N times; never after exit 2, a non-finite loss or SIGINT/SIGTERM/SIGHUP (forwarded).\n"
	"Restarts are logged in DIR/events.csv.  '--restarts N -- LAUNCHER ARGS...' (last on\n"
	"the line) runs each attempt as 'LAUNCHER ARGS... /abs/path/ctrain train|resume ...':\n"
	"any launcher status but 0 and 2 is retried (mpirun exits 137 when a rank was killed).\n\n"
	"examples:\n"
	"  ctrain train --config experiments/configs/synthetic.ini --run-dir runs/s1\n"
	"  ctrain train --config run.ini --run-dir runs/lr3 --set optim.lr=0.003 --set train.epochs=20\n"
	"  ctrain train --config run.ini --run-dir runs/m --restarts 3 -- mpirun -np 4\n\n"
	"Config keys (section.key = default):\n";

static const char USAGE_RESUME[] =
	"usage: ctrain resume DIR [--from ckpt-<step>.h5] [--set section.key=value]...\n"
	"                         [--accept-data-change] [--restarts N [-- LAUNCHER ARGS...]]\n"
	"                         (see ctrain train --help)\n\n"
	"Continues the run in DIR from its newest valid checkpoint, with the frozen config.\n"
	"The result is bit-identical to a run that was never interrupted.  Invalid checkpoints\n"
	"are skipped with a warning and renamed *.corrupt; a run stopped before its first\n"
	"checkpoint was durable starts again from step 0.  --set may change only keys that\n"
	"cannot break bit-exactness: train.epochs, train.log_every, train.eval_every,\n"
	"train.threads, train.on_nonfinite, checkpoint.*; and data.path when the new path holds\n"
	"the same data.  train records the size and CRC-32C of the data files in\n"
	"DIR/data.fingerprint; resume refuses data that changed since (exit 1) unless\n"
	"--accept-data-change.\n"
	"--from continues from that checkpoint of DIR/checkpoints instead of the newest: later\n"
	"checkpoints and model.safetensors are renamed <name>.aside-<step>, never deleted.\n\n"
	"examples:\n  ctrain resume runs/fm --set train.epochs=30\n"
	"  ctrain resume runs/fm --restarts 3 -- mpirun -np 4\n";

static const char USAGE_EXPORT[] =
	"usage: ctrain export SRC [--best] -o OUT.safetensors [--dtype f32|f16|bf16] [--verify]\n\n"
	"--best (SRC a run directory): the best checkpoint by checkpoint.monitor that\n"
	"checkpoint.keep_best kept, instead of model.safetensors or the newest checkpoint.\n"
	"Writes the weights of SRC (run directory, checkpoint or .safetensors) as safetensors\n"
	"that PyTorch loads with load_state_dict.  --verify reloads the file and checks that\n"
	"every weight is the f32 weight rounded to the dtype exactly and that the logits of a\n"
	"fixed probe batch are bit-identical (f32) or within the dtype's rounding (f16/bf16);\n"
	"a failed check exits 1 with the max abs/rel error.\n\n"
	"example:\n  ctrain export runs/fm/checkpoints/ckpt-0000004000.h5 -o fm.safetensors --verify\n";

static const char USAGE_INSPECT[] =
	"usage: ctrain inspect FILE\n\n"
	"Prints what FILE holds: for a checkpoint its validity, step, epoch and tensors; for\n"
	"safetensors its metadata and each tensor's dtype, shape, byte range, min/max/mean; for\n"
	".pth the tensors and the non-tensor entries.  Exit 0 if valid, 1 with the reason if not.\n\n"
	"example:\n  ctrain inspect runs/fm/model.safetensors\n";

static const char USAGE_EVAL[] =
	"usage: ctrain eval --model SRC [--best] [--data SPEC | --set data.key=value]...\n\n"
	"--best: the run's best checkpoint (keep_best), as for export.\n"
	"Prints 'accuracy=<float> loss=<float> n=<int>'.  For mnist/fashion-mnist it uses the\n"
	"t10k test files, otherwise the validation split of the run's data.  The data comes from\n"
	"the run's config (run directory or checkpoint) unless --data or --set names it; a file\n"
	"named by --data is scored whole (every row).  Exit 1 if the loss is not finite.\n"
	"SPEC: mnist:DIR | fashion-mnist:DIR | csv:FILE | hdf5:FILE | synthetic\n"
	"With data.test_path (csv, hdf5) it uses that file as the test set.\n\n"
	"examples:\n  ctrain eval --model runs/fm\n"
	"  ctrain eval --model fm.safetensors --data fashion-mnist:/usr/share/datasets/fashion-mnist\n";

static const char USAGE_PREDICT[] =
	"usage: ctrain predict --model SRC [--best] --input FILE.csv[.gz] [-o OUT.csv|-]\n\n"
	"--best: the run's best checkpoint (keep_best), as for export.\n"
	"Input rows are features only (header optional).  Output (stdout, also with -o -, or\n"
	"OUT.csv, written atomically) has the header class,logit_0,...,logit_{k-1}.\n"
	"predict, export and convert refuse an output file that is also an input.\n\n"
	"example:\n  ctrain predict --model runs/fm --input x.csv -o pred.csv\n";

static const char USAGE_CONVERT[] =
	"usage: ctrain convert IN.pth OUT.safetensors [--rename OLD=NEW]...\n\n"
	"Converts a PyTorch state_dict saved with torch.save (zip format) to safetensors without\n"
	"executing any pickle code (restricted unpickler).  Unwraps {'state_dict': ...},\n"
	"'model_state_dict' and 'model' wrappers, strips 'module.' and '_orig_mod.' prefixes,\n"
	"skips non-tensor entries, and verifies the written file tensor by tensor.  --rename\n"
	"OLD=NEW (repeatable) replaces the key prefix OLD by NEW (eval, predict and export take\n"
	"it too, for the model they load).\n\n"
	"example:\n  ctrain convert resnet_head.pth head.safetensors\n";

static const char USAGE_STATUS[] =
	"usage: ctrain status [--json] DIR...\n\n"
	"What each run is doing: state (running with the pid holding DIR/.lock, finished,\n"
	"failed with its error, interrupted), step N of M, epoch, last loss and validation\n"
	"metrics, samples/s and ETA, the newest checkpoint (step, age, size, valid or why not)\n"
	"and the one resume would use, the keep_best checkpoints, resumes and restarts, disk\n"
	"used, and the command to resume.  A DIR without config.ini lists every run directly\n"
	"under it, one line each.  --json prints {\"schema\": 1, \"runs\": [...]} (README).\n\n"
	"example:\n  ctrain status runs/fm ; ctrain status runs ; ctrain status --json runs/fm\n";

static const char USAGE_COMPARE[] =
	"usage: ctrain compare SRC1 SRC2\n\n"
	"Are the final weights of two runs (or checkpoints, or .safetensors) bit-identical?\n"
	"If not, prints per tensor how many values differ and the largest absolute difference.\n"
	"For two run directories also the first step at which metrics.csv differs (timing\n"
	"columns excepted) and every differing config key.  Exit status: 0 identical weights,\n"
	"1 different weights, 2 usage error (an argument that is not a model).\n\n"
	"example:\n  ctrain compare runs/uninterrupted runs/resumed\n";

static const char USAGE_PLOT[] =
	"usage: ctrain plot DIR... -o OUT.svg|OUT.png\n\n"
	"Draws the curves of one or more runs with gnuplot (Debian: gnuplot-nox): training loss\n"
	"raw and smoothed, validation loss and accuracy, learning rate; steps on the x axis,\n"
	"epochs on the top axis, a dashed line at every resume or restart; one colour and legend\n"
	"entry per run.  train and resume refresh DIR/curves.svg when they end.\n\n"
	"example:\n  ctrain plot runs/lr1 runs/lr3 -o lr.png\n";

static const char USAGE_REPORT[] =
	"usage: ctrain report DIR... -o OUT.html\n\n"
	"Writes one self-contained HTML file (no network needed to open it): interactive\n"
	"charts of every run (uPlot, embedded; drag to zoom, hover for values) of training and\n"
	"validation loss, validation accuracy, learning rate and gradient norm; per run its\n"
	"events (start, resume, restart, ...), checkpoint table, config.ini and OpenBLAS\n"
	"kernel; the machine.  uPlot is read from $CTRAIN_UPLOT_DIR or <ctrain's directory>/\n"
	"uplot/package/dist (make uplot).\n\n"
	"example:\n  ctrain report runs/lr1 runs/lr3 -o report.html\n";

static const char USAGE_DATA[] =
	"usage: ctrain data convert IN OUT.h5 [--set data.key=value]... [--set train.seed=N]\n"
	"                          [--set train.threads=N]\n"
	"       ctrain data inspect FILE.h5 [X Y]\n\n"
	"convert reads IN as training would (a .csv[.gz], an .h5, an MNIST directory or\n"
	"'synthetic'; --set data.dataset=... and the other data.* keys as in a config) and\n"
	"writes every row, in order, to OUT.h5: features float32 [rows, features] and labels\n"
	"int32 [rows], chunks of about 1 MiB with shuffle + gzip, atomically (temporary file\n"
	"beside OUT, fsync, rename; one left by a killed convert is removed by the next).\n"
	"Every input is streamed a block of rows at a time (constant memory, about 30 MB; a\n"
	"CSV's rows are counted first by a pass that only splits lines; its errors name\n"
	"file, line and column, and leave OUT as it was).  A progress bar is drawn when\n"
	"stderr is a terminal (-q: none).  inspect checks FILE's datasets (features and\n"
	"labels, or X and Y) as training does and prints rows, features, type, chunking,\n"
	"classes and label counts.\n\n"
	"example:\n  ctrain data convert train.csv.gz train.h5 --set data.label_column=0\n";

const char *cli_usage(const char *cmd)
{
	static const struct {
		const char *name, *text;
	} t[] = {
		{"train", USAGE_TRAIN},     {"resume", USAGE_RESUME}, {"export", USAGE_EXPORT},
		{"inspect", USAGE_INSPECT}, {"eval", USAGE_EVAL},     {"predict", USAGE_PREDICT},
		{"convert", USAGE_CONVERT}, {"status", USAGE_STATUS}, {"compare", USAGE_COMPARE},
		{"plot", USAGE_PLOT},       {"report", USAGE_REPORT}, {"data", USAGE_DATA},
	};
	for (size_t i = 0; cmd && i < sizeof t / sizeof t[0]; i++)
		if (strcmp(cmd, t[i].name) == 0)
			return t[i].text;
	return USAGE_MAIN;
}

int cli_repeat(const char **list, int *n, const char *opt, const char *v, ct_err *e)
{
	if (*n >= CLI_MAX_REPEAT)
		return ct_errf(e, CT_EUSAGE, "too many %s options (%d at most)", opt,
			       CLI_MAX_REPEAT);
	list[(*n)++] = v;
	return 0;
}

int cli_unexpected(const char *arg, const char *cmd, ct_err *e)
{
	return ct_errf(e, CT_EUSAGE, "unexpected argument '%s' (see ctrain %s --help)", arg, cmd);
}
