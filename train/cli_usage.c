#include <string.h>

#include "cli.h"

static const char USAGE_MAIN[] =
	"ctrain " CTRAIN_VERSION " - train MLPs in C; crash-safe checkpoints, bit-exact resume,\n"
	"safetensors export.\n\n"
	"usage: ctrain COMMAND [ARGS]\n\n"
	"commands:\n"
	"  train    --config FILE --run-dir DIR [--set section.key=value]... [--init-from FILE [--non-strict]]\n"
	"  resume   DIR [--set section.key=value]...\n"
	"  export   SRC -o OUT.safetensors [--dtype f32|f16|bf16] [--verify]\n"
	"  inspect  FILE                       .h5 checkpoint, .safetensors or .pth\n"
	"  eval     --model SRC [--data SPEC | --set data.key=value]...\n"
	"  predict  --model SRC --input FILE.csv[.gz] [-o OUT.csv]\n"
	"  convert  IN.pth OUT.safetensors     PyTorch state_dict -> safetensors\n"
	"  data     convert IN OUT.h5 [--set data.key=value]... | inspect FILE.h5\n\n"
	"SRC is a run directory, a checkpoint (.h5) or a .safetensors file.\n"
	"Options for every command: -q (warnings only), -v (debug), -h/--help.\n\n"
	"examples:\n"
	"  ctrain train --config experiments/configs/fashion-mnist.ini --run-dir runs/fm\n"
	"  ctrain resume runs/fm                 # after a crash, kill or Ctrl-C\n"
	"  ctrain eval --model runs/fm\n"
	"  ctrain export runs/fm -o fm-f16.safetensors --dtype f16 --verify\n\n"
	"exit status: 0 ok, 2 usage or config error, 1 other errors (I/O, corrupt input),\n"
	"130/143 after SIGINT/SIGTERM once the checkpoint is written.\n"
	"Run 'ctrain COMMAND --help' for details.\n";

static const char USAGE_TRAIN[] =
	"usage: ctrain train --config FILE --run-dir DIR [--set section.key=value]...\n"
	"                    [--init-from FILE.safetensors|FILE.pth [--non-strict]]\n\n"
	"Trains the model of FILE (INI), writing into DIR: config.ini (frozen), metrics.csv,\n"
	"checkpoints/ckpt-<step>.h5 and, at the end, model.safetensors.  Refuses a DIR that\n"
	"already holds checkpoints: use 'ctrain resume DIR' to continue it.\n"
	"--init-from starts from the weights of a file (strict: every key and shape must match;\n"
	"--non-strict loads what matches and lists missing/unexpected keys).\n"
	"Validation rows: with data.val_split = tail (the default) the LAST\n"
	"round(rows * data.val_fraction) rows of the data file, as Keras' validation_split;\n"
	"with random, that many rows drawn with train.seed.  The training rows keep the\n"
	"file's order: data.shuffle = false takes them in that order every epoch.\n\n"
	"examples:\n"
	"  ctrain train --config experiments/configs/synthetic.ini --run-dir runs/s1\n"
	"  ctrain train --config run.ini --run-dir runs/lr3 --set optim.lr=0.003 --set train.epochs=20\n\n"
	"Config keys (section.key = default):\n";

static const char USAGE_RESUME[] =
	"usage: ctrain resume DIR [--set section.key=value]...\n\n"
	"Continues the run in DIR from its newest valid checkpoint, with the frozen config.\n"
	"The result is bit-identical to a run that was never interrupted.  Invalid checkpoints\n"
	"are skipped with a warning and renamed *.corrupt.  --set may change only keys that\n"
	"cannot break bit-exactness: train.epochs, train.log_every, train.eval_every,\n"
	"train.threads, checkpoint.*.\n\n"
	"example:\n  ctrain resume runs/fm --set train.epochs=30\n";

static const char USAGE_EXPORT[] =
	"usage: ctrain export SRC -o OUT.safetensors [--dtype f32|f16|bf16] [--verify]\n\n"
	"Writes the weights of SRC (run directory, checkpoint or .safetensors) as safetensors\n"
	"that PyTorch loads with load_state_dict.  --verify reloads the file and compares the\n"
	"logits of a fixed probe batch (bit-identical for f32, max deviation for f16/bf16).\n\n"
	"example:\n  ctrain export runs/fm/checkpoints/ckpt-0000004000.h5 -o fm.safetensors --verify\n";

static const char USAGE_INSPECT[] =
	"usage: ctrain inspect FILE\n\n"
	"Prints what FILE holds: for a checkpoint its validity, step, epoch and tensors; for\n"
	"safetensors its metadata and each tensor's dtype, shape, byte range, min/max/mean; for\n"
	".pth the tensors and the non-tensor entries.  Exit 0 if valid, 1 with the reason if not.\n\n"
	"example:\n  ctrain inspect runs/fm/model.safetensors\n";

static const char USAGE_EVAL[] =
	"usage: ctrain eval --model SRC [--data SPEC | --set data.key=value]...\n\n"
	"Prints 'accuracy=<float> loss=<float> n=<int>'.  For mnist/fashion-mnist it uses the\n"
	"t10k test files, otherwise the validation split of the run's data.  The data comes from\n"
	"the run's config (run directory or checkpoint) unless --data or --set names it.\n"
	"SPEC: mnist:DIR | fashion-mnist:DIR | csv:FILE | hdf5:FILE | synthetic\n"
	"With data.test_path (csv, hdf5) it uses that file as the test set.\n\n"
	"examples:\n  ctrain eval --model runs/fm\n"
	"  ctrain eval --model fm.safetensors --data fashion-mnist:/usr/share/datasets/fashion-mnist\n";

static const char USAGE_PREDICT[] =
	"usage: ctrain predict --model SRC --input FILE.csv[.gz] [-o OUT.csv]\n\n"
	"Input rows are features only (header optional).  Output (stdout or OUT.csv) has the\n"
	"header class,logit_0,...,logit_{k-1}.\n\n"
	"example:\n  ctrain predict --model runs/fm --input x.csv -o pred.csv\n";

static const char USAGE_CONVERT[] =
	"usage: ctrain convert IN.pth OUT.safetensors\n\n"
	"Converts a PyTorch state_dict saved with torch.save (zip format) to safetensors without\n"
	"executing any pickle code (restricted unpickler).  Unwraps {'state_dict': ...},\n"
	"'model_state_dict' and 'model' wrappers, strips 'module.' and '_orig_mod.' prefixes,\n"
	"skips non-tensor entries, and verifies the written file tensor by tensor.\n\n"
	"example:\n  ctrain convert resnet_head.pth head.safetensors\n";

static const char USAGE_DATA[] =
	"usage: ctrain data convert IN OUT.h5 [--set data.key=value]...\n"
	"       ctrain data inspect FILE.h5 [X Y]\n\n"
	"convert reads IN as training would (a .csv[.gz], an .h5, an MNIST directory or\n"
	"'synthetic'; --set data.dataset=... and the other data.* keys as in a config) and\n"
	"writes every row, in order, to OUT.h5: features float32 [rows, features] and labels\n"
	"int32 [rows], chunks of about 1 MiB with shuffle + gzip, atomically (temporary file,\n"
	"fsync, rename).  The input is held in memory once (float32), the file is built in\n"
	"memory too.  inspect checks FILE's datasets (features and labels, or X and Y) as\n"
	"training does and prints rows, features, type, chunking, classes and label counts.\n\n"
	"example:\n  ctrain data convert train.csv.gz train.h5 --set data.label_column=0\n";

const char *cli_usage(const char *cmd)
{
	static const struct {
		const char *name, *text;
	} t[] = {
		{"train", USAGE_TRAIN},     {"resume", USAGE_RESUME}, {"export", USAGE_EXPORT},
		{"inspect", USAGE_INSPECT}, {"eval", USAGE_EVAL},     {"predict", USAGE_PREDICT},
		{"convert", USAGE_CONVERT}, {"data", USAGE_DATA},
	};
	for (size_t i = 0; cmd && i < sizeof t / sizeof t[0]; i++)
		if (strcmp(cmd, t[i].name) == 0)
			return t[i].text;
	return USAGE_MAIN;
}
