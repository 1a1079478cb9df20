"""The station's media cache: verified videos and pictures named by their SHA-256.

``<media_dir>/<sha256>.<ext>`` is only ever a complete file whose hash was checked: a
download goes to ``<sha256>.<ext>.part``, resumes from there with an HTTP Range request
after a cut, is hashed while it streams, and is renamed into place only when size and
SHA-256 match. The cache keeps within ``storage.media_quota_mb`` by evicting the least
recently used files neither the current nor the new content needs (never before it knows
the new files fit), and keeps ``storage.free_space_floor_mb``
free on the disk: it checks before starting and stops cleanly if the disk fills during a
download (the ``.part`` stays, to resume later). Last use is the file's mtime, so the
board marks a video used by calling :meth:`MediaCache.use` before playing it.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import urllib3
from tenacity import Retrying

from common.files import fsync_dir
from protocol.model import MediaRef

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
FLOOR_CHECK_EVERY = 4 * 1024 * 1024  # bytes written between two free-space checks
_NAME_RE = re.compile(r"^([0-9a-f]{64})\.([a-z0-9]{1,5})$")

DiskUsage = Callable[[Path], Any]  # like shutil.disk_usage: returns an object with .free


class MediaError(Exception):
    """A media file could not be fetched or kept. ``code`` names the reason in one word;
    ``short_bytes`` (quota and disk errors) how many more bytes the new content needs."""

    code = "media_error"

    def __init__(self, message: str, short_bytes: int = 0) -> None:
        super().__init__(message)
        self.short_bytes = short_bytes


class MediaHashError(MediaError):
    code = "hash_mismatch"


class DiskFullError(MediaError):
    code = "disk_full"


class QuotaError(MediaError):
    code = "quota"


class TransientHTTPError(Exception):
    """A server answer worth retrying (5xx, 429) or a body that ended early."""


# Failures worth another attempt. urllib3's own errors appear when a body is read directly
# from the connection (a cut, a read timeout).
TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
             urllib3.exceptions.HTTPError, TransientHTTPError)


class _PinnedSession(requests.Session):
    """A session whose every request is verified against one CA bundle. Setting
    ``session.verify`` alone is not enough: requests lets ``REQUESTS_CA_BUNDLE`` from the
    environment override it (psf/requests#3829), so the bundle is passed per request."""

    def __init__(self, ca_bundle: str) -> None:
        super().__init__()
        self.verify = ca_bundle

    def request(self, method: str, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


def http_session(ca_bundle: str = "") -> requests.Session:
    """The HTTP session a station uses towards its hub (``hub.ca_bundle`` pinned if set)."""
    return _PinnedSession(ca_bundle) if ca_bundle else requests.Session()


@dataclass
class Transfer:
    """Requests made and body bytes received (one sync's accounting, shared by its fetches)."""

    requests: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class CachedMedia:
    sha256: str
    path: Path
    size: int
    last_used: float


def media_path(settings_or_dir: Any, ref: MediaRef) -> Path:
    """Where a media file lives in the cache (it may not be there yet: check ``.exists()``)."""
    directory = getattr(settings_or_dir, "media_dir", settings_or_dir)
    return Path(directory) / ref.filename


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


MIN_BYTES_PER_S = 2048.0  # 16 kbit/s: below even a poor 2G link; a trickle is slower
DOWNLOAD_GRACE_S = 60.0


class MediaCache:
    """The media folder of one station."""

    def __init__(self, directory: str | Path, *, quota_bytes: int | None = None, floor_bytes: int = 0,
                 disk_usage: DiskUsage | None = None, check_every_bytes: int = FLOOR_CHECK_EVERY,
                 min_bytes_per_s: float = MIN_BYTES_PER_S, grace_s: float = DOWNLOAD_GRACE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.dir = Path(directory)
        self.quota_bytes = quota_bytes
        self.floor_bytes = floor_bytes
        # ``disk_usage`` is shutil.disk_usage unless a test simulates a filling disk.
        self._disk_usage = disk_usage or shutil.disk_usage
        self.check_every_bytes = check_every_bytes
        # Each attempt has a deadline (slow retrieval): the grace plus what is left at the
        # slowest speed a station's link is expected to manage; past it the attempt stops,
        # keeps what came, and the retry resumes from there.
        self.min_bytes_per_s = min_bytes_per_s
        self.grace_s = grace_s
        self.clock = clock

    # -- what is here -------------------------------------------------------------------
    def path(self, ref: MediaRef) -> Path:
        return self.dir / ref.filename

    def part_path(self, ref: MediaRef) -> Path:
        return self.dir / (ref.filename + ".part")

    def has(self, ref: MediaRef) -> bool:
        """The file is in place with the right size (its hash was checked when it arrived)."""
        try:
            return self.path(ref).stat().st_size == ref.size
        except FileNotFoundError:
            return False

    def verify(self, ref: MediaRef) -> bool:
        """Hash the cached file again (slow for large files; used by checks and tests)."""
        return self.has(ref) and file_sha256(self.path(ref)) == ref.sha256

    def use(self, ref: MediaRef) -> Path | None:
        """The file to play, marked as just used (for LRU eviction); None if not cached."""
        path = self.path(ref)
        try:
            os.utime(path)
        except FileNotFoundError:
            return None
        return path

    def entries(self) -> list[CachedMedia]:
        out: list[CachedMedia] = []
        if not self.dir.is_dir():
            return out
        for path in self.dir.iterdir():
            match = _NAME_RE.match(path.name)
            if match:
                st = path.stat()
                out.append(CachedMedia(match.group(1), path, st.st_size, st.st_mtime))
        return out

    def used_bytes(self) -> int:
        """Bytes of cached files and partial downloads."""
        if not self.dir.is_dir():
            return 0
        return sum(p.stat().st_size for p in self.dir.iterdir() if p.is_file())

    def free_bytes(self) -> int:
        self.dir.mkdir(parents=True, exist_ok=True)
        return int(self._disk_usage(self.dir).free)

    # -- room -------------------------------------------------------------------------------
    def make_room(self, wanted: Iterable[MediaRef], *, current: Iterable[str] = ()) -> list[CachedMedia]:
        """Evict so that every ``wanted`` file fits within the quota and above the floor.

        Only files neither version needs are evicted (least recently used first): the media
        of the ``current`` content stays, because the new version may still be refused and
        the station must go on showing what it has. Whether the wanted files can fit is
        decided before anything is deleted: :class:`QuotaError` / :class:`DiskFullError`
        leave the cache exactly as it was.
        """
        wanted = list(wanted)
        keep = {r.sha256 for r in wanted} | set(current)
        needed = 0
        for ref in wanted:
            if not self.has(ref):
                part = self.part_path(ref)
                needed += ref.size - (part.stat().st_size if part.exists() else 0)
        candidates = sorted((e for e in self.entries() if e.sha256 not in keep), key=lambda e: e.last_used)
        for part in self.dir.glob("*.part") if self.dir.is_dir() else ():
            match = _NAME_RE.match(part.name[:-5])
            if match and match.group(1) not in keep:
                candidates.insert(0, CachedMedia(match.group(1), part, part.stat().st_size, 0.0))

        def short(freed: int) -> tuple[int, int]:
            over_quota = 0 if self.quota_bytes is None else self.used_bytes() - freed + needed - self.quota_bytes
            under_floor = self.floor_bytes - (self.free_bytes() + freed - needed)
            return over_quota, under_floor

        over_quota, under_floor = short(sum(c.size for c in candidates))
        if over_quota > 0:
            raise QuotaError(f"media quota too small: the new content needs {_mb(needed)} more while the current "
                             f"content's media stay; {_mb(over_quota)} over storage.media_quota_mb", over_quota)
        if under_floor > 0:
            raise DiskFullError(f"not enough disk space: the new content needs {_mb(needed)} more, which would leave "
                                f"less than storage.free_space_floor_mb ({_mb(self.floor_bytes)}) free", under_floor)
        evicted: list[CachedMedia] = []
        freed = 0
        while any(x > 0 for x in short(0)) and candidates:
            victim = candidates.pop(0)
            victim.path.unlink(missing_ok=True)
            evicted.append(victim)
            freed += victim.size
            log.info("media cache: evicted %s (%d bytes)", victim.path.name, victim.size)
        return evicted

    def remove_unneeded(self, needed: Iterable[str]) -> int:
        """Delete partial downloads nothing needs any more; complete files stay until evicted."""
        keep = set(needed)
        removed = 0
        if self.dir.is_dir():
            for part in self.dir.glob("*.part"):
                match = _NAME_RE.match(part.name[:-5])
                if not match or match.group(1) not in keep:
                    part.unlink(missing_ok=True)
                    removed += 1
        return removed

    # -- fetching ---------------------------------------------------------------------------
    def download(self, session: requests.Session, url: str, ref: MediaRef, *, timeout: float | tuple[float, float],
                 retrying: Retrying, transfer: Transfer | None = None,
                 on_bytes: Callable[[int], None] | None = None) -> Path:
        """Fetch ``url`` into the cache as ``ref``: resume a partial file, verify, rename.

        Transient failures (cuts, 5xx, timeouts) are retried by ``retrying``, each attempt
        resuming where the last stopped. A body that does not hash to ``ref.sha256`` is
        deleted and fetched once more from the start, then refused (:class:`MediaHashError`).
        """
        if self.has(ref):
            self.use(ref)
            return self.path(ref)
        self.dir.mkdir(parents=True, exist_ok=True)
        transfer = transfer or Transfer()
        mismatches = 0
        while True:
            try:
                for attempt in retrying.copy():
                    with attempt:
                        self._attempt(session, url, ref, timeout, transfer, on_bytes)
                return self.path(ref)
            except MediaHashError:
                mismatches += 1
                if mismatches >= 2:
                    raise

    def _attempt(self, session: requests.Session, url: str, ref: MediaRef, timeout: Any,
                 transfer: Transfer, on_bytes: Callable[[int], None] | None) -> None:
        part = self.part_path(ref)
        have = part.stat().st_size if part.exists() else 0
        if have > ref.size:
            part.unlink()
            have = 0
        if have == ref.size and ref.size > 0:
            self._finish(ref, part, _hash_file(part))
            return
        headers = {"Range": f"bytes={have}-"} if have else {}
        transfer.requests += 1
        with session.get(url, headers=headers, stream=True, timeout=timeout) as response:
            have, mode = _resume_mode(response, have, ref, part)
            digest = _hash_file(part) if mode == "ab" else hashlib.sha256()
            since_check = 0
            too_long = too_slow = False
            deadline = self.clock() + self.grace_s + (ref.size - have) / self.min_bytes_per_s
            try:
                with part.open(mode) as f:
                    for chunk in _body_chunks(response):
                        if have + len(chunk) > ref.size:
                            too_long = True
                            break
                        if self.clock() > deadline:
                            too_slow = True
                            break
                        # Written as it arrives: after a cut the part holds every byte
                        # received, and the resume starts right after the last one.
                        f.write(chunk)
                        digest.update(chunk)
                        have += len(chunk)
                        transfer.bytes += len(chunk)
                        since_check += len(chunk)
                        if on_bytes:
                            on_bytes(len(chunk))
                        if since_check >= self.check_every_bytes:
                            since_check = 0
                            self._check_floor(ref)
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as exc:
                if exc.errno == errno.ENOSPC:
                    raise DiskFullError(f"the disk filled while downloading {ref.filename}; "
                                        f"kept {_mb(have)} to resume later") from None
                raise
            if too_long:
                part.unlink(missing_ok=True)
                raise MediaHashError(f"media {ref.filename} is longer than its {ref.size} bytes")
            if too_slow:
                raise TransientHTTPError(f"media {ref.filename} arrives slower than {self.min_bytes_per_s:.0f} B/s; "
                                         f"kept {have} of {ref.size} bytes to resume")
        if have < ref.size:
            raise TransientHTTPError(f"media {ref.filename} ended after {have} of {ref.size} bytes")
        self._finish(ref, part, digest)

    def _check_floor(self, ref: MediaRef) -> None:
        free = self.free_bytes()
        if free < self.floor_bytes:
            raise DiskFullError(f"the disk is below storage.free_space_floor_mb ({_mb(free)} free); "
                                f"stopped downloading {ref.filename}, the part is kept to resume")

    def _finish(self, ref: MediaRef, part: Path, digest: Any) -> None:
        if digest.hexdigest() != ref.sha256:
            part.unlink(missing_ok=True)
            raise MediaHashError(f"media {ref.filename} does not match its SHA-256; deleted")
        final = self.path(ref)
        os.replace(part, final)
        os.utime(final)
        fsync_dir(self.dir)


def _body_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives. ``read1`` hands over every byte received before a cut (a
    buffered ``read(n)`` would drop the last partial chunk), so a resume starts exactly there."""
    raw = response.raw
    while chunk := raw.read1(CHUNK, decode_content=True):
        yield chunk


def _hash_file(path: Path) -> Any:
    digest = hashlib.sha256()
    if path.exists():
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    return digest


def _resume_mode(response: requests.Response, have: int, ref: MediaRef, part: Path) -> tuple[int, str]:
    """Where the body starts and how to open the part file: append after a honoured range,
    start over when the server sent the whole file; the error for anything else."""
    status = response.status_code
    if status == 206 and _range_start(response) == have:
        return have, "ab"
    if status == 200:
        return 0, "wb"  # the server ignored the range: start over
    if status == 416:
        part.unlink(missing_ok=True)
        raise TransientHTTPError("the server refused the resume range; starting over")
    if status >= 500 or status == 429:
        raise TransientHTTPError(f"HTTP {status} for {ref.filename}")
    raise MediaError(f"HTTP {status} for media {ref.filename}")


def _range_start(response: requests.Response) -> int:
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else -1




def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"
