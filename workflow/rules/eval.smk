# Evaluation: reads private data (embeddings of the private training set, the private test split) and is
# NOT part of the DP release. Rule names start with eval_ so the privacy-boundary test can tell them apart.
# Outputs sit in folders keyed by the evaluation settings, so a change of them never overwrites a result.
# Reads:  results/embeddings/<embedding>/*, data/prepared/<data>/private_{train,test}.npz, S_0..S_T, <run>/synthetic.npz
# Writes: results/eval/{reference-<embedding>.npz, real-<real>/*}, <run>/eval-<evaluation>/{fd_curve.*, downstream*,
#         classifiers.{safetensors,json}, metrics.json, cleanfid_check.json (Inception runs)}, results/eval/prior-<base>/<evaluation>/downstream* (the public prior)


rule eval_reference_stats:
    input:
        embeddings=lambda w: layout_of("embedding")(w).private_embeddings,
        labels=lambda w: layout_of("embedding")(w).private_labels,
    output:
        stats=P.reference_stats,
    resources:
        mem_mb=4000,
        runtime=10,
    log:
        P.log("eval_reference_stats_{embedding}"),
    shell:
        "{PRIVEVO} eval-reference-stats --embeddings {input.embeddings} --labels {input.labels} --out {output.stats} "
        "> {log} 2>&1"


rule eval_fd_curve:
    input:
        reference=lambda w: layout_of("run")(w).reference_stats,
        private=lambda w: layout_of("run")(w).fd_private_embeddings,
        populations=lambda w: layout_of("run")(w).populations(),
    output:
        table=P.fd_curve,
        plot=report(P.fd_plot, category="quality", caption="../report/fd_curve.rst"),
    params:
        settings=settings("eval_fd_curve", "run"),
        run=overrides("run"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=GPU,
    log:
        P.eval_dir + "/logs/eval_fd_curve.log",
    shell:
        "{PRIVEVO} --threads {threads} eval-fd-curve {PARAMS} {params.run} --reference {input.reference} "
        "--private-embeddings {input.private} --populations {input.populations} --out-csv {output.table} --out-png {output.plot} > {log} 2>&1"


# Inception runs only: privevo's FID next to clean-fid's compute_fid on the same images, against the private
# training set (the reference of the FD curve and of the paper's FID). Where clean-fid does not import (no
# working torchvision), the step writes a record saying so; either way eval_metrics reads it.
CLEANFID_CHECK = fd_embedding_name(config) == "inception"


rule eval_cleanfid_check:
    input:
        synthetic=P.synthetic,
        real=lambda w: layout_of("run")(w).private_train,
    output:
        check=P.cleanfid_check,
    params:
        settings=settings("eval_cleanfid_check", "run"),
        run=overrides("run"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=GPU,
    log:
        P.eval_dir + "/logs/eval_cleanfid_check.log",
    shell:
        "{PRIVEVO} --threads {threads} eval-cleanfid-check {PARAMS} {params.run} --synthetic {input.synthetic} "
        "--real {input.real} --out {output.check} > {log} 2>&1"


rule eval_downstream:
    """The CNN trained on the run's synthetic set only, tested on the real test split."""
    input:
        train=P.synthetic,
        test=lambda w: layout_of("run")(w).evaluation_set,
    output:
        result=P.downstream,
        curves=P.downstream_curves,
        plot=report(P.downstream_plot, category="quality", caption="../report/downstream.rst"),
        classifiers=P.classifiers,
    params:
        settings=settings("eval_downstream", "run"),
        run=overrides("run"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        P.eval_dir + "/logs/eval_downstream.log",
    shell:
        "{PRIVEVO} --threads {threads} eval-downstream {PARAMS} {params.run} --train {input.train} --test {input.test} "
        "--out {output.result} --out-curves {output.curves} --out-png {output.plot} "
        "--out-classifiers {output.classifiers} > {log} 2>&1"


rule public_classifier:
    """The feature extractor of "public + PE": the CNN trained on the public set's own labels (no private data)."""
    input:
        public=lambda w: layout_of("public")(w).public,
    output:
        weights=P.public_classifier,
    params:
        settings=settings("public_classifier", "public"),
        run=overrides("public"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        P.log("public_classifier_{public}"),
    shell:
        "{PRIVEVO} --threads {threads} public-classifier {PARAMS} {params.run} --public {input.public} "
        "--out {output.weights} > {log} 2>&1"


rule eval_downstream_public_pe:
    """"public + PE": the CNN trained on the run's synthetic set, starting from the public-set CNN."""
    input:
        train=P.synthetic,
        test=lambda w: layout_of("run")(w).evaluation_set,
        init=lambda w: layout_of("run")(w).public_classifier,
    output:
        result=P.public_pe_downstream,
        curves=P.public_pe_dir + "/downstream_curves.csv",
        plot=P.public_pe_dir + "/downstream_curves.png",
        classifiers=P.public_pe_classifiers,
    params:
        settings=settings("eval_downstream", "run"),
        run=overrides("run"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        P.public_pe_dir + "/logs/eval_downstream_public_pe.log",
    shell:
        "{PRIVEVO} --threads {threads} eval-downstream {PARAMS} {params.run} --train {input.train} --test {input.test} "
        "--init-classifier {input.init} --out {output.result} --out-curves {output.curves} --out-png {output.plot} "
        "--out-classifiers {output.classifiers} > {log} 2>&1"


rule eval_downstream_prior:
    """The public prior: the same CNN trained on S_0 (the foundation model's samples), at zero privacy cost."""
    input:
        train=lambda w: layout_of("base")(w).candidates(0),
        test=lambda w: layout_of("base")(w).evaluation_set,
    output:
        result=P.prior_downstream,
        curves=P.prior_dir + "/downstream_curves.csv",
        plot=P.prior_dir + "/downstream_curves.png",
        classifiers=P.prior_classifiers,
    params:
        settings=settings("eval_downstream", "base"),
        run=overrides("base"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        P.prior_dir + "/logs/eval_downstream_prior.log",
    shell:
        "{PRIVEVO} --threads {threads} eval-downstream {PARAMS} {params.run} --train {input.train} --test {input.test} "
        "--out {output.result} --out-curves {output.curves} --out-png {output.plot} "
        "--out-classifiers {output.classifiers} > {log} 2>&1"


rule eval_downstream_real:
    """The same CNN trained on the real private training set without privacy: the reference ceiling."""
    input:
        train=lambda w: layout_of("real")(w).private_train,
        test=lambda w: layout_of("real")(w).evaluation_set,
    output:
        result=P.real_downstream,
        curves=P.real_curves,
        plot=report(P.real_plot, category="quality", caption="../report/downstream_real.rst"),
        classifiers=P.real_classifiers,
    params:
        settings=settings("eval_downstream_real", "real"),
        run=overrides("real"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=6000,
        runtime=60,
    log:
        P.log("eval_downstream_real_{real}"),
    shell:
        "{PRIVEVO} --threads {threads} eval-downstream {PARAMS} {params.run} --real --train {input.train} "
        "--test {input.test} --out {output.result} --out-curves {output.curves} --out-png {output.plot} "
        "--out-classifiers {output.classifiers} > {log} 2>&1"


rule eval_metrics:
    input:
        privacy=P.privacy_report,
        fd_curve=P.fd_curve,
        downstream=[P.downstream] if LABELLED else [],  # unlabelled data trains no classifier
        real=(lambda w: layout_of("run")(w).real_downstream) if LABELLED else [],
        cleanfid=[P.cleanfid_check] if CLEANFID_CHECK else [],
    output:
        metrics=P.metrics,
    params:
        downstream=lambda w, input: f"--downstream {input.downstream} --real {input.real}" if input.downstream else "",
        cleanfid=lambda w, input: f"--cleanfid-check {input.cleanfid}" if input.cleanfid else "",
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        P.eval_dir + "/logs/eval_metrics.log",
    shell:
        "{PRIVEVO} eval-metrics --privacy {input.privacy} --fd-curve {input.fd_curve} {params.downstream} "
        "{params.cleanfid} --run {wildcards.run} --out {output.metrics} > {log} 2>&1"
