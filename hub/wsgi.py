"""The hub under gunicorn: several worker processes for a city's or a province's traffic.

``yizhan hub serve --workers N`` runs this; a systemd unit may instead run
``gunicorn 'hub.wsgi:application()'`` with ``YIZHAN_HUB_HOME`` (and
``YIZHAN_HUB_DATABASE_URL``) in its environment (``deploy/hub/``). The schema is migrated
once in the master process before any worker starts; each worker then builds its own app
(and its own database pool: connections never cross a fork) and its own console scheduler
(scheduled publishing, the daily retention purge): the jobs are claimed in the database, so
each runs exactly once per hub however many workers poll (``hub.console``).

There is no waitress request parser here to refuse uploads from their headers: the app does
it itself and keeps its counts in the database (``hub.limits``), and the shipped nginx site
limits rates and bodies in front (``deploy/hub/nginx-site.conf``). Behind that site
(``YIZHAN_HUB_BEHIND_PROXY=1``, as ``yizhan-hub.service`` sets) the client's address is the
one nginx forwarded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from hub.db import database_url, make_engine, migrate
from hub.limits import behind_proxy_setting


def application(home: str | None = None, database: str | None = None) -> Any:
    """The WSGI app for ``gunicorn 'hub.wsgi:application()'`` (settings from the environment)."""
    from hub.app import create_app
    from hub.console import start_scheduler

    home_dir = Path(home or os.environ.get("YIZHAN_HUB_HOME") or "hub")
    app = create_app(home_dir, feeds_dir=os.environ.get("YIZHAN_HUB_FEEDS") or None, database_url=database)
    start_scheduler(app)
    return app


def prepare(home: str | Path, database: str | None = None) -> str:
    """Create or upgrade the schema once (before workers fork); returns the URL used."""
    import hub.storage  # noqa: F401  (registers its migrations)

    url = database_url(home, database)
    engine = make_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return url


class HubGunicorn(BaseApplication):
    """gunicorn configured from Python (no config file needed)."""

    def __init__(self, home: str | Path, *, database: str | None = None, feeds: str | Path | None = None,
                 host: str = "127.0.0.1", port: int = 8080, workers: int = 2, threads: int = 4,
                 timeout: int = 30, scheduler_interval_s: float = 30.0,
                 extra: dict[str, Any] | None = None) -> None:
        self.home = Path(home)
        self.scheduler_interval_s = scheduler_interval_s
        self.database = database
        self.feeds = feeds
        self.options = {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "timeout": timeout,
            "graceful_timeout": 10,
            "keepalive": 5,
            # Requests are small JSON batches; a station sending more is refused by Flask.
            "limit_request_line": 8190,
            "proc_name": "yizhan-hub",
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            # gunicorn believes X-Forwarded-Proto from loopback by default; the hub believes a
            # proxy only when set up behind one (then the app's ProxyFix does the work).
            "forwarded_allow_ips": "127.0.0.1,::1" if behind_proxy_setting(self.home) else "",
            **(extra or {}),
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Any:
        from hub.app import create_app
        from hub.console import start_scheduler

        # Runs in each worker after the fork (no preload): its own pool and scheduler thread.
        app = create_app(self.home, feeds_dir=self.feeds, database_url=self.database)
        start_scheduler(app, self.scheduler_interval_s)
        return app


def serve_workers(home: str | Path, *, database: str | None = None, feeds: str | Path | None = None,
                  host: str = "127.0.0.1", port: int = 8080, workers: int = 2, threads: int = 4) -> None:
    """Migrate, then serve with ``workers`` gunicorn processes until SIGTERM/SIGINT."""
    url = prepare(home, database)
    HubGunicorn(home, database=url, feeds=feeds, host=host, port=port, workers=workers, threads=threads).run()
