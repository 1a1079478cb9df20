"""Repeated identical log lines are rate-limited; different ones still pass."""

from __future__ import annotations

import logging

from deploy.logs import RateLimitFilter


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _logger(name: str) -> tuple[logging.Logger, list[str], _Clock, RateLimitFilter]:
    lines: list[str] = []
    clock = _Clock()

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Keep()
    limit = RateLimitFilter(clock=clock)
    handler.addFilter(limit)
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, lines, clock, limit


def test_an_unplugged_reader_for_days_writes_a_few_lines_an_hour() -> None:
    logger, lines, clock, limit = _logger("test.idcard.flood")
    days = 2
    for second in range(days * 24 * 3600):  # one warning a second, day and night
        clock.now = float(second)
        logger.warning("ID card reader offline: %s", f"/dev/yizhan-idcard: errno {second % 7}")
    assert len(lines) <= days * 24 * 3 + 20  # at most the burst once an hour
    assert lines[0] == "ID card reader offline: /dev/yizhan-idcard: errno 0"
    assert any("more times before" in line for line in lines)
    total_reported = len(lines) + sum(int(line.split("message ")[1].split(" more")[0])
                                      for line in lines if "more times before" in line)
    pending = sum(seen.dropped for seen in limit._seen.values())  # counted in the next line that passes
    assert total_reported + pending == days * 24 * 3600  # nothing is dropped without being counted


def test_other_messages_pass_during_a_flood_and_a_quiet_kind_starts_over() -> None:
    logger, lines, clock, _ = _logger("test.mixed")
    for second in range(60):
        clock.now = float(second)
        logger.error("hub unreachable")
    logger.warning("printer out of paper")
    assert lines.count("hub unreachable") == 3 and lines[-1] == "printer out of paper"
    clock.now = 10_000.0  # long quiet, then the hub fails again: reported at once, with the count
    logger.error("hub unreachable")
    assert lines[-1].startswith("hub unreachable (the same message")
    clock.now = 20_000.0
    logger.error("hub unreachable")
    assert lines[-1] == "hub unreachable"


def test_installed_only_on_output_handlers() -> None:
    import logging.handlers

    from deploy.logs import install_log_limits

    logger = logging.getLogger("test.install")
    stream = logging.StreamHandler()

    class Capture(logging.StreamHandler):  # like a test runner's capture handler
        pass

    capture = Capture()
    logger.handlers[:] = [stream, capture]
    install_log_limits(logger)
    install_log_limits(logger)
    assert sum(isinstance(f, RateLimitFilter) for f in stream.filters) == 1
    assert not capture.filters
