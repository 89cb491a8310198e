"""Studies: the experiments of the original reports as declarative specs, run as conditions x seeds.

    xaicnn.studies.available()                      # name -> one-line description
    spec = xaicnn.studies.get("vgg_kernel")         # StudySpec: conditions, presets, claims, figures
    folder = xaicnn.studies.run_study("vgg_kernel", "quick")   # train, test the claims, write the report
    xaicnn.studies.write_report(folder)             # redo tables, verdicts and figures from the runs
    [xaicnn.studies.read_study(f) for f in xaicnn.studies.find_studies("studies")]   # what the app lists
    xaicnn.studies.publish_study(folder, "docs/studies")   # docs/studies/<name>.md + figures, no checkpoints

Importing this package registers every study and imports no torch (the runner and the report load it
when they run).
"""
from .report import StudyResult, find_studies, publish_study, read_study, write_report
from .runner import plan_runs, run_study
from .spec import STUDIES, Claim, ComputedStudy, Condition, Preset, StudySpec, available, get, register_study

from . import catalog  # noqa: E402,F401  (registration, in listing order)

__all__ = ["STUDIES", "Claim", "ComputedStudy", "Condition", "Preset", "StudyResult", "StudySpec", "available",
           "find_studies", "get", "publish_study", "plan_runs", "read_study", "register_study", "run_study", "write_report"]
