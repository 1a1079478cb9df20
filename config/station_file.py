"""One sample station's settings file, for the demo, the tests and the benchmarks.

The demo, the test fixtures and every benchmark need a station on this machine. They all
start from :data:`SAMPLE` (城东社区人社便民服务站 in Guiyang, the station of the sample
feed) and change only what is theirs: an id, the hub's addresses, a port. Writing the file
in one place keeps them from drifting apart as settings grow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The sample station, section by section (dotted section names as in the TOML file).
SAMPLE: dict[str, dict[str, Any]] = {
    "station": {
        "id": "sample-station-01",
        "name": "城东社区人社便民服务站",
        "kind": "服务站",
        "region": "520103",
        "address": "贵阳市云岩区中华北路108号",
        "latitude": 26.5830,
        "longitude": 106.7135,
        "radius_km": 3,
        "hotline": "0851-12333",
        "complaint_phone": "0851-12345",
        "opening_hours": "周一至周五 9:00-17:30",  # as the sample feed's notice says (doctor checks they agree)
    },
    "storage": {"data_dir": "data", "free_space_floor_mb": 0},
    "devices.printer": {"kind": "virtual", "paper_width": 80, "profile": "generic-80"},
    "devices.kiosk_screen": {"width": 1080, "height": 1920},
    "devices.board_screen": {"width": 1920, "height": 1080},
}


def station_settings(changes: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """:data:`SAMPLE` with ``changes`` applied: ``{"hub.feed_url": "...", "station.id": "..."}``.

    A key is ``section.name`` (the section may be dotted: ``devices.printer.port``); the value
    ``None`` removes the key. A change to a section the sample lacks adds the section.
    """
    sections = {name: dict(values) for name, values in SAMPLE.items()}
    for dotted, value in (changes or {}).items():
        section, _, key = dotted.rpartition(".")
        if not section or not key:
            raise ValueError(f"a change is section.key, got {dotted!r}")
        values = sections.setdefault(section, {})
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return sections


def render(sections: Mapping[str, Mapping[str, Any]], comment: str = "") -> str:
    """The TOML text of ``sections`` (strings, numbers, booleans and lists of them)."""
    lines = [f"# {line}" for line in comment.splitlines()]
    for name, values in sections.items():
        if lines:
            lines.append("")
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_value(value, f'{name}.{key}')}" for key, value in values.items())
    return "\n".join(lines) + "\n"


def write_station_file(path: str | Path, changes: Mapping[str, Any] | None = None, *,
                       comment: str = "") -> Path:
    """Write the sample station with ``changes`` to ``path`` and make its data dir if that is
    relative to the file (an absolute one belongs to whoever installs the station)."""
    path = Path(path)
    sections = station_settings(changes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(sections, comment), encoding="utf-8")
    data_dir = Path(sections.get("storage", {}).get("data_dir", "data"))
    if not data_dir.is_absolute():
        (path.parent / data_dir).mkdir(parents=True, exist_ok=True)
    return path


def _value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v, where) for v in value) + "]"
    raise TypeError(f"{where}: cannot write {type(value).__name__} to a station file")
