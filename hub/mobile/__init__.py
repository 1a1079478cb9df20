"""The resident's side of the hub: static phone pages published with each feed
(:mod:`hub.mobile.pages`)."""

from hub.mobile.pages import (
    LINK_NAME,
    PAGE_BUDGET,
    StationProfile,
    read_stations,
    station_page_path,
    write_pages,
)

__all__ = ["LINK_NAME", "PAGE_BUDGET", "StationProfile", "read_stations", "station_page_path", "write_pages"]
