"""StopMatcher: stop sequences found in streamed text, even when they span several feeds."""

from __future__ import annotations

from parley.domain.stopping import StopMatcher


def test_text_without_any_stop_prefix_is_released_at_once() -> None:
    assert StopMatcher(["END"]).feed("hello there") == ("hello there", None)


def test_a_match_spanning_two_feeds_is_found() -> None:
    matcher = StopMatcher(["END"])
    assert matcher.feed("the E") == ("the ", None)
    assert matcher.feed("ND of it") == ("", "END")


def test_a_match_spanning_three_feeds_is_found() -> None:
    matcher = StopMatcher(["STOP"])
    assert matcher.feed("go S") == ("go ", None)
    assert matcher.feed("T") == ("", None)
    assert matcher.feed("OP!") == ("", "STOP")


def test_text_before_a_match_inside_one_feed_is_returned() -> None:
    assert StopMatcher(["\n\n"]).feed("line one\n\nline two") == ("line one", "\n\n")


def test_the_earliest_of_several_stop_sequences_wins() -> None:
    assert StopMatcher(["world", "lo"]).feed("hello world") == ("hel", "lo")


def test_the_earliest_match_wins_across_feeds() -> None:
    matcher = StopMatcher(["cat", "at the"])
    assert matcher.feed("look a") == ("look ", None)
    assert matcher.feed("t the cat") == ("", "at the")


def test_a_held_partial_prefix_is_released_when_the_next_feed_breaks_it() -> None:
    matcher = StopMatcher(["STOP"])
    assert matcher.feed("ST") == ("", None)
    assert matcher.feed("ay") == ("STay", None)


def test_a_held_partial_prefix_is_released_by_flush() -> None:
    matcher = StopMatcher(["STOP"])
    assert matcher.feed("go ST") == ("go ", None)
    assert matcher.flush() == "ST"
    assert matcher.flush() == ""


def test_the_longest_partial_prefix_of_any_stop_is_held() -> None:
    matcher = StopMatcher(["xyz", "yz!"])
    assert matcher.feed("abxy") == ("ab", None)
    assert matcher.feed("z") == ("", "xyz")


def test_empty_stop_sequences_are_ignored() -> None:
    assert StopMatcher(["", "END"]).feed("plain") == ("plain", None)


def test_no_stop_sequences_release_everything() -> None:
    matcher = StopMatcher([])
    assert matcher.feed("any text") == ("any text", None)
    assert matcher.flush() == ""
