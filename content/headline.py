"""The job numbers residents read on the kiosk, the board and in the station's report: one definition.

"Open jobs" are the jobs :meth:`content.store.Store.search_jobs` finds as open today (published,
not expired, a 零工 not dated in the past), counted within the station's radius (三公里就业圈)
and at any distance. "Today's gigs" are open 零工 whose work date is today, within
:data:`GIG_RADIUS_KM` (a day's work is worth a longer trip than a job one commutes to every
day); the kiosk's 今日零工 list uses the same radius, so the tile's number is the list's length.
The kiosk's home tiles, the board's header and ``yizhan stats`` all call :func:`job_counts`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

GIG_RADIUS_KM = 15.0


@dataclass(frozen=True)
class JobCounts:
    radius_km: float  # the station's radius
    open_near: int  # open jobs within radius_km
    open_all: int  # open jobs at any distance
    gigs_today: int  # open 零工 for today within GIG_RADIUS_KM

    def board_text(self) -> str:
        """The board's header line: ``3公里内201个岗位 · 共300个 · 今日零工15个``."""
        text = f"{self.radius_km:g}公里内{self.open_near}个岗位 · 共{self.open_all}个"
        return text + (f" · 今日零工{self.gigs_today}个" if self.gigs_today else "")


def job_counts(store: Any, today: dt.date) -> JobCounts:
    """The counts for ``today`` from a ``content.store.Store``."""
    return JobCounts(
        radius_km=store.default_radius_km,
        open_near=store.count_jobs("", today=today),
        open_all=store.count_jobs("", radius_km=None, today=today),
        gigs_today=store.count_jobs("", kind="零工", when="today", radius_km=GIG_RADIUS_KM, today=today),
    )
