"""The station's settings: a TOML file validated into typed, frozen settings.

A bad file is refused with :class:`SettingsError`, whose message names the file, the
key and what is wrong (``station.toml: devices.printer.paper_width: must be 58 or 80,
got 75``). Unknown keys are errors: a typo must not pass silently.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from common.netutil import dialled_scheme, hub_url_problem, is_loopback_url
from content import credentials
from protocol.phone import phone_page_url

DEFAULT_LOCATIONS = (Path("/etc/yizhan/station.toml"), Path("station.toml"))
STATION_KINDS = ("服务站", "零工驿站", "就业驿站", "就业之家")
BOARD_PROFILES = ("tv-1080p", "tv-portrait", "led-strip", "led-panel")
PIN_SCHEME = "pbkdf2_sha256"  # the older PIN hash: still verified, reported as to be re-hashed
PIN_ROUNDS = 200_000
# The staff PIN hash: argon2id, costly enough that one guess takes 0.5 s or more on a station's
# CPU (``yizhan config hash-pin`` measures it and raises the time cost where the CPU is faster).
# A 6-digit PIN then takes about 6 days of one core to exhaust; a 4-digit PBKDF2 one took 12 minutes.
PIN_ARGON2_PREFIX = "$argon2id$"
PIN_MIN_DIGITS = 6
PIN_MAX_DIGITS = 12
PIN_MEMORY_KIB = 128 * 1024  # about 0.52 s a check on a 2020s desktop core; slower on a station's CPU
PIN_TIME_COST = 3
PIN_PARALLELISM = 1
PIN_GUESS_TARGET_S = 0.5


NO_QR = "none"  # devices.board_screen.qr_url: no QR code on the board


class SettingsError(Exception):
    """The settings file is missing, unreadable or invalid. ``str()`` is the message for the user."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class StationSettings(_Section):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=2, max_length=40)
    kind: Literal["服务站", "零工驿站", "就业驿站", "就业之家"] = "服务站"
    region: str = Field(default="", pattern=r"^(\d{6})?$", description="GB/T 2260 region code")
    address: str = ""
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    radius_km: float = Field(default=3.0, gt=0, le=500)
    hotline: str = ""
    complaint_phone: str = ""
    opening_hours: str = ""


def insecure_urls(hub: HubSettings) -> list[str]:
    """The hub URLs that would carry data in clear across a network (plain http, not loopback)."""
    return [name for name in ("feed_url", "upload_url")
            if getattr(hub, name) and dialled_scheme(getattr(hub, name)) == "http"
            and not is_loopback_url(getattr(hub, name))]


class HubSettings(_Section):
    feed_url: str = ""
    public_key: str = Field(default="", description="base64 of the feed's raw 32-byte Ed25519 public key")
    # The one feed this station shows; empty = the feed of the first successful sync, pinned.
    feed_id: str = Field(default="", pattern=r"^([A-Za-z0-9._-]{1,64})?$")
    upload_url: str = ""
    station_token: str = ""
    sync_interval_s: int = Field(default=300, ge=10, le=86_400)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    # Plain http:// to anything but this machine sends residents' data in clear: refused
    # unless this is set (and then `yizhan doctor` shows it as a problem).
    allow_insecure_http: bool = False
    ca_bundle: str = Field(default="", description="PEM file of the CA(s) the hub's TLS certificate must chain to")
    # After the feed's signed expiry the station tells staff at once; residents see
    # "信息可能已过期" only after this many more hours.
    expiry_grace_h: int = Field(default=24, ge=0, le=24 * 90)
    # A new version in which more than this share of one kind of record fails the station's
    # checks is refused whole (the current content stays).
    max_invalid_percent: float = Field(default=5.0, ge=0, le=100)

    @field_validator("feed_url", "upload_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # Read by the parser that connects (urllib3's): the host checked is the host dialled.
        problem = hub_url_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _https_unless_allowed(self) -> HubSettings:
        bad = insecure_urls(self)
        if bad and not self.allow_insecure_http:
            raise ValueError(f"{', '.join(bad)} must be https:// (personal data and the feed would travel in "
                             "clear); plain http:// is allowed only to 127.0.0.1/localhost, or with "
                             "allow_insecure_http = true")
        return self


    @field_validator("public_key")
    @classmethod
    def _ed25519_key(cls, value: str) -> str:
        if not value:
            return value
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:
            raise ValueError("must be base64 (the output of 'yizhan hub keygen')") from None
        if len(raw) != 32:
            raise ValueError(f"must be a 32-byte Ed25519 public key, got {len(raw)} bytes")
        return value


class IdCardReaderSettings(_Section):
    enabled: bool = True
    port: str = "/dev/ttyUSB0"
    baud: Literal[9600, 19200, 38400, 57600, 115200] = 115200
    poll_interval_ms: int = Field(default=300, ge=100, le=5000)
    reply_timeout_s: float = Field(default=1.0, gt=0, le=10)
    photo_decoder: str = Field(default="", description="optional path of a vendor WLT decoder library")


class PrinterSettings(_Section):
    enabled: bool = True
    kind: Literal["usb", "serial", "network", "file", "virtual"] = "network"
    paper_width: Literal[58, 80] = 80
    profile: str = "generic-80"
    # network / virtual
    host: str = "127.0.0.1"
    port: int = Field(default=9100, ge=1, le=65535)
    timeout_s: float = Field(default=3.0, gt=0, le=60)
    # How long to wait for each one-byte status reply (DLE EOT) before the printer counts as not
    # answering. A printer answers in milliseconds; a longer wait only delays the "offline" notice.
    status_timeout_s: float = Field(default=0.8, gt=0, le=10)
    # usb
    usb_vendor_id: int | None = Field(default=None, ge=0, le=0xFFFF)
    usb_product_id: int | None = Field(default=None, ge=0, le=0xFFFF)
    usb_in_ep: int = Field(default=0x82, ge=0, le=0xFF)
    usb_out_ep: int = Field(default=0x01, ge=0, le=0xFF)
    # serial
    serial_port: str = ""
    serial_baud: Literal[9600, 19200, 38400, 57600, 115200] = 9600
    serial_flow: Literal["none", "rtscts", "xonxoff"] = "none"
    # file
    file_path: str = ""

    @model_validator(mode="after")
    def _parameters_for_kind(self) -> PrinterSettings:
        if self.kind == "usb" and (self.usb_vendor_id is None or self.usb_product_id is None):
            raise ValueError("kind 'usb' needs usb_vendor_id and usb_product_id")
        if self.kind == "serial" and not self.serial_port:
            raise ValueError("kind 'serial' needs serial_port")
        if self.kind == "file" and not self.file_path:
            raise ValueError("kind 'file' needs file_path")
        return self


class ScreenSettings(_Section):
    width: int = Field(default=1920, ge=64, le=7680)
    height: int = Field(default=1080, ge=16, le=7680)
    rotation: Literal[0, 90, 180, 270] = 0
    fullscreen: bool = False
    display: str = Field(default="", description="X display, e.g. ':0'; empty = $DISPLAY")


class BoardScreenSettings(ScreenSettings):
    profile: Literal["tv-1080p", "tv-portrait", "led-strip", "led-panel"] = "tv-1080p"
    motion: Literal["auto", "paged", "scroll"] = "auto"
    max_fps: int = Field(default=0, ge=0, le=120, description="0 = the profile's default")
    qr_url: str = Field(default="", max_length=300,
                        description="link behind the board's QR code; empty = the station's phone page on the "
                                    "hub (hub.feed_url + m/s/<station id>/), 'none' = no QR code")

    @field_validator("qr_url")
    @classmethod
    def _qr_http_url(cls, value: str) -> str:
        if value and value != NO_QR and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http:// or https:// URL, got {value!r}")
        return value


class DevicesSettings(_Section):
    idcard: IdCardReaderSettings = IdCardReaderSettings()
    printer: PrinterSettings = PrinterSettings()
    kiosk_screen: ScreenSettings = ScreenSettings(width=1080, height=1920)
    board_screen: BoardScreenSettings = BoardScreenSettings()


class KioskSettings(_Section):
    idle_timeout_s: int = Field(default=90, ge=15, le=3600)
    countdown_s: int = Field(default=20, ge=5, le=120)
    elder_mode: bool = True
    read_aloud: bool = True
    tts_command: str = "espeak-ng -v cmn -s 140"
    staff_pin_hash: str = ""
    reader_side: Literal["right", "left", "below"] = "below"  # where the card reader sits, seen from the resident
    # Whether the kiosk runs its own sync loop (and so sends heartbeats): "auto" only where
    # yizhan-sync.service is not installed (the demo, a checkout), so that an installed box
    # sends one heartbeat per interval, from one process.
    sync_loop: Literal["auto", "on", "off"] = "auto"

    @field_validator("staff_pin_hash")
    @classmethod
    def _pin_is_hash(cls, value: str) -> str:
        if value and not value.startswith((PIN_ARGON2_PREFIX, PIN_SCHEME + "$")):
            raise ValueError("must be a PIN hash made by 'yizhan config hash-pin', never the PIN itself")
        if value and pin_cost(value) is None:
            raise ValueError("is not a well-formed PIN hash (make it again with 'yizhan config hash-pin')")
        return value


class StorageSettings(_Section):
    data_dir: Path = Path("/var/lib/yizhan")
    media_quota_mb: int = Field(default=4096, ge=16)
    free_space_floor_mb: int = Field(default=250, ge=0)


class PrivacySettings(_Section):
    retention_days: int = Field(default=30, ge=1, le=3650)


class UiSettings(_Section):
    font: str = Field(default="", description="path of a CJK font file; empty = discover")
    language: Literal["zh_CN"] = "zh_CN"


class ScreensSettings(_Section):
    """When the screens are on (``yizhan screens run``); outside these hours they are off."""

    days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5, 6, 7],
                            description="ISO weekdays the station is open (1 = Monday)")
    board_on: str = Field(default="07:30-20:00", description="HH:MM-HH:MM the board's TV is on")
    kiosk_on: str = Field(default="08:30-18:00", description="HH:MM-HH:MM the kiosk screen is on")
    board_method: Literal["cec", "dpms", "none"] = "cec"
    kiosk_method: Literal["dpms", "none"] = "dpms"
    cec_port: str = Field(default="", description="cec-client adapter port; empty = the first one found")
    kiosk_wake_s: int = Field(default=300, ge=30, le=3600,
                              description="after a touch at night, the kiosk screen stays on this long")

    @field_validator("board_on", "kiosk_on")
    @classmethod
    def _hours(cls, value: str) -> str:
        import re

        match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)", value)
        if not match or value[6:] == "24:01" or value[:5] >= value[6:]:
            raise ValueError(f"must be HH:MM-HH:MM with the start before the end, got {value!r}")
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(d not in range(1, 8) for d in value):
            raise ValueError(f"must list weekdays 1 (Monday) to 7 (Sunday), got {value}")
        return value


class Settings(_Section):
    station: StationSettings
    hub: HubSettings = HubSettings()
    devices: DevicesSettings = DevicesSettings()
    kiosk: KioskSettings = KioskSettings()
    storage: StorageSettings = StorageSettings()
    privacy: PrivacySettings = PrivacySettings()
    ui: UiSettings = UiSettings()
    screens: ScreensSettings = ScreensSettings()
    source: Path | None = Field(default=None, exclude=True)

    @property
    def data_dir(self) -> Path:
        return self.storage.data_dir

    @property
    def db_path(self) -> Path:
        return self.storage.data_dir / "station.db"

    @property
    def media_dir(self) -> Path:
        return self.storage.data_dir / "media"

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data, secrets replaced by a mask."""
        data = self.model_dump(mode="json")
        if data["hub"]["station_token"]:
            data["hub"]["station_token"] = "****"
        if data["kiosk"]["staff_pin_hash"]:
            scheme = (pin_cost(data["kiosk"]["staff_pin_hash"]) or {}).get("scheme", "pin")
            data["kiosk"]["staff_pin_hash"] = f"{scheme}$****"
        return data


def _describe(error: dict[str, Any]) -> str:
    kind = error["type"]
    got = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key (check the spelling against config/station.example.toml)"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "")
        return f"must be {expected}, got {got!r}" if isinstance(got, str) else f"must be {expected}, got {got}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        word = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()), "")
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"must be {word} {bound}, got {got}"
    if kind == "string_pattern_mismatch":
        return f"has a wrong format, got {got!r} (allowed: {ctx.get('pattern')})"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    msg = error["msg"][0].lower() + error["msg"][1:]
    return f"{msg}, got {got!r}" if got is not None and not isinstance(got, dict) else msg


def _format_errors(name: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"{name}: {loc}: {_describe(error)}")
    return "\n".join(lines)


def parse_settings(text: str, *, name: str = "station.toml", base_dir: Path | None = None) -> Settings:
    """Parse and validate TOML text. Relative ``storage.data_dir`` is taken from ``base_dir``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{name}: not valid TOML: {exc}") from None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_format_errors(name, exc)) from None
    data_dir = settings.storage.data_dir
    if base_dir is not None and not data_dir.is_absolute():
        storage = settings.storage.model_copy(update={"data_dir": (base_dir / data_dir).resolve()})
        settings = settings.model_copy(update={"storage": storage})
    ca = settings.hub.ca_bundle
    if ca:
        path = Path(ca) if Path(ca).is_absolute() or base_dir is None else (base_dir / ca).resolve()
        if not path.is_file():
            raise SettingsError(f"{name}: hub.ca_bundle: no such CA bundle file: {path}")
        settings = settings.model_copy(update={"hub": settings.hub.model_copy(update={"ca_bundle": str(path)})})
    settings = _with_board_qr(settings)
    token = None if settings.hub.station_token else credentials.credential(credentials.STATION_TOKEN)
    if token:
        # Sealed by `yizhan install` (station.toml keeps it empty): handed over by systemd.
        hub = settings.hub.model_copy(update={"station_token": token.decode("utf-8").strip()})
        settings = settings.model_copy(update={"hub": hub})
    return settings


def station_page_url(settings: Settings) -> str:
    """The station's phone page on the hub (``hub.mobile``), beside its feed; empty without a feed."""
    return phone_page_url(settings.hub.feed_url, settings.station.id)


def _with_board_qr(settings: Settings) -> Settings:
    """The board's QR code: as set, none for 'none', else the station's phone page."""
    board = settings.devices.board_screen
    qr = "" if board.qr_url == NO_QR else board.qr_url or station_page_url(settings)
    if qr == board.qr_url:
        return settings
    devices = settings.devices.model_copy(update={"board_screen": board.model_copy(update={"qr_url": qr})})
    return settings.model_copy(update={"devices": devices})


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate a settings file, with what the console set from afar over it
    (:data:`REMOTE_SETTINGS_FILE` in the data folder, see :func:`with_remote_settings`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(f"{path}: no such settings file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read settings: {exc}") from None
    base_dir = path.resolve().parent
    settings = parse_settings(text, name=path.name, base_dir=base_dir)
    remote = settings.data_dir / REMOTE_SETTINGS_FILE
    if remote.is_file():
        try:
            settings = parse_settings(with_remote_settings(text, remote.read_text(encoding="utf-8")), name=path.name,
                                      base_dir=base_dir)
        except (SettingsError, OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            # The station keeps running on its own file: the console's record is what is wrong.
            import logging

            logging.getLogger(__name__).warning("%s not applied: %s", remote, str(exc)[:300])
    return settings.model_copy(update={"source": path.resolve()})


# -- settings set from the console (remote care, config.remote_care) --------------------------
# On a box station.toml belongs to root and the services cannot write it; what the console
# sets is kept beside the station's data instead and read over the file, for these keys only:
# nothing secret (the upload token, keys) and nothing that could cut the station off its hub.
REMOTE_SETTINGS_FILE = "remote-settings.toml"
REMOTE_KEYS = frozenset({
    "station.name", "station.address", "station.hotline", "station.complaint_phone", "station.opening_hours",
    "hub.sync_interval_s", "kiosk.idle_timeout_s", "kiosk.countdown_s", "kiosk.elder_mode", "kiosk.read_aloud",
    "screens.board_on", "screens.kiosk_on", "kiosk.staff_pin_hash",
})


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        import json

        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    raise TypeError(f"不支持的取值类型：{type(value).__name__}")


def toml_set(text: str, dotted: str, value: Any) -> str:
    """``text`` (a settings file) with ``section.key`` set to ``value``, every other line kept."""
    import re

    section, _, name = dotted.rpartition(".")
    line = f"{name} = {toml_value(value)}"
    lines = text.splitlines()
    try:
        head = next(i for i, s in enumerate(lines) if s.strip() == f"[{section}]")
    except StopIteration:
        return text.rstrip("\n") + f"\n\n[{section}]\n{line}\n"
    key_re = re.compile(rf"^\s*{re.escape(name)}\s*=")
    for i in range(head + 1, len(lines)):
        if lines[i].lstrip().startswith("["):
            break
        if key_re.match(lines[i]):
            lines[i] = line
            return "\n".join(lines) + "\n"
    lines.insert(head + 1, line)
    return "\n".join(lines) + "\n"


def remote_values(remote_text: str) -> dict[str, Any]:
    """The ``section.key`` values a remote settings file holds (listed keys only)."""
    data = tomllib.loads(remote_text)
    return {f"{section}.{key}": value for section, values in data.items() if isinstance(values, dict)
            for key, value in values.items() if f"{section}.{key}" in REMOTE_KEYS}


def with_remote_settings(text: str, remote_text: str) -> str:
    """A settings file's text with the remote settings' values set over it."""
    for dotted, value in remote_values(remote_text).items():
        text = toml_set(text, dotted, value)
    return text


def find_settings_file(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--config`` if given, else ``$YIZHAN_CONFIG``, else the first of the default locations."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("YIZHAN_CONFIG")
    if env:
        return Path(env)
    for candidate in DEFAULT_LOCATIONS:
        if candidate.exists():
            return candidate
    tried = ", ".join(str(p) for p in DEFAULT_LOCATIONS)
    raise SettingsError(
        f"no station settings found (tried --config, $YIZHAN_CONFIG, {tried}); "
        "copy config/station.example.toml to station.toml and edit it"
    )


def _argon2(time_cost: int, memory_kib: int, parallelism: int) -> Any:
    from argon2 import PasswordHasher, Type

    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, hash_len=32,
                          salt_len=16, type=Type.ID)


def hash_pin(pin: str, *, time_cost: int = PIN_TIME_COST, memory_kib: int = PIN_MEMORY_KIB,
             parallelism: int = PIN_PARALLELISM) -> str:
    """An argon2id hash of a staff PIN (6 to 12 digits), in the form stored in ``kiosk.staff_pin_hash``."""
    if not (pin.isascii() and pin.isdigit() and PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS):
        raise ValueError(f"a staff PIN is {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits（工作人员密码须为 "
                         f"{PIN_MIN_DIGITS} 到 {PIN_MAX_DIGITS} 位数字）")
    return _argon2(time_cost, memory_kib, parallelism).hash(pin)


def pin_cost(stored: str) -> dict[str, Any] | None:
    """The scheme and cost of a stored PIN hash (no secret in it); None when it is not one."""
    if stored.startswith(PIN_ARGON2_PREFIX):
        from argon2 import Type, extract_parameters
        from argon2.exceptions import InvalidHashError

        try:
            params = extract_parameters(stored)
        except (InvalidHashError, ValueError):
            return None
        if params.type is not Type.ID:
            return None
        return {"scheme": "argon2id", "time_cost": params.time_cost, "memory_kib": params.memory_cost,
                "parallelism": params.parallelism}
    parts = stored.split("$")
    if len(parts) == 4 and parts[0] == PIN_SCHEME and parts[1].isdigit():
        try:
            bytes.fromhex(parts[2])
        except ValueError:
            return None
        return {"scheme": PIN_SCHEME, "rounds": int(parts[1])}
    return None


def pin_needs_rehash(stored: str) -> bool:
    """True for a PIN hash weaker than the station's rule (the older PBKDF2 scheme, or argon2id
    below the cost this program sets): ``yizhan config check`` and the doctor say to make it again."""
    cost = pin_cost(stored)
    if not stored or cost is None:
        return False
    if cost["scheme"] != "argon2id":
        return True
    return cost["memory_kib"] < PIN_MEMORY_KIB or cost["time_cost"] < PIN_TIME_COST


def check_pin(pin: str, stored: str) -> bool:
    """True if ``pin`` matches ``stored`` (argon2id, or the older PBKDF2 hashes; constant-time).
    An empty or malformed hash matches nothing."""
    cost = pin_cost(stored)
    if cost is None:
        return False
    if cost["scheme"] == "argon2id":
        from argon2.exceptions import VerificationError

        try:
            return _argon2(PIN_TIME_COST, PIN_MEMORY_KIB, PIN_PARALLELISM).verify(stored, pin)
        except VerificationError:
            return False
        except Exception:  # a damaged hash: no match, never a crash at the keypad
            return False
    _scheme, rounds, salt, digest = stored.split("$")
    candidate = hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(salt), int(rounds))
    return hmac.compare_digest(candidate.hex(), digest)
