"""The reader service against the simulator: one event per placement, every fault, unplug and replug."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

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
from idcard.simulator import Simulator

POLL = 0.1  # the settings' minimum; keeps the tests short


class Recorder:
    """The service's callback: records events and the thread that delivered them."""

    def __init__(self) -> None:
        self.events: list[ReaderEvent] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def __call__(self, event: ReaderEvent) -> None:
        with self._cond:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self.events)

    def wait(self, kind: type[ReaderEvent], since: int = 0, timeout: float = 3.0) -> ReaderEvent:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[since:]:
                    if isinstance(event, kind):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {kind.__name__} within {timeout} s; got {self.names(since)}")
                self._cond.wait(remaining)

    def names(self, since: int = 0) -> list[str]:
        with self._cond:
            return [type(e).__name__ for e in self.events[since:]]

    def of(self, kind: type[ReaderEvent], since: int = 0) -> list[ReaderEvent]:
        with self._cond:
            return [e for e in self.events[since:] if isinstance(e, kind)]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def events() -> Recorder:
    return Recorder()


@pytest.fixture
def service(sim: Simulator, events: Recorder) -> Iterator[ReaderService]:
    svc = ReaderService(sim.path, poll_interval=POLL, reply_timeout=0.4, on_event=events)
    svc.start()
    events.wait(ReaderOnline)
    yield svc
    svc.stop()
    assert not svc.running


def test_comes_online_with_the_sam_id(service: ReaderService, events: Recorder) -> None:
    online = events.of(ReaderOnline)
    assert len(online) == 1 and online[0].sam_id == "05.01-20240101-0000012345-1234567890"
    assert service.state == "online"
    assert events.threads == {"idcard-reader"}  # the callback runs on the service thread


def test_exactly_one_card_read_per_placement(service: ReaderService, events: Recorder, sim: Simulator) -> None:
    start = events.mark()
    sim.place(0)
    read = events.wait(CardRead, start)
    assert read.card == dataclasses.replace(SAMPLE_IDENTITIES[0], fingerprint=b"")
    time.sleep(10 * POLL)  # the card stays through ten polls
    assert len(events.of(CardRead, start)) == 1
    assert sim.requests["read"] == 1 and sim.requests["find"] >= 6
    sim.remove()
    events.wait(CardRemoved, start)
    time.sleep(3 * POLL)
    assert events.names(start) == ["CardRead", "CardRemoved"]
    sim.place(2)
    second = events.wait(CardRead, start + 2)
    assert second.card.valid_to is None  # the 长期 card
    assert events.names(start) == ["CardRead", "CardRemoved", "CardRead"]


def test_swapping_cards_reads_the_new_one(service: ReaderService, events: Recorder, sim: Simulator) -> None:
    start = events.mark()
    sim.place(5)
    events.wait(CardRead, start)
    sim.place(6)
    events.wait(CardRead, start + 1)
    assert events.names(start) == ["CardRead", "CardRemoved", "CardRead"]
    assert [e.card.card_type.value for e in events.of(CardRead, start)] == ["hmt_permit", "foreign_2017"]


def test_garbage_before_the_reply_is_survived(service: ReaderService, events: Recorder, sim: Simulator) -> None:
    start = events.mark()
    sim.inject_garbage("read")
    sim.inject_garbage("find")
    sim.place(3)
    assert events.wait(CardRead, start).card.name == "阿依古丽·测试"
    assert events.of(ReaderError, start) == []


def test_bad_checksum_on_the_read_asks_to_place_the_card_again(service: ReaderService, events: Recorder,
                                                               sim: Simulator) -> None:
    start = events.mark()
    sim.corrupt_next_checksum("read")
    sim.place(1)
    error = events.wait(ReaderError, start)
    assert error.code == "checksum" and error.message_zh == "读卡失败，请重新放置身份证"
    time.sleep(5 * POLL)
    assert events.of(CardRead, start) == []  # no silent retry on a card that failed
    sim.remove()
    events.wait(CardRemoved, start)
    sim.place(1)
    events.wait(CardRead, start)
    assert service.state == "online"


def test_truncated_read_gives_an_error_then_reads_again(service: ReaderService, events: Recorder,
                                                        sim: Simulator) -> None:
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
                                                             sim: Simulator) -> None:
    start = events.mark()
    sim.corrupt_next_checksum(None)
    error = events.wait(ReaderError, start)
    assert error.code == "checksum" and error.message_zh == "读卡器通信异常，正在重试"
    events.wait(ReaderOnline, start)
    sim.place(4)
    read = events.wait(CardRead, start)
    assert read.card.is_expired(date(2026, 1, 1))


def test_slow_sam_within_the_timeout_still_reads(service: ReaderService, events: Recorder, sim: Simulator) -> None:
    start = events.mark()
    sim.slow_sam(0.1)
    sim.place(7)
    assert events.wait(CardRead, start).card.card_type.value == "foreign_2023"
    assert events.of(ReaderError, start) == []


def test_sam_slower_than_the_timeout_then_recovering(service: ReaderService, events: Recorder,
                                                     sim: Simulator) -> None:
    start = events.mark()
    sim.slow_sam(0.6)
    error = events.wait(ReaderError, start)
    assert error.code == "timeout" and error.message_zh == "读卡器无响应，正在重试"
    assert service.state == "error"
    time.sleep(1.0)
    assert len(events.of(ReaderError, start)) == 1  # one report per fault, not one per poll
    sim.slow_sam(0)
    events.wait(ReaderOnline, start, timeout=5)
    sim.place(0)
    events.wait(CardRead, start)


def test_sam_self_test_failure_is_reported_once_and_recovers(service: ReaderService, events: Recorder,
                                                            sim: Simulator) -> None:
    start = events.mark()
    sim.sam_failure(True)
    error = events.wait(ReaderError, start)
    assert (error.code, error.sw3, error.message_zh) == ("sam_self_test_failed", 0x60, "读卡器自检失败，请联系工作人员")
    time.sleep(5 * POLL)
    assert events.names(start) == ["ReaderError"]
    sim.sam_failure(False)
    events.wait(ReaderOnline, start)
    sim.place(0)
    events.wait(CardRead, start)


def test_read_failure_asks_to_place_the_card_again(service: ReaderService, events: Recorder,
                                                   sim: Simulator) -> None:
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
    with Simulator(identities=[forged]) as sim, \
            ReaderService(sim.path, poll_interval=POLL, on_event=events):
        events.wait(ReaderOnline)
        sim.place(0)
        error = events.wait(ReaderError)
        assert error.code == "card_data"
        assert "check character" in error.reason_en and "449999198611239925" not in error.reason_en
        assert error.message_zh == "无法识别此证件信息，请联系工作人员"
        assert events.of(CardRead) == []


def test_unplug_and_replug_recovers_within_two_seconds(service: ReaderService, events: Recorder,
                                                       sim: Simulator) -> None:
    start = events.mark()
    sim.place(0)
    events.wait(CardRead, start)
    sim.unplug()
    offline = events.wait(ReaderOffline, start)
    assert events.names(start) == ["CardRead", "CardRemoved", "ReaderOffline"]
    assert offline.reason
    assert service.state == "offline"
    time.sleep(1.0)  # stays offline quietly while the device node is gone
    assert events.names(start) == ["CardRead", "CardRemoved", "ReaderOffline"]
    sim.replug()
    replugged = time.monotonic()
    events.wait(ReaderOnline, start, timeout=2.0)
    assert time.monotonic() - replugged < 2.0
    read = events.wait(CardRead, start + 3)  # the card still on the reader is read again
    assert read.card.id_number == SAMPLE_IDENTITIES[0].id_number
    for _ in range(2):  # and again
        mark = events.mark()
        sim.unplug()
        events.wait(ReaderOffline, mark)
        sim.replug()
        events.wait(ReaderOnline, mark, timeout=2.0)


def test_missing_port_at_start_then_appearing(tmp_path: Path, events: Recorder) -> None:
    link = tmp_path / "ttyIDCARD"
    service = ReaderService(str(link), poll_interval=POLL, on_event=events)
    service.start()
    try:
        offline = events.wait(ReaderOffline)
        assert "No such file or directory" in offline.reason
        time.sleep(1.0)
        assert events.names() == ["ReaderOffline"]
        with Simulator(link=link) as sim:
            appeared = time.monotonic()
            events.wait(ReaderOnline, timeout=2.0)
            assert time.monotonic() - appeared < 2.0
            sim.place(1)
            events.wait(CardRead)
    finally:
        service.stop()


def test_a_failing_callback_never_stops_the_service(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    delivered: list[ReaderEvent] = []

    def callback(event: ReaderEvent) -> None:
        delivered.append(event)
        raise RuntimeError("the screen is gone")

    with ReaderService(sim.path, poll_interval=POLL, on_event=callback) as service:
        deadline = time.monotonic() + 3
        while not delivered and time.monotonic() < deadline:
            time.sleep(0.02)
        sim.place(0)
        while not any(isinstance(e, CardRead) for e in delivered) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [type(e) for e in delivered] == [ReaderOnline, CardRead]
        assert service.running and service.state == "online"
    assert "ID card event handler failed on reader_online: RuntimeError" in caplog.text


def test_without_a_callback_events_go_to_the_queue(sim: Simulator) -> None:
    with ReaderService(sim.path, poll_interval=POLL) as service:
        assert isinstance(service.events.get(timeout=3), ReaderOnline)
        sim.place(2)
        assert isinstance(service.events.get(timeout=3), CardRead)


def test_stop_is_prompt_even_while_waiting_for_a_reply(sim: Simulator, events: Recorder) -> None:
    service = ReaderService(sim.path, poll_interval=POLL, reply_timeout=3.0, on_event=events)
    service.start()
    events.wait(ReaderOnline)
    sim.slow_sam(2.5)
    time.sleep(0.3)  # a find card request is now waiting for its late reply
    mark = events.mark()
    started = time.monotonic()
    service.stop()
    assert time.monotonic() - started < 1.0
    assert not service.running and service.state == "stopped"
    assert events.names(mark) == []  # the cancelled read is not reported as a fault


def test_from_settings(station, sim: Simulator, events: Recorder) -> None:
    settings = station.write(f'[devices.idcard]\nport = "{sim.path}"\nbaud = 115200\npoll_interval_ms = 100\n'
                             'reply_timeout_s = 0.5\n')
    service = ReaderService.from_settings(settings, on_event=events)
    assert (service.port, service.baud, service.poll_interval, service.reply_timeout) == (sim.path, 115200, 0.1, 0.5)
    with service:
        events.wait(ReaderOnline)
        sim.place(6)
        assert events.wait(CardRead).card.english_name == "SAMPLE, TEST PERSON"


def test_personal_data_never_reaches_the_logs(sim: Simulator, events: Recorder, caplog: pytest.LogCaptureFixture,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    with ReaderService(sim.path, poll_interval=POLL, on_event=events, read_fingerprint=True):
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
