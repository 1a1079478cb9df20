"""Slips on 58 and 80 mm: the bytes, the rendered paper, the QR code, masking and injection."""

from __future__ import annotations

import datetime as dt

import pytest
import zxingcpp

from printer import slips
from printer.escpos import QUIET_MODULES
from printer.preview import Tokenizer, render
from printer.profiles import get_profile
from printer.samples import SAMPLE_URL, sample_event, sample_gig, sample_job, sample_station
from printer.text import columns

NOW = dt.datetime(2025, 3, 1, 10, 32)
STATION = sample_station()
PROFILES = ["generic-58", "generic-80", "xprinter-58", "xprinter-80", "gprinter-58", "epson-tm-t20"]
OUR_COMMANDS = {"INIT", "CHINESE_ON", "ALIGN", "BOLD", "SIZE", "text", "LF", "FEED_DOTS", "FEED_LINES", "2D",
                "RASTER", "CUT"}


def make(kind: str, profile_name: str, **kw):
    profile = get_profile(profile_name)
    if kind == "job":
        return slips.job_slip(sample_job(), station=STATION, profile=profile, slip_no="250301-1032-7F3A",
                              distance_km=2.34, now=NOW, **kw)
    if kind == "gig":
        return slips.job_slip(sample_gig(), station=STATION, profile=profile, slip_no="250301-1033-0001",
                              distance_km=0.8, resident_name="张三丰", now=NOW, **kw)
    if kind == "receipt":
        return slips.receipt_slip("求职", name="张三丰", id_number="52010319900101123X", receipt_code="QZ-250301-0007",
                                  station=STATION, profile=profile, created_at=NOW, now=NOW,
                                  next_steps="工作人员将在3个工作日内电话联系您，为您推荐合适岗位。请保持电话畅通。",
                                  status_url="https://jobs.example.gov.cn/gy/r/QZ-250301-0007", **kw)
    if kind == "event":
        return slips.event_slip(sample_event(), station=STATION, profile=profile, slip_no="E-0001", now=NOW,
                                url="https://jobs.example.gov.cn/gy/event/E301", **kw)
    return slips.test_slip(station=STATION, profile=profile, slip_no="T-0001", now=NOW, **kw)


def paper(slip, profile_name):
    profile = get_profile(profile_name)
    # Render as a printer that starts outside Chinese mode when the profile says it needs FS &.
    return render(slip.data, profile.dots, chinese_default=not profile.needs_fs_ampersand)


def test_job_slip_bytes_start_with_init_chinese_mode_and_the_station_header():
    slip = make("job", "generic-80")
    name = "城东社区人社便民服务站".encode("gb18030")
    assert slip.data.startswith(b"\x1b@\x1c&\x1ba\x01\x1bE\x01" + name + b"\n\x1bE\x00")
    assert b"\x1d!\x11\x1bE\x01" + "岗位推荐单".encode("gb18030") + b"\n" in slip.data
    assert slip.data.endswith(b"\x1dVB\x50")  # feed 80 dots past the cutter, partial cut
    # A printer that powers up in Chinese mode gets no FS &; one without a cutter gets a feed.
    xp = make("job", "xprinter-58")
    assert xp.data.startswith(b"\x1b@\x1ba\x01") and b"\x1c&" not in xp.data
    assert xp.data.endswith(b"\x1bd\x04")


def test_native_qr_bytes_follow_the_gs_k_sequence():
    slip = make("job", "generic-80")
    url = SAMPLE_URL.encode()
    store = len(url) + 3
    sequence = (b"\x1d(k\x04\x00\x31\x41\x32\x00" + b"\x1d(k\x03\x00\x31\x43" + bytes([7])
                + b"\x1d(k\x03\x00\x31\x45\x31" + b"\x1d(k" + bytes([store, 0]) + b"\x31\x50\x30" + url
                + b"\x1d(k\x03\x00\x31\x51\x30")
    assert sequence in slip.data
    # Centred, with a 4-module (28-dot) feed above and below.
    assert b"\x1ba\x01\x1bJ\x1c" + sequence + b"\x1bJ\x1c" in slip.data


@pytest.mark.parametrize("profile_name", PROFILES)
@pytest.mark.parametrize("kind", ["job", "gig", "receipt", "event", "test"])
def test_every_slip_renders_cleanly_within_the_paper(kind, profile_name, tmp_path):
    profile = get_profile(profile_name)
    slip = make(kind, profile_name)
    image, report = paper(slip, profile_name)
    image.save(tmp_path / f"{kind}-{profile_name}.png")
    assert report.problems == [] and report.overflows == []
    assert set(report.commands) <= OUR_COMMANDS
    assert image.width == profile.dots
    for line in report.lines:
        assert 0 <= line.x and line.x + line.width <= profile.dots, line
        assert columns(line.text) * line.size[0] <= profile.columns, line
    assert len(report.cuts) == (0 if profile.cutter == "none" else 1)
    # The QR code decodes to its URL, natively drawn or as a raster image as the profile says.
    assert len(report.qr_codes) == (1 if profile.native_qr else 0)
    assert bool(report.rasters) == (not profile.native_qr)
    decoded = [r.text for r in zxingcpp.read_barcodes(image)]
    assert decoded == [slip.qr_data]


@pytest.mark.parametrize("profile_name", ["generic-58", "generic-80"])
@pytest.mark.parametrize("native", [True, False])
def test_job_qr_decodes_to_the_job_url_native_and_raster_with_a_quiet_zone(profile_name, native):
    profile = get_profile(profile_name)
    slip = make("job", profile_name, native_qr=native)
    image, report = paper(slip, profile_name)
    assert [r.text for r in zxingcpp.read_barcodes(image)] == [SAMPLE_URL]
    ink = image.point(lambda v: 255 if v < 128 else 0)  # white = ink, so getbbox() finds ink
    if native:
        (qr,) = report.qr_codes
        left, top, right, bottom = qr.box
        margin = QUIET_MODULES * qr.module
    else:
        bands = report.rasters  # one image, sent in bands of at most 256 rows
        box = (min(b[0] for b in bands), bands[0][1], max(b[2] for b in bands), bands[-1][3])
        inner = ink.crop(box).getbbox()
        left, top, right, bottom = box[0] + inner[0], box[1] + inner[1], box[0] + inner[2], box[1] + inner[3]
        margin = QUIET_MODULES * ((right - left) // 29)  # 29 modules: version 3 for this URL
    assert margin >= 8 and left - margin >= 0 and right + margin <= profile.dots
    assert top - margin >= 0 and bottom + margin <= image.height
    around = ink.crop((left - margin, top - margin, right + margin, bottom + margin))
    around.paste(0, (margin, margin, margin + right - left, margin + bottom - top))
    assert around.getbbox() is None, "ink inside the QR code's quiet zone"


def test_job_slip_content(tmp_path):
    slip = make("gig", "generic-80")
    image, report = paper(slip, "generic-80")
    text = report.text
    for expected in ("城东社区人社便民服务站", "服务热线 0851-12333", "岗位推荐单", "小区绿化养护临时工",
                     "单位：某某物业服务有限公司", "薪资：180元/日", "零工（3月8日 周六）", "招5人",
                     "距本站约800米", "18-45岁，性别不限，初中及以上", "联系：王经理 0851-85550000",
                     "有效期至：2025年4月30日", "手机扫码查看岗位详情", "求职人：张*丰", "打印 2025-03-01 10:32",
                     "单号 250301-1033-0001"):
        assert expected in text, expected
    assert "张三丰" not in text and "三" not in text.split("求职人")[1]
    big = [line for line in report.lines if line.text.startswith("小区绿化")]
    assert big and big[0].size == (2, 2) and big[0].bold


def test_receipt_masks_name_and_id_number_on_paper():
    slip = make("receipt", "generic-58")
    _, report = paper(slip, "generic-58")
    text = report.text
    assert "姓名：张*丰" in text and "身份证号：5201**********123X" in text
    assert "52010319900101123X" not in text and "张三丰" not in text
    assert b"52010319900101123X" not in slip.data
    assert "登记事项：求职登记" in text and "QZ-250301-0007" in text and "扫码查询办理进度" in text
    assert "QZ-250301-0007" in slip.label and "张" not in slip.label


def test_unknown_receipt_kind_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="unknown registration kind '社保'.*求职, 培训需求, 返乡, 零工"):
        slips.receipt_slip("社保", name="张三", id_number="x", receipt_code="R1", station=STATION,
                           profile=get_profile("generic-80"), created_at=NOW, next_steps="")


def _skeleton(data: bytes) -> list[tuple[str, bytes]]:
    """The command sequence with text runs reduced to a marker."""
    tokenizer = Tokenizer()
    return [(c.name, b"" if c.name in ("text", "2D", "RASTER") else c.data)
            for c in tokenizer.feed(data) + tokenizer.close()]


EVIL = "\x1b@\x1bd\xff\x1dV\x00\x1d!\x77\x10\x04\x01\x1c.\x1b\x45\x01\x1d(k\x03\x00\x31\x51\x30\x07\x00\x7f\x9b"


@pytest.mark.parametrize("profile_name", ["generic-58", "generic-80"])
def test_command_bytes_in_content_print_no_command(profile_name):
    profile = get_profile(profile_name)
    # model_copy skips the model's own cleaning: the slip layer must stand on its own.
    evil_job = sample_job().model_copy(update={
        "title": "焊工" + EVIL + "学徒", "employer": EVIL + "某某公司", "address": "中华北路" + EVIL,
        "requirements": EVIL * 3, "contact_name": EVIL, "url": SAMPLE_URL})
    clean_job = sample_job().model_copy(update={
        "title": "焊工@d\xffV!w.E(k1Q0学徒", "employer": "@d\xffV!w.E(k1Q0某某公司",
        "address": "中华北路@d\xffV!w.E(k1Q0", "requirements": "@d\xffV!w.E(k1Q0" * 3,
        "contact_name": "@d\xffV!w.E(k1Q0", "url": SAMPLE_URL})
    evil = slips.job_slip(evil_job, station=STATION, profile=profile, slip_no="X", now=NOW,
                          resident_name="张" + EVIL + "三")
    clean = slips.job_slip(clean_job, station=STATION, profile=profile, slip_no="X", now=NOW,
                           resident_name="张@d\xffV!w.E(k1Q0三")
    assert evil.data == clean.data
    skeleton = _skeleton(evil.data)
    assert {name for name, _ in skeleton} <= OUR_COMMANDS
    assert [name for name, _ in skeleton].count("CUT") == (1 if profile.cutter != "none" else 0)
    image, report = render(evil.data, profile.dots, strict=True)
    assert report.status_requests == [] and report.problems == []
    # ÿ is not in the printer's font: lines holding it print as images, the others as text
    assert "薪资：4500-6000元/月" in report.text and raster_lines(report)


RARE = "𠮷䶮㐀𪚥𰻞"  # CJK extensions B, A, A, B, G: outside GBK, in no printer's font


def raster_lines(report) -> list[tuple[int, int, int, int]]:
    """Boxes of the raster images that are one text line high (not QR codes)."""
    return [box for box in report.rasters if box[3] - box[1] <= 60]


@pytest.mark.parametrize("profile_name", ["generic-58", "generic-80", "xprinter-58"])
def test_characters_outside_the_printers_font_print_as_a_raster_line(profile_name):
    """A resident's name or village with rare characters must stay readable: that line (only that line)
    goes out as a raster image drawn with a CJK font, and the preview shows the same."""
    job = sample_job().model_copy(update={"employer": f"{RARE}ｱｶ驿运"})
    slip = slips.job_slip(job, station=STATION, profile=get_profile(profile_name), slip_no="X", now=NOW,
                          resident_name="𠮷祥")
    image, report = paper(slip, profile_name)
    assert slip.replaced == 0 and "□" not in report.text
    assert report.ok, report.problems
    assert not any("驿运" in line.text for line in report.lines)  # not sent as text
    assert "求职人：𠮷*" not in report.text  # the masked name is a raster line too
    boxes = raster_lines(report)
    assert len(boxes) == 2
    # the neighbouring lines are still text
    assert any(line.text.startswith("单位：") is False and "岗位" in line.text for line in report.lines)
    left, top, _, _ = boxes[0]
    label = columns("单位：") * 12
    cells = [image.crop((left + label + 24 * i, top, left + label + 24 * (i + 1), top + 24)).convert("L")
             for i in range(len(RARE))]
    inks = [sum(1 for v in cell.tobytes() if v < 128) for cell in cells]
    assert all(ink > 20 for ink in inks), inks  # every rare character is drawn
    assert len({cell.tobytes() for cell in cells}) == len(RARE)  # as itself, not one "missing" box


def test_a_character_no_font_has_prints_as_a_visible_box():
    # The content model already drops emoji; a character no installed font draws is boxed.
    job = sample_job().model_copy(update={"employer": "某某\U00016a40物流公司"})
    slip = slips.job_slip(job, station=STATION, profile=get_profile("generic-80"), slip_no="X", now=NOW)
    _, report = paper(slip, "generic-80")
    assert slip.replaced == 1 and "单位：某某□物流公司" in report.text


def test_a_euro_sign_gbk_lacks_is_drawn_not_boxed():
    job = sample_job().model_copy(update={"employer": "某某€物流公司"})
    slip = slips.job_slip(job, station=STATION, profile=get_profile("generic-80"), slip_no="X", now=NOW)
    _, report = paper(slip, "generic-80")
    assert slip.replaced == 0 and "□" not in report.text and len(raster_lines(report)) == 1


def test_longest_fields_are_clipped_to_their_lines_and_never_overflow():
    job = sample_job(title="超长岗位名称" * 10, employer="某某" * 40, address="某某路" * 66,
                     requirements="要求很多。" * 800, benefits="福利" * 100)
    for name in ("generic-58", "generic-80"):
        slip = slips.job_slip(job, station=STATION, profile=get_profile(name), slip_no="X", now=NOW)
        _, report = paper(slip, name)
        assert report.ok
        titles = [line for line in report.lines if line.size == (2, 2)]
        assert len(titles) == 1 + 3 and titles[-1].text.endswith("…")
        assert sum(1 for line in report.lines if line.text.startswith(("说明：", "      "))) <= 4 + 2 + 3 + 2
