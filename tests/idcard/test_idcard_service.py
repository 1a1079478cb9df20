"""The reader service against the simulator: one event per placement, every fault, unplug and replug.

Most tests drive the service by hand, in process: the simulated reader is served as
``yizhansim://`` on a manual clock and the test calls ``poll_once()`` round by round, so that
nothing sleeps and nothing depends on the machine's speed. The last tests run the service's own
thread against the pseudo-terminal simulator, as the kiosk does.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from config.station import Station
from idcard.clock import ManualClock
from idcard.samples import SAMPLE_IDENTITIES
from idcard.service import (
    CardRead,
    CardRemoved,
    ReaderError,
    ReaderEvent,
    ReaderOffline,
    ReaderOnline,
    ReaderService,
)
from idcard.simulation.model import ReaderModel
from idcard.simulation.protocol_yizhansim import serve_in_process, withdraw
from idcard.simulator import Simulator

POLL = 0.1  # the settings' minimum
ROUNDS = 60  # polls a test waits for an event before it fails (6 s on the manual clock)
THREAD_TIMEOUT = 30.0  # only for the tests that run the real thread: a failure, never a measurement


class Recorder:
    """The service's callback: records events and the thread that delivered them."""

    def __init__(self) -> None:
        self.events: list[ReaderEvent] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()
        self.service: ReaderService | None = None
        self.clock: ManualClock | None = None

    def __call__(self, event: ReaderEvent) -> None:
        with self._cond:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self.events)

    def rounds(self, count: int) -> None:
        """Let the hand-driven service run ``count`` rounds, the clock moving as the thread would wait."""
        assert self.service is not None and self.clock is not None
        for _ in range(count):
            self.clock.advance(self.service.poll_once())

    def wait(self, kind: type[ReaderEvent], since: int = 0, rounds: int = ROUNDS) -> ReaderEvent:
        """The first ``kind`` event since ``since``: driving the service by hand, or waiting for its thread."""
        for _ in range(rounds + 1):
            found = self._first(kind, since)
            if found is not None:
                return found
            if self.service is None:
                with self._cond:
                    self._cond.wait_for(lambda: self._first(kind, since) is not None, THREAD_TIMEOUT)
            else:
                self.rounds(1)
        raise AssertionError(f"no {kind.__name__} after {rounds} polls; got {self.names(since)}")

    def _first(self, kind: type[ReaderEvent], since: int) -> ReaderEvent | None:
        with self._cond:
            return next((e for e in self.events[since:] if isinstance(e, kind)), None)

    def names(self, since: int = 0) -> list[str]:
        with self._cond:
            return [type(e).__name__ for e in self.events[since:]]

    def of(self, kind: type[ReaderEvent], since: int = 0) -> list[ReaderEvent]:
        with self._cond:
            return [e for e in self.events[since:] if isinstance(e, kind)]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[ReaderModel]:
    """The simulated reader in process, as ``yizhansim://``; ``sim.url`` is its port."""
    model = ReaderModel(clock=clock)
    model.url = serve_in_process(model)  # type: ignore[attr-defined]
    yield model
    withdraw(model.url)  # type: ignore[attr-defined]


@pytest.fixture
def pty_sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def events() -> Recorder:
    return Recorder()


@pytest.fixture
def service(sim: ReaderModel, clock: ManualClock, events: Recorder) -> ReaderService:
    svc = ReaderService(sim.url, poll_interval=POLL, reply_timeout=0.4, on_event=events,  # type: ignore[attr-defined]
                        clock=clock)
    events.service, events.clock = svc, clock
    events.wait(ReaderOnline)
    return svc


def test_comes_online_with_the_sam_id(service: ReaderService, events: Recorder) -> None:
    online = events.of(ReaderOnline)
    assert len(online) == 1 and online[0].sam_id == "05.01-20240101-0000012345-1234567890"
    assert service.state == "online"


def test_exactly_one_card_read_per_placement(service: ReaderService, events: Recorder, sim: ReaderModel) -> None:
    start = events.mark()
    sim.place(0)
    read = events.wait(CardRead, start)
    assert read.card == dataclasses.replace(SAMPLE_IDENTITIES[0], fingerprint=b"")
    events.rounds(10)  # the card stays through ten polls
    assert len(events.of(CardRead, start)) == 1
    assert sim.requests["read"] == 1 and sim.requests["find"] >= 6
    sim.remove()
    events.wait(CardRemoved, start)
    events.rounds(3)
    assert events.names(start) == ["CardRead", "CardRemoved"]
    sim.place(2)
    second = events.wait(CardRead, start + 2)
    assert second.card.valid_to is None  # the 长期 card
    assert events.names(start) == ["CardRead", "CardRemoved", "CardRead"]


def test_swapping_cards_reads_the_new_one(service: ReaderService, events: Recorder, sim: ReaderModel) -> None:
    start = events.mark()
    sim.place(5)
    events.wait(CardRead, start)
    sim.place(6)
    events.wait(CardRead, start + 1)
    assert events.names(start) == ["CardRead", "CardRemoved", "CardRead"]
    assert [e.card.card_type.value for e in events.of(CardRead, start)] == ["hmt_permit", "foreign_2017"]


def test_garbage_before_the_reply_is_survived(service: ReaderService, events: Recorder, sim: ReaderModel) -> None:
    start = events.mark()
    sim.inject_garbage("read")
    sim.inject_garbage("find")
    sim.place(3)
    assert events.wait(CardRead, start).card.name == "阿依古丽·测试"
    assert events.of(ReaderError, start) == []


def test_bad_checksum_on_the_read_asks_to_place_the_card_again(service: ReaderService, events: Recorder,
                                                               sim: ReaderModel) -> None:
    start = events.mark()
    sim.corrupt_next_checksum("read")
    sim.place(1)
    error = events.wait(ReaderError, start)
    assert error.code == "checksum" and error.message_zh == "读卡失败，请重新放置身份证"
    events.rounds(5)
    assert events.of(CardRead, start) == []  # no silent retry on a card that failed
    sim.remove()
    events.wait(CardRemoved, start)
    sim.place(1)
    events.wait(CardRead, start)
    assert service.state == "online"


def test_truncated_read_gives_an_error_then_reads_again(service: ReaderService, events: Recorder,
                                                        sim: ReaderModel) -> None:
    start = events.mark()
    sim.truncate_next_frame("read")
    sim.place(0)
    error = events.wait(ReaderError, start)
    assert error.code == "truncated" and "received 647 of 1295 bytes" in error.reason_en
    sim.remove()
    events.wait(CardRemoved, start)
    sim.place(0)
    events.wait(CardRead, start)


def test_bad_checksum_while_polling_is_reported_then_cleared(service: ReaderService, events: Recorder,
                                                             sim: ReaderModel) -> None:
    start = events.mark()
    sim.corrupt_next_checksum(None)
    error = events.wait(ReaderError, start)
    assert error.code == "checksum" and error.message_zh == "读卡器通信异常，正在重试"
    events.wait(ReaderOnline, start)
    sim.place(4)
    read = events.wait(CardRead, start)
    assert read.card.is_expired(date(2026, 1, 1))


def test_slow_sam_within_the_timeout_still_reads(service: ReaderService, events: Recorder, sim: ReaderModel) -> None:
    start = events.mark()
    sim.slow_sam(0.1)
    sim.place(7)
    assert events.wait(CardRead, start).card.card_type.value == "foreign_2023"
    assert events.of(ReaderError, start) == []


def test_sam_slower_than_the_timeout_then_recovering(service: ReaderService, events: Recorder,
                                                     sim: ReaderModel) -> None:
    start = events.mark()
    sim.slow_sam(0.6)
    error = events.wait(ReaderError, start)
    assert error.code == "timeout" and error.message_zh == "读卡器无响应，正在重试"
    assert service.state == "error"
    events.rounds(3)
    assert len(events.of(ReaderError, start)) == 1  # one report per fault, not one per poll
    sim.slow_sam(0)
    events.wait(ReaderOnline, start)
    sim.place(0)
    events.wait(CardRead, start)


def test_sam_self_test_failure_is_reported_once_and_recovers(service: ReaderService, events: Recorder,
                                                            sim: ReaderModel) -> None:
    start = events.mark()
    sim.sam_failure(True)
    error = events.wait(ReaderError, start)
    assert (error.code, error.sw3, error.message_zh) == ("sam_self_test_failed", 0x60, "读卡器自检失败，请联系工作人员")
    events.rounds(5)
    assert events.names(start) == ["ReaderError"]
    sim.sam_failure(False)
    events.wait(ReaderOnline, start)
    sim.place(0)
    events.wait(CardRead, start)


def test_read_failure_asks_to_place_the_card_again(service: ReaderService, events: Recorder,
                                                   sim: ReaderModel) -> None:
    start = events.mark()
    sim.read_failure(1)
    sim.place(0)
    error = events.wait(ReaderError, start)
    assert (error.code, error.sw3, error.message_zh) == ("read_failed", 0x41, "读卡失败，请重新放置身份证")
    sim.remove()
    events.wait(CardRemoved, start)
    sim.place(0)
    events.wait(CardRead, start)


def test_card_whose_text_does_not_validate_is_not_trusted(events: Recorder) -> None:
    forged = dataclasses.replace(SAMPLE_IDENTITIES[1], id_number="449999198611239925")  # wrong check character
    clock = ManualClock()
    sim = ReaderModel(identities=[forged], clock=clock)
    url = serve_in_process(sim)
    events.service = ReaderService(url, poll_interval=POLL, on_event=events, clock=clock)
    events.clock = clock
    events.wait(ReaderOnline)
    sim.place(0)
    error = events.wait(ReaderError)
    assert error.code == "card_data"
    assert "check character" in error.reason_en and "449999198611239925" not in error.reason_en
    assert error.message_zh == "无法识别此证件信息，请联系工作人员"
    assert events.of(CardRead) == []
    withdraw(url)


def test_unplug_and_replug_recovers_within_two_seconds(service: ReaderService, events: Recorder,
                                                       sim: ReaderModel, clock: ManualClock) -> None:
    start = events.mark()
    sim.place(0)
    events.wait(CardRead, start)
    sim.unplug()
    offline = events.wait(ReaderOffline, start)
    assert events.names(start) == ["CardRead", "CardRemoved", "ReaderOffline"]
    assert offline.reason
    assert service.state == "offline"
    events.rounds(5)  # stays offline quietly while the device node is gone
    assert events.names(start) == ["CardRead", "CardRemoved", "ReaderOffline"]
    sim.replug()
    replugged = clock.monotonic()
    events.wait(ReaderOnline, start)
    assert clock.monotonic() - replugged < 2.0  # on the service's clock: reconnect_interval is 0.5 s
    read = events.wait(CardRead, start + 3)  # the card still on the reader is read again
    assert read.card.id_number == SAMPLE_IDENTITIES[0].id_number
    for _ in range(2):  # and again
        mark = events.mark()
        sim.unplug()
        events.wait(ReaderOffline, mark)
        sim.replug()
        events.wait(ReaderOnline, mark)


def test_missing_port_at_start_then_appearing(tmp_path: Path, events: Recorder) -> None:
    link = tmp_path / "ttyIDCARD"
    clock = ManualClock()
    service = ReaderService(str(link), poll_interval=POLL, on_event=events, clock=clock)
    events.service, events.clock = service, clock
    offline = events.wait(ReaderOffline)
    assert "No such file or directory" in offline.reason
    events.rounds(4)
    assert events.names() == ["ReaderOffline"]
    with Simulator(link=link) as sim:  # the device node appears: the pseudo-terminal simulator
        events.wait(ReaderOnline, rounds=1)  # on the next round, i.e. within reconnect_interval
        sim.place(1)
        events.wait(CardRead)
    service.stop()


def test_a_failing_callback_never_stops_the_service(pty_sim: Simulator, events: Recorder,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    def callback(event: ReaderEvent) -> None:
        events(event)
        raise RuntimeError("the screen is gone")

    with ReaderService(pty_sim.path, poll_interval=POLL, on_event=callback) as service:
        events.wait(ReaderOnline)
        pty_sim.place(0)
        events.wait(CardRead)
        assert events.names() == ["ReaderOnline", "CardRead"]
        assert service.running and service.state == "online"
        assert events.threads == {"idcard-reader"}  # the callback runs on the service thread
    assert "ID card event handler failed on reader_online: RuntimeError" in caplog.text


def test_without_a_callback_events_go_to_the_queue(pty_sim: Simulator) -> None:
    with ReaderService(pty_sim.path, poll_interval=POLL) as service:
        assert isinstance(service.events.get(timeout=THREAD_TIMEOUT), ReaderOnline)
        pty_sim.place(2)
        assert isinstance(service.events.get(timeout=THREAD_TIMEOUT), CardRead)


def test_stop_is_prompt_even_while_waiting_for_a_reply(pty_sim: Simulator, events: Recorder) -> None:
    # The reply would come after 60 s; stop() cancels the read instead of waiting for it.
    service = ReaderService(pty_sim.path, poll_interval=POLL, reply_timeout=90.0, on_event=events)
    service.start()
    events.wait(ReaderOnline)
    asked = threading.Event()
    answer = pty_sim.answer

    def answer_and_tell(*args: object) -> object:
        reply = answer(*args)  # type: ignore[arg-type]
        asked.set()
        return reply

    pty_sim.slow_sam(60)
    pty_sim.answer = answer_and_tell  # type: ignore[method-assign]
    assert asked.wait(THREAD_TIMEOUT)  # a request is now waiting for its late reply
    mark = events.mark()
    service.stop(timeout=THREAD_TIMEOUT)
    assert not service.running and service.state == "stopped"
    assert events.names(mark) == []  # the cancelled read is not reported as a fault


def test_from_settings(station, pty_sim: Simulator, events: Recorder) -> None:
    sim = pty_sim
    settings = station.write(f'[devices.idcard]\nport = "{sim.path}"\nbaud = 115200\npoll_interval_ms = 100\n'
                             'reply_timeout_s = 0.5\n')
    service = Station(settings).reader_service(on_event=events)
    assert (service.port, service.baud, service.poll_interval, service.reply_timeout) == (sim.path, 115200, 0.1, 0.5)
    with service:
        events.wait(ReaderOnline)
        sim.place(6)
        assert events.wait(CardRead).card.english_name == "SAMPLE, TEST PERSON"


def test_personal_data_never_reaches_the_logs(sim: ReaderModel, clock: ManualClock, events: Recorder,
                                              caplog: pytest.LogCaptureFixture,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    events.service = ReaderService(sim.url, poll_interval=POLL, on_event=events, read_fingerprint=True,  # type: ignore[attr-defined]
                                   clock=clock)
    events.clock = clock
    events.wait(ReaderOnline)
    for index in range(len(SAMPLE_IDENTITIES)):
        mark = events.mark()
        sim.place(index)
        events.wait(CardRead, mark)
    sim.corrupt_next_checksum()
    sim.place(0)
    events.wait(ReaderError)
    for event in events.events:
        logging.getLogger("test").info("event: %r / %s", event, event)
    out = capsys.readouterr()
    shown = caplog.text + out.out + out.err
    assert "card read: IdentityCard(" in caplog.text
    for card in SAMPLE_IDENTITIES:
        for secret in (card.name, card.id_number, card.address, card.newest_address, card.english_name):
            if secret:
                assert secret not in shown
