"""The JSON-ready records of a calibration: what was solved, by which accountant, and its cross-check.

The mechanisms' fixed facts (sensitivity, neighbouring relation, sampling) are stated here once; the
calibration functions (``gdp.calibrate``, ``calibration.calibrate_sgd``, ``calibration.calibrate_sgd_after``)
compute the numbers and build their records with the functions below.
"""

from __future__ import annotations

NEIGHBOURING = "add/remove one private sample"
SENSITIVITY_L2 = 1.0
PE_MECHANISM = "Gaussian mechanism on nearest-neighbour vote histograms"
MECHANISM = "Poisson-subsampled Gaussian mechanism on clipped per-example gradients (DP-SGD)"
SAMPLING = "poisson"
PLD_ACCOUNTANT = "dp_accounting.pld.PLDAccountant"
COMPOSED_ACCOUNTANT = "pld (composed over PE histogram releases and DP-SGD steps)"
COMPOSED_ACCOUNTANT_DESCRIPTION = (
    "dp-accounting's PLD accountant (add/remove, pessimistic discretisation) over the prior releases (PE's T Gaussian "
    "histogram releases) and the Poisson-subsampled Gaussian DP-SGD steps together; the named DP-SGD accountants "
    "(prv, rdp) cannot compose these heterogeneous events, so PLD is the accountant of record")


def pe_record(*, epsilon: float, delta: float, noise_multiplier: float, num_iterations: int, mu: float,
              solved_for: str, accountant: str, description: str) -> dict:
    """PE's T Gaussian releases (``gdp.calibrate``)."""
    return {
        "epsilon": float(epsilon),
        "delta": float(delta),
        "noise_multiplier": float(noise_multiplier),
        "num_iterations": int(num_iterations),
        "mu": mu,
        "solved_for": solved_for,
        "accountant": accountant,
        "accountant_description": description,
        "sensitivity_l2": SENSITIVITY_L2,
        "neighbouring": NEIGHBOURING,
    }


def pe_cross_check(epsilon: float, discretization: float) -> dict:
    return {"accountant": PLD_ACCOUNTANT, "epsilon": epsilon, "value_discretization_interval": discretization}


def sgd_record(*, accountant_epsilon: float, delta: float, noise_multiplier: float, sample_rate: float, steps: int,
               solved_for: str, accountant: str, description: str) -> dict:
    """DP-SGD's steps by a named accountant (``calibration.calibrate_sgd``), before its cross-check."""
    return {
        "epsilon": accountant_epsilon,
        "delta": float(delta),
        "noise_multiplier": float(noise_multiplier),
        "sample_rate": sample_rate,
        "steps": steps,
        "sampling": SAMPLING,
        "solved_for": solved_for,
        "accountant": accountant,
        "accountant_description": description,
        "accountant_epsilon": accountant_epsilon,
        "epsilon_source": "accountant",
        "mechanism": MECHANISM,
        "sensitivity_l2": SENSITIVITY_L2,
        "neighbouring": NEIGHBOURING,
    }


def sgd_cross_check(*, accountant_epsilon: float, pld_epsilon: float, discretization: float, tolerance: float) -> dict:
    return {
        "accountant": PLD_ACCOUNTANT,
        "epsilon": pld_epsilon,
        "value_discretization_interval": discretization,
        "relative_difference": (accountant_epsilon - pld_epsilon) / pld_epsilon if pld_epsilon > 0 else 0.0,
        "tolerance": tolerance,
    }


def composed_record(*, coarse: float, fine: float, step: float, fine_step: float, tolerance: float, passed: bool,
                    delta: float, noise_multiplier: float, sample_rate: float, steps: int, solved_for: str,
                    target: float | None, prior: list[dict], dpsgd: list[dict], prior_epsilon: float,
                    dpsgd_epsilon: float) -> dict:
    """DP-SGD after prior releases, all composed by the PLD (``calibration.calibrate_sgd_after``)."""
    return {
        "epsilon": max(coarse, fine),
        "delta": float(delta),
        "noise_multiplier": float(noise_multiplier),
        "sample_rate": sample_rate,
        "steps": steps,
        "sampling": SAMPLING,
        "solved_for": solved_for,
        **({"target_epsilon": target} if target is not None else {}),
        "accountant": COMPOSED_ACCOUNTANT,
        "accountant_description": COMPOSED_ACCOUNTANT_DESCRIPTION,
        "accountant_epsilon": coarse,
        "epsilon_source": "accountant" if coarse >= fine else "cross_check",
        "composition": "pld",
        "value_discretization_interval": step,
        "cross_check": {
            "accountant": PLD_ACCOUNTANT,
            "epsilon": fine,
            "value_discretization_interval": fine_step,
            "relative_difference": (fine - coarse) / coarse if coarse > 0 else 0.0,
            "tolerance": tolerance,
            "passed": passed,
            "what": "the same composition on a finer grid: the reported epsilon is an upper bound when the finer "
                    "grid is not above it",
        },
        "prior_epsilon": prior_epsilon,
        "dpsgd_epsilon": dpsgd_epsilon,
        "prior_events": prior,
        "dpsgd_events": dpsgd,
        "events": prior + dpsgd,
        "mechanism": MECHANISM,
        "sensitivity_l2": SENSITIVITY_L2,
        "neighbouring": NEIGHBOURING,
    }
