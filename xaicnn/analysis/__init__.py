"""Analyses over models and checkpoints, one concept per module (import the one you need; nothing heavy here):

- ``complexity``: per-layer output shapes, parameters and FLOPs (``torch.utils.flop_counter``)
- ``metrics``: ``evaluate(run)`` - accuracy, P/R/F1, confusion matrix (scikit-learn)
- ``gradient_flow``: ``gradient_flow(run)`` - layers x epochs gradient statistics, per stage
- ``attribution`` / ``attribution_methods``: ``attribute(model, inputs, targets, method=...)`` (captum)
- ``faithfulness``: deletion/insertion curves (Petsiuk et al., 2018); ``sanity``: cascading randomisation
  (Adebayo et al., 2018); ``compare_attributions``: the same images through several runs
- ``agreement``: ``attribution_agreement(maps, names)`` - runs x runs Spearman rank correlation and top-k IoU
- ``drilldown``: the validation images behind a confusion cell, and the images two runs disagree on
- ``runs``: finding runs in a folder and the overview table (the app's sidebar)
- ``run_summary``: ``summarize_run(state)`` - a run's facts with one definition of seconds per epoch, shared by
  the app, ``xaicnn inspect`` and the studies
"""
