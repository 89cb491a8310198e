"""Train an architecture and write one self-describing checkpoint (saved atomically after every epoch).

examples:
  xaicnn train --arch bottleneck_alpha                       # embedded glyphs, no download, its measured recipe
  xaicnn train --arch vgg_block --dataset digits --epochs 5
  xaicnn train --arch resnet18 --dataset cifar10 --data-dir ../shared/data --augment basic
  xaicnn train --resume --out checkpoints/resnet18.pt --epochs 20
  torchrun --nproc-per-node 2 -m xaicnn train --arch vgg_block --dataset digits
"""
from ._common import add_model_options, parse_model_options

# CLI flag -> TrainConfig field (flags left out keep the arch's recipe (training/recipes.py), then TrainConfig's
# defaults; --resume keeps the checkpoint's)
FIELDS = {
    "arch": "arch", "dataset": "dataset", "epochs": "epochs", "batch_size": "batch_size", "lr": "lr",
    "optimizer": "optimizer", "schedule": "schedule", "weight_decay": "weight_decay", "label_smoothing": "label_smoothing",
    "seed": "seed", "augment": "augment", "image_size": "image_size", "train_size": "train_size", "val_size": "val_size",
    "val_subset": "val_subset", "out": "out", "max_params": "max_params", "time_budget": "time_budget",
    "save_every": "save_every", "device": "device", "threads": "threads", "precision": "precision",
    "grad_flow_every": "grad_flow_every", "data_dir": "data_dir",
}


def add_arguments(parser):
    from ..training.config import TrainConfig
    from ..training.recipes import RECIPES

    d = TrainConfig(arch="")
    a = parser.add_argument
    a("--arch", help="architecture (see 'xaicnn archs'); " + "; ".join(
        f"{arch} starts from its measured recipe ({', '.join(f'{k} {v}' for k, v in r.settings.items())}) instead of "
        f"the defaults below" for arch, r in RECIPES.items()))
    a("--dataset", help="glyphs | digits | mnist | cifar10 | imagefolder:PATH (default: the arch's: glyphs for "
                        "*_alpha, digits for the block models and lenet5, cifar10 for the rest)")
    a("--epochs", type=int, help=f"epochs (default {d.epochs})")
    a("--batch-size", type=int, help=f"images per step (default {d.batch_size})")
    a("--lr", type=float, help=f"peak learning rate (default {d.lr})")
    a("--optimizer", choices=["adam", "sgd"], help=f"default {d.optimizer} (sgd: momentum 0.9, Nesterov)")
    a("--schedule", choices=["none", "cosine", "onecycle"], help=f"learning-rate schedule per step (default {d.schedule})")
    a("--weight-decay", type=float, help=f"default {d.weight_decay} (AdamW when > 0 with adam)")
    a("--label-smoothing", type=float, help=f"default {d.label_smoothing}")
    a("--seed", type=int, help=f"default {d.seed}")
    a("--augment", choices=["none", "basic", "strong"],
      help=f"default {d.augment}; basic = random crop + horizontal flip (no flips on glyphs/digits/mnist), "
           f"strong = basic + colour jitter, rotation, affine")
    a("--image-size", type=int, metavar="PX", help="resize images to PX x PX (e.g. MNIST to 32 for vgg16)")
    a("--train-size", type=int, metavar="N", help="training images to use, a class-balanced subset (default: all)")
    a("--val-size", type=int, metavar="N", help="validation images to use (default: all)")
    a("--val-subset", type=int, metavar="N",
      help="after each epoch but the last, evaluate only a fixed class-balanced subset of N validation images, in the "
           "training precision (default: all, every epoch); the last epoch always evaluates all of them in fp32")
    a("--out", help="checkpoint path (default: checkpoints/<arch>.pt, or $XAICNN_CHECKPOINT_DIR/<arch>.pt)")
    a("--overwrite", action="store_true", help="replace a finished or unfinished run at --out")
    a("--resume", action="store_true", help="continue the unfinished run at --out (or checkpoints/<arch>.pt)")
    a("--max-params", type=int, metavar="N", help="refuse to start a model with more parameters")
    a("--time-budget", type=float, metavar="MINUTES", help="stop cleanly after this much training time")
    a("--save-every", type=float, metavar="MINUTES",
      help="inside a long epoch, checkpoint this often (default 1): Ctrl-C or a crash loses at most this much")
    a("--device", help=f"auto | cpu | cuda | cuda:N (default {d.device})")
    a("--threads", type=int, help="CPU threads (default: torch's; split between processes under torchrun)")
    a("--precision", choices=["auto", "fp32", "bf16"], help=f"default {d.precision}: bf16 autocast where the CPU/GPU computes bf16 natively, else fp32")
    a("--no-grad-flow", action="store_true", help="do not record per-layer gradient statistics")
    a("--grad-flow-every", type=int, metavar="N", help="also keep gradient statistics every N steps")
    a("--data-dir", help="folder holding mnist/cifar10 (default: $XAICNN_CACHE or ~/.cache/xaicnn)")
    a("--download", action="store_true", help="allow downloading mnist/cifar10 through torchvision")
    add_model_options(parser)
    a("--quiet", action="store_true", help="no progress bars or per-epoch lines (errors still print)")


def run(args):
    from dataclasses import replace

    from ..errors import UserError
    from ..training import resume, train
    from ..training.recipes import config_for, recipe_for
    from ..training.trainer import default_out

    given = {field: getattr(args, flag) for flag, field in FIELDS.items() if getattr(args, flag) is not None}
    log = (lambda *a, **k: None) if args.quiet else print
    if args.resume:
        if args.overwrite:
            raise UserError("--resume and --overwrite contradict each other; pass one.")
        if "out" not in given and "arch" not in given:
            raise UserError("--resume needs the run to continue: pass --out PATH (or --arch for checkpoints/<arch>.pt).")
        path = given.pop("out", None) or str(default_out(given["arch"]))
        overrides = {k: given.pop(k) for k in ("epochs", "time_budget", "device", "threads", "save_every") if k in given}
        given.pop("arch", None)
        if given or args.option or args.no_grad_flow:
            raise UserError(f"--resume continues a run with its own settings; drop "
                            f"{', '.join('--' + k.replace('_', '-') for k in given) or '--option/--no-grad-flow'}.")
        resume(path, progress=not args.quiet, log=log, **overrides)
        return 0
    if "arch" not in given:
        raise UserError("--arch is required (see 'xaicnn archs' for the names).")
    recipe = recipe_for(given["arch"])
    if recipe:
        kept = {k: v for k, v in recipe.items() if k not in given}
        log(f"recipe for {given['arch']}: " + (", ".join(f"{k}={v}" for k, v in kept.items()) or "all overridden")
            + " (measured in docs/performance.md; flags override each)")
    config = replace(config_for(**given), model_options=parse_model_options(args.option), grad_flow=not args.no_grad_flow,
                     download=args.download)
    train(config, overwrite=args.overwrite, progress=not args.quiet, log=log)
    return 0
