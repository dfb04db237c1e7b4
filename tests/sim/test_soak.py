"""The soak: a long mix of requests through the daemon, each matched with the turn after it."""

from __future__ import annotations

from pathlib import Path

from device.config.sources import load_config
from device.loop.router import BRAIN, NOT_CAUGHT
from device.loop.runtime import TurnReport
from device.sim.soak import MISSED, Request, make_mix, match, run_soak, summary


def test_each_request_is_matched_with_the_turn_that_followed_it():
    requests = [
        Request(3.0, "v", "what time is it", "time"),
        Request(40.0, "v", "why is the sky blue", BRAIN),
        Request(80.0, "v", "mute", "mute"),
        Request(120.0, "v", "volume up", "volume_up"),
    ]
    turns = [
        TurnReport("wake", "what time is it", True, "time", at_seconds=6.0),
        TurnReport("wake", "why is the sky blue", False, BRAIN, at_seconds=44.0),
        TurnReport("wake", "", False, NOT_CAUGHT, at_seconds=83.0),
        TurnReport("wake", "mute", True, "mute", at_seconds=100.0),  # a second turn: ignored
    ]
    outcomes = match(requests, turns)
    assert [o.decision for o in outcomes] == ["time", BRAIN, NOT_CAUGHT, MISSED]
    figures = summary(outcomes)
    assert figures["commands"] == 3 and figures["commands_decided_locally"] == 1
    assert figures["commands_not_caught"] == 1 and figures["commands_missed_wake"] == 1
    assert figures["questions_to_the_brain"] == 1 and figures["wrong_actions"] == 0


def test_a_minute_of_requests_through_the_daemon(tmp_path: Path):
    wav = tmp_path / "soak.wav"
    requests = make_mix(1.0, wav, seed=3)
    assert 2 <= len(requests) <= 5 and wav.stat().st_size > 60 * 32000
    run = run_soak(load_config(paths=[], env={}), wav, tmp_path)
    figures = summary(match(requests, run.turns))
    assert figures["answered"] >= len(requests) - 1
    assert figures["commands_decided_locally"] >= 1
    assert figures["wrong_actions"] == 0
    assert 0 < run.cpu_seconds < 60
    assert len(run.rss_mb) == 2 and min(run.rss_mb) > 10  # at the start and at the end
