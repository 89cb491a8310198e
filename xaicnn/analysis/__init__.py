"""Analyses over models and checkpoints, one concept per module (import the one you need; nothing heavy here;
a model's complexity is ``xaicnn.models.complexity``, a run's summary ``xaicnn.training.run_summary``):

- ``metrics``: ``evaluate(run)`` - accuracy, P/R/F1, confusion matrix (scikit-learn)
- ``gradient_flow``: ``gradient_flow(run)`` - layers x epochs gradient statistics, per stage
- ``attribution`` / ``attribution_methods``: ``attribute(model, inputs, targets, method=...)`` (captum); the
  method base class, its registry and shared helpers are in ``_attribution_base``, which both import
- ``faithfulness``: deletion/insertion curves (Petsiuk et al., 2018); ``sanity``: cascading randomisation
  (Adebayo et al., 2018); ``compare_attributions``: the same images through several runs
- ``agreement``: ``attribution_agreement(maps, names)`` - runs x runs Spearman rank correlation and top-k IoU
- ``drilldown``: the validation images behind a confusion cell, and the images two runs disagree on
- ``runs``: finding runs in a folder and the overview table (the app's sidebar)
- ``effective_rf``: the effective receptive field (Luo et al., 2016), trained vs initialisation (the
  theoretical one is ``xaicnn.models.receptive_field``)
- ``similarity``: linear CKA between layers of two runs or one (minibatch unbiased HSIC, Nguyen et al., 2021)
- ``features``: first-layer filters, feature maps, unit health (dead units); ``top_images``: the validation
  images each channel likes best, with receptive-field crops (Zeiler & Fergus, 2014)
"""
