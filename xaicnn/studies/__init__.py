"""Studies: the experiments of the original reports as declarative specs, run as conditions x seeds.

    xaicnn.studies.available()                      # name -> one-line description
    spec = xaicnn.studies.get("vgg_kernel")         # StudySpec: conditions, presets, claims, figures
    folder = xaicnn.studies.run_study("vgg_kernel", "quick")   # train, test the claims, write the report
    xaicnn.studies.write_report(folder)             # redo tables, verdicts and figures from the runs
    [xaicnn.studies.read_study(f) for f in xaicnn.studies.find_studies("studies")]   # what the app lists
    xaicnn.studies.publish_study(folder, "docs/studies")   # docs/studies/<name>.md + figures, no checkpoints

Modules: ``spec`` (what a study is), ``runner`` (training), ``record`` (study.json, read by everything),
``results`` (metrics and tables), ``stats`` and ``verdicts`` (claims -> verdicts), ``report`` / ``markdown``
(writing), ``publish`` (copies for readers), ``figures``. Importing this package registers every study and
imports no torch (the runner and the report load it when they run).
"""
from .publish import publish_study, write_index
from .record import StudyResult, find_studies, read_study
from .report import write_report
from .runner import plan_runs, run_study
from .spec import STUDIES, Claim, ComputedStudy, Condition, Preset, StudySpec, available, get, register_study

from . import catalog  # noqa: E402,F401  (registration, in listing order)

__all__ = ["STUDIES", "Claim", "ComputedStudy", "Condition", "Preset", "StudyResult", "StudySpec", "available",
           "find_studies", "get", "publish_study", "plan_runs", "read_study", "register_study", "run_study",
           "write_index", "write_report"]
