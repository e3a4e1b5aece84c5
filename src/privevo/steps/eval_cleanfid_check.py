"""`privevo eval-cleanfid-check`: privevo's Inception FID beside clean-fid's on the same images."""

from __future__ import annotations

import json


def eval_cleanfid_check(params: dict, *, real: str, synthetic: str, out: str) -> None:
    """privevo's Inception FID next to clean-fid's compute_fid on the same images (where clean-fid imports)."""
    from privevo.config.params import fd_embedding_name
    from privevo.core.devices import resolve_device
    from privevo.evaluation.cleanfid_check import cleanfid_check, skipped
    from privevo.io.artifacts import load_images, save_json

    emb = params["embedding"]
    if fd_embedding_name(params) != "inception":
        record = skipped(f"the FD's embedder is {fd_embedding_name(params)!r}: only Inception features give an FID "
                         "to compare")
    else:
        synthetic_images, _ = load_images(synthetic, num_classes=None)
        real_images, _ = load_images(real, num_classes=None)
        record = cleanfid_check(synthetic_images, real_images, weights=emb["inception_path"],
                                device=str(resolve_device(params["device"])), batch_size=emb["batch_size"])
    record.update(synthetic=str(synthetic), real=str(real))
    save_json(out, record)
    print(json.dumps(record, indent=2))
