"""``yizhan jobs``: search, show, import and generate jobs in the station store (staff use it at the counter).

    yizhan jobs search 保洁 --radius 5 --age 52 --gender 女
    yizhan jobs search bj --radius all --json
    yizhan jobs show job-7-000123
    yizhan jobs import jobs.csv
    yizhan jobs sample --count 300

The import format is the feed's job record (content/JOBS_FORMAT.md).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from common import exitcodes
from config.command import CommandError, Context, add_command
from config.station import Station
from protocol.model import JOB_CATEGORIES, JOB_KINDS, JOB_SOURCES, Job

if TYPE_CHECKING:
    from content.store import Store

_LABELS = {
    "id": "编号", "title": "岗位", "employer": "单位", "category": "类别", "kind": "用工形式",
    "work_date": "用工日期", "salary": "薪资", "headcount": "招聘人数", "address": "工作地点",
    "distance": "距离", "age": "年龄要求", "gender": "性别要求", "education": "学历要求",
    "requirements": "岗位要求", "benefits": "福利待遇", "contact_name": "联系人", "contact_phone": "联系电话",
    "published": "发布日期", "valid_until": "有效期至", "source": "岗位来源", "url": "详情链接",
}


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="jobs_command", metavar="ACTION")

    search = add_command(sub, "search", "search open jobs (hanzi, pinyin or initials) with filters")
    search.add_argument("query", nargs="?", default="", help="保洁, 保, baojie, bj ... (empty: all jobs)")
    search.add_argument("--radius", metavar="KM|all", default=None,
                        help="distance from the station in km, or 'all' (default: the station's radius)")
    search.add_argument("--category", choices=JOB_CATEGORIES, help="job category")
    search.add_argument("--kind", choices=JOB_KINDS, help="全职 / 兼职 / 零工")
    search.add_argument("--when", choices=("today", "week"), help="gigs working today or in the next 7 days")
    search.add_argument("--min-salary", type=int, metavar="N", help="at least N yuan a month (day/hour rates converted)")
    search.add_argument("--age", type=int, metavar="N", help="the job seeker's age (limits are inclusive)")
    search.add_argument("--gender", choices=("男", "女"), help="the job seeker's gender")
    search.add_argument("--source", choices=JOB_SOURCES, help="where the job comes from")
    search.add_argument("--limit", type=int, default=20, metavar="N", help="how many to list (default 20)")
    search.add_argument("--date", type=dt.date.fromisoformat, metavar="YYYY-MM-DD",
                        help="search as of this day (default: today)")
    search.set_defaults(handler=_search)
    _take_dash_words_as_query(search)

    show = add_command(sub, "show", "show one job in full")
    show.add_argument("job_id", metavar="ID")
    show.set_defaults(handler=_show)

    imp = add_command(sub, "import", "add or update jobs from a JSON or CSV file (see content/JOBS_FORMAT.md)")
    imp.add_argument("file", type=Path, help="a .json (a list of job objects) or .csv file (one job a row)")
    imp.add_argument("--replace", action="store_true", help="drop every stored job not in the file")
    imp.set_defaults(handler=_import)

    sample = add_command(sub, "sample", "fill the station store with generated sample content")
    sample.add_argument("--count", type=int, default=300, metavar="N", help="how many jobs (default 300)")
    sample.add_argument("--seed", type=int, default=7, metavar="S", help="random seed (same seed, same content)")
    sample.add_argument("--no-media", action="store_true", help="skip the two training videos")
    sample.set_defaults(handler=_sample)


def _take_dash_words_as_query(parser: argparse.ArgumentParser) -> None:
    """Let ``yizhan jobs search -保洁`` search for "-保洁" (as typed, no ``--`` needed).

    argparse reads any word starting with "-" as an option; here a single-dash word that is not
    one of this command's options is the query. Unknown ``--options`` are still errors.
    """
    base = type(parser)

    class QueryFirstParser(base):  # type: ignore[valid-type, misc]
        def _parse_optional(self, arg_string: str) -> Any:
            if (arg_string.startswith("-") and not arg_string.startswith("--")
                    and arg_string.split("=", 1)[0] not in self._option_string_actions):
                return None  # a positional: the query
            return super()._parse_optional(arg_string)

    parser.__class__ = QueryFirstParser


def _store(ctx: Context) -> Store:

    return Station(ctx.settings).store


def _radius(value: str | None) -> Any:
    from content.store import DEFAULT_RADIUS

    if value is None:
        return DEFAULT_RADIUS
    if value.lower() in ("all", "全部"):
        return None
    try:
        km = float(value)
    except ValueError:
        raise CommandError(f"--radius 应为公里数或 all，而不是 {value!r}", exitcodes.USAGE) from None
    if not km >= 0:
        raise CommandError(f"--radius 不能小于 0（收到 {value!r}）", exitcodes.USAGE)
    return km


def _search(args: argparse.Namespace, ctx: Context) -> int:
    if args.limit < 1:
        raise CommandError("--limit 至少为 1", exitcodes.USAGE)
    radius = _radius(args.radius)
    filters = dict(radius_km=radius, category=args.category, kind=args.kind, when=args.when,
                   min_salary=args.min_salary, age=args.age, gender=args.gender, source=args.source,
                   today=args.date)
    with _store(ctx) as store:
        hits = store.search_jobs(args.query, limit=args.limit, **filters)
        total = store.count_jobs(args.query, **filters)
        radius_km = radius if radius is None or isinstance(radius, float) else store.default_radius_km
    data = {
        "query": args.query,
        "radius_km": radius_km,
        "count": total,
        "jobs": [{**_job_dict(h.job), "distance_km": round(h.distance_km, 3), "matched_field": h.matched_field}
                 for h in hits],
    }
    if ctx.json:
        ctx.emit(data)
        return exitcodes.OK
    where = "不限距离" if radius_km is None else f"{radius_km:g} 公里内"
    print(f"共 {total} 个岗位（{where}）" + (f"，显示前 {len(hits)} 个" if total > len(hits) else ""))
    for i, hit in enumerate(hits, start=1):
        job = hit.job
        extra = f" · 用工日期 {job.work_date}" if job.work_date else ""
        print(f"{i:>3}. {job.title}  {job.salary_text()}  {job.kind}{extra}")
        print(f"     {job.employer} · {hit.distance_km:.1f} 公里 · {job.category} · {job.age_text()}"
              f"{'' if job.gender == '不限' else ' · 限' + job.gender}   [{job.id}]")
    return exitcodes.OK


def _show(args: argparse.Namespace, ctx: Context) -> int:
    with _store(ctx) as store:
        job = store.get_job(args.job_id)
        if job is None:
            raise CommandError(f"本站没有编号为 {args.job_id} 的岗位（可能已过期或未同步）")
        distance = store.job_distance_km(job)
    if ctx.json:
        ctx.emit({**_job_dict(job), "distance_km": round(distance, 3)})
        return exitcodes.OK
    rows = [
        ("id", job.id), ("title", job.title), ("employer", job.employer), ("category", job.category),
        ("kind", job.kind), ("work_date", job.work_date or ""), ("salary", job.salary_text()),
        ("headcount", f"{job.headcount} 人"), ("address", job.address), ("distance", f"{distance:.1f} 公里"),
        ("age", job.age_text()), ("gender", job.gender), ("education", job.education),
        ("requirements", job.requirements), ("benefits", job.benefits), ("contact_name", job.contact_name),
        ("contact_phone", job.contact_phone), ("published", job.published), ("valid_until", job.valid_until),
        ("source", job.source), ("url", job.url),
    ]
    for key, value in rows:
        if value in ("", None):
            continue
        label = _LABELS[key].ljust(4, "\u3000")
        text = str(value).replace("\n", "\n" + "\u3000" * 5)
        print(f"{label}\u3000{text}")
    return exitcodes.OK


def _import(args: argparse.Namespace, ctx: Context) -> int:
    from protocol.model import validate_records

    rows = read_job_rows(args.file)
    records, problems = validate_records("job", rows, today=dt.date.today())
    is_csv = args.file.suffix.lower() == ".csv"
    for problem in problems:
        # staff find the row in the file: CSV line numbers count the header line
        where = f"第 {problem.index + 2} 行" if is_csv else f"第 {problem.index + 1} 条"
        verdict = "已截断" if problem.clipped else "未导入"
        print(f"{where}（{problem.id or '无编号'}）{verdict}：{problem.reason}")
    rejected = [p for p in problems if not p.clipped]
    if not records:
        raise CommandError(f"{args.file}：没有可导入的岗位（拒绝 {len(rejected)} 个），未做任何修改")
    with _store(ctx) as store:
        added, updated = store.merge_jobs(records, replace_jobs=args.replace)  # type: ignore[arg-type]
    summary = {"file": str(args.file), "rows": len(rows), "added": added, "updated": updated,
               "rejected": len(rejected), "clipped": len(problems) - len(rejected)}
    ctx.emit(summary, f"{args.file}: 共 {len(rows)} 行，新增 {added} 个，更新 {updated} 个，"
                      f"拒绝 {len(rejected)} 个，截断 {summary['clipped']} 个")
    return exitcodes.FAILURE if rejected else exitcodes.OK


def read_job_rows(path: Path) -> list[Any]:
    """Rows of a JSON file (a list of objects, or {"jobs": [...]}) or a CSV file (header = field names).

    In CSV, empty cells are left out (the field's default applies). CSV may be UTF-8 (with or
    without BOM, as Excel saves it) or GB18030.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"无法读取 {path}：{exc.strerror or exc}") from None
    if path.suffix.lower() == ".csv":
        return _csv_rows(raw, path)
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandError(f"{path}：不是有效的 JSON（{exc}）") from None
    if isinstance(data, dict) and isinstance(data.get("jobs"), list):
        data = data["jobs"]
    if not isinstance(data, list):
        raise CommandError(f'{path}：应为岗位对象的 JSON 列表（或 {{"jobs": [...]}}）')
    return data


def _csv_rows(raw: bytes, path: Path) -> list[dict[str, Any]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise CommandError(f"{path}：文件编码既不是 UTF-8 也不是 GB18030")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise CommandError(f"{path}：CSV 为空（第一行应为字段名）")
    unknown = [name for name in reader.fieldnames if name and name.strip() not in Job.model_fields]
    if unknown:
        raise CommandError(f"{path}：未知的列 {', '.join(unknown)}（字段名见 content/JOBS_FORMAT.md）")
    rows = []
    for record in reader:
        row = {key.strip(): value for key, value in record.items() if key and value not in (None, "")}
        if None in record:  # more cells than header names
            row["_extra_cells"] = record[None]
        rows.append(row)
    return rows


def _sample(args: argparse.Namespace, ctx: Context) -> int:
    from content.sample import sample_content

    if args.count < 0:
        raise CommandError("--count 不能小于 0", exitcodes.USAGE)
    settings = ctx.settings
    media_dir = None if args.no_media else settings.media_dir
    content = sample_content(origin=(settings.station.latitude, settings.station.longitude), jobs=args.count,
                             seed=args.seed, media_dir=media_dir)
    with _store(ctx) as store:
        store.replace_content(content, feed_id="sample", version=0)
        info = store.content_info()
    ctx.emit({"feed_id": info.feed_id, "counts": info.counts, "media_dir": str(media_dir) if media_dir else None},
             "已写入示例内容：" + "，".join(f"{k} {v}" for k, v in info.counts.items()))
    return exitcodes.OK


def _job_dict(job: Job) -> dict[str, Any]:
    return job.model_dump(mode="json")
