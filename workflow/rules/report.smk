# Reports: figures and tables built from released artifacts and from the evaluation's outputs.
# The sweep-wide views (summary, comparison, ledger, latest/) read exactly the runs of the current params
# file, each run exactly its iterations 1..T: never a glob over folders an older run may have left.
# Reads:  <run>/iter_t/histogram.npz, S_(t-1), <run>/privacy.json, <run>/eval-*/*, results/eval/*, results/dpsgd/*
# Writes: <run>/iter_t/{histogram.png, top_bottom.png, inspect.txt}, results/latest/*, results/summary.{csv,md},
#         results/comparison.{csv,md,png}, results/privacy_ledger.{json,md}
DPSGD_ENABLED = config["dpsgd"]["enabled"]
PUBLIC_PE = config["mixing"]["public_pe"]


rule inspect:
    """Plots of one iteration's noisy histogram (released counts only; no private data)."""
    input:
        histogram=ITERATION + "/histogram.npz",
        voted=lambda w: layout_of("run")(w).candidates(int(w.iteration) - 1),
    output:
        plot=report(ITERATION + "/histogram.png", category="histograms", subcategory="iteration {iteration}",
                    caption="../report/histogram_plot.rst"),
        grid=report(ITERATION + "/top_bottom.png", category="histograms", subcategory="iteration {iteration}",
                    caption="../report/top_bottom.rst"),
        text=ITERATION + "/inspect.txt",
    params:
        folder=ITERATION,
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        P.run_log("inspect_{iteration}"),
    shell:
        "{PRIVEVO} inspect {params.folder} --voted {input.voted} --plot {output.plot} --grid {output.grid} "
        "> {output.text} 2> {log}"


rule publish:
    """Copy the primary run's reports (the sweep's first epsilon and seed) to fixed paths for `dvc metrics`
    and `dvc plots`; with the comparison's headline numbers, so `dvc exp show` has them as columns."""
    input:
        metrics=L.metrics,
        privacy=L.privacy_report,
        fd_curve=L.fd_curve,
        downstream_curves=L.downstream_curves,
        histograms=L.histogram_tables(),
        comparison=L.comparison_csv,
    output:
        metrics=L.latest + "/metrics.json",
        privacy=L.latest_privacy_report,
        fd_curve=L.latest + "/fd_curve.csv",
        downstream_curves=L.latest + "/downstream_curves.csv",
        histograms=L.latest + "/histograms.csv",
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        L.log("publish"),
    shell:
        "{PRIVEVO} publish --metrics {input.metrics} --privacy {input.privacy} --fd-curve {input.fd_curve} "
        "--downstream-curves {input.downstream_curves} --histograms {input.histograms} "
        "--comparison {input.comparison} --out-dir {L.latest} > {log} 2>&1"


rule summary:
    """One row per run of the sweep."""
    input:
        metrics=[run.layout.metrics for run in SWEEP.runs],
    output:
        table=L.summary_csv,
        markdown=L.summary_md,
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        L.log("summary"),
    shell:
        "{PRIVEVO} summary --metrics {input.metrics} --out-csv {output.table} --out-md {output.markdown} > {log} 2>&1"


rule compare:
    """One row per (method, epsilon): PE, DP-SGD, the public prior and the non-private ceiling, mean +- std over
    the sweep's seeds, with the privacy triple and accountant; and accuracy against epsilon per method."""
    input:
        pe=[run.layout.metrics for run in SWEEP.runs],
        prior=list(dict.fromkeys(run.layout.prior_downstream for run in SWEEP.runs)),
        dpsgd=[run.layout.dpsgd_report for run in SWEEP.runs] if DPSGD_ENABLED else [],
        dpsgd_downstream=[run.layout.dpsgd_downstream for run in SWEEP.runs] if DPSGD_ENABLED else [],
        mix=[mix.total.layout.mix_report for mix in SWEEP.mixes],
        mix_downstream=[mix.total.layout.mix_downstream for mix in SWEEP.mixes],
        public_pe=[run.layout.public_pe_downstream for run in SWEEP.runs] if PUBLIC_PE else [],
        real=L.real_downstream,
    output:
        table=L.comparison_csv,
        markdown=L.comparison_md,
        plot=report(L.comparison_plot, category="comparison", caption="../report/comparison.rst"),
    params:
        dpsgd=lambda w, input: ("--dpsgd " + " ".join(input.dpsgd) + " --dpsgd-downstream "
                                + " ".join(input.dpsgd_downstream)) if DPSGD_ENABLED else "",
        mix=lambda w, input: ("--mix " + " ".join(input.mix) + " --mix-downstream "
                              + " ".join(input.mix_downstream)) if SWEEP.mixes else "",
        public_pe=lambda w, input: ("--public-pe " + " ".join(input.public_pe) + " --public-pe-metrics "
                                    + " ".join(input.pe)) if PUBLIC_PE else "",
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        L.log("compare"),
    shell:
        "{PRIVEVO} compare --pe {input.pe} --prior {input.prior} {params.dpsgd} {params.mix} {params.public_pe} "
        "--real {input.real} "
        "--out-csv {output.table} --out-md {output.markdown} --out-png {output.plot} > {log} 2>&1"


rule ledger:
    """Every release of the sweep on the same private data, and what publishing all of them would cost
    (PLD over all their Gaussian events)."""
    input:
        pe=[run.layout.privacy_report for run in SWEEP.pe_runs],
        dpsgd=[run.layout.dpsgd_report for run in SWEEP.runs] if DPSGD_ENABLED else [],
        mix=[mix.total.layout.mix_report for mix in SWEEP.mixes],
    output:
        ledger=L.ledger_json,
        markdown=L.ledger_md,
    resources:
        mem_mb=1000,
        runtime=10,
    log:
        L.log("ledger"),
    shell:
        "{PRIVEVO} ledger {PARAMS} --releases {input.pe} {input.dpsgd} {input.mix} --out {output.ledger} --out-md {output.markdown} "
        "> {log} 2>&1"
