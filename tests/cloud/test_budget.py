"""The usage budget: the device's own (``[llm] max_requests_per_hour`` ...), counted in a real
SQLite file, and a gateway's (LiteLLM's budget refusal), both spoken the same way; the cloud
brain against the loopback OpenAI-compatible server over real HTTP."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TEST_KEY, loopback_provider
from gpiozero.pins.mock import MockFactory

from device.app import build_skills, build_stores
from device.cloud.brain import BrainSettings, CloudBrain
from device.cloud.budget import BudgetLimits, UsageMeter, start_of_day
from device.cloud.chain import ProviderChain
from device.cloud.client import ChatClient
from device.cloud.providers import Provider
from device.cloud.spoken import BUDGET_DAY, BUDGET_HOUR
from device.cloud.tools import Toolbox
from device.config.sources import load_config
from device.egress import EgressGate, Ledger
from device.errors import ConfigError
from device.sim.loopback.server import LoopbackLLM
from device.skills.timers import Timers
from device.speaking.playback import Volume
from device.storage.database import Database
from device.storage.usage import KEEP_SECONDS, CloudUsage
from drivers.leds import PrivacyLed

NOON = 1_750_000_000.0 - 1_750_000_000.0 % 86400 + 12 * 3600  # some day, about midday UTC


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _provider(server: LoopbackLLM) -> Provider:
    # max_retries: a budget refusal must not be retried even so
    return loopback_provider(server, name="gateway", max_retries=1)


@pytest.fixture
def brain_on(tmp_path: Path) -> Iterator:
    """make(server, limits, clock) -> a cloud brain on the database file tmp_path/zeropin.db;
    each call opens the file again, as a restarted daemon does."""
    opened: list[Database] = []

    def make(
        server: LoopbackLLM,
        limits: BudgetLimits,
        clock: Clock,
        *,
        stream: bool = True,
        count_usage: bool | None = None,
    ) -> CloudBrain:
        cfg = load_config(paths=[], env={})
        database = Database(tmp_path / "zeropin.db")
        opened.append(database)
        stores = build_stores(database)
        gate = EgressGate(Ledger(database), PrivacyLed(16, pin_factory=MockFactory()))
        skills = build_skills(cfg, stores, None, tmp_path, Timers(lambda: 0.0), Volume())
        meter = UsageMeter(stores.usage, limits, clock=clock)
        chain = ProviderChain([ChatClient(_provider(server), gate)], meter=meter)
        counting = limits.max_tokens_per_day > 0 if count_usage is None else count_usage
        settings = BrainSettings(stream=stream, count_usage=counting)
        toolbox = Toolbox(skills, stores.memory)
        return CloudBrain(chain, toolbox, stores.memory, stores.conversation, settings, camera=None)

    yield make
    for database in opened:
        database.close()


def _ask(brain: CloudBrain, text: str = "why is the sky blue") -> str:
    return "".join(brain.reply(text))


def _chats(server: LoopbackLLM) -> int:
    return sum(request.path == "/v1/chat/completions" for request in server.requests)


def test_the_days_requests_run_out_and_a_restart_does_not_bring_them_back(
    llm_server: LoopbackLLM, brain_on, tmp_path: Path
) -> None:
    clock = Clock(NOON)
    brain = brain_on(llm_server, BudgetLimits(max_requests_per_day=2), clock)
    assert _ask(brain) != BUDGET_DAY
    clock.now += 60
    assert _ask(brain) != BUDGET_DAY
    clock.now += 60
    assert _ask(brain) == BUDGET_DAY
    assert _chats(llm_server) == 2  # the third question never left the device
    restarted = brain_on(llm_server, BudgetLimits(max_requests_per_day=2), clock)
    assert _ask(restarted) == BUDGET_DAY
    assert _chats(llm_server) == 2
    with Database(tmp_path / "zeropin.db") as db:
        rows = db.query("read", "SELECT at FROM cloud_usage ORDER BY id")
    assert [at for (at,) in rows] == [NOON, NOON + 60]
    clock.now = start_of_day(NOON) + 86400 + 60  # a minute past midnight: a new day
    assert _ask(restarted) != BUDGET_DAY
    assert _chats(llm_server) == 3


def test_the_hours_requests_run_out_for_the_hour_only(llm_server: LoopbackLLM, brain_on) -> None:
    clock = Clock(NOON)
    brain = brain_on(llm_server, BudgetLimits(max_requests_per_hour=1), clock)
    assert _ask(brain) != BUDGET_HOUR
    clock.now += 59 * 60
    assert _ask(brain) == BUDGET_HOUR
    clock.now += 2 * 60  # the first request is now more than an hour old
    assert _ask(brain) != BUDGET_HOUR
    assert _chats(llm_server) == 2


def test_tokens_are_counted_as_the_server_reports_them(llm_server: LoopbackLLM, brain_on) -> None:
    clock = Clock(NOON)
    brain = brain_on(llm_server, BudgetLimits(max_tokens_per_day=1), clock)
    assert _ask(brain) != BUDGET_DAY
    request = llm_server.requests[-1]
    assert request.body["stream_options"] == {"include_usage": True}
    assert _ask(brain) == BUDGET_DAY  # one answer already cost more than one token
    assert _chats(llm_server) == 1
    usage = brain.chain.meter.usage  # type: ignore[union-attr]
    totals = usage.totals(since_hour=NOON - 3600, since_day=start_of_day(NOON))
    # The loopback server counts words as tokens: the prompt's and the answer's, here.
    assert totals.requests_day == 1 and 100 < totals.tokens_day < 1000


def test_a_server_that_does_not_count_tokens_is_charged_an_estimate(
    llm_server: LoopbackLLM, brain_on
) -> None:
    clock = Clock(NOON)
    # Streaming without include_usage: the loopback then sends no usage, as many servers do.
    brain = brain_on(llm_server, BudgetLimits(max_tokens_per_day=100_000), clock, count_usage=False)
    _ask(brain)
    assert "stream_options" not in llm_server.requests[-1].body
    usage = brain.chain.meter.usage  # type: ignore[union-attr]
    totals = usage.totals(since_hour=NOON - 3600, since_day=start_of_day(NOON))
    assert 100 < totals.tokens_day < 2000  # the system prompt and the answer, by 4 characters


@pytest.mark.parametrize("fault", ["status_budget", "status_429_budget"])
def test_a_gateways_budget_refusal_is_spoken_the_same_way(
    llm_server: LoopbackLLM, brain_on, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    brain = brain_on(llm_server, BudgetLimits(), Clock(NOON))
    llm_server.fail_next(fault, times=3)
    assert _ask(brain) == BUDGET_DAY
    assert _chats(llm_server) == 1  # not retried: waiting will not bring the budget back
    assert _ask(brain) == BUDGET_DAY  # and the gateway is left alone for a while
    assert _chats(llm_server) == 1
    assert TEST_KEY not in caplog.text


def test_old_rows_are_deleted_as_new_ones_are_added(tmp_path: Path) -> None:
    with Database(tmp_path / "zeropin.db") as db:
        usage = CloudUsage(db)
        usage.sent(NOON - KEEP_SECONDS - 1)
        usage.sent(NOON - KEEP_SECONDS + 1)
        usage.sent(NOON)
        assert db.query("count", "SELECT count(*) FROM cloud_usage")[0][0] == 2


def test_limits_are_checked_where_they_are_set(tmp_path: Path) -> None:
    bad = tmp_path / "zeropin.toml"
    bad.write_text("[llm]\nmax_requests_per_day = -5\n")
    with pytest.raises(ConfigError, match=r"zeropin.toml.*max_requests_per_day.*must be >= 0"):
        load_config(paths=[bad], env={})
    good = tmp_path / "ok.toml"
    good.write_text("[llm]\nmax_requests_per_hour = 20\nmax_tokens_per_day = 50000\n")
    cfg = load_config(paths=[good], env={})
    assert (cfg.llm.max_requests_per_hour, cfg.llm.max_requests_per_day) == (20, 0)


def test_a_day_starts_at_local_midnight_also_when_the_clocks_change(monkeypatch) -> None:
    import datetime as dt
    import time

    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        utc = dt.UTC
        # 26 October 2025, 00:30 summer time (UTC+2); by noon the clocks are on UTC+1
        after_midnight = dt.datetime(2025, 10, 25, 22, 30, tzinfo=utc).timestamp()
        noon = dt.datetime(2025, 10, 26, 11, 0, tzinfo=utc).timestamp()
        midnight = dt.datetime(2025, 10, 25, 22, 0, tzinfo=utc).timestamp()
        assert start_of_day(after_midnight) == start_of_day(noon) == midnight
        # 30 March 2025: midnight was still winter time (UTC+1), noon is summer time
        spring_noon = dt.datetime(2025, 3, 30, 10, 0, tzinfo=utc).timestamp()
        assert start_of_day(spring_noon) == dt.datetime(2025, 3, 29, 23, 0, tzinfo=utc).timestamp()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_a_server_that_refuses_stream_options_is_asked_again_without_it(
    llm_server: LoopbackLLM, brain_on, caplog: pytest.LogCaptureFixture
) -> None:
    """Some OpenAI-compatible servers refuse any request field they do not know: the question
    is still answered, the tokens are estimated, and the field is not sent again."""
    llm_server.refused_fields = frozenset({"stream_options"})
    clock = Clock(NOON)
    brain = brain_on(llm_server, BudgetLimits(max_tokens_per_day=100_000), clock)
    answer = _ask(brain)
    assert answer and answer not in (BUDGET_DAY, BUDGET_HOUR) and "stream_options" not in answer
    first, second = llm_server.requests
    assert "stream_options" in first.body and "stream_options" not in second.body
    assert "refused stream_options" in caplog.text
    _ask(brain)
    assert "stream_options" not in llm_server.requests[-1].body and _chats(llm_server) == 3
    usage = brain.chain.meter.usage  # type: ignore[union-attr]
    totals = usage.totals(since_hour=NOON - 3600, since_day=start_of_day(NOON))
    assert totals.requests_day == 2 and totals.tokens_day > 0  # the refused request is not one



def test_a_question_cancelled_before_its_first_word_still_counts(
    llm_server: LoopbackLLM, brain_on
) -> None:
    """The wearer pressed the button while the server was thinking: the request had left, and
    the server may answer it, and bill it, all the same."""
    import threading
    import time

    from device.cancel import Cancellation, Cancelled

    llm_server.first_token_seconds = 3.0
    brain = brain_on(llm_server, BudgetLimits(max_requests_per_day=5), Clock(NOON))
    cancel = Cancellation()
    threading.Timer(0.5, cancel.cancel).start()
    started = time.monotonic()
    with contextlib.suppress(Cancelled):
        "".join(brain.reply("why is the sky blue", cancel=cancel))
    assert time.monotonic() - started < 2.5  # cut short, not waited out
    assert _chats(llm_server) == 1
    usage = brain.chain.meter.usage  # type: ignore[union-attr]
    assert usage.totals(since_hour=NOON - 3600, since_day=start_of_day(NOON)).requests_day == 1
