"""Gradient flow of trained runs: per-layer gradient statistic at chosen epochs (bars, log y), a
layers x epochs heatmap, the first/middle/last layer over epochs, and the per-stage mean over
epochs with the runs side by side (stages.png). One set of figures per run, named after the
checkpoint; gradflow.json holds each run's layers, epochs and [layers x epochs] matrix.

By default only conv/linear weight tensors are shown (--all-params adds biases and norm scales).

examples:
  xaicnn gradflow --ckpt checkpoints/vgg50.pt --epochs 1,5,10
  xaicnn gradflow --ckpt resnet18.pt --ckpt resnet50.pt --ckpt resnet101.pt --stat max_abs --json
"""
from ._analysis import add_checkpoint_arguments


def add_arguments(parser):
    add_checkpoint_arguments(parser, several=True)
    parser.add_argument("--epochs", metavar="E,E,...", help="epochs for the bar chart, e.g. 1,5,10 (default: first and last)")
    parser.add_argument("--stat", default="norm", choices=("norm", "mean_abs", "max_abs"),
                        help="gradient statistic, each a mean over the epoch's steps (default: norm, the L2 norm)")
    parser.add_argument("--all-params", action="store_true", help="every parameter tensor, not only conv/linear weights")


def parse_epochs(text: str) -> list[int]:
    from ..errors import UserError

    try:
        epochs = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        epochs = []
    if not epochs or min(epochs) < 1:
        raise UserError(f"--epochs takes positive epoch numbers separated by commas such as 1,5,10; got {text!r}.")
    return sorted(set(epochs))


def run(args):
    from .. import plots
    from ..analysis.gradient_flow import format_flow, gradient_flow, vanishing_layers
    from ._analysis import finish, load_runs, out_dir, run_labels
    from .._io import write_json

    epochs = parse_epochs(args.epochs) if args.epochs else None
    runs = load_runs(args.ckpt)
    flows = gradient_flow(runs, args.stat, weights_only=not args.all_params)
    if epochs:
        for flow in flows:  # refuse before anything is written
            for e in epochs:
                flow.epoch_index(e)
    out = out_dir(args.out, runs[0].path, "gradflow")
    labels = run_labels(runs)
    records = []
    for run_, flow, label in zip(runs, flows, labels):
        files = {kind: plots.save_figure(fig, out / f"{label}_{kind}.png") for kind, fig in (
            ("bars", plots.plot_gradient_bars(flow, epochs)[0]),
            ("heatmap", plots.plot_gradient_heatmap(flow)[0]),
            ("lines", plots.plot_gradient_lines(flow)[0]))}
        stages = flow.by_stage()
        records.append({"checkpoint": str(run_.path), **flow.to_dict(), "label": label,
                        "stages": {"names": stages.layers, "matrix": stages.matrix.tolist()},
                        "vanishing": vanishing_layers(flow), "files": {k: str(v) for k, v in files.items()}})
    stages_png = plots.save_figure(plots.plot_gradient_stages(flows, labels)[0], out / "stages.png")
    doc = {"stat": args.stat, "weights_only": not args.all_params, "runs": records, "stages_figure": str(stages_png)}
    path = write_json(out / "gradflow.json", doc)
    text = "\n\n".join(format_flow(f) for f in flows) + f"\n\nwrote {len(records) * 3 + 2} files to {out}/ ({path.name}, ...)"
    return finish(doc, args.json, text)
