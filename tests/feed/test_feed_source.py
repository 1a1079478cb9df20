"""The hub's source folder and ``yizhan hub publish``: records in, signed feed out, bad records refused."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from pathlib import Path

import pytest
from feed_support import ORIGIN, TODAY

from config.cli import main
from content.sample import sample_content
from hub.example import EXAMPLE_DATE, EXAMPLE_DIR
from hub.publish import PublishError, load_key_file, publish, write_keypair
from hub.source import SourceError, read_feed_info, read_source_folder, write_source_folder
from protocol.feed import Manifest, Scope, SignatureError, verify_manifest
from protocol.model import ContentSet
from protocol.trust import TrustState


@pytest.fixture
def key_home(tmp_path: Path) -> Path:
    write_keypair(tmp_path / "hub")
    return tmp_path / "hub"


def test_the_example_folder_reads_whole_and_small() -> None:
    content, media, rejections = read_source_folder(EXAMPLE_DIR, today=EXAMPLE_DATE)
    assert [r for r in rejections if not r.clipped] == []
    assert len(content.jobs) == 40
    assert content.policies and content.events and content.announcements
    assert len(content.courses) == 2 and len(media) == 4  # two narrated videos and their thumbnails
    assert "board_schedule" in content.documents
    assert sum(p.stat().st_size for p in media.values()) < 512 * 1024
    feed_id, scope, title = read_feed_info(EXAMPLE_DIR)
    assert feed_id == "gy-yunyan" and scope == Scope(regions=["520103"]) and title


def test_write_then_read_gives_the_same_content(tmp_path: Path) -> None:
    content = sample_content(origin=ORIGIN, jobs=120, today=TODAY)
    content.documents["board_schedule"] = {"slots": []}
    write_source_folder(content, None, tmp_path / "src")
    back, media, rejections = read_source_folder(tmp_path / "src", today=TODAY)
    assert [r for r in rejections if not r.clipped] == []
    assert {j.id: j for j in back.jobs} == {j.id: j for j in content.jobs}
    assert back.policies == content.policies
    assert back.events == content.events
    assert back.announcements == content.announcements
    assert back.documents == content.documents
    assert media == {}


def test_bad_rows_are_refused_one_by_one_with_file_row_and_reason(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    header = "id,title,employer,category,salary_min,salary_max,latitude,longitude,published,valid_until\n"
    rows = [
        "j1,保洁员,某物业公司,保洁,3000,4000,26.58,106.71,2026-01-01,2099-01-01",  # good
        "j2,保安,某保安公司,保安,5000,4000,26.58,106.71,2026-01-01,2099-01-01",  # max < min
        "j3,普工,某厂,普工,3000,4000,200,106.71,2026-01-01,2099-01-01",  # latitude 200
        "j4,司机,某物流,物流,3000,4000,26.58,106.71,2020-01-01,2020-02-01",  # expired
        "j5,,某厂,普工,3000,4000,26.58,106.71,2026-01-01,2099-01-01",  # no title
    ]
    # Chinese Excel saves CSV as GB18030; it must read the same as UTF-8.
    (src / "jobs.csv").write_bytes((header + "\n".join(rows) + "\n").encode("gb18030"))
    (src / "policies.json").write_text("{not json", encoding="utf-8")
    (src / "notes.txt").write_text("x", encoding="utf-8")
    content, _, rejections = read_source_folder(src, today=dt.date(2026, 3, 1))
    assert [j.id for j in content.jobs] == ["j1"]
    assert content.jobs[0].title == "保洁员"
    refused = {r.id: r for r in rejections if not r.clipped}
    assert "salary_max (4000) is below salary_min (5000)" in refused["j2"].reason
    assert "latitude" in refused["j3"].reason
    assert "expired" in refused["j4"].reason
    assert "title" in refused["j5"].reason
    assert refused["j3"].index == 3 and refused["j3"].kind.startswith("jobs.csv")  # the row as people count
    assert any("policies.json" in r.kind and "not readable JSON" in r.reason for r in rejections)
    assert any(r.kind == "notes.txt" and r.clipped for r in rejections)


def test_course_media_by_file_name(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "media").mkdir(parents=True)
    (src / "media" / "welding.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(1000))
    courses = [{"id": "c1", "title": "焊工入门", "duration_s": 90, "media": "media/welding.mp4"},
               {"id": "c2", "title": "缺文件", "duration_s": 90, "media": "media/missing.mp4"},
               {"id": "c3", "title": "越界", "duration_s": 90, "media": "../etc/passwd"}]
    (src / "courses.json").write_text(json.dumps(courses, ensure_ascii=False), encoding="utf-8")
    content, media, rejections = read_source_folder(src)
    assert [c.id for c in content.courses] == ["c1"]
    ref = content.courses[0].media
    assert ref.type == "video/mp4" and ref.ext == "mp4" and ref.size == 1012
    assert media[ref.sha256].name == "welding.mp4"
    reasons = {r.id: r.reason for r in rejections}
    assert "not found in media/" in reasons["c2"] and "not found in media/" in reasons["c3"]


def test_publish_refuses_bad_records_and_strict_publishes_nothing(tmp_path: Path, key_home: Path) -> None:
    src = tmp_path / "src"
    write_source_folder(sample_content(origin=ORIGIN, jobs=30, today=TODAY), None, src, feed_id="gy",
                        scope=Scope(regions=["520100"]))
    with (src / "jobs.csv").open("a", encoding="utf-8") as f:
        f.write("bad-1,标题,雇主,不存在的类别,1,2,26.5,106.7,,,,,,,,,,,,,,," + TODAY.isoformat() + ",2099-01-01,,\n")
    key = load_key_file(key_home / "feed.key")
    with pytest.raises(PublishError, match="refused, nothing published"):
        publish(src, tmp_path / "feed", key=key, strict=True)
    assert not (tmp_path / "feed" / "manifest.json").exists()
    result = publish(src, tmp_path / "feed", key=key)
    assert [r.id for r in result.refused] == ["bad-1"]
    assert result.manifest.version == 1
    assert sum(i.count for i in result.manifest.items if i.kind == "job") == 30


def test_versions_increase_and_old_files_go_after_one_version(tmp_path: Path, key_home: Path) -> None:
    key = load_key_file(key_home / "feed.key")
    src = tmp_path / "src"
    versions = []
    for seed in (1, 2, 3):
        write_source_folder(sample_content(origin=ORIGIN, jobs=40, seed=seed, today=TODAY), None, src,
                            feed_id="gy", scope=Scope(regions=["520100"]))
        versions.append(publish(src, tmp_path / "feed", key=key).manifest)
    assert [m.version for m in versions] == [1, 2, 3]
    on_disk = {p.name for p in (tmp_path / "feed" / "items").iterdir()}
    # version 3 and the version before it stay (a station may be half-way through it); version 1 is gone
    assert {f"{i.sha256}.json" for i in versions[2].items + versions[1].items} == on_disk
    with pytest.raises(PublishError, match="not above the published version 3"):
        publish(src, tmp_path / "feed", key=key, version=3)
    with pytest.raises(PublishError, match="holds feed 'gy'"):
        publish(src, tmp_path / "feed", key=key, feed_id="other")


def test_cli_keygen_publish_and_the_signature_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "hub"
    assert main(["hub", "keygen", "--home", str(home), "--json"]) == 0
    public = json.loads(capsys.readouterr().out)["public_key"]
    assert stat.S_IMODE(os.stat(home / "feed.key").st_mode) == 0o600
    assert main(["hub", "keygen", "--home", str(home)]) == 1  # never overwrite the key stations trust
    assert "already exists" in capsys.readouterr().err

    assert main(["hub", "publish", str(EXAMPLE_DIR), "--home", str(home), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    feed = home / "feeds" / "gy-yunyan"
    assert out["version"] == 1 and Path(out["out"]) == feed
    data = (feed / "manifest.json").read_bytes()
    # Signed by the online key, which the root (the printed key, the stations' hub.public_key)
    # authorised in the keys.json beside the manifest.
    with pytest.raises(SignatureError):
        verify_manifest(data, (feed / "manifest.sig").read_bytes(), public)
    trust = TrustState.start(public).follow((feed / "keys.json").read_bytes()).state
    trust.verify(data, (feed / "manifest.sig").read_bytes())
    manifest = Manifest.from_bytes(data)
    assert manifest.scope.regions == ["520103"]
    for item in manifest.items + manifest.media:  # type: ignore[operator]
        assert (feed / item.path).stat().st_size == item.size

    assert main(["hub", "publish", str(EXAMPLE_DIR), "--out", str(tmp_path / "f2"), "--home", str(home),
                 "--region", "52x"]) == 2
    assert "scope" in capsys.readouterr().err


def test_a_folder_with_nothing_valid_is_not_published(tmp_path: Path, key_home: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "jobs.json").write_text("[{\"id\": \"x\"}]", encoding="utf-8")
    with pytest.raises(PublishError, match="no valid record"):
        publish(tmp_path / "src", tmp_path / "feed", key=load_key_file(key_home / "feed.key"),
                feed_id="gy", scope=Scope(regions=["*"]))
    with pytest.raises(SourceError, match="no such folder"):
        read_source_folder(tmp_path / "nowhere")


def test_write_source_folder_needs_the_media_it_names(tmp_path: Path) -> None:
    content = sample_content(origin=ORIGIN, jobs=1, today=TODAY, media_dir=tmp_path / "m")
    copy = ContentSet(courses=content.courses)
    with pytest.raises(SourceError, match="does not exist"):
        write_source_folder(copy, tmp_path / "empty", tmp_path / "out")
