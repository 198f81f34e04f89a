"""Labelled questions as part of the knowledge base: the label (model.py), which passages answer it
(resolve.py), the similar-question keys and what a match gives (keys.py), how a match changes the ranking
(rules.py), the reference questions a version is built with (reference.py), the keys a serving process keeps
up to date (live.py), and import / export (files.py). The store behind them is kb/state's `LabelStore`."""
