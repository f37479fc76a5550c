"""Ranking metrics for binary labels, with ties handled fairly: ROC AUC and precision at k.

Scores go in as floats and labels as booleans, in the same order. Tied scores are never broken by
the order the rows came in: AUC gives a tied positive-negative pair one half, and precision at k
counts a tie group that straddles the cut in proportion (the expected precision under random
tie-breaking). Both return None when they are undefined (no positive or no negative; fewer than k rows).
"""
from __future__ import annotations

from itertools import groupby
from typing import Optional, Sequence


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> Optional[float]:
    """The probability that a random positive scores above a random negative (ties count one half)."""
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    ordered = sorted(zip(scores, labels), key=lambda pair: pair[0])
    rank_sum, position = 0.0, 0
    for _, group in groupby(ordered, key=lambda pair: pair[0]):
        members = list(group)
        mean_rank = position + (len(members) + 1) / 2  # ranks from 1; a tie group shares its mean rank
        rank_sum += mean_rank * sum(1 for _, label in members if label)
        position += len(members)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def precision_at(k: int, scores: Sequence[float], labels: Sequence[bool]) -> Optional[float]:
    """The share of positives among the k highest scores (expected value when ties straddle the cut)."""
    if len(scores) < k or k <= 0:
        return None
    ordered = sorted(zip(scores, labels), key=lambda pair: -pair[0])
    hits, taken = 0.0, 0
    for _, group in groupby(ordered, key=lambda pair: pair[0]):
        members = list(group)
        room = k - taken
        if room <= 0:
            break
        share = min(room, len(members)) / len(members)
        hits += share * sum(1 for _, label in members if label)
        taken += min(room, len(members))
    return hits / k
