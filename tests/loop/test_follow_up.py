"""Follow-ups: after an answer that ends in a question, the next question needs no wake word.

Through the real voice loop in the simulator: the scripted user (espeak-ng) speaks into the
simulated microphone, the wake word, endpointer and recogniser are the shipped ones, and the
cloud is the loopback OpenAI-compatible server on 127.0.0.1, whose reply the test chooses.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from device.config.sources import load_config
from device.loop.follow_up import FollowUps
from device.loop.states import State
from device.sim.cloud_demo import loopback_provider
from device.sim.demo import Step, run_demo

CFG = load_config(paths=[], env={}, overrides=["asr.vosk_model=/nonexistent/vosk"])
ASKS = "Blue light scatters the most. Do you want to know why sunsets are red?"
TELLS = "Blue light scatters the most. That is why the sky is blue."
CONVERSATION = (
    Step("testing the microphone, one, two, three"),  # the recogniser adapts to the room
    Step("hey zero, why is the sky blue"),
    Step("yes, tell me about the sunset", follow_up=True),
)


def test_a_reply_invites_a_follow_up_when_it_ends_in_a_question():
    follow = FollowUps("question", 4.0)
    assert follow.invited_by("Want the recipe too?")
    assert follow.invited_by("Shall I? ")
    assert not follow.invited_by("It's 10:00 PM.")
    assert not follow.invited_by("")
    assert FollowUps("always").invited_by("It's 10:00 PM.")
    assert not FollowUps("always").invited_by("  ")
    assert not FollowUps("off").invited_by("Want the recipe too?")


def converse(tmp_path: Path, reply: str, follow_up: str = "question"):
    """The conversation against the loopback model answering ``reply``: the turns, the chat
    requests the server got, and each state change with its audio time."""
    cfg = dataclasses.replace(CFG, wake=dataclasses.replace(CFG.wake, follow_up=follow_up))
    states: list[tuple[State, float]] = []
    with loopback_provider() as (server, provider):
        server.reply_text = reply
        reports = run_demo(
            cfg,
            tmp_path / "out",
            steps=CONVERSATION,
            providers=[provider],
            state_dir=tmp_path,
            on_state=lambda state, seconds: states.append((state, seconds)),
        )
        chats = [r for r in server.requests if r.path == "/v1/chat/completions"]
    return reports, chats, states


def test_the_answer_to_the_devices_question_needs_no_wake_word_and_keeps_the_context(tmp_path):
    reports, chats, states = converse(tmp_path, ASKS)
    assert [r.trigger for r in reports] == ["wake", "follow_up"]
    assert len(chats) == 2
    second = chats[1].body["messages"]
    # the brain keeps the conversation it already keeps: the first answer goes with the second
    assert any(m["role"] == "assistant" and ASKS in str(m["content"]) for m in second)
    # after the first answer: listening for the follow-up, then answering it, then resting
    sequence = [state for state, _ in states]
    first_answer = sequence.index(State.SPEAKING)
    assert sequence[first_answer : first_answer + 4] == [
        State.SPEAKING,
        State.FOLLOWING,
        State.THINKING,
        State.SPEAKING,
    ]


def test_without_a_question_the_next_words_need_the_wake_word(tmp_path):
    reports, chats, states = converse(tmp_path, TELLS)
    assert [r.trigger for r in reports] == ["wake"]
    assert len(chats) == 1  # "yes, tell me about the sunset" was said to nobody
    assert State.FOLLOWING not in [s for s, _ in states]


def test_with_follow_ups_always_on_any_answer_is_followed(tmp_path):
    reports, chats, _ = converse(tmp_path, TELLS, follow_up="always")
    assert [r.trigger for r in reports] == ["wake", "follow_up"] and len(chats) == 2


def test_a_silent_follow_up_window_closes_after_its_seconds(tmp_path):
    with loopback_provider() as (server, provider):
        server.reply_text = ASKS
        states: list[tuple[State, float]] = []
        run_demo(
            CFG,
            tmp_path / "out",
            steps=CONVERSATION[:2],  # nobody answers the device's question
            providers=[provider],
            state_dir=tmp_path,
            on_state=lambda state, seconds: states.append((state, seconds)),
        )
    opened = next(t for s, t in states if s is State.FOLLOWING)
    closed = next(t for s, t in states if s is State.IDLE and t > opened)
    assert abs(closed - opened - CFG.wake.follow_up_seconds) < 0.1, (opened, closed)
