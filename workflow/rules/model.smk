if config["model"]["source"] == "pretrain":

    rule pretrain:
        input:
            public=L.public,
        output:
            marker=L.model_marker,
            loss=L.model_dir + "/loss.csv",
            loss_plot=report(L.model_dir + "/loss.png", category="quality", caption="../report/pretrain_loss.rst"),
            samples=report(L.model_dir + "/samples.png", category="samples", subcategory="foundation model", caption="../report/pretrain_samples.rst"),
        params:
            settings=settings("pretrain"),
            out=L.model_dir,
        threads: ALL_CORES
        resources:
            gpu=1,
        log:
            L.log("pretrain"),
        shell:
            "privevo pretrain {PARAMS} --public {input.public} --out {params.out} > {log} 2>&1"
