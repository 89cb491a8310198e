"""Attribution heatmaps of one or more checkpoints on the same images, with faithfulness scores.

Writes attributions.png (one row per image, one column per checkpoint), attributions.npz (inputs,
targets and one map array per checkpoint) and attributions.json (per image and checkpoint: target,
prediction, probability, IG delta, deletion/insertion AUCs and their random-order references).
Deletion AUC below and insertion AUC above the random reference mean the map ranks pixels the model
really uses (Petsiuk et al., RISE, 2018). With two or more checkpoints attributions.json also holds
"agreement": runs x runs matrices of the mean Spearman rank correlation and top-k IoU of the maps (|map|),
with each run's accuracy on these images and mean deletion AUC; they are printed one line per run.

examples:
  xaicnn attribute --ckpt checkpoints/vgg_block.pt
  xaicnn attribute --ckpt vgg_block.pt --ckpt sppf_block.pt --index 3,17,42   # side by side, + agreement
  xaicnn attribute --ckpt vgg_block.pt --ckpt sppf_block.pt --top-k 0.05      # IoU of the top 5% of pixels
  xaicnn attribute --ckpt vgg_block.pt --method gradcam --select misclassified --n 6
  xaicnn attribute --ckpt vgg_block.pt --image my_digit.png --target 7 --json
  xaicnn attribute --ckpt vgg_block.pt --method saliency --sanity            # + model-randomisation check
"""
from ..errors import UserError
from ._common import parse_model_options

DEFAULT_TOP_K = 0.1  # = xaicnn.analysis.agreement.DEFAULT_TOP_K, not imported so that --help does not load torch

METHODS = ("ig", "saliency", "smoothgrad", "gradient_shap", "occlusion", "gradcam")  # kept in sync by a test
STEPS_OPTION = {"ig": "steps", "smoothgrad": "samples", "gradient_shap": "samples"}


def add_arguments(parser):
    a = parser.add_argument
    a("--ckpt", action="append", required=True, metavar="PATH",
      help="checkpoint (repeat for side-by-side columns; a bare name is looked up in the checkpoint folder)")
    a("--method", default="ig", help=f"{' | '.join(METHODS)} (default ig)")
    pick = parser.add_mutually_exclusive_group()
    pick.add_argument("--n", type=int, default=8, help="number of validation images (default 8)")
    pick.add_argument("--index", metavar="I,J,...", help="validation image indices, e.g. 3,17,42")
    pick.add_argument("--image", action="append", metavar="FILE", help="an image file (repeatable); converted per checkpoint")
    a("--select", choices=["first", "random", "misclassified"], default="first",
      help="which --n images: the first, random ones (--seed), or ones any checkpoint gets wrong (default first)")
    a("--target", default="pred", help="pred (each model's prediction), label, or a class number (default pred)")
    a("--steps", type=int, help="integration steps (ig, default 50) or noise samples (smoothgrad, gradient_shap, default 25)")
    a("--baseline", choices=["black", "blurred", "noise"], help="reference image for ig and occlusion (default black)")
    a("--option", "-O", action="append", default=[], metavar="KEY=VALUE", help="other method option, e.g. -O noise=0.2")
    a("--top-k", type=float, default=DEFAULT_TOP_K, metavar="FRACTION",
      help=f"with several checkpoints: the fraction of pixels (highest |map|) whose overlap the agreement IoU "
           f"measures, in (0, 1] (default {DEFAULT_TOP_K})")
    a("--seed", type=int, default=0, help="seed for random selection, noise and the random pixel order (default 0)")
    a("--out", help="output folder (default: <ckpt dir>/<ckpt stem>_attributions/ next to the first checkpoint; "
                    "<stem>_vs_<stem>_attributions/ for several, so a comparison never replaces one run's own files)")
    a("--json", action="store_true", help="print the JSON to stdout")
    a("--sanity", action="store_true",
      help="also run the model-randomisation sanity check on the first checkpoint (writes sanity.json and sanity.png)")
    a("--quiet", action="store_true", help="no progress bar")


def _method_options(args) -> dict:
    options = parse_model_options(args.option)
    if args.steps is not None:
        if args.method not in STEPS_OPTION:
            raise UserError(f"--steps applies to {', '.join(STEPS_OPTION)}, not {args.method}.")
        if args.steps < 1:
            raise UserError(f"--steps must be at least 1; got {args.steps}.")
        options[STEPS_OPTION[args.method]] = args.steps
    if args.baseline is not None:
        options["baseline"] = args.baseline
    return options


def _indices(text: str) -> list[int]:
    try:
        return [int(p) for p in text.replace(" ", "").split(",") if p]
    except ValueError:
        raise UserError(f"--index takes comma-separated image numbers such as 3,17,42; got {text!r}.") from None


def run(args):
    import json
    import sys
    from pathlib import Path

    from .._io import write_json
    from ..analysis.compare_attributions import compare_attributions
    from ..training import resolve_checkpoint
    from ._analysis import out_dir

    paths = [resolve_checkpoint(p) for p in args.ckpt]
    out = out_dir(args.out, paths[0].with_name("_vs_".join(p.stem for p in paths) + ".pt"), "attributions")
    target = args.target if args.target in ("pred", "label") else _class_number(args.target)
    comparison = compare_attributions(
        paths, method=args.method, n=args.n, indices=_indices(args.index) if args.index else None, images=args.image,
        select=args.select, target=target, seed=args.seed, progress=not args.quiet and not args.json,
        top_k=args.top_k, **_method_options(args))
    written = comparison.save(out)
    doc = comparison.to_json()
    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    for r in comparison.runs:
        f = r.faithfulness.summary()
        delta = "" if r.delta is None else f", max |delta| {float(r.delta.abs().max()):.2e}"
        log(f"{r.name}: deletion AUC {f['deletion_auc']:.3f} (random {f['deletion_auc_random']:.3f}), insertion AUC "
            f"{f['insertion_auc']:.3f} (random {f['insertion_auc_random']:.3f}){delta}")
    if args.sanity:
        from ..plots import plot_sanity_check, save_figure

        from tqdm.auto import tqdm

        with tqdm(desc="sanity check", unit="layer", delay=2, leave=False, disable=args.quiet or args.json) as bar:
            check = comparison.sanity_check(0, callback=lambda _layer: bar.update(1))
        write_json(out / "sanity.json", check.to_json(), indent=2)
        save_figure(plot_sanity_check(check)[0], out / "sanity.png")
        log(f"{comparison.runs[0].name}: {check.describe()}")
        doc["sanity"] = check.to_json()
    log(f"wrote {', '.join(str(p) for p in written.values())}" + (f", {out / 'sanity.json'}" if args.sanity else ""))
    agreement = comparison.agreement()
    if agreement is not None:
        log(agreement.describe())
    if args.json:
        print(json.dumps(doc, indent=2))
    return 0


def _class_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"--target must be pred, label or a class number; got {text!r}.") from None
