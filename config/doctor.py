"""``yizhan doctor``: check a station's set-up and print a ✓/✗ table, in Chinese, for counter staff.

Each check asks the real thing, as the part that uses it does: the printer answers its status
query as it does for the print service (paper, cover, error); the reader is asked for its SAM
status as ``yizhan idcard status`` asks; device nodes and the data folder are opened as the
service user would open them; the station token is shown to the hub (an authenticated no-op);
the clock is compared with the hub's ``Date`` and with the system's time sync. Every line says
what is wrong and what to do; a check that cannot run (a full disk, a broken database) is a
line, never a traceback. A check that does not apply (a device switched off, no hub) is shown
as skipped with the reason, never as passed. ``--json`` gives the same for machines, each check
with a stable ``key``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import functools
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from common import exitcodes
from common.diskspace import disk_problem, probe_writable
from common.fonts import FontNotFoundError, find_cjk_font
from config.command import Context
from config.settings import Settings
from config.station import media_cache
from deploy.checks import check_release, check_udev, check_units

MARKS = {"ok": "✓", "fail": "✗", "skip": "–", "warn": "!"}  # warn: works, but staff should see to it
CLOCK_TOLERANCE_S = 120  # the hub's alert threshold as well (时钟偏差 > 2 分钟)
DEVICE_TIMEOUT_S = 3.0  # a status reply slower than this is "no answer" for the doctor


@dataclass
class Check:
    name: str  # the Chinese label staff read
    status: str  # ok | fail | skip | warn
    detail: str  # what was found and, when it is wrong, what to do
    key: str = ""  # a stable name for machines (--json)


@dataclass
class Surroundings:
    """What the checks share: the settings, the clock (injected by tests), the hub's answer
    (asked once) and the user the services run as."""

    settings: Settings
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now().astimezone()
    timesync: Callable[[], tuple[bool | None, str]] | None = None
    service_user: Any = None  # deploy.privileges.Owner, or None: this process's own user
    hub_time: dt.datetime | None = None  # from the hub's Date header, when it answered
    hub_offset_s: float | None = None  # local clock minus the hub's


# -- helpers -------------------------------------------------------------------------------
def duration_zh(seconds: float) -> str:
    """5 天 3 小时, 2 分钟 30 秒 ...: the largest two units, the smaller one rounded."""
    s = abs(seconds)
    if s >= 86400:
        big, small = divmod(round(s / 3600), 24)
        units = ("天", "小时")
    elif s >= 3600:
        big, small = divmod(round(s / 60), 60)
        units = ("小时", "分钟")
    else:
        big, small = divmod(round(s), 60)
        units = ("分钟", "秒")
    shown = [f"{n} {unit}" for n, unit in zip((big, small), units, strict=True) if n]
    return " ".join(shown) or "0 秒"


def service_owner(settings: Settings) -> Any:
    """The user the station's services run as: the data folder's owner, else the installed
    service account, else None (this process's user)."""
    import pwd

    from deploy.install import SERVICE_USER
    from deploy.privileges import Owner, data_owner

    owner = data_owner(settings.storage.data_dir)
    if owner is not None:
        return owner
    try:
        account = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return None
    return Owner(account.pw_name, account.pw_uid, account.pw_gid,
                 tuple(os.getgrouplist(account.pw_name, account.pw_gid)), account.pw_dir)


_OPEN_PROBE = ("import os, sys\n"
               "try:\n"
               "    os.close(os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK))\n"
               "except OSError as exc:\n"
               "    print(exc.errno, exc.strerror); sys.exit(1)\n")


def open_error_as(path: str, owner: Any) -> str | None:
    """Try to open ``path`` for reading and writing as ``owner`` would (None: this process's
    user). Returns None if it opens, else the reason. Root passes every permission check, so a
    root doctor asks a child process running as the service user."""
    if owner is None or os.geteuid() == owner.uid or os.geteuid() != 0:
        try:
            os.close(os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK))
        except OSError as exc:
            return exc.strerror or str(exc)
        return None
    done = subprocess.run([sys.executable, "-I", "-c", _OPEN_PROBE, path], user=owner.uid, group=owner.gid,
                          extra_groups=list(owner.groups), capture_output=True, text=True, timeout=30,
                          cwd="/")
    if done.returncode == 0:
        return None
    return done.stdout.strip().partition(" ")[2] or done.stderr.strip()[-120:] or f"exit {done.returncode}"


def _node(name: str, key: str, path: str, what: str, env: Surroundings) -> Check | None:
    """The device node exists and the service user can open it; None if so, else the failing line."""
    if "://" in path:  # a pyserial URL (the simulator in this process): nothing on disk to check
        return None
    if not Path(path).exists():
        return Check(name, "fail", f"{path} 不存在：{what}没有连接或没有通电，请检查 USB 线和电源；"
                                   "仍不行请检查设置中的端口", key)
    who = env.service_user
    reason = open_error_as(path, who)
    if reason:
        user = f"服务用户 {who.name}" if who is not None else "当前用户"
        return Check(name, "fail", f"{user}打不开 {path}（{reason}）：{what}的权限不对，请由技术人员运行 "
                                   "yizhan install 安装设备规则，或把该用户加入 dialout/lp 组", key)
    return None


def _check(check: Callable[..., Check]) -> Callable[..., Check]:
    """A check may be called with plain settings (and ``now``, a datetime) as well as with the
    shared surroundings: it gets surroundings of its own, with that clock."""
    @functools.wraps(check)
    def run(env: Settings | Surroundings, *args: Any, now: dt.datetime | None = None, **kwargs: Any) -> Check:
        env = surroundings(env)
        if now is not None:
            fixed = now if now.tzinfo else now.astimezone()
            env.now = lambda: fixed
        return check(env, *args, **kwargs)

    return run


# -- the checks ----------------------------------------------------------------------------
@_check
def check_font(env: Surroundings) -> Check:
    try:
        return Check("中文字体", "ok", f"已找到：{find_cjk_font(env.settings.ui.font)}", "font")
    except FontNotFoundError as exc:
        return Check("中文字体", "fail", f"找不到中文字体，屏幕上的汉字会显示成方框：{exc}", "font")


def _x_socket(display: str) -> Path | None:
    host, _, rest = display.partition(":")
    if host not in ("", "unix") or not rest:
        return None
    return Path(f"/tmp/.X11-unix/X{rest.split('.')[0]}")


@_check
def check_display(env: Surroundings) -> Check:
    devices = env.settings.devices
    wanted = {devices.kiosk_screen.display, devices.board_screen.display} - {""}
    displays = sorted(wanted) or ([os.environ["DISPLAY"]] if os.environ.get("DISPLAY") else [])
    if not displays:
        return Check("显示屏", "fail", "没有设置显示屏（devices.kiosk_screen.display），也没有 $DISPLAY："
                                    "自助机和信息屏无法显示，请联系技术人员", "display")
    problems = []
    for display in displays:
        path = _x_socket(display)
        if path is None:
            problems.append(f"{display}：只能检查本机的显示屏")
            continue
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(2)
                sock.connect(str(path))
        except OSError as exc:
            problems.append(f"{display}：图形界面没有运行（{exc.strerror or exc}），请重启设备")
    if problems:
        return Check("显示屏", "fail", "；".join(problems), "display")
    return Check("显示屏", "ok", f"图形界面在运行（{'、'.join(displays)}）", "display")


def _reader_in_use(env: Surroundings, port: str) -> Check:
    """The kiosk holds the reader's port: its last answer (``content.live``) instead of a probe
    that would cut into its polling."""
    from content.live import read as read_live

    name, key = "身份证读卡器", "idcard"
    seen = read_live(env.settings.data_dir).get("idcard")
    if seen is None:
        return Check(name, "fail", f"{port} 被别的程序占用，且没有运行中的自助机报告读卡器状态：请重启设备后再检查", key)
    if seen["ok"]:
        return Check(name, "ok", f"自助机正在使用读卡器（{port}），它最后的报告：{seen['detail']}", key)
    return Check(name, "fail", f"自助机正在使用读卡器（{port}），它最后的报告：{seen['detail']}：请检查读卡器电源和 USB 线",
                 key)


@_check
def check_reader(env: Surroundings) -> Check:
    """The reader answers a SAM status request, as ``yizhan idcard status`` asks it."""
    from idcard.errors import IdCardError, ReplyTimeout
    from idcard.port import held_elsewhere, open_port
    from idcard.protocol import Reader
    from idcard.service import PORT_ERRORS, port_error_reason

    name, key = "身份证读卡器", "idcard"
    conf = env.settings.devices.idcard
    if not conf.enabled:
        return Check(name, "skip", "设置中已关闭读卡器", key)
    problem = _node(name, key, conf.port, "读卡器", env)
    if problem:
        return problem
    timeout = min(conf.reply_timeout_s, DEVICE_TIMEOUT_S)
    try:
        port = open_port(conf.port, conf.baud, timeout)
    except (ValueError, *PORT_ERRORS) as exc:
        if held_elsewhere(exc):
            return _reader_in_use(env, conf.port)
        return Check(name, "fail", f"打不开读卡器端口 {conf.port}（{port_error_reason(exc)}）：这个端口不是读卡器的串口，"
                                   "请检查设置 devices.idcard.port 和读卡器的 USB 线", key)
    try:
        status = Reader(port, timeout).sam_status()
    except ReplyTimeout:
        return Check(name, "fail", f"读卡器没有应答（{conf.port}，{conf.baud} 波特）：请检查读卡器电源和 USB 线；"
                                   "端口或波特率设置错了也会这样（yizhan idcard status 可再试）", key)
    except IdCardError as exc:
        return Check(name, "fail", f"{conf.port} 上的设备应答不像读卡器（{exc}）：请检查设置中的端口和波特率", key)
    except PORT_ERRORS as exc:
        return Check(name, "fail", f"读卡器在检查时断开了（{port_error_reason(exc)}）：请检查 USB 线", key)
    finally:
        port.close()
    if not status.ok:
        return Check(name, "fail", f"读卡器应答了，但安全模块报告：{status.zh}（0x{status.code:02X}）：请联系读卡器厂家", key)
    return Check(name, "ok", f"读卡器应答正常（{conf.port}）", key)


@_check
def check_printer(env: Surroundings) -> Check:
    """The printer's status (paper, cover, errors) read as the print service reads it."""
    from printer.connections import describe, read_status
    from printer.profiles import ProfileError, profile_for
    from printer.status import PrinterState

    name, key = "打印机", "printer"
    printer = env.settings.devices.printer
    if not printer.enabled:
        return Check(name, "skip", "设置中已关闭打印机", key)
    where = describe(printer)
    for path in ((printer.serial_port,) if printer.kind == "serial" else
                 (printer.file_path,) if printer.kind == "file" else ()):
        problem = _node(name, key, path, "打印机", env)
        if problem:
            return problem
    try:
        answers = profile_for(printer).status
    except ProfileError as exc:
        return Check(name, "fail", f"打印机型号设置有误：{exc}", key)
    if not answers or printer.kind == "file":
        return Check(name, "ok", f"{where}：可以打开（这种打印机不回报缺纸等状态，请看打印机的指示灯）", key)
    status = read_status(printer, status_timeout=min(printer.status_timeout_s, DEVICE_TIMEOUT_S))
    if status.printable:
        return Check(name, "ok", f"{where}：{status.message}", key)
    more = ""
    if status.state is PrinterState.OFFLINE and status.detail:
        more = f"（{status.detail}）"
    elif status.state is PrinterState.UNKNOWN:
        more = "（打印机进程或固件可能卡住了：请关掉打印机电源再打开）"
    return Check(name, "fail", f"{where}：{status.message}{more}", key)


@_check
def check_audio(env: Surroundings) -> Check:
    """Speak two words with the kiosk's read-aloud command: a missing sound card fails here, for
    staff (espeak-ng exits 0 without one, so its ALSA errors are what tells)."""
    import shlex

    from kiosk.tts import NO_AUDIO_MARKERS  # plain Python, no Kivy

    name, key = "声音（朗读）", "audio"
    settings = env.settings
    argv = shlex.split(settings.kiosk.tts_command) if settings.kiosk.tts_command else []
    if not settings.kiosk.read_aloud or not argv:
        return Check(name, "skip", "设置中已关闭朗读", key)
    if shutil.which(argv[0]) is None:
        return Check(name, "fail", f"没有安装 {argv[0]}：朗读功能不能用，请联系技术人员安装", key)
    try:
        done = subprocess.run([*argv, "声音测试"], stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(name, "fail", f"{argv[0]} 没有正常结束（{exc}）：请联系技术人员", key)
    errors = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0 or any(marker in errors for marker in NO_AUDIO_MARKERS):
        lines = errors.strip().splitlines() or [f"exit code {done.returncode}"]
        # ALSA's own words ("Unknown PCM default", "cannot find card '0'") say more than espeak-ng's last line
        telling = [line for line in lines if "Unknown PCM" in line or "cannot find card" in line] or lines[-1:]
        return Check(name, "fail", f"没有可用的声卡，朗读听不到：请检查音箱电源和音频线（{telling[-1].strip()[-100:]}）",
                     key)
    return Check(name, "ok", f"{argv[0]} 已朗读测试语句", key)


@_check
def check_storage(env: Surroundings) -> Check:
    """The data folder takes a real write (a full disk still lets an empty file be made)."""
    settings = env.settings
    data_dir = settings.storage.data_dir
    problem = probe_writable(data_dir)
    if problem:
        return Check("数据盘", "fail", problem, "storage")
    free_mb = shutil.disk_usage(data_dir).free // (1024 * 1024)
    floor = settings.storage.free_space_floor_mb
    if free_mb < floor:
        return Check("数据盘", "fail", f"{data_dir}：只剩 {free_mb} MB，低于下限 {floor} MB：视频可能下载不了，"
                                     "请清理不需要的文件或联系技术人员", "storage")
    return Check("数据盘", "ok", f"{data_dir}：剩余 {free_mb} MB（下限 {floor} MB）", "storage")


def _hub_date(settings: Settings) -> tuple[str | None, str]:
    """HEAD the feed's manifest as the sync does: (Date header, problem or "")."""
    import requests

    from content.media import http_session

    url = urljoin(settings.hub.feed_url.rstrip("/") + "/", "manifest.json")
    try:
        with http_session(settings.hub.ca_bundle) as session:  # the pinned CA, as the sync uses it
            response = session.head(url, timeout=min(settings.hub.timeout_s, 5), allow_redirects=True)
    except requests.RequestException as exc:
        return None, f"连不上内容服务器 {urlsplit(url).netloc}（{type(exc).__name__}）：请检查网线/网络；网络正常请联系上级"
    if response.status_code >= 400:
        return response.headers.get("Date"), f"内容服务器回答 HTTP {response.status_code}（{url}）：请联系上级核对地址"
    return response.headers.get("Date"), ""


@_check
def check_hub(env: Surroundings) -> Check:
    settings = env.settings
    if not settings.hub.feed_url:
        return Check("内容服务器", "skip", "没有设置 hub.feed_url（只用本机导入的内容）", "hub")
    before = env.now()
    date, problem = _hub_date(settings)
    after = env.now()
    if date:
        try:
            env.hub_time = email.utils.parsedate_to_datetime(date)
            env.hub_offset_s = (before + (after - before) / 2 - env.hub_time).total_seconds()
        except (TypeError, ValueError):
            env.hub_time = None
    if problem:
        return Check("内容服务器", "fail", problem, "hub")
    return Check("内容服务器", "ok", f"可以连通（{urlsplit(settings.hub.feed_url).netloc}）", "hub")


@_check
def check_token(env: Surroundings) -> Check:
    """The station token, shown to the hub's authenticated no-op (``GET whoami``)."""
    import requests

    from content.media import http_session

    name, key = "站点令牌", "token"
    hub = env.settings.hub
    if not hub.upload_url:
        return Check(name, "skip", "没有设置 hub.upload_url（登记和心跳不上传）", key)
    if not hub.station_token:
        return Check(name, "fail", "没有站点令牌（hub.station_token）：登记无法上传，请向上级管理员索取本站的令牌", key)
    url = urljoin(hub.upload_url.rstrip("/") + "/", "whoami")
    try:
        with http_session(hub.ca_bundle) as session:
            response = session.get(url, headers={"Authorization": f"Bearer {hub.station_token}"},
                                   timeout=min(hub.timeout_s, 5))
    except requests.RequestException as exc:
        return Check(name, "fail", f"连不上上传服务器 {urlsplit(url).netloc}（{type(exc).__name__}），无法核对令牌："
                                   "请检查网络", key)
    if response.status_code in (401, 403):
        return Check(name, "fail", "上传服务器不认可本站的令牌（hub.station_token）：登记和心跳都传不上去。"
                                   "请联系上级管理员核对或重新发放令牌", key)
    if response.status_code == 404:
        return Check(name, "skip", "上传服务器不支持令牌核对（较早的版本），请以 yizhan sync --once 的结果为准", key)
    if response.status_code >= 400:
        return Check(name, "fail", f"上传服务器回答 HTTP {response.status_code}：请联系上级", key)
    try:
        station = response.json().get("station")
    except ValueError:
        station = None
    own = env.settings.station.id
    if station and station != own:
        return Check(name, "fail", f"这个令牌属于站点 {station}，不是本站（{own}）：请联系上级管理员发放本站的令牌", key)
    return Check(name, "ok", "上传服务器认可本站的令牌", key)


@_check
def check_transport(env: Surroundings) -> Check:
    """Plain http:// to another machine sends tokens and residents' data in clear."""
    from config.settings import insecure_urls

    hub = env.settings.hub
    if not (hub.feed_url or hub.upload_url):
        return Check("加密连接", "skip", "没有设置服务器", "transport")
    bad = insecure_urls(hub)
    if bad:
        return Check("加密连接", "fail", f"{'、'.join('hub.' + b for b in bad)} 是不加密的 http:// 地址（allow_insecure_http = "
                                     "true）：令牌和居民信息会明文传输，请改用 https://", "transport")
    ca = f"，已固定证书：{hub.ca_bundle}" if hub.ca_bundle else ""
    return Check("加密连接", "ok", "https（或仅本机）" + ca, "transport")


def _clock_wrong(env: Surroundings) -> bool:
    return env.hub_offset_s is not None and abs(env.hub_offset_s) > CLOCK_TOLERANCE_S


@_check
def check_feed(env: Surroundings) -> Check:
    """The feed held: within its signed expiry (judged by the hub's time when the station's own
    clock is wrong), and every record of it accepted here."""
    from content.feed_client import feed_health

    name, key = "内容", "feed"
    settings = env.settings
    if not settings.hub.feed_url:
        return Check(name, "skip", "没有设置 hub.feed_url", key)
    local_now = env.now()
    health = feed_health(settings, now=local_now, check_media=False)
    if not health.version:
        return Check(name, "fail", "还没有收到过内容：请运行 yizhan sync --once", key)
    if health.expired and _clock_wrong(env) and env.hub_time is not None:
        by_hub = feed_health(settings, now=env.hub_time, check_media=False)
        if not by_hub.expired:
            return Check(name, "fail", f"按服务器时间，内容在有效期内（到 {_local(by_hub.expires_at)}）；显示为过期是因为本机"
                                       "时钟不准，不是内容服务器的问题：请先校正本机时间（见“时钟”一行）", key)
    if not health.ok:
        listed = "；".join(f"{r['kind']} {r['id']}：{r['reason'][:80]}" for r in health.invalid_records[:3])
        return Check(name, "fail", " ".join(health.problems) + (f"（{listed}）" if listed else ""), key)
    return Check(name, "ok", f"{health.feed_id} 第 {health.version} 版，有效期到 {_local(health.expires_at)}", key)


@_check
def check_hours(env: Surroundings) -> Check:
    """The station's opening hours (the one source every screen shows) against feed content stating others."""
    import sqlite3

    from content.db import reading
    from content.hours import disagreements
    from protocol.model import Announcement, Policy

    name, key = "服务时间", "hours"
    hours = env.settings.station.opening_hours
    if not hours:
        return Check(name, "skip", "没有设置服务时间（station.opening_hours）：自助机和大屏上都不显示服务时间", key)
    now = env.now().replace(tzinfo=None)
    try:  # read only, as the other content checks: doctor never creates or changes the database
        with reading(env.settings.db_path) as conn:
            notices = [Announcement.model_validate_json(r[0])
                       for r in conn.execute("SELECT data FROM content_announcements").fetchall()]
            policies = [Policy.model_validate_json(r[0])
                        for r in conn.execute("SELECT data FROM content_policies").fetchall()]
    except sqlite3.Error:  # no database or no content yet
        notices, policies = [], []
    records = [("通知", a.id, a.text) for a in notices if a.is_open(now)]
    records += [("政策", p.id, f"{p.how_to_apply} {p.body}") for p in policies]
    found = disagreements(hours, records)
    if found:
        listed = "；".join(f"{m.kind} {m.item_id} 写的是 {m.says}" for m in found[:3])
        return Check(name, "warn", f"中心下发的内容与本站设置的服务时间（{hours}）不一致：{listed}。"
                                   "自助机和大屏都按本站设置显示，请联系上级更正这条内容，或改正本站设置", key)
    return Check(name, "ok", f"{hours}（自助机和大屏都显示这一设置，下发的内容与它一致）", key)


def _local(iso: str | None) -> str:
    if not iso:
        return "未知"
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


@_check
def check_media(env: Surroundings) -> Check:
    """Every media file the current content refers to is in the cache and hashes right."""
    from content.db import reading
    from protocol.feed import Manifest, ManifestError

    name, key = "视频图片", "media"
    settings = env.settings
    if not settings.db_path.exists():
        return Check(name, "skip", "还没有本站数据库", key)
    try:
        with reading(settings.db_path) as conn:
            row = conn.execute("SELECT manifest FROM sync_state WHERE id = 1").fetchone()
    except Exception as exc:  # noqa: BLE001 - a table not made yet reads as "no feed"; a disk fault is said
        problem = disk_problem(exc, settings.db_path)
        if problem:
            return Check(name, "fail", problem, key)
        row = None
    if row is None or row[0] is None:
        return Check(name, "skip", "还没有收到过内容", key)
    try:
        manifest = Manifest.from_bytes(row[0])
    except ManifestError as exc:
        return Check(name, "fail", f"保存的内容清单读不出来（{exc}）：请运行 yizhan sync --once", key)
    cache = media_cache(settings)  # reads only: the doctor opens no Station (it would migrate)
    missing = [m.path for m in manifest.media if not cache.has(m.ref())]
    damaged = [m.path for m in manifest.media if cache.has(m.ref()) and not cache.verify(m.ref())]
    if missing or damaged:
        parts = []
        if missing:
            parts.append(f"缺 {len(missing)} 个（如 {missing[0]}）")
        if damaged:
            parts.append(f"损坏 {len(damaged)} 个（如 {damaged[0]}）")
        return Check(name, "fail", "，".join(parts) + "：运行 yizhan sync --once 会重新下载", key)
    return Check(name, "ok", f"{len(manifest.media)} 个文件齐全且校验无误", key)


def system_timesync() -> tuple[bool | None, str]:
    """Whether the system keeps its clock synchronised: (True/False, what says so), or
    (None, why unknown). systemd-timesyncd through timedatectl, else chrony."""
    try:
        done = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "-p", "NTP"], capture_output=True,
                              text=True, timeout=10)
        if done.returncode == 0:
            values = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
            if values.get("NTPSynchronized") == "yes":
                return True, "系统自动对时已同步"
            if values.get("NTP") == "no":
                return False, "系统自动对时没有开启（timedatectl set-ntp true 可开启）"
            return False, "系统自动对时还没有同步（检查网络能否访问对时服务器）"
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        done = subprocess.run(["chronyc", "-n", "tracking"], capture_output=True, text=True, timeout=10)
        if done.returncode == 0:
            synced = "Leap status     : Normal" in done.stdout
            return synced, "chrony 对时已同步" if synced else "chrony 对时还没有同步"
    except (OSError, subprocess.TimeoutExpired):
        pass
    return None, "读不到系统对时状态"


@_check
def check_clock(env: Surroundings) -> Check:
    """The station's clock against the hub's, a wrong one named as the station's own fault."""
    name, key = "时钟", "clock"
    now = env.now()
    synced, sync_text = (env.timesync or system_timesync)()
    shown = f"本机时间 {now.astimezone():%Y-%m-%d %H:%M}"
    if env.hub_offset_s is not None and env.hub_time is not None:
        offset = env.hub_offset_s
        hub_local = env.hub_time.astimezone()
        if abs(offset) > CLOCK_TOLERANCE_S:
            way = "快" if offset > 0 else "慢"
            return Check(name, "fail", f"本机时钟比内容服务器{way}了 {duration_zh(offset)}（{shown}，服务器 {hub_local:%Y-%m-%d %H:%M}）："
                                       f"这是本机的问题，不是服务器的。请校正本机时间（开启自动对时：timedatectl set-ntp "
                                       f"true）；{sync_text}", key)
        return Check(name, "ok", f"{shown}，与内容服务器相差 {duration_zh(offset)}；{sync_text}", key)
    if now.year < 2024:
        return Check(name, "fail", f"{shown} 明显不对：请校正本机时间（开启自动对时：timedatectl set-ntp true）", key)
    if synced:
        return Check(name, "ok", f"{shown}；{sync_text}", key)
    return Check(name, "fail", f"{shown}，无法确认是否准确：没有可对照的内容服务器，且{sync_text}。请开启自动对时，"
                               "或对照手机时间校正", key)


@_check
def check_program_files(env: Surroundings, root: Path = Path("/"), running: Path | None = None) -> Check:
    """The files the installed release runs from match its signed wheel (none edited on the box)."""
    from deploy.install import Layout
    from deploy.integrity import running_release, verify_release_files

    settings = env.settings
    release = running_release(running or Path(__file__), Layout(root=root).current)
    if release is None:
        return Check("程序文件", "skip", "不是从安装的版本运行（源码目录）", "program_files")
    result = verify_release_files(release, settings.hub.public_key or None)
    if result.problems:
        shown = "，".join(result.problems[:5]) + ("…" if len(result.problems) > 5 else "")
        return Check("程序文件", "fail", f"{release.name}：{len(result.problems)} 个文件被改动：{shown}，请重新安装该版本",
                     "program_files")
    basis = "与签名清单一致" if result.signed else "与安装记录一致（签名的 wheel 已不在，记录本身未核对签名）"
    return Check("程序文件", "ok", f"{release.name}：{result.files} 个文件{basis}", "program_files")


@_check
def check_secrets(env: Surroundings, root: Path = Path("/")) -> Check:
    """Which protection the outbox key and the station token have against a copied disk."""
    from content import credentials
    from content.outbox import KEY_FILE, load_or_create_key

    settings = env.settings
    name, key = "密钥保护", "secrets"
    if not (root / "etc/systemd/system/yizhan.target").exists():
        return Check(name, "skip", "不是安装好的站点（yizhan install 会封存密钥）", key)
    plain = settings.data_dir / KEY_FILE
    kind = credentials.protection()
    if kind == "none":
        if not credentials.available():
            return Check(name, "skip", "本机没有 systemd-creds：数据密钥以文件保存在数据目录", key)
        state = "数据密钥以明文保存在数据目录" if plain.exists() else "还没有数据密钥"
        return Check(name, "fail", f"{state}：复制数据盘即可读出排队的登记，请以 root 运行 yizhan install 封存", key)
    try:
        load_or_create_key(settings.data_dir)
    except Exception as exc:  # noqa: BLE001 - any failure to open it is what staff must hear about
        return Check(name, "fail", f"封存的数据密钥打不开：{exc}", key)
    if plain.exists():
        return Check(name, "fail", f"已封存，但明文密钥 {plain} 还在：请以 root 运行 yizhan install 清除", key)
    if kind == "tpm2":
        return Check(name, "ok", "数据密钥和站点令牌封存在本机 TPM2 中：硬盘被整个复制也解不开", key)
    return Check(name, "ok", "数据密钥和站点令牌用本机密钥加密：只复制数据目录解不开；本机没有 TPM2，"
                 "整个硬盘被复制时仍可解开", key)


def _box(check: Callable[[Any], Any], key: str, name: str) -> Callable[[Surroundings], Check]:
    """A check of what ``yizhan install`` put on the box (:mod:`deploy.checks`), under its Chinese label."""
    def run(env: Surroundings) -> Check:
        found = check(env.settings)
        return Check(name, found.status, found.detail, key)

    run.__name__ = check.__name__
    return run


CHECKS: tuple[Callable[[Surroundings], Check], ...] = (
    check_font, check_display, check_reader, check_printer, check_audio, check_storage, check_hub, check_token,
    check_transport, check_clock, check_feed, check_media, check_hours, _box(check_units, "services", "后台服务"),
    _box(check_udev, "device_names", "设备名称"), _box(check_release, "release", "安装版本"), check_program_files,
    check_secrets)
# The clock before the feed: a feed that looks expired only by a wrong clock is said to be the clock's fault.

_KEYS = {"check_font": ("font", "中文字体"), "check_display": ("display", "显示屏"),
         "check_reader": ("idcard", "身份证读卡器"), "check_printer": ("printer", "打印机"),
         "check_audio": ("audio", "声音（朗读）"), "check_storage": ("storage", "数据盘"), "check_hub": ("hub", "内容服务器"),
         "check_token": ("token", "站点令牌"), "check_transport": ("transport", "加密连接"), "check_clock": ("clock", "时钟"),
         "check_feed": ("feed", "内容"), "check_media": ("media", "视频图片"), "check_hours": ("hours", "服务时间"),
         "check_program_files":
         ("program_files", "程序文件"), "check_secrets": ("secrets", "密钥保护")}


def surroundings(settings: Settings | Surroundings, **options: Any) -> Surroundings:
    """The checks' shared surroundings for ``settings`` (a check called with plain settings gets
    its own, with the real clock)."""
    if isinstance(settings, Surroundings):
        return settings
    env = Surroundings(settings, **options)
    if env.service_user is None:
        try:
            env.service_user = service_owner(settings)
        except Exception:  # noqa: BLE001 - no account database: check as this process's user
            env.service_user = None
    return env


def _safely(check: Callable[[Surroundings], Check], env: Surroundings) -> Check:
    """Run one check; whatever it raises becomes its line (a full disk above all), never a traceback."""
    key, name = _KEYS.get(check.__name__, (check.__name__.removeprefix("check_"), check.__name__))
    try:
        found = check(env)
    except Exception as exc:  # noqa: BLE001 - every failure is a line for staff
        problem = disk_problem(exc, env.settings.storage.data_dir)
        if problem:
            return Check(name, "fail", problem, key)
        return Check(name, "fail", f"检查时出错（{type(exc).__name__}：{str(exc)[:160]}）：请把这一行告诉技术人员", key)
    if not found.key:
        found.key = key
    return found


def run_checks(settings: Settings, *, now: Callable[[], dt.datetime] | None = None,
               timesync: Callable[[], tuple[bool | None, str]] | None = None,
               checks: tuple[Callable[[Surroundings], Check], ...] = CHECKS) -> list[Check]:
    """Every check, in order (``now``: the local clock, aware; ``timesync``: the system's time
    sync state; tests inject both)."""
    options: dict[str, Any] = {"timesync": timesync}
    if now is not None:
        options["now"] = now
    env = surroundings(settings, **options)
    if not any(c is check_hub for c in checks) and settings.hub.feed_url and check_clock in checks:
        _safely(check_hub, env)  # the clock needs the hub's time
    return [_safely(check, env) for check in checks]


def register(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace, ctx: Context) -> int:
    checks = run_checks(ctx.settings)
    failed = [c for c in checks if c.status == "fail"]
    station = ctx.settings.station
    if ctx.json:
        ctx.emit({"ok": not failed, "station": station.id, "checked_at": dt.datetime.now().astimezone().isoformat(),
                  "checks": [asdict(c) for c in checks]})
    else:
        width = max(_width(c.name) for c in checks)
        print(f"驿站自检：{station.name}（{station.id}），{time.strftime('%Y-%m-%d %H:%M')}")
        for c in checks:
            print(f"  {MARKS[c.status]} {c.name}{' ' * (width - _width(c.name))}  {c.detail}")
        warned = sum(c.status == "warn" for c in checks)
        print(f"共 {len(failed)} 项有问题，请按上面 ✗ 行的说明处理；处理不了请把本页拍照发给技术人员"
              if failed else (f"可以正常使用；有 {warned} 项提醒，请看上面 ! 行" if warned else "全部正常"))
    return exitcodes.FAILURE if failed else exitcodes.OK


def _width(text: str) -> int:
    """Columns on a terminal: a hanzi takes two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
