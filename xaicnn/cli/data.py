"""List the datasets, or describe one: channels, size, classes, splits, how it is made and which
augmentations apply (--info), without loading image files.

examples:
  xaicnn data                 # every dataset, one line each
  xaicnn data glyphs --info   # fonts used for train and for val, the random distortions
"""


def add_arguments(parser):
    parser.add_argument("name", nargs="?", help="dataset name (glyphs, digits, mnist, cifar10, imagefolder:PATH)")
    parser.add_argument("--info", action="store_true", help="describe the dataset in detail")
    parser.add_argument("--data-dir", help="folder holding mnist/cifar10")


def run(args):
    from ..data import available
    from ..data.describe import describe_dataset

    if not args.name:
        items = available()
        width = max(map(len, items))
        for name, text in items.items():
            print(f"{name:<{width}}  {text}")
        return 0
    print(describe_dataset(args.name, args.data_dir))
    return 0
