"""List the architectures in the zoo, one line each (name, default input, description)."""


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def run(args):
    import json

    from ..models import MODELS

    rows = [{"name": name, "family": s.family, "default_input": list(s.default_input), "default_classes": s.default_classes,
             "default_dataset": s.default_dataset, "description": s.description, "options": s.options}
            for name, s in MODELS.items()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {'x'.join(map(str, r['default_input'])):>9}  {r['description']}")
    return 0
