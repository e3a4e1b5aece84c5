# The foundation model: pretrained here on public data only (model.source: pretrain), or the user's folder.
# One per model seed: every PE seed of a sweep shares it unless sweep.model_seeds is true.
# Reads:  data/prepared/<data key>/public.npz (pretrain mode), model.local_path (local mode)
# Writes: results/model/<model key>/{unet/, scheduler/, pretrain_summary.json, loss.*, samples.png, model.json}
if config["model"]["source"] == "pretrain":

    rule pretrain:
        input:
            public=lambda w: layout_of("model")(w).public,
        output:
            marker=P.model_marker,
            loss=P.model_dir + "/loss.csv",
            loss_plot=report(P.model_dir + "/loss.png", category="quality", caption="../report/pretrain_loss.rst"),
            samples=report(P.model_dir + "/samples.png", category="samples", subcategory="foundation model",
                           caption="../report/pretrain_samples.rst"),
        params:
            settings=settings("pretrain", "model"),
            run=overrides("model"),
            out=P.model_dir,
        threads: HEAVY_THREADS
        resources:
            mem_mb=6000,
            runtime=120,
            gpu=GPU,
        log:
            P.log("pretrain_{model}"),
        shell:
            "{PRIVEVO} --threads {threads} pretrain {PARAMS} {params.run} --public {input.public} --out {params.out} > {log} 2>&1"


rule model_info:
    """The foundation model's record, in both modes: DVC's foundation_model stage targets it (through stage_foundation_model)."""
    input:
        marker=lambda w: layout_of("model")(w).model_marker,
    output:
        record=P.model_record,
    params:
        model=lambda w: layout_of("model")(w).model_dir,
        run=overrides("model"),
    resources:
        mem_mb=2000,
        runtime=10,
    log:
        P.log("model_info_{model}"),
    shell:
        "{PRIVEVO} model-info {PARAMS} {params.run} --model {params.model} --out {output.record} > {log} 2>&1"
