"""`privevo embed-private`: the private training set's embeddings, the DP histogram's private input."""

from __future__ import annotations


from privevo.steps import common


def embed_private(params: dict, *, out: str, private: str, out_labels: str) -> None:
    """Embeddings of the private training set: part of the DP histogram's query, computed once."""
    from privevo.io.artifacts import load_images, save_npy

    images, labels = load_images(private, num_classes=common.num_classes(params))
    features = common.embedder(params).embed(images, batch_size=params["embedding"]["batch_size"])
    save_npy(out_labels, labels)
    save_npy(out, features)
