"""Region names for GB/T 2260 codes (贵州省贵阳市云岩区 for 520103), from python-stdnum's table
of the codes ID numbers carry (``stdnum/cn/loc.dat``; abolished codes keep their last name)."""

from __future__ import annotations

import re
from functools import lru_cache

_PERIOD = re.compile(r"\[[0-9-]*\]")
_NO_NAME = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划")


def _county(info: list[tuple[str, dict[str, str]]]) -> str:
    """The newest name of a code's second part ('[1997-1997]万县区,[1998-]万州区' is 万州区)."""
    if len(info) < 2 or "county" not in info[1][1]:
        return ""
    return _PERIOD.sub("", info[1][1]["county"].split(",")[-1]).strip()


@lru_cache(maxsize=4096)
def region_name(code: str) -> str:
    """The region's name (province, city, county), the code itself when it is not a region's,
    全部地区 for ``*``."""
    from stdnum import numdb

    code = str(code).strip()
    if code == "*":
        return "全部地区"
    if not re.fullmatch(r"\d{6}", code):
        return code
    db = numdb.get("cn/loc")
    info = db.info(code)
    province = info[0][1].get("province", "") if info else ""
    if not province:
        return code
    if code[2:] == "0000":
        return province
    city = _county(db.info(code[:4] + "00"))
    county = _county(info) if code[4:] != "00" else ""
    if code[4:] != "00" and not county:
        return code
    parts = [province] + [p for p in (city, county) if p and p not in _NO_NAME and p != province]
    return "".join(dict.fromkeys(parts)) if len(parts) > 1 or code[4:] == "00" else code


def regions_text(codes: str) -> str:
    """'520103,520102' as 贵州省贵阳市云岩区、贵州省贵阳市南明区."""
    names = [region_name(c) for c in str(codes or "").split(",") if c.strip()]
    return "、".join(names) or "—"
