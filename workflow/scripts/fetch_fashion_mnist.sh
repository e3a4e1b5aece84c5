#!/usr/bin/env bash
# Unpack Debian's dataset-fashion-mnist into $1 (no root needed when the package lists are present).
set -euo pipefail
dest=${1:?usage: fetch_fashion_mnist.sh DEST}
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
have_all() { for f in "${files[@]}"; do [ -f "$1/$f" ] || return 1; done; }
if have_all /usr/share/datasets/fashion-mnist; then
  echo "Fashion-MNIST found in /usr/share/datasets/fashion-mnist"
  exit 0
fi
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download dataset-fashion-mnist >/dev/null 2>&1; then
  # A fresh machine may have no package lists yet.
  if [ "$(id -u)" = 0 ]; then apt-get update -qq >/dev/null 2>&1 || true; fi
  apt-get download dataset-fashion-mnist || {
    echo "could not download Debian's dataset-fashion-mnist; install it (apt-get install dataset-fashion-mnist)" \
         "or set data.fashion_mnist_dir in params.yaml to a folder of the standard IDX files" >&2
    exit 1
  }
fi
cd - >/dev/null
dpkg -x "$work"/dataset-fashion-mnist_*.deb "$dest"
have_all "$dest/usr/share/datasets/fashion-mnist"
echo "Fashion-MNIST unpacked into $dest/usr/share/datasets/fashion-mnist"
