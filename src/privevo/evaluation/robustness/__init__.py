"""Robustness of a trained classifier (SPEC section 4): calibration, common corruptions, L-infinity attacks and
out-of-distribution detection, one module each, and :func:`evaluate_robustness` running them all."""

from privevo.evaluation.robustness.attacks import adversarial_accuracy, pgd_step_size
from privevo.evaluation.robustness.calibration import (
    ECE_BINS,
    brier_score,
    calibration_summary,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_bins,
    save_reliability_diagram,
)
from privevo.evaluation.robustness.corruptions import CORRUPTIONS, SEVERITIES, corrupt
from privevo.evaluation.robustness.evaluate import evaluate_robustness
from privevo.evaluation.robustness.ood import energy_score, match_model_input, msp_score, ood_auroc

__all__ = [
    "CORRUPTIONS", "ECE_BINS", "SEVERITIES", "adversarial_accuracy", "brier_score", "calibration_summary", "corrupt",
    "energy_score", "evaluate_robustness", "expected_calibration_error", "match_model_input", "msp_score",
    "negative_log_likelihood", "ood_auroc", "pgd_step_size", "reliability_bins", "save_reliability_diagram",
]
