"""`privevo inspect`: one iteration's noisy histogram as text, a sorted-count plot and a top/bottom grid."""

from __future__ import annotations

from pathlib import Path


def inspect(*, iteration_dir: str, top: int = 3, plot: str | None = None, grid: str | None = None,
            voted: str | None = None) -> None:
    import numpy as np
    import pandas as pd

    from privevo.evaluation.inspect import histogram_summary, previous_candidates, top_and_bottom
    from privevo.io.artifacts import load_images, load_npz
    from privevo.reports.plots import save_annotated_grid, save_sorted_counts_per_class

    folder = Path(iteration_dir)
    if not (folder / "histogram.npz").exists():
        raise FileNotFoundError(f"no histogram.npz in {folder}; give an iteration folder such as "
                                "results/pe/runs/<run>/seed_0/eps_1/iter_001")
    histogram = load_npz(folder / "histogram.npz")
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(f"{folder}: noise_multiplier={float(histogram['noise_multiplier']):.3f} "
              f"threshold H={float(histogram['threshold']):.2f}"
              + (" at the reference epsilon; matched per class: the H column"
                 if "candidate_threshold" in histogram
                 and not np.allclose(histogram["candidate_threshold"], histogram["threshold"]) else "")
              + " (noisy counts only)")
        print("noise_tv: how far another draw of noise of this sigma moves the selection P_t (total variation); "
              "draw_tv: how far the selection's own draws from P_t move it (pe.selection: sample)")
        print(histogram_summary(histogram, top=top).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if plot:
        save_sorted_counts_per_class(plot, histogram, title=f"{folder.name}: sorted noisy counts per class "
                                                                  "(red: threshold H)")
    if grid:
        voted = voted or previous_candidates(folder, histogram)
        if voted is None:
            raise FileNotFoundError(f"{folder} is iteration 1: give --voted with S_0's candidates.npz "
                                    "(results/pe/base/<key>/iter_000/candidates.npz)")
        picks, captions = top_and_bottom(histogram, top=top)
        save_annotated_grid(grid, load_images(voted)[0][picks], captions, ncols=2 * top,
                            title=f"{folder.name}: top-{top} (left) and bottom-{top} (right) voted per class")
