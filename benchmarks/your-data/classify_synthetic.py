"""Which private classes a synthetic set looks like, by the real-data CNN (evaluation: the CNN was trained on the
private images, so its output is not part of any release). Used to compare the class-wise and the unlabelled
3-class runs (issue 31): how many synthetic images the CNN puts in each class, and, for a labelled set, how often it
agrees with the synthetic label.

    python benchmarks/your-data/classify_synthetic.py --classifier results/eval/real-<key>/classifiers.safetensors \
        --class-names bags boots trousers --synthetic <run>/synthetic.npz ... --out counts.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from privevo.io.artifacts import load_images, save_json
from privevo.models.io import load_classifier


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classifier", required=True)
    parser.add_argument("--class-names", nargs="+", required=True)
    parser.add_argument("--synthetic", nargs="+", required=True)
    parser.add_argument("--labelled", action="store_true", help="the synthetic sets carry class labels to compare")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    model = load_classifier(args.classifier, seed=0).eval()
    records = []
    for path in args.synthetic:
        images, labels = load_images(path)
        with torch.no_grad():
            predicted = model(torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0).argmax(1).numpy()
        counts = np.bincount(predicted, minlength=len(args.class_names))
        record = {"synthetic": path, "num_images": int(len(images)),
                  "predicted_counts": dict(zip(args.class_names, counts.tolist()))}
        if args.labelled:
            record["agreement_with_label"] = float((predicted == labels).mean())
        records.append(record)
        print(json.dumps(record))
    save_json(args.out, {"classifier": args.classifier, "note": "evaluation with the real-data CNN (reads private "
                         "data), not part of any DP release", "sets": records})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
