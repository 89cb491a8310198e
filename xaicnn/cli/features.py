"""Inside the network, per run: the first convolution's learned filters (filters.png: RGB for 3-channel inputs,
grey for 1, one symmetric scale per run, stated), one validation image's feature maps at a layer (feature_maps.png:
the --top most active channels, one colour scale per layer shared by the runs) and unit health (unit_health.png:
per layer the share of units never > 0 on --n validation images - dead ReLUs - with the mean and spread of the
activations, streamed in batches) and the validation images that excite the --channels most active channels of
the feature maps' layer most (top_images.png, or top_images_<run>.png per run: Zeiler & Fergus's dataset examples,
receptive-field crops for spatial layers). Writes features.json beside the figures, into <stem>_features/
(<a>_vs_<b>_features/ for several runs) beside the first checkpoint, or --out.

--layer is a module name from the model's own tree (e.g. features.3, layer2.1; default: the middle one of the
spatial 'blocks' layers); --layers picks unit health's layers: blocks (default) or convs. The model's own output
(the logits) is left out of unit health. A net without convolutions (fc20) has no filters or maps: the command
says so and still measures its units.

examples:
  xaicnn features --ckpt vgg_block.pt
  xaicnn features --ckpt alexnet-none.pt --ckpt alexnet-basic.pt --layer features.4 --image 12 --top 8
  xaicnn features --ckpt vgg16.pt --ckpt vgg50.pt --n 1000 --json
"""
from ._analysis import add_checkpoint_arguments


def add_arguments(parser):
    add_checkpoint_arguments(parser, several=True)
    parser.add_argument("--layer", metavar="NAME", help="module name whose feature maps are shown "
                                                       "(default: the middle spatial block)")
    parser.add_argument("--image", type=int, default=0, metavar="N",
                        help="index of the validation image whose feature maps are shown (default: 0)")
    parser.add_argument("--top", type=int, default=16, metavar="K", help="most active channels shown (default: 16)")
    parser.add_argument("--n", type=int, default=None, metavar="N",
                        help="validation images for unit health and top images (default: the run's whole validation split)")
    parser.add_argument("--k", type=int, default=9, metavar="K", help="top images per channel (default: 9)")
    parser.add_argument("--channels", type=int, default=8, metavar="N",
                        help="channels whose top images are shown, the most active ones (default: 8)")
    parser.add_argument("--layers", default="blocks", metavar="KIND",
                        help="unit health's layers: blocks (default) or convs")
    parser.add_argument("--batch-size", type=int, default=128, metavar="N", help="images per batch (default: 128)")
    parser.add_argument("--data-dir", metavar="DIR", help="folder holding mnist/cifar10 (default: the run's)")


def run(args):
    from .. import plots
    from .._io import write_json
    from ..analysis.features import feature_maps, first_conv_filters, unit_health
    from ..analysis.similarity import LAYER_KINDS
    from ..analysis.top_images import top_images
    from ..errors import UserError
    from ._analysis import finish, load_runs, out_dir, run_labels

    if min(args.top, args.batch_size, args.k, args.channels, args.n or 1) < 1 or args.image < 0:
        raise UserError(f"--top, --n, --k, --channels and --batch-size must be at least 1 and --image at least 0; got "
                        f"{args.top}, {args.n}, {args.k}, {args.channels}, {args.batch_size}, {args.image}.")
    LAYER_KINDS.get(args.layers)  # an unknown kind is one sentence before any checkpoint is read
    runs = load_runs(args.ckpt)
    # <a>_vs_<b>_features/ for several runs, so a comparison never replaces a run's own folder
    out = out_dir(args.out, runs[0].path.with_name("_vs_".join(r.path.stem for r in runs) + ".pt"), "features")
    labels = run_labels(runs)
    images = _shown_images(runs, args.image, args.data_dir)

    records, filters, maps, health, tops, lines = [], [], [], [], [], []
    for run_, label, (image, image_label) in zip(runs, labels, images):
        record = {"label": label, "checkpoint": str(run_.path), "arch": run_.arch, "dataset": run_.dataset,
                  "input_size": list(run_.input_size)}
        try:
            f = first_conv_filters(run_, label=label)
            filters.append(f)
            record["filters"] = f.to_json()
            lines.append(f"{label}: {f.module} {f.caption()}")
        except UserError as err:  # a net without convolutions: nothing to draw, the rest still holds
            record["filters"] = {"skipped": str(err)}
            lines.append(f"{label}: no filters ({err})")
        try:
            m = feature_maps(run_, image, layer=args.layer, top=args.top, label=label, image_index=args.image)
            maps.append(m)
            record["feature_maps"] = {**m.to_json(), "image_class": image_label}
            lines.append(f"{label}: feature maps of image {args.image} ({image_label}) at {m.layer}: "
                         f"top {len(m.channels)} of {m.layer_channels} channels, means {m.means[0]:.3g} .. "
                         f"{m.means[-1]:.3g}")
        except UserError as err:
            if args.layer:  # a layer the user named must exist: that is their error to fix
                raise
            record["feature_maps"] = {"skipped": str(err)}
            lines.append(f"{label}: no feature maps ({err})")
        data = run_.val_data(size=args.n, data_dir=args.data_dir)  # one image set: unit health and top images
        h = unit_health(run_, images=data.images, layers=args.layers, batch_size=args.batch_size,
                        progress=not args.json, label=label)
        health.append(h)
        record["unit_health"] = h.to_json()
        lines.append(h.describe())
        # top images per channel at the feature maps' layer (Zeiler & Fergus's dataset examples)
        layer = maps[-1].layer if record["feature_maps"].get("layer") else args.layer
        if layer:
            top = top_images(run_, layer, k=args.k, channels=args.channels, data=data, batch_size=args.batch_size,
                             progress=not args.json)
            tops.append((label, top, data))
            record["top_images"] = top.to_json()
            lines.append(top.describe())
        else:
            record["top_images"] = {"skipped": "no layer with feature maps; name one with --layer"}
        records.append(record)

    files = {}
    if filters:
        files["filters"] = plots.save_figure(plots.plot_filters(filters)[0], out / "filters.png")
    if maps:
        files["feature_maps"] = plots.save_figure(plots.plot_feature_maps(maps)[0], out / "feature_maps.png")
    files["unit_health"] = plots.save_figure(plots.plot_unit_health(health)[0], out / "unit_health.png")
    for label, top, data in tops:  # one figure per run: each is channels x k images
        key = "top_images" if len(runs) == 1 else f"top_images_{label}"
        files[key] = plots.save_figure(plots.plot_top_images(top, data.images)[0], out / f"{key}.png")
    files["json"] = out / "features.json"
    doc = {"checkpoints": [str(r.path) for r in runs], "archs": [r.arch for r in runs], "image": args.image,
           "top": args.top, "layer_kind": args.layers, "runs": records, "files": {k: str(v) for k, v in files.items()}}
    write_json(files["json"], doc)
    return finish(doc, args.json, "\n".join(lines) + f"\n\nwrote {', '.join(str(p) for p in files.values())}")


def _shown_images(runs, index: int, data_dir):
    """(uint8 image [C, H, W], its class) per run: image ``index`` of the first run's validation split, shared by
    every run of the same dataset and input size (so their maps are of one image); other runs take image
    ``index`` of their own split."""
    from ..errors import UserError

    loaded = {}
    shown = []
    for run_ in runs:
        key = (run_.dataset, tuple(run_.input_size))
        if key not in loaded:
            loaded[key] = run_.val_data(data_dir=data_dir)
        val = loaded[key]
        if index >= len(val):
            raise UserError(f"--image must be below {len(val)} ({run_.name}'s validation split has {len(val)} images); "
                            f"got {index}.")
        shown.append((val.images[index], val.classes[int(val.labels[index])]))
    return shown
