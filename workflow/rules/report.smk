# Reports: figures and tables built from released artifacts and from the evaluation's outputs.
# Reads:  <run>/iter_t/histogram.npz, S_(t-1) candidates, <run>/privacy.json, <run>/eval/*, results/eval/real_downstream.json
# Writes: <run>/iter_t/{histogram.png, top_bottom.png, inspect.txt}, <run>/metrics.json, results/latest/*,
#         results/summary.{csv,md}


rule inspect_histogram:
    """Plots of one iteration's noisy histogram (released counts only; no private data)."""
    input:
        histogram=L.iteration_dir("{iteration}") + "/histogram.npz",
        voted=lambda w: L.candidates(int(w.iteration) - 1),
    output:
        plot=report(L.iteration_dir("{iteration}") + "/histogram.png", category="histograms",
                    subcategory="iteration {iteration}", caption="../report/histogram_plot.rst"),
        grid=report(L.iteration_dir("{iteration}") + "/top_bottom.png", category="histograms",
                    subcategory="iteration {iteration}", caption="../report/top_bottom.rst"),
        text=L.iteration_dir("{iteration}") + "/inspect.txt",
    params:
        folder=L.iteration_dir("{iteration}"),
    log:
        L.run_log("inspect_histogram_{iteration}"),
    shell:
        "{PRIVEVO} inspect {params.folder} --plot {output.plot} --grid {output.grid} > {output.text} 2> {log}"


rule eval_metrics:
    input:
        privacy=L.privacy_report,
        fd_curve=L.fd_curve,
        downstream=L.downstream,
        real=L.real_downstream,
    output:
        metrics=L.metrics,
    log:
        L.run_log("eval_metrics"),
    shell:
        "{PRIVEVO} eval-metrics --privacy {input.privacy} --fd-curve {input.fd_curve} --downstream {input.downstream} "
        "--real {input.real} --out {output.metrics} > {log} 2>&1"


rule publish_latest:
    """Copy the current run's reports to fixed paths for `dvc metrics` and `dvc plots`."""
    input:
        metrics=L.metrics,
        privacy=L.privacy_report,
        fd_curve=L.fd_curve,
        downstream_curves=L.downstream_curves,
        histograms=[L.iteration_dir(t) + "/histogram.csv" for t in range(1, L.num_iterations + 1)],
    output:
        metrics=L.latest + "/metrics.json",
        privacy=L.latest_privacy_report,
        fd_curve=L.latest + "/fd_curve.csv",
        downstream_curves=L.latest + "/downstream_curves.csv",
        histograms=L.latest + "/histograms.csv",
    params:
        run_dir=L.run_dir,
    log:
        L.log("publish_latest"),
    shell:
        "{PRIVEVO} publish --run-dir {params.run_dir} --out-dir {L.latest} --num-iterations {L.num_iterations} > {log} 2>&1"


rule summary:
    input:
        metrics=L.metrics,
    output:
        table=L.summary_csv,
        markdown=L.summary_md,
    params:
        runs_dir=L.results_dir + "/pe/runs",
    log:
        L.log("summary"),
    shell:
        "{PRIVEVO} summary --runs-dir {params.runs_dir} --out-csv {output.table} --out-md {output.markdown} > {log} 2>&1"
