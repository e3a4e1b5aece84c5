"""`privevo pe-histogram`: one iteration's DP nearest-neighbour histogram and selection (reads private data)."""

from __future__ import annotations

import logging
from pathlib import Path

from privevo.steps import common

logger = logging.getLogger("privevo")


def pe_histogram(params: dict, *, calibration: str, candidates: str, lookahead: str, iteration: int,
                 private_embeddings: str, private_labels: str, out_dir: str) -> None:
    """The only PE step that reads private data (through its embeddings)."""
    from privevo.io.artifacts import load_images, load_json, load_npy
    from privevo.pe.iteration_files import save_iteration
    from privevo.config.privacy import base_histogram_threshold, reference_noise_multiplier
    from privevo.config.schedule import population_of_iteration
    from privevo.pe.noise import noise_record, noise_source
    from privevo.pe.draws import histogram_draw_fingerprint, load_or_draw
    from privevo.pe.loop import noisy_histograms, select_parents

    pe, privacy = params["pe"], params["privacy"]
    calibrated = load_json(calibration)
    _check_calibrated_mechanism(params, calibrated, calibration)
    sigma = calibrated["noise_multiplier"]
    images, labels = load_images(candidates, num_classes=common.num_classes(params))
    lookahead_path = lookahead
    lookahead, noise = load_npy(lookahead), noise_record(privacy)["source"]
    key = histogram_draw_fingerprint(
        lookahead, labels, iteration=iteration, noise_multiplier=sigma, num_neighbours=pe["num_nearest_neighbours"],
        noise_source=noise, private_embeddings_path=private_embeddings,
        private_settings={"data": params["data"], "embedding": params["embedding"], "vote_metric": pe["vote_metric"]})
    charge, complete = _odometer_hooks(params, sigma, out_dir=out_dir, iteration=iteration, draw_key=key, noise=noise)
    noisy, reused = load_or_draw(Path(out_dir) / "draws", key, lambda private, private_classes: noisy_histograms(
        private, private_classes, lookahead, labels, noise_multiplier=sigma,
        num_neighbours=pe["num_nearest_neighbours"], backend=pe["nn_backend"], vote_metric=pe["vote_metric"],
        noise_for_class=lambda c: noise_source(privacy, seed=params["seed"], class_index=c, iteration=iteration),
        private_name=private_embeddings, candidate_name=lookahead_path),
        prepare=lambda: _private_embeddings(params, private_embeddings, private_labels, lookahead, lookahead_path),
        charge=charge, complete=complete, allow_redraw=bool(privacy.get("allow_redraw")))
    reference_sigma = reference_noise_multiplier(params)
    threshold = base_histogram_threshold(params, sigma, reference_noise_multiplier=reference_sigma)
    frame, selected = select_parents(noisy.counts, labels, noise_multiplier=sigma, threshold=threshold,
                                     selection=pe["selection"], rank_top=pe["rank_top"],
                                     num_samples_per_class=population_of_iteration(params, iteration),
                                     iteration=iteration, noisy_votes=noisy.votes,
                                     seed=params["seed"], reference_noise_multiplier=reference_sigma)
    save_iteration(out_dir, frame, images, labels, selected, noise_multiplier=sigma, threshold=threshold,
                   noise_source=noise, voted_candidates=candidates, api_state=common.api_state(candidates))
    survived = (frame["thresholded_count"] > 0).groupby(frame["class"]).mean()
    logger.info("iteration %d: sigma=%.3f H=%.2f noise=%s%s; candidates surviving the threshold per class: %s",
                iteration, sigma, threshold, noise, " (reused the stored draw)" if reused else "",
                survived.round(2).to_dict())
    if reference_sigma is not None:
        logger.info("iteration %d: H matched to epsilon %s (sigma %.3f) per class: %s", iteration,
                    pe["histogram_threshold_reference_epsilon"], reference_sigma,
                    frame.groupby("class")["threshold"].first().round(2).to_dict())


def _private_embeddings(params: dict, private_embeddings: str, private_labels: str, lookahead, lookahead_path: str):
    """The histogram's private input: embeddings and their checked labels, both inputs checked finite (before any
    charge or vote)."""
    from privevo.io.artifacts import load_npy
    from privevo.io.images import check_labels
    from privevo.pe.histogram import check_finite_embeddings

    embeddings = load_npy(private_embeddings)
    labels = check_labels(load_npy(private_labels), num_images=len(embeddings),
                          num_classes=common.num_classes(params),
                          name=private_labels)
    check_finite_embeddings(lookahead, name=lookahead_path)
    check_finite_embeddings(embeddings, name=private_embeddings)
    return embeddings, labels


def _check_calibrated_mechanism(params: dict, calibrated: dict, path: str) -> None:
    """Refuse to draw when the calibration accounts another mechanism than the one privacy.histogram_noise draws:
    its sigma would be the wrong one for this release (a calibration without the key predates exact noise)."""
    from privevo.config.privacy import histogram_mechanism, votes_per_sample

    accounted, drawn = calibrated.get("mechanism", "gaussian"), histogram_mechanism(params)
    if accounted != drawn:
        raise SystemExit(f"privevo pe-histogram: {path} accounts the {accounted} mechanism but "
                         f"privacy.histogram_noise draws {drawn}; recalibrate (privevo calibrate) before drawing")
    m = votes_per_sample(params)
    if drawn == "discrete_gaussian" and calibrated.get("votes_per_sample", m) != m:
        raise SystemExit(f"privevo pe-histogram: {path} accounts {calibrated['votes_per_sample']} votes per private "
                         f"sample but pe.num_nearest_neighbours is {m}; recalibrate before drawing")


def _odometer_hooks(params: dict, sigma: float, *, out_dir: str, iteration: int, draw_key: str, noise: str):
    """The charge (before the draw) and completion (after it reached disk) of this iteration's draw on the private
    data set's odometer."""
    from privevo.config.odometer import charge_draw, complete_draw
    from privevo.config.privacy import histogram_events, histogram_mechanism

    def charge() -> dict:
        return charge_draw(params, mechanism="pe_histogram", event=histogram_events(params, sigma, 1)[0],
                           run=str(Path(out_dir).parent.resolve()), iteration=int(iteration), draw_key=draw_key,
                           noise_source=noise, is_dp=not params["privacy"].get("reproducible_noise", False),
                           sensitivity=("L2 1 in weighted votes (sqrt(m) in integer votes), add/remove one image"
                                        if histogram_mechanism(params) == "discrete_gaussian"
                                        else "L2 1, add/remove one image"))

    def complete(entry: dict, path: Path) -> None:
        complete_draw(params, entry, draw=str(Path(path).resolve()))

    return charge, complete
