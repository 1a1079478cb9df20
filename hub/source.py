"""The hub's source folder: the content a province or city hands to ``yizhan hub publish``.

A plain folder that people can edit with a spreadsheet and a text editor::

    feed.json               {"feed_id": "gy-yunyan", "scope": {"regions": ["520103"]}}  (optional)
    jobs.csv | jobs.json    one record per row / array element (fields as in protocol.model.Job)
    policies.csv | .json
    events.csv | .json
    courses.csv | .json     "media" / "thumbnail": a file in media/, e.g. "media/welding.mp4"
    announcements.csv | .json
    documents/<name>.json   named JSON documents, e.g. documents/board_schedule.json
    media/                  the videos and pictures the courses use

CSV files have a header row of field names; an empty cell means "not given" (the field's
default). UTF-8 (with or without BOM) and GB18030 (what Chinese Excel saves) are read.
Every problem is reported as a :class:`~protocol.model.Rejection` naming the file, the
record and the reason; good records are never dropped because of bad neighbours.
The format is written down in ``content/PROTOCOL.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import mimetypes
import re
import shutil
from pathlib import Path
from typing import Any

from protocol.feed import DOCUMENT_NAME_RE, RECORD_KINDS, Scope
from protocol.model import ContentSet, Course, Job, MediaRef, Rejection, validate_records

MEDIA_FIELDS = ("media", "thumbnail")
_EXTRA_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "mkv": "video/x-matroska", "png": "image/png",
                "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif",
                "mp3": "audio/mpeg", "wav": "audio/wav", "srt": "text/plain", "vtt": "text/vtt"}


class SourceError(Exception):
    """The folder itself cannot be used (missing, or feed.json broken)."""


def read_feed_info(source_dir: str | Path) -> tuple[str | None, Scope | None, str]:
    """``feed.json``: the feed id, scope and title, or ``(None, None, "")`` when absent."""
    path = Path(source_dir) / "feed.json"
    if not path.exists():
        return None, None, ""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(f"{path}: not readable JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SourceError(f"{path}: must be a JSON object")
    unknown = set(data) - {"feed_id", "scope", "title"}
    if unknown:
        raise SourceError(f"{path}: unknown keys {sorted(unknown)} (allowed: feed_id, scope, title)")
    feed_id = data.get("feed_id")
    if feed_id is not None and not (isinstance(feed_id, str) and re.fullmatch(r"[A-Za-z0-9._-]{1,64}", feed_id)):
        raise SourceError(f"{path}: feed_id must be 1-64 letters, digits, '.', '_' or '-', got {feed_id!r}")
    scope = None
    if "scope" in data:
        try:
            scope = Scope.model_validate(data["scope"])
        except ValueError as exc:
            raise SourceError(f"{path}: scope: {exc}") from None
    return feed_id, scope, str(data.get("title", ""))


def read_source_folder(source_dir: str | Path, *, today: dt.date | None = None
                       ) -> tuple[ContentSet, dict[str, Path], list[Rejection]]:
    """Read a source folder: the content set, the media files it uses (sha256 -> file) and
    every record refused or clipped, with reasons. Jobs already expired on ``today`` are refused."""
    root = Path(source_dir)
    if not root.is_dir():
        raise SourceError(f"{root}: no such folder")
    media = _MediaIndex(root)
    content = ContentSet()
    rejections: list[Rejection] = []
    known = {"feed.json", "documents", "media"}
    for kind, attr in RECORD_KINDS.items():
        rows, file_name, problems = _read_rows(root, attr)
        known.update({f"{attr}.csv", f"{attr}.json"})
        rejections.extend(problems)
        if kind == "course":
            rows, problems = _resolve_course_media(rows, file_name, media)
            rejections.extend(problems)
        good, problems = validate_records(kind, [r for _, r in rows], today=today)
        for problem in problems:
            # Report the row as the user numbers it (first data row = 1) and the file it came from.
            problem.index = rows[problem.index][0]
            problem.kind = f"{file_name}: {problem.kind}"
        rejections.extend(problems)
        setattr(content, attr, list(good))
    documents_dir = root / "documents"
    if documents_dir.is_dir():
        for path in sorted(documents_dir.iterdir()):
            name = path.stem
            if path.suffix != ".json" or not DOCUMENT_NAME_RE.match(name):
                rejections.append(Rejection(f"documents/{path.name}", 0, name[:64],
                                            "not used: documents are documents/<lowercase-name>.json"))
                continue
            try:
                content.documents[name] = json.loads(path.read_text(encoding="utf-8-sig"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                rejections.append(Rejection(f"documents/{path.name}", 0, name, f"not readable JSON: {exc}"))
    for path in sorted(root.iterdir()):
        if path.name not in known and not path.name.startswith("."):
            rejections.append(Rejection(path.name, 0, "", "unknown file, not published (see content/PROTOCOL.md)",
                                        clipped=True))
    used = {ref.sha256 for c in content.courses for ref in (c.media, c.thumbnail) if ref is not None}
    files = {sha: path for sha, path in media.by_hash().items() if sha in used}
    return content, files, rejections


def _read_rows(root: Path, attr: str) -> tuple[list[tuple[int, dict[str, Any]]], str, list[Rejection]]:
    """Rows of ``<attr>.csv`` or ``<attr>.json`` as (row number, dict)."""
    csv_path, json_path = root / f"{attr}.csv", root / f"{attr}.json"
    if csv_path.exists() and json_path.exists():
        return [], f"{attr}.*", [Rejection(f"{attr}.csv", 0, "", f"both {attr}.csv and {attr}.json exist; "
                                           "keep one (nothing of this kind was read)")]
    if json_path.exists():
        try:
            data = json.loads(json_path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            return [], json_path.name, [Rejection(json_path.name, 0, "", f"not readable JSON: {exc}")]
        if not isinstance(data, list):
            return [], json_path.name, [Rejection(json_path.name, 0, "", "must be a JSON array of records")]
        return [(i + 1, row) for i, row in enumerate(data)], json_path.name, []
    if csv_path.exists():
        raw = csv_path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = raw.decode("gb18030")
            except UnicodeDecodeError:
                return [], csv_path.name, [Rejection(csv_path.name, 0, "", "neither UTF-8 nor GB18030 text")]
        reader = csv.DictReader(io.StringIO(text, newline=""))
        rows = []
        problems = []
        for number, row in enumerate(reader, start=1):
            if None in row:
                problems.append(Rejection(csv_path.name, number, str(row.get("id") or ""),
                                          "more cells than header columns"))
                continue
            rows.append((number, {k.strip(): v.strip() for k, v in row.items()
                                  if k and v is not None and v.strip() != ""}))
        return rows, csv_path.name, problems
    return [], f"{attr}.json", []


class _MediaIndex:
    """The files in ``media/``, hashed on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "media"
        self._hashes: dict[Path, tuple[str, int]] = {}

    def describe(self, path: Path) -> tuple[str, int]:
        if path not in self._hashes:
            digest = hashlib.sha256()
            size = 0
            with path.open("rb") as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
            self._hashes[path] = (digest.hexdigest(), size)
        return self._hashes[path]

    def by_hash(self) -> dict[str, Path]:
        if not self.dir.is_dir():
            return {}
        return {self.describe(p)[0]: p for p in sorted(self.dir.iterdir()) if p.is_file()}

    def ref_for(self, value: Any) -> MediaRef:
        """A course's media field (a path in media/, or a MediaRef object) -> a MediaRef of a real file."""
        if isinstance(value, dict):
            sha = str(value.get("sha256", ""))
            path = self.by_hash().get(sha)
            if path is None:
                raise ValueError(f"no file in media/ has sha256 {sha[:12]}…")
            digest, size = self.describe(path)
            if "size" in value and value["size"] != size:
                raise ValueError(f"media/{path.name} has {size} bytes, the record says {value['size']}")
        elif isinstance(value, str):
            name = value.removeprefix("media/")
            path = self.dir / name
            if "/" in name or name in ("", ".", "..") or not path.is_file():
                raise ValueError(f"media file {value!r} not found in media/")
            digest, size = self.describe(path)
        else:
            raise ValueError("must be a file name in media/ (e.g. \"media/intro.mp4\")")
        ext = path.suffix.lstrip(".").lower()
        if not re.fullmatch(r"[a-z0-9]{1,5}", ext):
            raise ValueError(f"media/{path.name}: the file needs an extension such as .mp4 or .png")
        kind = _EXTRA_TYPES.get(ext) or mimetypes.guess_type(f"x.{ext}")[0] or "application/octet-stream"
        return MediaRef(sha256=digest, size=size, type=kind, ext=ext)


def _resolve_course_media(rows: list[tuple[int, dict[str, Any]]], file_name: str, media: _MediaIndex
                          ) -> tuple[list[tuple[int, dict[str, Any]]], list[Rejection]]:
    out, problems = [], []
    for number, row in rows:
        if not isinstance(row, dict):
            out.append((number, row))
            continue
        row = dict(row)
        try:
            for name in MEDIA_FIELDS:
                if row.get(name) not in (None, ""):
                    row[name] = media.ref_for(row[name]).model_dump()
        except ValueError as exc:
            problems.append(Rejection(f"{file_name}: course", number, str(row.get("id", ""))[:64], f"{name}: {exc}"))
            continue
        out.append((number, row))
    return out, problems


def write_source_folder(content: ContentSet, media_dir: str | Path | None, out_dir: str | Path, *,
                        feed_id: str | None = None, scope: Scope | None = None, title: str = "") -> Path:
    """Write a content set as a source folder (jobs as CSV, the rest as JSON) and copy the media
    its courses use from ``media_dir`` (files named ``<sha256>.<ext>``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if feed_id or scope:
        _write_feed_info(out, feed_id, scope, title)
    media_names = _copy_course_media(content.courses, media_dir, out)
    if content.jobs:
        _write_jobs_csv(content.jobs, out / "jobs.csv")
    for kind, attr in RECORD_KINDS.items():
        records = getattr(content, attr)
        if kind == "job" or not records:
            continue
        rows = [_record_row(record, media_names) for record in records]
        (out / f"{attr}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    if content.documents:
        (out / "documents").mkdir(exist_ok=True)
        for name, document in content.documents.items():
            (out / "documents" / f"{name}.json").write_text(
                json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    return out


def _write_feed_info(out: Path, feed_id: str | None, scope: Scope | None, title: str) -> None:
    """Write ``feed.json``: the feed's id, title and scope."""
    info: dict[str, Any] = {"feed_id": feed_id}
    if title:
        info["title"] = title
    if scope:
        info["scope"] = scope.model_dump()
    (out / "feed.json").write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _copy_course_media(courses: list[Course], media_dir: str | Path | None, out: Path) -> dict[str, str]:
    """Copy the courses' media into ``out/media`` under readable names (media/course-x.mp4);
    returns sha256 -> file name."""
    media_names: dict[str, str] = {}
    for course in courses:
        for name in MEDIA_FIELDS:
            ref = getattr(course, name)
            if ref is not None and ref.sha256 not in media_names:
                stem = course.id.replace(":", "_") + ("-thumbnail" if name == "thumbnail" else "")
                media_names[ref.sha256] = f"{stem}.{ref.ext}"
                if media_dir is None:
                    raise SourceError("the courses use media files but no media_dir was given")
                src = Path(media_dir) / ref.filename
                if not src.is_file():
                    raise SourceError(f"media file {src} (used by course {course.id}) does not exist")
                (out / "media").mkdir(exist_ok=True)
                shutil.copyfile(src, out / "media" / media_names[ref.sha256])
    return media_names


def _write_jobs_csv(jobs: list[Job], path: Path) -> None:
    """Write the jobs as a CSV sheet, one column per Job field (blank for None)."""
    columns = list(Job.model_fields)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for job in jobs:
            row = job.model_dump(mode="json")
            writer.writerow({k: "" if row[k] is None else row[k] for k in columns})


def _record_row(record: Any, media_names: dict[str, str]) -> dict[str, Any]:
    """One record as a JSON row; a course's media fields point at the copied files."""
    row: dict[str, Any] = record.model_dump(mode="json", exclude_none=True)
    if isinstance(record, Course):
        for name in MEDIA_FIELDS:
            ref = getattr(record, name)
            if ref is not None:
                row[name] = f"media/{media_names[ref.sha256]}"
    return row
