"""`privevo calibrate`: the privacy calculator, solving for the noise multiplier or for epsilon (PE or DP-SGD)."""

from __future__ import annotations

import json


def calibrate(*, sample_rate: float | None = None, steps: int | None = None, delta: float | None = None,
              params_file: str | None = None, epsilon: float | None = None, noise_multiplier: float | None = None,
              accountant: str = 'prv', overrides: list[str] = (), num_iterations: int | None = None,
              out: str | None = None) -> None:
    """PE's T histogram releases (--num-iterations: continuous Gaussian; --params: the run's mechanism, exact
    discrete Gaussian by default), or DP-SGD's Poisson-subsampled Gaussian steps
    (--sample-rate and --steps): solve for the noise multiplier or for epsilon."""
    from privevo.accountants.gdp import calibrate
    from privevo.io.artifacts import save_json

    sgd = sample_rate is not None or steps is not None
    if sgd:
        from privevo.accountants.calibration import calibrate_sgd

        if sample_rate is None or steps is None or delta is None or params_file:
            raise SystemExit("privevo calibrate: DP-SGD needs --sample-rate, --steps and --delta (and no --params)")
        record = calibrate_sgd(sample_rate=sample_rate, steps=steps, delta=delta, epsilon=epsilon,
                               noise_multiplier=noise_multiplier, accountant=accountant)
    elif params_file:
        from privevo.config.params import load_params

        from privevo.config.privacy import calibration_arguments

        params = load_params(params_file, list(overrides), at_epsilon=True)
        privacy = params["privacy"]
        record = calibrate(epsilon=privacy["epsilon"], noise_multiplier=privacy["noise_multiplier"],
                           delta=privacy["delta"], num_iterations=params["pe"]["num_iterations"],
                           **calibration_arguments(params))
    else:
        if delta is None or num_iterations is None:
            raise SystemExit("privevo calibrate: give --delta and --num-iterations (or --params params.yaml, "
                             "or --sample-rate and --steps for DP-SGD)")
        record = calibrate(epsilon=epsilon, noise_multiplier=noise_multiplier, delta=delta,
                           num_iterations=num_iterations)
    if out:
        save_json(out, record)
    print(json.dumps(record, indent=2))
