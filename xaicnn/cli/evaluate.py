"""Evaluate a trained run on its validation split: accuracy, macro and weighted precision/recall/F1,
the ten most confused class pairs and a per-class table (scikit-learn's metrics). Writes
confusion.png (counts), confusion_normalized.png (row-normalised), per_class.png (F1 per class)
and evaluation.json.

examples:
  xaicnn evaluate --ckpt checkpoints/bottleneck_alpha.pt
  xaicnn evaluate --ckpt vgg_block.pt --out reports/vgg_block --json
"""
from ._analysis import add_checkpoint_arguments


def add_arguments(parser):
    add_checkpoint_arguments(parser, several=False)
    parser.add_argument("--val-size", type=int, metavar="N",
                        help="validation images to use (default: the same subset as in training)")
    parser.add_argument("--data-dir", metavar="DIR", help="folder holding mnist/cifar10 (default: the run's)")


def run(args):
    from .. import plots
    from ..analysis.metrics import evaluate, format_evaluation
    from ..errors import UserError
    from ._analysis import finish, load_runs, out_dir
    from .._io import write_json

    if args.val_size is not None and args.val_size < 1:
        raise UserError(f"--val-size must be at least 1; got {args.val_size}.")
    (run_,) = load_runs([args.ckpt])
    data = run_.val_data(size=args.val_size, data_dir=args.data_dir) if args.val_size or args.data_dir else None
    ev = evaluate(run_, data)
    out = out_dir(args.out, run_.path, "evaluation")
    files = {
        "confusion": plots.save_figure(plots.plot_confusion(ev, normalized=False)[0], out / "confusion.png"),
        "confusion_normalized": plots.save_figure(plots.plot_confusion(ev)[0], out / "confusion_normalized.png"),
        "per_class": plots.save_figure(plots.plot_per_class(ev)[0], out / "per_class.png"),
    }
    files["json"] = out / "evaluation.json"
    doc = {"checkpoint": str(run_.path), "arch": run_.arch, "dataset": run_.dataset, **ev.to_dict(),
           "files": {k: str(v) for k, v in files.items()}}
    write_json(files["json"], doc)
    return finish(doc, args.json, format_evaluation(ev) + f"\n\nwrote {', '.join(str(p) for p in files.values())}")
