"""Honest measurement of a KB with its labels (`kb eval --cv`): k-fold cross-validation in which every figure
comes from questions whose labels were in neither the similar-question keys nor the hub reference nor the
no-answer model's training rows of their fold, a paraphrase group staying in one fold.

items.py (the labelled questions, folds, figures), space.py (a model's vectors and the searcher of a fold: the
seam for a tuned model), run.py (each question searched once per regime, then ranked by the product's own
code), choose.py (the fix cosine, the agree bonus and the no-answer model, chosen on other folds only),
report.py (the tables), hijack.py (what 10 % wrong labels do)."""
