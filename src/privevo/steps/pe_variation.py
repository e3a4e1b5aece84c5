"""`privevo pe-variation`: S_t, VARIATION_API of the selected samples."""

from __future__ import annotations


from privevo.steps import common


def pe_variation(params: dict, *, out: str, selected: str, iteration: int, model: str, shard: int = 0,
                 shards: int = 1, public: str | None = None) -> None:
    from privevo.io.artifacts import load_images, load_npz, save_npz
    from privevo.config.schedule import degree_of_iteration
    from privevo.pe.loop import variation_population_with_state

    images, labels = load_images(selected, num_classes=common.num_classes(params))
    parent_ids, state = load_npz(selected)["parent_ids"], common.api_state(selected)
    rows = common.shard_rows(params, labels, shard=shard, shards=shards)
    varied, varied_state = variation_population_with_state(
        common.step_api(params, model=model, public=public, iteration=iteration), images[rows], labels[rows],
        degree=degree_of_iteration(params, iteration),
        iteration=iteration, seed=params["seed"], state=None if state is None else state[rows])
    if shards > 1:
        save_npz(out, images=varied, labels=labels[rows], parent_ids=parent_ids[rows], positions=rows,
                 **common.state_extra(varied_state))
        return
    # Siblings (variations of one selected parent) share a parent id; evaluation splits by it.
    common.save_population(out, varied, labels, parent_ids=parent_ids, **common.state_extra(varied_state))
