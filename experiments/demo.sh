#!/bin/sh
# `make demo`: installs the real data sets (if missing), trains a 784-256-10 MLP
# on Fashion-MNIST with the shipped config, and prints its test accuracy.
# MNIST=1 also trains the MNIST config.
set -eu
CTRAIN=${1:-build/ctrain}
sh "$(dirname "$0")/get_data.sh"
run() { # name config
	dir=runs/demo-$1
	rm -rf "$dir"
	echo "== training $1 ($2) into $dir"
	OPENBLAS_NUM_THREADS=1 "$CTRAIN" train --config "$2" --run-dir "$dir"
	echo "== test accuracy ($1, t10k test set)"
	"$CTRAIN" eval --model "$dir"
}
run fashion-mnist experiments/configs/fashion-mnist.ini
if [ "${MNIST:-0}" = 1 ]; then run mnist experiments/configs/mnist.ini; fi
