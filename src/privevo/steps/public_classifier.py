"""`privevo public-classifier`: the CNN trained on the public set's own labels ("public + PE")."""

from __future__ import annotations



def public_classifier(params: dict, *, public: str, out: str) -> None:
    """The CNN trained on the public set's own labels: the feature extractor of "public + PE" (no private data)."""
    from privevo.data.prepare import load_public_set
    from privevo.io.artifacts import load_npz
    from privevo.models.io import save_classifier
    from privevo.models.public_features import train_public_classifier

    images, source_ids, source_names = load_public_set(public)
    model, record = train_public_classifier(images, source_ids, load_npz(public)["source_labels"], source_names,
                                            seed=params["seed"], epochs=params["mixing"]["public_epochs"])
    save_classifier(out, model, **record)
