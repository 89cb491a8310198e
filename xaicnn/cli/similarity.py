"""Representation similarity: linear CKA (Kornblith et al. 2019) between every pair of layers of two runs,
or of one run with itself, on the same validation images, with the minibatch unbiased HSIC estimator
(Nguyen et al. 2021) so memory stays bounded. Writes similarity.png (CKA heatmap, 0..1) and similarity.json into
<stem>_similarity/ (<stem>_vs_<stem>_similarity/ for two runs) beside the first checkpoint, or --out.

Layers: 'blocks' (default) reads each residual/Inception/custom block and, in plain stacks (VGG, FC), each
conv or linear layer after its activation; 'convs' reads every convolution's own output.

examples:
  xaicnn similarity --ckpt vgg_block.pt                       # self-similarity
  xaicnn similarity --ckpt resnet18.pt --ckpt resnet50.pt --n 1000 --out reports/cka
  xaicnn similarity --ckpt vgg16.pt --layers convs --json
"""
from ._analysis import add_checkpoint_arguments


def add_arguments(parser):
    add_checkpoint_arguments(parser, several=True)
    parser.add_argument("--n", type=int, default=None, metavar="N",
                        help="validation images to compare on (default: 512, class-balanced)")
    parser.add_argument("--layers", default="blocks", metavar="KIND",
                        help="which layers: blocks (default) or convs")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N",
                        help="images per minibatch (default: 128); memory grows with it, the result hardly does")
    parser.add_argument("--data-dir", metavar="DIR", help="folder holding mnist/cifar10 (default: the run's)")


def run(args):
    from .. import plots
    from ..analysis.similarity import DEFAULT_BATCH_SIZE, layer_similarity
    from ..errors import UserError
    from ._analysis import finish, load_runs, out_dir
    from .._io import write_json

    if len(args.ckpt) > 2:
        raise UserError(f"similarity compares one run with itself or two runs; got {len(args.ckpt)} --ckpt.")
    runs = load_runs(args.ckpt)
    # <a>_vs_<b>_similarity/ for two runs, so a comparison never replaces a run's self-similarity
    out = out_dir(args.out, runs[0].path.with_name("_vs_".join(r.path.stem for r in runs) + ".pt"), "similarity")
    result = layer_similarity(*runs, n=args.n, layers=args.layers, data_dir=args.data_dir,
                              batch_size=args.batch_size or DEFAULT_BATCH_SIZE, progress=not args.json)
    files = {"figure": plots.save_figure(plots.plot_similarity(result)[0], out / "similarity.png"),
             "json": out / "similarity.json"}
    doc = {"checkpoints": [str(r.path) for r in runs], "archs": [r.arch for r in runs], "dataset": runs[0].dataset,
           **result.to_json(), "files": {k: str(v) for k, v in files.items()}}
    write_json(files["json"], doc)
    return finish(doc, args.json, result.describe() + f"\n\nwrote {', '.join(str(p) for p in files.values())}")
