"""Small and unequal classes run: a class whose noisy counts all fall below H takes its parents uniformly from its
candidates (post-processing of the noisy counts), with a warning and a flag, instead of stopping the whole run."""

import logging

import numpy as np
import pytest

from privevo.pe.loop import select_parents
from privevo.steps.pe_release import uniform_fallbacks
from privevo.io.artifacts import save_npz


@pytest.mark.parametrize("selection", ["proportional", "sample", "rank"])
def test_a_class_below_h_everywhere_takes_uniform_parents_and_is_flagged(selection, caplog):
    labels = np.repeat([0, 1], 10)
    noisy = np.concatenate([np.linspace(0, 40, 10), np.full(10, 3.0)])  # class 1: every count below H = 21
    with caplog.at_level(logging.WARNING, logger="privevo"):
        frame, parents = select_parents(noisy, labels, noise_multiplier=10.0, threshold=21.0, selection=selection,
                                        num_samples_per_class=10, iteration=3, seed=0,
                                        rank_top=10 if selection == "rank" else None)
    by_class = frame.groupby("class")["uniform_fallback"].first()
    assert by_class.to_dict() == {0: False, 1: True}
    small = parents[10:]
    assert set(small) <= set(range(10, 20)) and len(small) == 10
    if selection != "sample":
        assert sorted(small) == list(range(10, 20))  # equal weight: every candidate once
    assert "class 1: every noisy count is below H" in caplog.text
    assert frame.loc[frame["class"] == 1, "thresholded_count"].eq(0).all()
    assert frame["selected_count"][frame["class"] == 1].sum() == 10


def test_the_release_lists_the_flagged_iterations_and_classes(tmp_path):
    for t, flags in ((1, [False, False, True, True]), (2, [False] * 4)):
        (tmp_path / f"iter_00{t}").mkdir()
        save_npz(tmp_path / f"iter_00{t}" / "histogram.npz", labels=np.array([0, 0, 1, 1]),
                 uniform_fallback=np.array(flags))
    assert uniform_fallbacks([str(tmp_path / "iter_001" / "histogram.npz"),
                              str(tmp_path / "iter_002" / "histogram.npz")]) == [{"iteration": 1, "class": 1}]
