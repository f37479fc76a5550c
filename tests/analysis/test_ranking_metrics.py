import pytest

from analysis.ranking_metrics import precision_at, roc_auc


def test_auc_is_the_share_of_positive_negative_pairs_ranked_right_ties_counting_half():
    assert roc_auc([3, 2, 1], [True, False, False]) == 1.0
    assert roc_auc([1, 2, 3], [True, False, False]) == 0.0
    # positives 3 and 1, negatives 2 and 1: (3>2) + (3>1) + (1<2: 0) + (1=1: 0.5) = 2.5 of 4
    assert roc_auc([3, 1, 2, 1], [True, True, False, False]) == pytest.approx(2.5 / 4)
    assert roc_auc([5, 5, 5], [True, False, True]) == 0.5  # all tied: chance, whatever the input order


def test_auc_is_undefined_without_both_labels():
    assert roc_auc([1, 2], [True, True]) is None and roc_auc([], []) is None


def test_precision_at_k_counts_a_tie_at_the_cut_in_proportion():
    assert precision_at(2, [9, 8, 7], [True, False, True]) == 0.5
    # the top 2 of [9, tie 5, 5, 5]: 9 (positive) plus one of three tied rows, one of them positive
    assert precision_at(2, [9, 5, 5, 5], [True, True, False, False]) == pytest.approx((1 + 1 / 3) / 2)
    assert precision_at(5, [1, 2], [True, False]) is None
