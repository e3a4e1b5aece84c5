# Evaluation: reads private data (embeddings of the private training set, the private test split) and is
# NOT part of the DP release. Rule names start with eval_ so the privacy-boundary test can tell them apart.


rule eval_reference_stats:
    input:
        embeddings=L.private_embeddings,
        labels=L.private_labels,
    output:
        stats=L.reference_stats,
    log:
        L.log("eval_reference_stats"),
    shell:
        "{PRIVEVO} eval-reference-stats --embeddings {input.embeddings} --labels {input.labels} --out {output.stats} "
        "> {log} 2>&1"


rule eval_fd_curve:
    input:
        reference=L.reference_stats,
        populations=L.populations(),
    output:
        table=L.fd_curve,
        plot=report(L.fd_plot, category="quality", caption="../report/fd_curve.rst"),
    params:
        settings=settings("eval_fd_curve"),
    threads: ALL_CORES
    resources:
        gpu=1,
    log:
        L.run_log("eval_fd_curve"),
    shell:
        "{PRIVEVO} eval-fd-curve {PARAMS} --reference {input.reference} --populations {input.populations} "
        "--out-csv {output.table} --out-png {output.plot} > {log} 2>&1"


rule eval_downstream:
    input:
        train=L.synthetic,
        test=L.private_test,
    output:
        result=L.downstream,
        curves=L.downstream_curves,
        plot=report(L.eval_dir + "/downstream_curves.png", category="quality", caption="../report/downstream.rst"),
    params:
        settings=settings("eval_downstream"),
    threads: ALL_CORES
    log:
        L.run_log("eval_downstream"),
    shell:
        "{PRIVEVO} eval-downstream {PARAMS} --train {input.train} --test {input.test} --out {output.result} "
        "--out-curves {output.curves} --out-png {output.plot} > {log} 2>&1"


rule eval_downstream_real:
    """The same CNN trained on the real private training set without privacy: the reference ceiling."""
    input:
        train=L.private_train,
        test=L.private_test,
    output:
        result=L.real_downstream,
        curves=L.real_curves,
        plot=report(L.results_dir + "/eval/real_downstream_curves.png", category="quality",
                    caption="../report/downstream_real.rst"),
    params:
        settings=settings("eval_downstream_real"),
    threads: ALL_CORES
    log:
        L.log("eval_downstream_real"),
    shell:
        "{PRIVEVO} eval-downstream {PARAMS} --real --train {input.train} --test {input.test} --out {output.result} "
        "--out-curves {output.curves} --out-png {output.plot} > {log} 2>&1"


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
        "{PRIVEVO} publish --run-dir {params.run_dir} --out-dir {L.latest} > {log} 2>&1"


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
