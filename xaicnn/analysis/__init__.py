"""Analyses over models and checkpoints: complexity (params/FLOPs), and later evaluation, attribution,
gradient flow. Import the submodule you need; nothing heavy is imported here."""
