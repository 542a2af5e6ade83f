#!/bin/sh
# End-to-end: `ctrain train` on synthetic data learns, is deterministic, and a
# run interrupted at several steps (SIGTERM/SIGINT, sync and async checkpoints,
# dropout, shuffle, Adam, cosine schedule, mid-epoch) resumes to the same bytes.
set -u
. "$(dirname "$0")/lib.sh"

cfg=$T/run.ini
cat > "$cfg" <<'INI'
[model]
layers = 16,32,4
activation = gelu
dropout = 0.1
[optim]
name = adam
lr = 0.01
[schedule]
name = cosine
warmup_steps = 5
[data]
dataset = synthetic
n_samples = 1200
n_features = 16
n_classes = 4
val_fraction = 0.2
batch_size = 50
[train]
epochs = 4
seed = 7
log_every = 5
[checkpoint]
every_steps = 7
keep_last = 2
async = true
INI

# 1. learns, prints the summary line, writes the run directory
out=$("$CTRAIN" train --config "$cfg" --run-dir "$T/a" 2>"$T/a.err") || fail "train exited $?: $(cat "$T/a.err")"
echo "$out" | grep -q 'samples_per_sec=' || fail "no samples_per_sec in summary: $out"
acc=$(echo "$out" | sed -n 's/.*val_accuracy=\([0-9.]*\).*/\1/p')
awk -v a="$acc" 'BEGIN{exit !(a >= 0.95)}' || fail "val_accuracy $acc < 0.95"
for f in config.ini metrics.csv model.safetensors; do [ -s "$T/a/$f" ] || fail "missing $T/a/$f"; done
head -1 "$T/a/metrics.csv" | grep -q '^step,epoch,loss,lr,val_loss,val_accuracy' || fail "metrics header"
n=$(ls "$T/a/checkpoints" | grep -c '^ckpt-[0-9]\{10\}\.h5$')
[ "$n" -eq 2 ] || fail "keep_last=2 but $n checkpoints: $(ls "$T/a/checkpoints")"
ok "trains to val_accuracy=$acc, keeps 2 checkpoints"

# 2. eval on the run directory
ev=$("$CTRAIN" eval --model "$T/a" 2>"$T/ev.err") || fail "eval failed: $(cat "$T/ev.err")"
echo "$ev" | grep -Eq '^accuracy=[0-9.]+ loss=[0-9.]+ n=240$' || fail "eval output: $ev"
grep -q 'INFO using .*model.safetensors' "$T/ev.err" || fail "eval did not log its choice"
ok "eval: $ev"

# 3. same config twice: identical weights and metrics (timing columns excluded)
"$CTRAIN" train --config "$cfg" --run-dir "$T/b" >/dev/null 2>&1 || fail "second train"
cmp "$T/a/model.safetensors" "$T/b/model.safetensors" || fail "same config gave different weights"
same_metrics "$T/a/metrics.csv" "$T/b/metrics.csv" || fail "same config gave different metrics"
ok "deterministic: identical model.safetensors and metrics"

# 4. train refuses a run directory with checkpoints
"$CTRAIN" train --config "$cfg" --run-dir "$T/a" >/dev/null 2>"$T/refuse.err"
[ $? -eq 2 ] || fail "train into a used run dir should exit 2"
grep -q 'ctrain resume' "$T/refuse.err" || fail "no hint to resume: $(cat "$T/refuse.err")"
ok "refuses a used run directory"

# 5. interrupted at several steps (mid-epoch, at a checkpoint step, sync and async) -> same bytes
interrupt_and_resume() { # name, extra --set, steps...
	name=$1
	d=$T/$name
	shift
	interrupted_run "$cfg" "$d" "$@"
	"$CTRAIN" resume "$d" >/dev/null 2>"$d.err" || fail "$name: final resume failed: $(cat "$d.err")"
	cmp "$T/a/model.safetensors" "$d/model.safetensors" || fail "$name: weights differ after resume"
	same_metrics "$T/a/metrics.csv" "$d/metrics.csv" || fail "$name: metrics differ after resume"
}
interrupt_and_resume async "" 3 7 20 24 45
interrupt_and_resume sync "--set checkpoint.async=false" 1 23 24 60
ok "interrupted 5x (async) and 4x (sync), resumed: identical weights and metrics"

# 6. a damaged newest checkpoint: skipped with a WARN naming it, kept as *.corrupt,
#    resume continues from the previous one and still ends with the same bytes
d=$T/corrupt
CTRAIN_TEST_SIGNAL_AT_STEP=30 "$CTRAIN" train --config "$cfg" --run-dir "$d" >/dev/null 2>&1
[ $? -eq 143 ] || fail "corrupt: expected 143"
bad=$d/checkpoints/ckpt-0000000030.h5
[ -f "$bad" ] || fail "corrupt: no checkpoint at step 30: $(ls "$d/checkpoints")"
size=$(wc -c < "$bad"); head -c $((size / 2)) "$bad" > "$T/half" && cat "$T/half" > "$bad"
"$CTRAIN" resume "$d" >/dev/null 2>"$d.err" || fail "corrupt: resume failed: $(cat "$d.err")"
grep -q "WARN skipping invalid checkpoint $bad" "$d.err" || fail "corrupt: no WARN naming the file: $(cat "$d.err")"
grep -q "resuming from $d/checkpoints/ckpt-0000000028.h5" "$d.err" || fail "corrupt: did not fall back to step 28"
[ -f "$bad.corrupt" ] || fail "corrupt: bad file not kept as .corrupt"
"$CTRAIN" inspect "$bad.corrupt" >/dev/null 2>"$T/insp.err"
[ $? -eq 1 ] || fail "inspect of a corrupt checkpoint should exit 1"
grep -q 'trailer' "$T/insp.err" || fail "inspect gave no reason: $(cat "$T/insp.err")"
cmp "$T/a/model.safetensors" "$d/model.safetensors" || fail "corrupt: weights differ after fallback"
ok "truncated newest checkpoint: WARN, kept as .corrupt, fell back, same bytes"

# 7. no valid checkpoint at all: exit 1, listing what was found and why
d=$T/none; mkdir -p "$d/checkpoints"; cp "$T/a/config.ini" "$d/"
echo garbage > "$d/checkpoints/ckpt-0000000005.h5"
"$CTRAIN" resume "$d" >/dev/null 2>"$d.err"
[ $? -eq 1 ] || fail "resume with no valid checkpoint should exit 1"
grep -q 'ckpt-0000000005.h5' "$d.err" || fail "no listing of rejected files: $(cat "$d.err")"
ok "no valid checkpoint: exit 1 with the list"

# 8. a hand-edited config.ini cannot change what the checkpoint was trained with
d=$T/edited
CTRAIN_TEST_SIGNAL_AT_STEP=10 "$CTRAIN" train --config "$cfg" --run-dir "$d" >/dev/null 2>&1
sed -i 's/^dropout = .*/dropout = 0.3/' "$d/config.ini"
"$CTRAIN" resume "$d" >/dev/null 2>"$d.err"
[ $? -eq 2 ] || fail "resume with an edited non-resumable key should exit 2"
grep -q "model.dropout is 0.3 but the checkpoint was trained with 0.1" "$d.err" || fail "edited config: $(cat "$d.err")"
"$CTRAIN" resume "$d" --set model.lr=1 >/dev/null 2>"$d.err"
[ $? -eq 2 ] || fail "resume --set of an unknown/non-resumable key should exit 2"
ok "resume refuses a config.ini edited against its checkpoint"

# 9. discovery for eval/predict: a run without model.safetensors falls back to its
#    newest valid checkpoint (logged); an explicitly named file is never replaced
d=$T/edited   # interrupted at step 10, never completed
"$CTRAIN" eval --model "$d" >"$T/ev.out" 2>"$T/ev.err" || fail "eval on unfinished run: $(cat "$T/ev.err")"
grep -q "INFO using $d/checkpoints/ckpt-0000000010.h5: newest valid checkpoint" "$T/ev.err" || fail "fallback not logged: $(cat "$T/ev.err")"
"$CTRAIN" eval --model "$d/model.safetensors" >/dev/null 2>"$T/ev.err"
[ $? -eq 1 ] || fail "eval of a missing explicit file should exit 1"
grep -q "model.safetensors: no such file" "$T/ev.err" || fail "missing file message: $(cat "$T/ev.err")"
head -c 100 "$T/a/model.safetensors" > "$T/trunc.safetensors"
"$CTRAIN" inspect "$T/trunc.safetensors" >/dev/null 2>"$T/insp.err"
[ $? -eq 1 ] || fail "inspect of a truncated safetensors should exit 1"
grep -q "trunc.safetensors" "$T/insp.err" || fail "inspect error names no file: $(cat "$T/insp.err")"
"$CTRAIN" inspect "$T/a/model.safetensors" >"$T/insp.out" || fail "inspect valid"
grep -q 'layers.0.weight .*F32 .*\[32, 16\] .*min .*max .*mean' "$T/insp.out" || fail "inspect output: $(cat "$T/insp.out")"
ok "eval falls back to the newest checkpoint with an INFO; explicit files are never replaced"

# 9b. every subcommand takes 64 of a repeatable option and says "too many" at 65
sets=""; renames=""
for i in $(seq 65); do sets="$sets --set data.batch_size=$i"; renames="$renames --rename a$i=b$i"; done
too_many() { # WHAT OPT CMD...: exit 2 and "too many OPT options (64 at most)"
	_w=$1 _o=$2; shift 2
	"$@" >/dev/null 2>"$T/many.err"
	[ $? -eq 2 ] || fail "$_w with 65 $_o: not exit 2: $(cat "$T/many.err")"
	grep -q "too many $_o options (64 at most)" "$T/many.err" || fail "$_w with 65 $_o: $(cat "$T/many.err")"
}
too_many train --set "$CTRAIN" train --config "$cfg" --run-dir "$T/many" $sets
too_many resume --set "$CTRAIN" resume "$T/a" $sets
too_many eval --set "$CTRAIN" eval --model "$T/a" $sets
too_many "data convert" --set "$CTRAIN" data convert in.csv out.h5 $sets
too_many train --rename "$CTRAIN" train --config "$cfg" --run-dir "$T/many" --init-from "$T/a/model.safetensors" $renames
too_many eval --rename "$CTRAIN" eval --model "$T/a" $renames
too_many predict --rename "$CTRAIN" predict --model "$T/a" --input x.csv $renames
too_many export --rename "$CTRAIN" export "$T/a" -o "$T/x.safetensors" $renames
too_many convert --rename "$CTRAIN" convert in.pth out.safetensors $renames
[ ! -e "$T/many" ] || fail "a refused train left $T/many"
ok "65 --set / --rename: \"too many\" and exit 2 from every subcommand"

# 10. SIGINT gives 130
CTRAIN_TEST_SIGNAL_AT_STEP=10:2 "$CTRAIN" train --config "$cfg" --run-dir "$T/int" >/dev/null 2>&1
[ $? -eq 130 ] || fail "SIGINT should exit 130"
ok "SIGINT exits 130"
finish
