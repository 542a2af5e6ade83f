#!/bin/sh
# The include graph goes one way: a file includes headers of its own folder
# and of folders on a lower level, never of one beside or above it.
#
#   0  util     errors, logging, RNG, atomic file writes, CT_API
#   1  formats  named tensors (tdict), safetensors, .pth/pickle, convert
#   1  dist     multi-process building blocks (communicator, shards), if present
#   2  nn       parameters, ops, graph, optimizers, the MLP (formats for
#               state_dict_save/load)
#   2  data     datasets and the resumable loader
#   3  ckpt     the HDF5 checkpoint container, discovery, checkpoint fields
#   4  train    the training loop and what it checkpoints
#   5  cli      the ctrain program, outside libctrain
#
# examples/ include <ctrain.h> only.  Prints each wrong include and fails on
# any (run by `make check`).
cd "$(dirname "$0")/.." || exit 1
rank() {
	case $1 in
	util) echo 0 ;; formats | dist) echo 1 ;; nn | data) echo 2 ;; ckpt) echo 3 ;;
	train) echo 4 ;; cli) echo 5 ;; *) echo "" ;;
	esac
}
bad=0; n=0
for f in util/*.[ch] formats/*.[ch] dist/*.[ch] nn/*.[ch] data/*.[ch] ckpt/*.[ch] train/*.[ch] \
	cli/*.[ch]; do
	[ -f "$f" ] || continue
	from=${f%%/*}
	rf=$(rank "$from")
	for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
		n=$((n + 1))
		case $inc in
		../*/*) to=${inc#../}; to=${to%%/*} ;;
		*/*) echo "$f: includes $inc: not a sibling or ../<folder>/ path"; bad=$((bad + 1)); continue ;;
		*) continue ;;
		esac
		rt=$(rank "$to")
		if [ -z "$rt" ]; then
			echo "$f: includes $inc, outside the library's folders"; bad=$((bad + 1))
		elif [ "$to" != "$from" ] && [ "$rt" -ge "$rf" ]; then
			echo "$f: includes $inc: $to is not below $from"; bad=$((bad + 1))
		fi
	done
done
for f in examples/*.c; do
	[ -f "$f" ] || continue
	if grep -q '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f"; then
		echo "$f: includes a source header; examples use <ctrain.h> only"; bad=$((bad + 1))
	fi
done
if [ "$bad" -ne 0 ]; then
	echo "layers: $bad upward or sideways includes"
	exit 1
fi
echo "layers: $n includes, all downward"
