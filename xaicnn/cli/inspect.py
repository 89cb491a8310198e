"""Show a checkpoint: architecture, dataset, status, parameters/FLOPs, best and last metrics, the
per-epoch history and a gradient-flow summary. --json prints the full record for scripts.

examples:
  xaicnn inspect --ckpt checkpoints/bottleneck_alpha.pt
  xaicnn inspect --ckpt vgg_block.pt --json       # a bare name is looked up in checkpoints/
"""


def add_arguments(parser):
    parser.add_argument("--ckpt", required=True, help="checkpoint file (a bare name is looked up in the checkpoint folder)")
    parser.add_argument("--json", action="store_true", help="print JSON (the contract scripts and later tools rely on)")


def run(args):
    import json

    from ..training.inspect import describe, format_description

    doc = describe(args.ckpt)
    print(json.dumps(doc, indent=2) if args.json else format_description(doc))
    return 0
