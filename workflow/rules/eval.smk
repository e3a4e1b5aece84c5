# Evaluation: reads private data (embeddings of the private training set, the private test split) and is
# NOT part of the DP release. Rule names start with eval_ so the privacy-boundary test can tell them apart.
# Reads:  results/embeddings/private_train*.npy, data/private_{train,test}.npz, S_0..S_T, <run>/synthetic.npz
# Writes: results/eval/{reference_stats.npz, real_downstream*}, <run>/eval/{fd_curve.*, downstream*}


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
