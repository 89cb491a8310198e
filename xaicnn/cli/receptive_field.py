"""Receptive fields. With --arch: the theoretical field of every layer (size and effective stride, or jump, in
input pixels; the union over paths where branches or shortcuts meet), traced from the modules the model runs,
and receptive_fields.png (growth per layer). With --ckpt: also the effective receptive field (Luo et al. 2016)
of each run's last spatial layer - the mean |gradient| of its centre unit w.r.t. the input over --n validation
images - with the trained weights and at initialisation (--seeds random-weight models), summarised as the
radius of the centred square holding --share of the gradient mass; effective_rf.png shows every map on one
colour scale. Writes receptive_field.json beside the figures.

examples:
  xaicnn receptive-field --arch vgg16 --input-size 3,224,224
  xaicnn receptive-field --arch vgg16_7x7 --dataset cifar10 --json
  xaicnn receptive-field --ckpt vgg_block.pt --ckpt bottleneck_block.pt --n 64 --out reports/rf
"""
from ._analysis import add_checkpoint_arguments
from ._common import add_model_options


def add_arguments(parser):
    add_checkpoint_arguments(parser, several=True)
    # --ckpt or --arch: the shared helper makes --ckpt required, which this command relaxes (checked in run)
    next(a for a in parser._actions if a.dest == "ckpt").required = False
    parser.add_argument("--arch", help="architecture name (see 'xaicnn archs'): theoretical fields only")
    parser.add_argument("--dataset", help="with --arch: take channels, classes and image size from this dataset")
    parser.add_argument("--input-size", metavar="C,H,W", help="with --arch: input shape, e.g. 3,224,224")
    parser.add_argument("--num-classes", type=int, help="with --arch: number of classes (default: the arch's)")
    add_model_options(parser)
    parser.add_argument("--n", type=int, default=64, metavar="N", help="validation images per run (default: 64)")
    parser.add_argument("--layer", metavar="NAME", help="module path of the layer whose centre unit is measured "
                                                        "(default: the last spatial layer)")
    parser.add_argument("--share", type=float, default=0.95, help="share of the gradient mass the radius holds "
                                                                  "(default: 0.95)")
    parser.add_argument("--seeds", type=int, default=3, metavar="K",
                        help="random-weight models averaged for the field at initialisation (default: 3)")
    parser.add_argument("--batch-size", type=int, default=32, metavar="N", help="images per batch (default: 32)")
    parser.add_argument("--data-dir", metavar="DIR", help="folder holding mnist/cifar10 (default: the run's)")


def run(args):
    from ..errors import UserError

    if bool(args.ckpt) == bool(args.arch):
        raise UserError("Give either --arch NAME (theoretical fields) or one or more --ckpt (also effective fields).")
    if args.ckpt and (args.dataset or args.input_size or args.num_classes or args.option):
        raise UserError("--dataset, --input-size, --num-classes and --option go with --arch; a checkpoint "
                        "already says its architecture and input.")
    return _architecture(args) if args.arch else _checkpoints(args)


def _architecture(args):
    from pathlib import Path

    from .. import plots
    from .._io import check_writable, write_json
    from ..models.complexity import summarize
    from ..models.receptive_field import ReceptiveFields, format_fields
    from ._analysis import finish
    from ._common import parse_input_size, parse_model_options

    input_size = parse_input_size(args.input_size) if args.input_size else None
    report = summarize(args.arch, dataset=args.dataset, input_size=input_size, num_classes=args.num_classes,
                       options=parse_model_options(args.option))
    out = check_writable(Path(args.out or f"{args.arch}_receptive_field"),
                         what="--out" if args.out else "the default output folder")
    fields = ReceptiveFields.from_summary(report)
    files = {"figure": plots.save_figure(plots.plot_receptive_fields([fields], [args.arch])[0],
                                         out / "receptive_fields.png"),
             "json": out / "receptive_field.json"}
    doc = {key: report[key] for key in ("arch", "dataset", "input_size", "num_classes", "options", "receptive_field")}
    doc["layers"] = [{k: row[k] for k in ("name", "type", "output_shape", "receptive_field", "jump", "start")}
                     for row in report["layers"]]
    doc["files"] = {k: str(v) for k, v in files.items()}
    write_json(files["json"], doc)
    text = f"{args.arch} on {report['input_label']}\n{format_fields(fields)}"
    return finish(doc, args.json, text + f"\n\nwrote {', '.join(str(p) for p in files.values())}")


def _checkpoints(args):
    from .. import plots
    from .._io import write_json
    from ..analysis.effective_rf import trained_vs_init
    from ..errors import UserError
    from ..models.receptive_field import receptive_fields
    from ._analysis import finish, load_runs, out_dir, run_labels

    if args.n < 1 or args.seeds < 1 or args.batch_size < 1:
        raise UserError(f"--n, --seeds and --batch-size must be at least 1; got {args.n}, {args.seeds}, "
                        f"{args.batch_size}.")
    if not 0 < args.share <= 1:
        raise UserError(f"--share must be in (0, 1]; got {args.share}.")
    runs = load_runs(args.ckpt)
    out = out_dir(args.out, runs[0].path, "receptive_field")
    labels = run_labels(runs)
    records, maps, lines, theoretical = [], [], [], []
    for run_, label in zip(runs, labels):
        fields = receptive_fields(run_.model, run_.input_size)
        theoretical.append(fields)
        images = run_.val_data(size=args.n, data_dir=args.data_dir).images[:args.n]
        comparison = trained_vs_init(run_, images, seeds=tuple(range(args.seeds)), layer=args.layer, share=args.share,
                                     batch_size=args.batch_size, progress=not args.json)
        comparison.trained.label, comparison.init.label = f"{label}: trained", f"{label}: init ({args.seeds} seeds)"
        maps += [comparison.trained, comparison.init]
        net = fields.net
        records.append({"label": label, "checkpoint": str(run_.path), "arch": run_.arch, "dataset": run_.dataset,
                        "input_size": list(run_.input_size),
                        "receptive_field": {"layer": net.name, "size": net.receptive_field, "jump": net.jump,
                                            "start": net.start} if net else None,
                        "effective": comparison.to_json()})
        t, i = comparison.trained, comparison.init
        lines.append(f"{label} ({run_.arch}): theoretical {t.theoretical_size[0]}x{t.theoretical_size[1]} px at "
                     f"{t.layer}; {t.share:.0%} of |grad| within r = {t.radius:g} px trained "
                     f"({t.fraction:.0%} of the half-size), {i.radius:g} px at init ({i.fraction:.0%}); "
                     f"trained/init {comparison.growth:.2f}x on {t.images} images")
    files = {"effective": plots.save_figure(plots.plot_effective_rf(maps, columns=4 if len(runs) > 1 else 2)[0],
                                            out / "effective_rf.png"),
             "theoretical": plots.save_figure(plots.plot_receptive_fields(theoretical, labels)[0],
                                              out / "receptive_fields.png"),
             "json": out / "receptive_field.json"}
    doc = {"checkpoints": [str(r.path) for r in runs], "n": maps[0].images, "share": args.share,
           "seeds": args.seeds, "runs": records, "files": {k: str(v) for k, v in files.items()}}
    write_json(files["json"], doc)
    return finish(doc, args.json, "\n".join(lines) + f"\n\nwrote {', '.join(str(p) for p in files.values())}")
