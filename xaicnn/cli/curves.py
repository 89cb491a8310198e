"""Learning curves of one or more runs: train (dashed) and validation (solid) loss and accuracy per
epoch, runs overlaid in one colour each. Writes curves.png and curves.json (each run's history).

examples:
  xaicnn curves --ckpt checkpoints/bottleneck_alpha.pt --ckpt checkpoints/plain_alpha.pt
  xaicnn curves --ckpt fc20.pt --ckpt fc56.pt --ckpt resnet18.pt --out reports/plain_vs_residual --json
"""
from ._analysis import add_checkpoint_arguments


def add_arguments(parser):
    add_checkpoint_arguments(parser, several=True)


def run(args):
    from .. import plots
    from ..errors import UserError
    from ..training.inspect import HISTORY_KEYS
    from ._analysis import finish, load_runs, out_dir, run_labels
    from .._io import write_json

    runs = load_runs(args.ckpt)
    for r in runs:
        if not r.history:
            raise UserError(f"{r.path} has no finished epoch yet; resume or train it before plotting its curves.")
    out = out_dir(args.out, runs[0].path, "curves")
    labels = run_labels(runs)
    png = plots.save_figure(plots.plot_curves(runs, labels)[0], out / "curves.png")
    records = [{"label": label, "checkpoint": str(r.path), "arch": r.arch, "dataset": r.dataset, "status": r.status,
                "best_val_acc": r.best("val_acc"), "last_val_acc": r.last("val_acc"),
                "history": [{k: h.get(k) for k in HISTORY_KEYS} | ({"partial": True} if h.get("partial") else {})
                            for h in r.history]}
               for r, label in zip(runs, labels)]
    doc = {"runs": records, "files": {"curves": str(png), "json": str(out / "curves.json")}}
    write_json(out / "curves.json", doc)
    lines = [f"{rec['label']:<24} {rec['arch']:<18} {len(rec['history'])} epochs, best val acc {rec['best_val_acc']:.4f}, "
             f"last {rec['last_val_acc']:.4f}" for rec in records]
    return finish(doc, args.json, "\n".join(lines) + f"\n\nwrote {png} and curves.json")
