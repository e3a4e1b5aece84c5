"""`privevo pe-lookahead`: the lookahead embeddings of a population, voted on in the next iteration."""

from __future__ import annotations


from privevo.steps import common


def pe_lookahead(params: dict, *, out: str, candidates: str, iteration: int, model: str, shard: int = 0,
                 shards: int = 1, public: str | None = None) -> None:
    from privevo.io.artifacts import load_images, save_npy, save_npz
    from privevo.config.schedule import degree_of_iteration
    from privevo.pe.lookahead import lookahead_embeddings

    images, labels = load_images(candidates, num_classes=common.num_classes(params))
    state = common.api_state(candidates)
    rows = common.shard_rows(params, labels, shard=shard, shards=shards)
    # The lookahead of S_t embeds the candidates voted on in iteration t + 1, with that iteration's degree.
    degree = degree_of_iteration(params, iteration + 1)
    features = lookahead_embeddings(
        common.step_api(params, model=model, public=public, iteration=iteration + 1), common.embedder(params), images[rows], labels[rows], degree=degree,
        lookahead_degree=params["pe"]["lookahead_degree"], iteration=iteration, seed=params["seed"],
        embed_batch_size=params["embedding"]["batch_size"], state=None if state is None else state[rows],
    )
    if shards > 1:
        save_npz(out, features=features, positions=rows)
    else:
        save_npy(out, features)
