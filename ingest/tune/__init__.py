"""`kb tune`: the embedding model fine-tuned on the labelled questions, published only when held-out folds
show it beats the base model.

recipe.py (the measured recipe), pairs.py (training pairs, hard negatives, batches), train.py (the seeded
torch loop), folder.py (the tuned model's folder, its export, names, removal), space.py (tuned models per
fold for the cross-validation), gate.py (the held-out comparison and its verdict), run.py (`tune`: gate,
train, export, a new version embedded with the tuned model).
"""
