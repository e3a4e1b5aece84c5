"""The findings campaign's cells: which (config, epsilon, seed) runs it holds, the params file each runs with, and
where its record lives. Shared by the runner (run_cells.py) and the table builder (tables.py).

A cell runs the README's own workflow (`snakemake --cores all --config params_file=<cell params>`) on a params file
that only narrows a shipped config to one epsilon and one seed (plus the config's own switches in CELL_OVERRIDES).
Its record sits in results/<cell id>/ with provenance.json; a cell is done when provenance.json names the same
settings hash as the params would run now.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

FINDINGS = Path(__file__).resolve().parent
RESULTS = FINDINGS / "results"
CAMPAIGN = FINDINGS / "campaign.yaml"


@dataclass(frozen=True)
class Cell:
    config: str  # a name from campaign.yaml's configs
    params_file: str  # the shipped params file it narrows, relative to the repository root
    epsilon: float
    seed: int
    overrides: tuple = ()  # (dotted key, value) pairs from campaign.yaml

    @property
    def cell_id(self) -> str:
        return f"{self.config}-eps{self.epsilon:g}-seed{self.seed}"

    @property
    def record_dir(self) -> Path:
        return RESULTS / self.cell_id

    def params_text(self, cell_file: Path, repo: Path) -> str:
        """The cell's params: the shipped file (by a path relative to the cell file), one epsilon, one seed."""
        settings: dict = {"extends": os.path.relpath(repo / self.params_file, cell_file.parent),
                          "sweep": {"epsilons": [self.epsilon], "seeds": [self.seed]}}
        for dotted, value in self.overrides:
            node = settings
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = value
        return yaml.safe_dump(settings, sort_keys=False)


def load_campaign(path: Path = CAMPAIGN) -> list[Cell]:
    """Every cell of the campaign, in the order to run them: configs, then epsilons, then seeds."""
    campaign = yaml.safe_load(path.read_text())
    cells = []
    for name, spec in campaign["configs"].items():
        for epsilon in spec.get("epsilons", campaign["epsilons"]):
            # `set` narrows every cell of the config; `set_by_epsilon` adds what one epsilon's cells need.
            changes = {**(spec.get("set") or {}), **((spec.get("set_by_epsilon") or {}).get(epsilon) or {})}
            overrides = tuple(changes.items())
            for seed in spec.get("seeds", campaign["seeds"]):
                cells.append(Cell(config=name, params_file=spec["params"], epsilon=float(epsilon), seed=int(seed),
                                  overrides=overrides))
    order = campaign.get("order", "config")
    if order == "epsilon":  # every config at the first epsilon before any at the next
        cells.sort(key=lambda c: (campaign["epsilons"].index(c.epsilon) if c.epsilon in campaign["epsilons"] else 99,
                                  list(campaign["configs"]).index(c.config), c.seed))
    return cells
