"""Run a whole experiment of the original reports: conditions x seeds -> table, statistics, verdicts, figures.

Writes DIR/runs/<condition>-seed<k>.pt (one checkpoint per run), DIR/report.md, DIR/results.csv,
DIR/study.json and DIR/figures/*.png; DIR defaults to studies/<name>/. Started again, a study skips
finished runs and resumes unfinished ones. Ctrl-C (or SIGTERM) stops within about two seconds: the runs in
training save the step they are at, nothing new starts, and one line says what was kept (exit 130, or 143).
One study writes a folder at a time: a second one on the same DIR is refused.

--backend ray trains each run as a Ray task (pip install 'xaicnn[ray]'): on a local Ray instance with
--jobs CPUs, or across a cluster with --address auto|HOST:PORT (docs/cluster.md). This machine keeps the
study folder; configs and checkpoints travel through Ray, so the workers share no disk with it, but each
needs the same xaicnn installed and the dataset under the same --data-dir (or --download).

examples:
  xaicnn study --list
  xaicnn study vgg_kernel --preset quick --data-dir ../shared/data
  xaicnn study depth50 --preset quick --dataset digits          # embedded data, no download
  xaicnn study alpha_bottleneck --preset quick --jobs 2
  xaicnn study mnist_blocks --preset quick --dataset digits --backend ray --jobs 2   # a local Ray instance
  xaicnn study vgg_kernel --preset full --backend ray --address auto               # a running Ray cluster
  xaicnn study vgg_kernel --report-only                          # redo tables, verdicts and figures
  xaicnn study vgg_kernel --report-only --publish docs/studies   # copy report + figures for readers
"""


def add_arguments(parser):
    a = parser.add_argument
    a("name", nargs="?", metavar="NAME", help="study to run (see --list)")
    a("--list", action="store_true", help="list the studies: conditions and the cost of each preset")
    a("--preset", default="quick", choices=["smoke", "quick", "full"],
      help="smoke: seconds, tests the machinery; quick (default): at most 15 min on 2 CPU cores; "
           "full: the original settings (a GPU's job)")
    a("--seeds", type=int, metavar="N", help="runs per condition (default: the preset's)")
    a("--dataset", help="train on this dataset instead of the original (e.g. digits or glyphs, embedded)")
    a("--data-dir", help="folder holding mnist/cifar10 (default: $XAICNN_CACHE or ~/.cache/xaicnn)")
    a("--download", action="store_true", help="allow downloading mnist/cifar10 through torchvision")
    a("--out", metavar="DIR", help="study folder (default: studies/NAME/)")
    a("--jobs", type=int, metavar="N",
      help="train N runs at once in separate processes, splitting the cores (default: one per CPU core, at most 4, "
           "on a machine without a GPU; 1 with a GPU)")
    from ..studies.runner import BACKENDS  # (light: no torch, no ray)

    a("--backend", default="local", choices=list(BACKENDS),
      help="where the runs train: local (default) = worker processes on this machine; ray = one Ray task per run, "
           "on a local Ray instance or the cluster at --address (needs pip install 'xaicnn[ray]')")
    a("--address", metavar="auto|HOST:PORT",
      help="with --backend ray: join this Ray cluster (auto: the one started on this machine by 'ray start'); "
           "default: start a local Ray instance with --jobs CPUs")
    a("--report-only", action="store_true", help="rewrite report, tables, verdicts and figures from the runs in DIR")
    a("--publish", metavar="DOCS", help="after the study, copy its report and figures (no checkpoints) to "
                                        "DOCS/NAME.md and DOCS/NAME/ (e.g. docs/studies)")
    a("--quiet", action="store_true", help="no progress bars or per-run lines")


def run(args):
    from ..errors import Interrupted, UserError
    from .. import studies

    if args.list:
        if args.name:
            raise UserError("--list lists every study; drop the study name or drop --list.")
        return _list(studies)
    if not args.name:
        raise UserError("Name the study to run (xaicnn study NAME); 'xaicnn study --list' shows them.")
    spec = studies.get(args.name)
    if args.seeds is not None and args.seeds < 1:
        raise UserError(f"--seeds must be at least 1; got {args.seeds}.")
    if args.jobs is None:
        args.jobs = default_jobs()
    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1; got {args.jobs}.")
    log = (lambda *a, **k: None) if args.quiet else print
    if args.report_only:
        from pathlib import Path

        from .._io import OutputLock

        folder = Path(args.out or studies.runner.default_out(spec.name))
        read = studies.read_study(folder)
        if read.name != spec.name:
            raise UserError(f"{folder} holds the {read.name} study, not {spec.name}; pass the right --out.")
        with OutputLock(folder / "study.json", flag="--out"):  # not while the study itself still writes there
            studies.write_report(folder, log=log)
    else:
        try:
            folder = studies.run_study(spec.name, args.preset, seeds=args.seeds, dataset=args.dataset,
                                       data_dir=args.data_dir, download=args.download, out=args.out, jobs=args.jobs,
                                       progress=not args.quiet, log=log, backend=args.backend,
                                       address=args.address)
        except Interrupted:  # Ctrl-C or SIGTERM: the workers are stopped and the sentence says what was kept
            _exit_quickly()
            raise
    result = studies.read_study(folder)
    print(f"{result.name} ({result.preset}): {result.status}; report {result.report_md}")
    if args.publish:
        print(f"published: {studies.publish_study(folder, args.publish)}")
    for c in result.claims:
        who = f"reference ({c['reference']})" if c.get("reference") else "original"
        print(f"  {c['verdict']:>30}  {c['claim']}  ({who}: {c['original']}; ours: {c['ours']})")
    return 0


def _exit_quickly() -> None:
    """Spare an interrupted study the interpreter's final garbage collection: with torch, scipy and pyarrow
    loaded it takes 1-2 s of the 2 s a Ctrl-C may take, and the process is about to end (the objects alive
    now are moved out of the collector's sight; nothing is lost, the files are written and closed)."""
    import gc

    gc.freeze()


def default_jobs() -> int:
    """Small runs use a core each better than two cores together (less synchronisation, steadier under load);
    on a GPU machine the runs share one device, so one at a time."""
    import os

    import torch

    return 1 if torch.cuda.is_available() else max(1, min(4, os.cpu_count() or 1))


def _list(studies) -> int:
    for name, description in studies.available().items():
        spec = studies.get(name)
        print(f"{name}: {description}")
        exact = sum(c.kind == "exact" for c in spec.claims)
        sources = sorted({c.source.split(" ")[0] for c in spec.claims})
        print(f"  claims: {len(spec.claims) - exact} statistical + {exact} exact check{'s' * (exact != 1)} "
              f"(from {', '.join(sources)})")
        if spec.conditions:
            print("  conditions: " + ", ".join(f"{c.label} ({c.arch}{', ' + c.augment if c.augment != 'none' else ''})"
                                               for c in spec.conditions))
            print(f"  dataset: {spec.dataset} (embedded stand-in: --dataset {spec.fallback})")
            for preset in ("smoke", "quick", "full"):
                print(f"  {preset:>5}: {spec.cost(preset)}")
        else:
            print("  trains nothing: measured on the meta device in seconds")
    return 0
