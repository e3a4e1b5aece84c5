"""`privevo compare`: the methods-by-epsilon comparison table and plot over a sweep's seeds."""

from __future__ import annotations



def compare(*, out_md: str, pe: list[str], real: str, out_csv: str, out_png: str, dpsgd: list[str] = (),
            dpsgd_downstream: list[str] = (), mix: list[str] = (), mix_downstream: list[str] = (),
            public_pe: list[str] = (), public_pe_metrics: list[str] = (), prior: list[str] = ()) -> None:
    """results/comparison.{csv,md,png}: one row per (method, epsilon) over the sweep's seeds."""
    from privevo.io.artifacts import load_json, save_csv, save_text
    from privevo.reports.comparison import comparison_markdown, comparison_table, save_comparison_plot

    if len(dpsgd) != len(dpsgd_downstream) or len(mix) != len(mix_downstream):
        raise SystemExit("privevo compare: give one --dpsgd-downstream (--mix-downstream) file per --dpsgd (--mix) report")
    dpsgd, mix = ([{**load_json(report), **load_json(downstream)} for report, downstream in zip(reports, downstreams)]
                  for reports, downstreams in ((dpsgd, dpsgd_downstream), (mix, mix_downstream)))
    if len(public_pe) != len(public_pe_metrics):
        raise SystemExit("privevo compare: give one --public-pe-metrics file per --public-pe downstream.json")
    public_pe_records = []
    for downstream, metrics in zip(public_pe, public_pe_metrics):
        result = load_json(downstream)
        public_pe_records.append({**load_json(metrics), "accuracy_mean": result["accuracy_mean"],
                          "accuracy_seeds": len(result["seeds"])})
    pe = [load_json(p) for p in pe]
    table = comparison_table(pe=pe, prior=[load_json(p) for p in prior],
                             real=load_json(real), dpsgd=dpsgd, mix=mix, public_pe=public_pe_records)
    save_csv(out_csv, table)
    markdown = comparison_markdown(table, evaluated_on=pe[0].get("evaluated_on", "test split") if pe else "test split")
    save_text(out_md, markdown)
    save_comparison_plot(out_png, table)
    print(markdown)
