"""Per-layer table of an architecture: module path, type, output shape, parameters, FLOPs and theoretical
receptive field (RF, in input pixels, with its effective stride: jump), plus totals. FLOPs are counted by torch.utils.flop_counter (1 multiply-add = 2 FLOPs, so FLOPs = 2 x MACs;
convolutions and matrix products only). Nothing is allocated: the model is built on the meta device.

examples:
  xaicnn summary --arch vgg16 --dataset cifar10
  xaicnn summary --arch resnet50 --input-size 3,224,224 --num-classes 1000
  xaicnn summary --arch bottleneck_alpha --dataset glyphs --json
"""
from ._common import add_model_options, parse_input_size, parse_model_options


def add_arguments(parser):
    parser.add_argument("--arch", required=True, help="architecture name (see 'xaicnn archs')")
    parser.add_argument("--dataset", help="take channels, classes and image size from this dataset's metadata")
    parser.add_argument("--input-size", metavar="C,H,W", help="input shape, e.g. 3,224,224 (instead of --dataset)")
    parser.add_argument("--num-classes", type=int, help="number of classes (with --input-size; default: the arch's)")
    add_model_options(parser)
    parser.add_argument("--all", action="store_true", help="also list parameter-free element-wise layers (ReLU, dropout)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args):
    import json

    from ..models.complexity import format_table
    from ..models.complexity import summarize

    input_size = parse_input_size(args.input_size) if args.input_size else None
    report = summarize(args.arch, dataset=args.dataset, input_size=input_size, num_classes=args.num_classes,
                       options=parse_model_options(args.option), include_elementwise=args.all)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['arch']} on {report['input_label']}, {report['num_classes']} classes")
        print(format_table(report))
        net = report["receptive_field"]
        if net:  # RF: theoretical receptive field in input pixels; jump: its effective stride
            print(f"receptive field at {net['layer'] or '(model)'}, the last spatial layer: "
                  f"{'x'.join(map(str, net['size']))} input pixels, jump {'x'.join(map(str, net['jump']))}")
    return 0
