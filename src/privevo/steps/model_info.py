"""`privevo model-info`: a record of the foundation model a run uses, with its weights' hashes."""

from __future__ import annotations

import json
from pathlib import Path


def model_info(params: dict, *, model: str, out: str) -> None:
    """A record of the foundation model this run uses: pretrained here, or the user's local folder."""
    import hashlib

    from privevo.io.artifacts import save_json

    from privevo.config.schedule import run_uses_foundation_model

    if not run_uses_foundation_model(params):
        record = {"source": None, "api": params["pe"]["api"],
                  "note": f"pe.api {params['pe']['api']} draws without a foundation model: none was trained or loaded"}
        save_json(out, record)
        print(json.dumps(record, indent=2))
        return
    model = Path(model)
    weights = sorted(p for p in model.rglob("*") if p.suffix in (".safetensors", ".bin") and p.is_file())
    if not weights:
        raise FileNotFoundError(f"no model weights (*.safetensors or *.bin) under {model}; see model.local_path")
    record = {"source": params["model"]["source"], "folder": str(model),
              "weights": {str(p.relative_to(model)): hashlib.sha256(p.read_bytes()).hexdigest() for p in weights}}
    save_json(out, record)
    print(json.dumps(record, indent=2))
