"""Where the hub's phone pages (H5, written by ``hub.mobile`` at each publication) live:
beside the feed, ``<feed url>m/s/<station id>/`` for a station and ``…/job-<job id>.html``
for one of its jobs. The board's and slips' QR codes lead there."""

from __future__ import annotations

LINK_NAME = "m"


def station_path(station_id: str) -> str:
    """A station's pages under the feed's folder."""
    return f"{LINK_NAME}/s/{station_id}/"


def job_page_name(job_id: str) -> str:
    return f"job-{job_id}.html"


def phone_page_url(feed_url: str, station_id: str, job_id: str | None = None) -> str:
    """The station's phone page (or its page of ``job_id``) beside the feed at ``feed_url``;
    empty when the station has no http(s) feed."""
    if not feed_url.startswith(("http://", "https://")) or not station_id:
        return ""
    base = feed_url if feed_url.endswith("/") else feed_url + "/"
    return base + station_path(station_id) + (job_page_name(job_id) if job_id else "")
