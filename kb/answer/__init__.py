"""Answers: near-duplicates collapsed (collapse.py), the no-answer decision (calibration.py), the sentences
a card marks (highlight.py), what the answer says (compose.py), put together by `AnswerComposer`
(composer.py) into the typed `Answer` (model.py) that the API sends as it is, shown in the question's
script (script.py)."""
from kb.answer.calibration import FEATURES, Calibration
from kb.answer.composer import MIN_CANDIDATES, AnswerComposer
from kb.answer.model import Answer, Card, PassageView, RankedPassage, Source

__all__ = ["FEATURES", "MIN_CANDIDATES", "Answer", "AnswerComposer", "Calibration", "Card", "PassageView",
           "RankedPassage", "Source"]
