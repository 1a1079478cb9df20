"""``yizhan doctor``: check a station's set-up and print a ✓/✗ table.

Each check returns a :class:`Check`; a check that does not apply (a device disabled, no
hub configured) is shown as skipped with the reason, never as passed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import socket
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from common import exitcodes
from common.fonts import FontNotFoundError, find_cjk_font
from config.command import Context
from config.settings import Settings
from config.station import media_cache
from deploy.checks import check_release, check_udev, check_units

MARKS = {"ok": "✓", "fail": "✗", "skip": "–"}


@dataclass
class Check:
    name: str
    status: str  # ok | fail | skip
    detail: str


def check_font(settings: Settings) -> Check:
    try:
        return Check("CJK font", "ok", str(find_cjk_font(settings.ui.font)))
    except FontNotFoundError as exc:
        return Check("CJK font", "fail", str(exc))


def _x_socket(display: str) -> Path | None:
    host, _, rest = display.partition(":")
    if host not in ("", "unix") or not rest:
        return None
    return Path(f"/tmp/.X11-unix/X{rest.split('.')[0]}")


def check_display(settings: Settings) -> Check:
    wanted = {settings.devices.kiosk_screen.display, settings.devices.board_screen.display} - {""}
    displays = sorted(wanted) or ([os.environ["DISPLAY"]] if os.environ.get("DISPLAY") else [])
    if not displays:
        return Check("display", "fail", "no DISPLAY set and none configured (the demo runs under Xvfb)")
    problems = []
    for display in displays:
        path = _x_socket(display)
        if path is None:
            problems.append(f"{display}: only local displays can be checked")
            continue
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(2)
                sock.connect(str(path))
        except OSError as exc:
            problems.append(f"{display}: X server not reachable ({exc.strerror or exc})")
    if problems:
        return Check("display", "fail", "; ".join(problems))
    return Check("display", "ok", ", ".join(displays))


def _device_node(name: str, path: str) -> Check:
    node = Path(path)
    if not node.exists():
        return Check(name, "fail", f"{path} does not exist (is the cable plugged in?)")
    if not os.access(node, os.R_OK | os.W_OK):
        return Check(name, "fail", f"{path} is not readable and writable by this user (dialout group?)")
    return Check(name, "ok", path)


def check_reader(settings: Settings) -> Check:
    reader = settings.devices.idcard
    if not reader.enabled:
        return Check("ID card reader port", "skip", "disabled in settings")
    return _device_node("ID card reader port", reader.port)


def check_printer(settings: Settings) -> Check:
    printer = settings.devices.printer
    name = f"printer ({printer.kind})"
    if not printer.enabled:
        return Check(name, "skip", "disabled in settings")
    if printer.kind == "serial":
        return _device_node(name, printer.serial_port)
    if printer.kind == "file":
        return _device_node(name, printer.file_path)
    if printer.kind == "usb":
        found = any(
            (dev / "idVendor").exists()
            and (dev / "idVendor").read_text().strip() == f"{printer.usb_vendor_id:04x}"
            and (dev / "idProduct").read_text().strip() == f"{printer.usb_product_id:04x}"
            for dev in Path("/sys/bus/usb/devices").glob("*")
        )
        ident = f"{printer.usb_vendor_id:04x}:{printer.usb_product_id:04x}"
        return Check(name, "ok" if found else "fail", ident if found else f"no USB device {ident}")
    try:
        with socket.create_connection((printer.host, printer.port), timeout=min(printer.timeout_s, 3)):
            return Check(name, "ok", f"{printer.host}:{printer.port}")
    except OSError as exc:
        return Check(name, "fail", f"{printer.host}:{printer.port} not reachable ({exc.strerror or exc})")


def check_audio(settings: Settings) -> Check:
    """Speak two words with the kiosk's read-aloud command: a missing sound card fails here, for
    staff (espeak-ng exits 0 without one, so its ALSA errors are what tells)."""
    import shlex
    import subprocess

    from kiosk.tts import NO_AUDIO_MARKERS  # plain Python, no Kivy

    name = "sound output"
    argv = shlex.split(settings.kiosk.tts_command) if settings.kiosk.tts_command else []
    if not settings.kiosk.read_aloud or not argv:
        return Check(name, "skip", "read-aloud disabled in settings")
    if shutil.which(argv[0]) is None:
        return Check(name, "fail", f"{argv[0]} not installed (朗读 cannot work)")
    try:
        done = subprocess.run([*argv, "声音测试"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(name, "fail", f"{argv[0]} did not finish: {exc}")
    errors = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0 or any(marker in errors for marker in NO_AUDIO_MARKERS):
        lines = errors.strip().splitlines() or [f"exit code {done.returncode}"]
        # ALSA's own words ("Unknown PCM default", "cannot find card '0'") say more than espeak-ng's last line
        telling = [line for line in lines if "Unknown PCM" in line or "cannot find card" in line] or lines[-1:]
        return Check(name, "fail", f"no audio device: 朗读 cannot be heard ({telling[-1].strip()[-100:]})")
    return Check(name, "ok", f"{argv[0]} spoke a test phrase")


def check_storage(settings: Settings) -> Check:
    data_dir = settings.storage.data_dir
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("data dir", "fail", f"{data_dir} is not writable ({exc.strerror or exc})")
    free_mb = shutil.disk_usage(data_dir).free // (1024 * 1024)
    floor = settings.storage.free_space_floor_mb
    if free_mb < floor:
        return Check("data dir", "fail", f"{data_dir}: {free_mb} MB free, below the floor of {floor} MB")
    return Check("data dir", "ok", f"{data_dir}: {free_mb} MB free (floor {floor} MB)")


def check_hub(settings: Settings) -> Check:
    if not settings.hub.feed_url:
        return Check("hub", "skip", "no hub.feed_url configured (content from local imports only)")
    import requests

    from content.media import http_session

    url = urljoin(settings.hub.feed_url.rstrip("/") + "/", "manifest.json")
    try:
        with http_session(settings.hub.ca_bundle) as session:  # the pinned CA, as the sync uses it
            response = session.head(url, timeout=min(settings.hub.timeout_s, 5), allow_redirects=True)
    except requests.RequestException as exc:
        return Check("hub", "fail", f"{urlsplit(url).netloc} not reachable ({type(exc).__name__})")
    if response.status_code >= 400:
        return Check("hub", "fail", f"{url} answered HTTP {response.status_code}")
    return Check("hub", "ok", url)


def check_transport(settings: Settings) -> Check:
    """Plain http:// to another machine sends tokens and residents' data in clear."""
    from config.settings import insecure_urls

    hub = settings.hub
    if not (hub.feed_url or hub.upload_url):
        return Check("hub transport", "skip", "no hub configured")
    bad = insecure_urls(hub)
    if bad:
        return Check("hub transport", "fail", f"{', '.join('hub.' + b for b in bad)} is plain http:// to another "
                                              "machine (allow_insecure_http = true): use https://")
    ca = f", CA pinned: {hub.ca_bundle}" if hub.ca_bundle else ""
    return Check("hub transport", "ok", "https (or this machine only)" + ca)


def check_feed(settings: Settings, now: dt.datetime | None = None) -> Check:
    """The feed held: within its signed expiry, and every record of it accepted here."""
    if not settings.hub.feed_url:
        return Check("feed", "skip", "no hub.feed_url configured")
    from content.feed_client import feed_health

    health = feed_health(settings, now=now, check_media=False)
    if not health.version:
        return Check("feed", "fail", "no feed applied yet (run 'yizhan sync --once')")
    if not health.ok:
        listed = "; ".join(f"{r['kind']} {r['id']}: {r['reason'][:80]}" for r in health.invalid_records[:3])
        return Check("feed", "fail", " ".join(health.problems) + (f" ({listed})" if listed else ""))
    return Check("feed", "ok", f"{health.feed_id} v{health.version}, valid until {health.expires_at}")


def check_media(settings: Settings) -> Check:
    """Every media file the current content refers to is in the cache and hashes right."""
    from content.db import connect
    from protocol.feed import Manifest, ManifestError

    if not settings.db_path.exists():
        return Check("media", "skip", "no station database yet")
    conn = connect(settings.db_path)
    try:
        row = conn.execute("SELECT manifest FROM sync_state WHERE id = 1").fetchone()
    except Exception:
        row = None
    finally:
        conn.close()
    if row is None or row[0] is None:
        return Check("media", "skip", "no feed applied yet")
    try:
        manifest = Manifest.from_bytes(row[0])
    except ManifestError as exc:
        return Check("media", "fail", f"the stored manifest does not parse: {exc}")
    cache = media_cache(settings)  # reads only: the doctor opens no Station (it would migrate)
    missing = [m.path for m in manifest.media if not cache.has(m.ref())]
    damaged = [m.path for m in manifest.media if cache.has(m.ref()) and not cache.verify(m.ref())]
    if missing or damaged:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if damaged:
            parts.append(f"{len(damaged)} damaged (e.g. {damaged[0]})")
        return Check("media", "fail", ", ".join(parts) + "; 'yizhan sync --once' fetches them again")
    return Check("media", "ok", f"{len(manifest.media)} file(s) present and verified")


def check_clock(settings: Settings, now: dt.datetime | None = None) -> Check:
    now = now or dt.datetime.now()
    if now.year < 2024:
        return Check("clock", "fail", f"{now:%Y-%m-%d %H:%M} is not plausible: set the clock (NTP)")
    return Check("clock", "ok", f"{now:%Y-%m-%d %H:%M}")


def check_program_files(settings: Settings, root: Path = Path("/"), running: Path | None = None) -> Check:
    """The files the installed release runs from match its signed wheel (none edited on the box)."""
    from deploy.install import Layout
    from deploy.integrity import running_release, verify_release_files

    release = running_release(running or Path(__file__), Layout(root=root).current)
    if release is None:
        return Check("程序文件", "skip", "不是从安装的版本运行（源码目录）")
    result = verify_release_files(release, settings.hub.public_key or None)
    if result.problems:
        shown = "，".join(result.problems[:5]) + ("…" if len(result.problems) > 5 else "")
        return Check("程序文件", "fail", f"{release.name}：{len(result.problems)} 个文件被改动：{shown}，请重新安装该版本")
    basis = "与签名清单一致" if result.signed else "与安装记录一致（签名的 wheel 已不在，记录本身未核对签名）"
    return Check("程序文件", "ok", f"{release.name}：{result.files} 个文件{basis}")


def check_secrets(settings: Settings, root: Path = Path("/")) -> Check:
    """Which protection the outbox key and the station token have against a copied disk."""
    from content import credentials
    from content.outbox import KEY_FILE, load_or_create_key

    if not (root / "etc/systemd/system/yizhan.target").exists():
        return Check("密钥保护", "skip", "不是安装好的站点（yizhan install 会封存密钥）")
    plain = settings.data_dir / KEY_FILE
    kind = credentials.protection()
    if kind == "none":
        if not credentials.available():
            return Check("密钥保护", "skip", "本机没有 systemd-creds：数据密钥以文件保存在数据目录")
        state = "数据密钥以明文保存在数据目录" if plain.exists() else "还没有数据密钥"
        return Check("密钥保护", "fail", f"{state}：复制数据盘即可读出排队的登记，请以 root 运行 yizhan install 封存")
    try:
        load_or_create_key(settings.data_dir)
    except Exception as exc:  # noqa: BLE001 - any failure to open it is what staff must hear about
        return Check("密钥保护", "fail", f"封存的数据密钥打不开：{exc}")
    if plain.exists():
        return Check("密钥保护", "fail", f"已封存，但明文密钥 {plain} 还在：请以 root 运行 yizhan install 清除")
    if kind == "tpm2":
        return Check("密钥保护", "ok", "数据密钥和站点令牌封存在本机 TPM2 中：硬盘被整个复制也解不开")
    return Check("密钥保护", "ok", "数据密钥和站点令牌用本机密钥加密：只复制数据目录解不开；本机没有 TPM2，"
                 "整个硬盘被复制时仍可解开")


CHECKS = (check_font, check_display, check_reader, check_printer, check_audio, check_storage, check_hub, check_transport,
          check_feed, check_media, check_clock, check_units, check_udev, check_release, check_program_files, check_secrets)


def run_checks(settings: Settings) -> list[Check]:
    return [check(settings) for check in CHECKS]


def register(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace, ctx: Context) -> int:
    checks = run_checks(ctx.settings)
    failed = [c for c in checks if c.status == "fail"]
    if ctx.json:
        ctx.emit({"ok": not failed, "checks": [asdict(c) for c in checks]})
    else:
        width = max(len(c.name) for c in checks)
        print(f"station {ctx.settings.station.id} ({ctx.settings.station.name})")
        for c in checks:
            print(f"  {MARKS[c.status]} {c.name:<{width}}  {c.detail}")
        print(f"{len(failed)} problem(s)" if failed else "all checks passed")
    return exitcodes.FAILURE if failed else exitcodes.OK
