"""`privevo validate-params`: a params file checked against the schema, with the settings it derives."""

from __future__ import annotations

import json


def validate_params(*, params: str = "params.yaml", overrides: list[str] = ()) -> None:
    """Check a params file against the schema and print the settings it derives (runs, folders, degrees)."""
    from privevo.config.params import load_params, privacy_tag, settings_at_epsilon
    from privevo.config.schedule import population_sizes, variation_degrees
    from privevo.config.runs import Sweep

    from privevo.config.odometer import check_planned_budget, composed_spend, odometer

    params = load_params(params, list(overrides), check_data=True)
    sweep = Sweep(params)
    resolved = settings_at_epsilon(params)
    planned = check_planned_budget(params)  # refuses, in one line naming both totals, a plan over the budget
    book = odometer(params)
    charges = book.charges()
    spent = {"file": str(book.path), "source": book.source, "num_charges": len(charges),
             "epsilon_spent": composed_spend(charges, delta=params["privacy"]["delta"]),
             "at_delta": params["privacy"]["delta"], **({"budget": planned} if planned else {})}
    print(json.dumps({"valid": True, "privacy_tag": privacy_tag(resolved), "odometer": spent,
                      "variation_degrees": variation_degrees(resolved),
                      "runs": [{"seed": run.seed, "epsilon": run.epsilon, "folder": run.layout.run_dir,
                                **{key: run.params["pe"][key] for key in ("num_samples_per_class", "num_iterations")},
                                "population_sizes": population_sizes(run.params)}
                               for run in sweep.runs],
                      "shared": {family: sweep.keys(family) for family in ("data", "model", "embedding", "base")}},
                     indent=2))
