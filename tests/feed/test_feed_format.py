"""The manifest, its signature and the item files: what a station will and will not accept."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from feed_support import ORIGIN, TODAY, change_jobs

from content.sample import sample_content
from protocol.feed import (
    Manifest,
    ManifestError,
    Scope,
    SignatureError,
    decode_items,
    encode_items,
    generate_private_key,
    public_key_b64,
    shard_count,
    shard_of,
    sign_manifest,
    verify_manifest,
)
from protocol.model import ContentSet


@pytest.fixture(scope="module")
def content() -> ContentSet:
    c = sample_content(origin=ORIGIN, jobs=400, today=TODAY)
    c.documents["board_schedule"] = {"slots": [{"from": "08:30", "playlist": ["jobs"]}], "名称": "工作日"}
    return c


def manifest_for(content: ContentSet, version: int = 1) -> Manifest:
    items, shards = encode_items(content)
    return Manifest(feed_id="gy-test", version=version, generated_at=dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC),
                    scope=Scope(regions=["520100"]), items=[i.entry for i in items], shards=shards)


def test_items_round_trip_to_the_same_content(content: ContentSet) -> None:
    items, shards = encode_items(content)
    decoded, rejections = decode_items((i.entry, i.data) for i in items)
    assert rejections == []
    assert sorted(j.id for j in decoded.jobs) == sorted(j.id for j in content.jobs)
    assert {j.id: j for j in decoded.jobs} == {j.id: j for j in content.jobs}
    assert {p.id: p for p in decoded.policies} == {p.id: p for p in content.policies}
    assert {a.id: a for a in decoded.announcements} == {a.id: a for a in content.announcements}
    assert decoded.documents == content.documents
    # 400 jobs at about 8 per shard: 64 shards, each item file no more than a few KB
    assert shards["job"] == 64
    assert max(i.entry.size for i in items if i.entry.kind == "job") < 16_000


def test_one_percent_of_jobs_changed_changes_few_item_files(content: ContentSet) -> None:
    before = {i.entry.id: i.entry.sha256 for i in encode_items(content)[0]}
    changed = change_jobs(content, 0.01)  # 4 jobs
    after_items, _ = encode_items(changed, previous_shards={"job": 64})
    after = {i.entry.id: i.entry.sha256 for i in after_items}
    differing = [k for k in after if before.get(k) != after[k]]
    assert 1 <= len(differing) <= 4
    assert all(k.startswith("job-") for k in differing)


def test_shards_are_stable_while_the_list_grows_within_a_factor_of_four() -> None:
    assert shard_count(10_000) == 2048
    assert shard_count(12_000, previous=2048) == 2048
    assert shard_count(40_000, previous=2048) == 2048  # 20 per shard: still kept
    assert shard_count(80_000, previous=2048) == 16384  # far from the old split: re-shard
    assert shard_of("job-7-000001", 64) == shard_of("job-7-000001", 64)


def test_manifest_bytes_parse_back_exactly(content: ContentSet) -> None:
    manifest = manifest_for(content)
    data = manifest.to_bytes()
    assert Manifest.from_bytes(data) == manifest
    assert data.count(b"\n") > len(manifest.items)  # one item per line: readable and diffable


def test_signature_verifies_and_any_change_breaks_it(content: ContentSet) -> None:
    key = generate_private_key()
    data = manifest_for(content).to_bytes()
    sig = sign_manifest(data, key)
    verify_manifest(data, sig, public_key_b64(key))
    with pytest.raises(SignatureError):
        verify_manifest(data.replace(b'"version": 1', b'"version": 9'), sig, public_key_b64(key))
    with pytest.raises(SignatureError):
        verify_manifest(data, sig, public_key_b64(generate_private_key()))
    with pytest.raises(SignatureError, match="not base64"):
        verify_manifest(data, b"%%%", public_key_b64(key))
    with pytest.raises(SignatureError, match="64"):
        verify_manifest(data, base64.b64encode(b"short"), public_key_b64(key))
    with pytest.raises(SignatureError) as exc:
        verify_manifest(data, sig, "")
    assert exc.value.code == "no_key"


@pytest.mark.parametrize("mutate, message", [
    (lambda m: b"not json", "not UTF-8 JSON"),
    (lambda m: b"[1, 2]", "not a JSON object"),
    (lambda m: m.replace(b"yizhan-feed/1", b"yizhan-feed/9"), "format"),
    (lambda m: m.replace(b'"version": 1', b'"version": -3'), "version"),
    (lambda m: m.replace(b'"path":"items/', b'"path":"../items/', 1), "path"),
    (lambda m: m.replace(b'"generated_at": "2026-03-01T08:00:00Z"', b'"generated_at": "2026-03-01T08:00:00"'),
     "time zone"),
    (lambda m: m.replace(b'"regions":["520100"]', b'"regions":["52x"]'), "region"),
    (lambda m: m.replace(b'"regions":["520100"]', b'"regions":[]'), "scope names no region"),
])
def test_a_broken_manifest_is_refused_with_the_reason(content: ContentSet, mutate, message: str) -> None:
    data = mutate(manifest_for(content).to_bytes())
    with pytest.raises(ManifestError, match=message):
        Manifest.from_bytes(data)


def test_duplicate_item_ids_are_refused(content: ContentSet) -> None:
    raw = json.loads(manifest_for(content).to_bytes())
    raw["items"].append(raw["items"][0])
    with pytest.raises(ManifestError, match="appears twice"):
        Manifest.from_bytes(json.dumps(raw).encode())


@pytest.mark.parametrize("scope, station, region, covered", [
    (Scope(regions=["520000"]), "s1", "520103", True),  # the province
    (Scope(regions=["520100"]), "s1", "520103", True),  # the city
    (Scope(regions=["520103"]), "s1", "520103", True),  # the district
    (Scope(regions=["520102"]), "s1", "520103", False),  # the district next door
    (Scope(regions=["440000"]), "s1", "520103", False),  # another province
    (Scope(regions=["*"]), "s1", "", True),
    (Scope(stations=["s1"]), "s1", "", True),
    (Scope(stations=["s2"]), "s1", "520103", False),
    (Scope(regions=["520100"]), "s1", "", False),  # a station with no region only takes feeds naming it
])
def test_scope(scope: Scope, station: str, region: str, covered: bool) -> None:
    assert scope.covers(station, region) is covered


def test_an_item_with_bad_records_keeps_the_good_ones(content: ContentSet) -> None:
    items, _ = encode_items(ContentSet(jobs=content.jobs[:10]))
    entry, data = items[0].entry, items[0].data
    body = json.loads(data)
    body["records"][0]["salary_max"] = -5
    decoded, rejections = decode_items([(entry, json.dumps(body).encode())])
    assert len(decoded.jobs) == len(body["records"]) - 1
    assert len(rejections) == 1 and "salary_max" in rejections[0].reason


def test_an_item_of_the_wrong_kind_is_refused(content: ContentSet) -> None:
    items, _ = encode_items(ContentSet(jobs=content.jobs[:3], policies=content.policies[:2]))
    job_item = next(i for i in items if i.entry.kind == "job")
    policy_item = next(i for i in items if i.entry.kind == "policy")
    with pytest.raises(ManifestError, match="does not hold kind"):
        decode_items([(job_item.entry, policy_item.data)])
