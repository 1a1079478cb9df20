"""Printer capability profiles: what a model of thermal printer can do, kept as data.

Our own profiles for the printers stations actually buy (``profiles.json`` beside this
file) come first. Any python-escpos capability profile can also be named as
``escpos:<name>`` (e.g. ``escpos:TM-T88V``); its dot width, QR and cutter support are
taken from python-escpos's own data. ``devices.printer.profile`` selects one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

PROFILES_FILE = Path(__file__).with_name("profiles.json")
ESCPOS_PREFIX = "escpos:"
# Font A on every ESC/POS printer we support: 12x24 dot cells, a double-byte character 24x24.
CELL_DOTS = 12


class ProfileError(ValueError):
    """An unknown or inconsistent printer profile; the message lists what is known."""


@dataclass(frozen=True)
class PrinterProfile:
    name: str
    description: str
    paper_width: Literal[58, 80]
    dots: int
    needs_fs_ampersand: bool
    charset: Literal["gbk", "gb18030"]
    native_qr: bool
    qr_max_module: int
    cutter: Literal["full", "partial", "none"]
    status: bool
    escpos_profile: str | None = None

    @property
    def columns(self) -> int:
        """Display columns per line in font A at normal size (a hanzi takes two)."""
        return self.dots // CELL_DOTS

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "paper_width": self.paper_width,
                "dots": self.dots, "columns": self.columns, "needs_fs_ampersand": self.needs_fs_ampersand,
                "charset": self.charset, "native_qr": self.native_qr, "qr_max_module": self.qr_max_module,
                "cutter": self.cutter, "status": self.status, "escpos_profile": self.escpos_profile}


_FIELDS = {"description": str, "paper_width": int, "dots": int, "needs_fs_ampersand": bool, "charset": str,
           "native_qr": bool, "qr_max_module": int, "cutter": str, "status": bool}


def _check(name: str, raw: dict[str, Any], source: str) -> PrinterProfile:
    where = f"{source}: profile {name!r}"
    for key, kind in _FIELDS.items():
        if key not in raw:
            raise ProfileError(f"{where}: missing {key!r}")
        if not isinstance(raw[key], kind) or (kind is int and isinstance(raw[key], bool)):
            raise ProfileError(f"{where}: {key!r} must be {kind.__name__}, got {raw[key]!r}")
    unknown = set(raw) - set(_FIELDS) - {"escpos_profile"}
    if unknown:
        raise ProfileError(f"{where}: unknown keys {sorted(unknown)}")
    if raw["paper_width"] not in (58, 80):
        raise ProfileError(f"{where}: paper_width must be 58 or 80, got {raw['paper_width']}")
    if not 192 <= raw["dots"] <= 832 or raw["dots"] % 8:
        raise ProfileError(f"{where}: dots must be a multiple of 8 between 192 and 832, got {raw['dots']}")
    if raw["charset"] not in ("gbk", "gb18030"):
        raise ProfileError(f"{where}: charset must be gbk or gb18030, got {raw['charset']!r}")
    if raw["cutter"] not in ("full", "partial", "none"):
        raise ProfileError(f"{where}: cutter must be full, partial or none, got {raw['cutter']!r}")
    if not 1 <= raw["qr_max_module"] <= 16:
        raise ProfileError(f"{where}: qr_max_module must be 1..16, got {raw['qr_max_module']}")
    return PrinterProfile(name=name, escpos_profile=raw.get("escpos_profile"), **{k: raw[k] for k in _FIELDS})


@cache
def _own_profiles() -> dict[str, PrinterProfile]:
    data = json.loads(PROFILES_FILE.read_text(encoding="utf-8"))
    return {name: _check(name, raw, PROFILES_FILE.name) for name, raw in data["profiles"].items()}


@cache
def escpos_capabilities() -> dict[str, Any]:
    """python-escpos's capability database, read as data (importing its module has side effects)."""
    ref = resources.files("escpos") / "capabilities.json"
    return json.loads(ref.read_text(encoding="utf-8"))["profiles"]


def _from_escpos(name: str) -> PrinterProfile:
    caps = escpos_capabilities()
    if name not in caps:
        raise ProfileError(f"python-escpos has no profile {name!r}; it has: {', '.join(sorted(caps))}")
    raw = caps[name]
    pixels = raw.get("media", {}).get("width", {}).get("pixels")
    if not isinstance(pixels, int):
        raise ProfileError(f"python-escpos profile {name!r} does not say its dot width; use one of ours")
    features = raw.get("features", {})
    cutter = "full" if features.get("paperFullCut") else "partial" if features.get("paperPartCut") else "none"
    return PrinterProfile(
        name=ESCPOS_PREFIX + name, description=f"python-escpos: {raw.get('name', name)}",
        paper_width=58 if pixels <= 432 else 80, dots=pixels - pixels % 8, needs_fs_ampersand=True,
        charset="gbk", native_qr=bool(features.get("qrCode")), qr_max_module=8, cutter=cutter,
        status=True, escpos_profile=name)


def known_profiles() -> dict[str, PrinterProfile]:
    """Our own profiles by name (``escpos:<name>`` ones are made on request)."""
    return dict(_own_profiles())


def get_profile(name: str) -> PrinterProfile:
    """The profile called ``name``; :class:`ProfileError` listing the known ones otherwise."""
    if name.startswith(ESCPOS_PREFIX):
        return _from_escpos(name[len(ESCPOS_PREFIX):])
    own = _own_profiles()
    if name not in own:
        raise ProfileError(f"unknown printer profile {name!r}; known profiles: {', '.join(own)} "
                           f"(or escpos:<name> for a python-escpos profile)")
    return own[name]


def profile_for(printer: Any) -> PrinterProfile:
    """The profile selected by ``devices.printer`` settings, checked against its paper width."""
    try:
        profile = get_profile(printer.profile)
    except ProfileError as exc:
        raise ProfileError(f"devices.printer.profile: {exc}") from None
    if profile.paper_width != printer.paper_width:
        raise ProfileError(
            f"devices.printer.profile {profile.name!r} is for {profile.paper_width} mm paper but "
            f"devices.printer.paper_width is {printer.paper_width}; choose a {printer.paper_width} mm "
            f"profile: {', '.join(n for n, p in _own_profiles().items() if p.paper_width == printer.paper_width)}")
    return profile
