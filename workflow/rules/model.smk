# The foundation model: pretrained here on public data only (model.source: pretrain), or the user's folder.
# Reads:  data/public.npz (pretrain mode), model.local_path (local mode)
# Writes: results/model/{unet/, scheduler/, pretrain_summary.json, loss.*, samples.png, model.json}
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
            "{PRIVEVO} pretrain {PARAMS} --public {input.public} --out {params.out} > {log} 2>&1"


rule foundation_model:
    """The foundation model's record, in both modes: DVC's foundation_model stage targets it."""
    input:
        marker=L.model_marker,
    output:
        record=L.model_record,
    params:
        model=L.model_dir,
    log:
        L.log("foundation_model"),
    shell:
        "{PRIVEVO} model-info {PARAMS} --model {params.model} --out {output.record} > {log} 2>&1"
