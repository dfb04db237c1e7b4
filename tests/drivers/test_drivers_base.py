"""The close/with behaviour every driver inherits from ``drivers.base.Driver``."""

from __future__ import annotations

import threading

import pytest

from drivers.base import Driver


class CountingDriver(Driver):
    def __init__(self) -> None:
        self.releases = 0

    def _release(self) -> None:
        self.releases += 1


def test_close_releases_once_however_often_it_is_called() -> None:
    driver = CountingDriver()
    assert not driver.closed
    driver.close()
    driver.close()
    assert driver.closed
    assert driver.releases == 1


def test_with_closes_at_the_end_and_a_later_close_does_nothing() -> None:
    with CountingDriver() as driver:
        assert driver.releases == 0
    assert driver.releases == 1
    driver.close()
    assert driver.releases == 1


def test_with_closes_when_the_block_raises_and_lets_the_error_through() -> None:
    driver = CountingDriver()
    with pytest.raises(RuntimeError, match="boom"), driver:
        raise RuntimeError("boom")
    assert driver.closed
    assert driver.releases == 1


def test_two_threads_closing_at_once_release_once() -> None:
    drivers = [CountingDriver() for _ in range(200)]
    start = threading.Barrier(4)

    def close_all() -> None:
        start.wait(timeout=5)
        for driver in drivers:
            driver.close()

    threads = [threading.Thread(target=close_all) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert [driver.releases for driver in drivers] == [1] * len(drivers)
