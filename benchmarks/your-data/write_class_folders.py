"""Write Fashion-MNIST classes under new names as an image folder, the way a user brings their own data:
<out>/train/<name>/*.png and <out>/test/<name>/*.png (grey 28x28 PNGs), or with --unlabelled one flat folder of the
training images. Used to measure privevo on a class set that is not Fashion-MNIST's (issue 31).

    python benchmarks/your-data/write_class_folders.py data/three-class --classes Trouser=trousers Bag=bags "Ankle boot=boots"
    python benchmarks/your-data/write_class_folders.py data/three-unlabelled --unlabelled --classes ...
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from privevo.data.fashion_mnist import FASHION_MNIST_CLASSES, find_fashion_mnist_dir, load_fashion_mnist


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--classes", nargs="+", required=True, metavar="FASHION_MNIST_NAME=FOLDER")
    parser.add_argument("--unlabelled", action="store_true", help="one flat folder of the training images, no test/")
    parser.add_argument("--fashion-mnist-dir", default=None)
    args = parser.parse_args(argv)
    renames = dict(item.split("=", 1) for item in args.classes)
    unknown = sorted(set(renames) - set(FASHION_MNIST_CLASSES))
    if unknown:
        parser.error(f"not Fashion-MNIST classes: {unknown}; choose from {list(FASHION_MNIST_CLASSES)}")
    splits = load_fashion_mnist(find_fashion_mnist_dir(args.fashion_mnist_dir))
    for split, (images, labels) in splits.items():
        if args.unlabelled and split != "train":
            continue
        for source, name in renames.items():
            rows = np.flatnonzero(labels == FASHION_MNIST_CLASSES.index(source))
            folder = args.out if args.unlabelled else args.out / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for row in rows:
                Image.fromarray(images[row, ..., 0]).save(folder / f"{name}-{split}-{row:05d}.png")
            print(f"{split}: {len(rows)} {source} -> {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
