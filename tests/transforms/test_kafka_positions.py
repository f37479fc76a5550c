"""The restriction of a Kafka read: claims, checkpoints, and the stop that lets a stream drain."""
import pytest

from transforms.kafka_positions import STOP_HERE, TopicPositionsTracker, TopicRestriction


def unbounded():
    return TopicPositionsTracker(TopicRestriction(((0, 5), (1, 0)), None))


def test_an_unbounded_read_cannot_end_without_a_checkpoint_or_a_stop():
    tracker = unbounded()
    assert tracker.try_claim((0, 5)) and tracker.try_claim((1, 3))
    with pytest.raises(ValueError):
        tracker.check_done()


def test_a_stop_ends_the_read_at_the_positions_reached_with_nothing_left_over():
    tracker = unbounded()
    tracker.try_claim((0, 5))
    tracker.try_claim((1, 3))
    assert tracker.try_claim(STOP_HERE) is False  # claimed through Beam's view: the only method it offers
    tracker.check_done()  # done: no residual, so the runner's watermark can go to the end of time
    assert tracker.current_restriction() == TopicRestriction(((0, 5), (1, 0)), ((0, 6), (1, 4)))
    assert tracker.is_bounded()
    assert tracker.try_claim((0, 6)) is False  # nothing more is read
    assert tracker.try_split(0) is None  # and no checkpoint hands a remainder back


def test_a_checkpoint_splits_at_the_positions_reached():
    tracker = unbounded()
    tracker.try_claim((0, 7))
    primary, residual = tracker.try_split(0)
    assert primary == TopicRestriction(((0, 5), (1, 0)), ((0, 8), (1, 0)))
    assert residual == TopicRestriction(((0, 8), (1, 0)), None)
    tracker.check_done()


def test_a_bounded_read_is_done_only_at_its_stops():
    tracker = TopicPositionsTracker(TopicRestriction(((0, 0),), ((0, 3),)))
    assert tracker.try_claim((0, 0))
    with pytest.raises(ValueError):
        tracker.check_done()
    assert tracker.try_claim((0, 2))  # the gap up to the stop (compacted offsets, markers)
    assert not tracker.try_claim((0, 3))
    tracker.check_done()


def test_a_bounded_read_is_split_per_partition_with_records_so_workers_read_partitions_in_parallel():
    from transforms.kafka_positions import TopicRestrictionProvider

    bounded = TopicRestriction(((0, 5), (1, 0), (2, 7)), ((0, 9), (1, 4), (2, 7)))  # partition 2: nothing to read
    assert list(TopicRestrictionProvider().split((), bounded)) == [
        TopicRestriction(((0, 5),), ((0, 9),)), TopicRestriction(((1, 0),), ((1, 4),))]
    # one partition with records, or none: nothing to split
    assert list(TopicRestrictionProvider().split((), TopicRestriction(((0, 5), (1, 4)), ((0, 9), (1, 4))))) == [
        TopicRestriction(((0, 5), (1, 4)), ((0, 9), (1, 4)))]


def test_a_stream_keeps_one_restriction_for_the_topic_so_its_watermark_is_the_oldest_partitions():
    from transforms.kafka_positions import TopicRestrictionProvider

    assert list(TopicRestrictionProvider().split((), unbounded().current_restriction())) == [
        TopicRestriction(((0, 5), (1, 0)), None)]
