"""Lighthouse scores of the console's four most used pages, in Debian's Chromium.

Starts a hub on a free loopback port with a station, a registration, a pending job and an
employer in place (so that every page has rows), logs in as a reviewer, and runs Lighthouse
(the npm package, installed once into .cache/lighthouse; no browser is downloaded: it drives
/usr/bin/chromium) on 登录, 工作台, 岗位信息 and 服务成效表, desktop preset. Prints the four
category scores per page and one FIGURE line per page for accessibility (target >= 98).

The console is ``noindex`` on purpose (it is for staff only), so Lighthouse's SEO score stays
below 100 by design: its "page is blocked from indexing" audit fails.

    .venv/bin/python bench/lighthouse.py
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "hub_console"))

import requests  # noqa: E402
from console_kit import PASSWORD, Clock  # noqa: E402
from test_console_a11y import USERS, _seed  # noqa: E402

from hub.app import HubServer, create_app  # noqa: E402
from hub.console.auth import create_user  # noqa: E402
from hub.publish import write_keypair  # noqa: E402

LIGHTHOUSE_VERSION = "12.8"
PREFIX = ROOT / ".cache" / "lighthouse"
PAGES = {"登录": "console/login", "工作台": "console/", "岗位信息": "console/content/job",
         "服务成效表": "console/reports/results"}
CATEGORIES = ("accessibility", "best-practices", "performance", "seo")


def lighthouse() -> Path:
    binary = PREFIX / "node_modules" / ".bin" / "lighthouse"
    if binary.exists():
        return binary
    if shutil.which("npm") is None:
        raise SystemExit("bench/lighthouse.py needs npm (Node.js) to install Lighthouse into .cache/lighthouse")
    PREFIX.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(PREFIX),
                    f"lighthouse@{LIGHTHOUSE_VERSION}"], check=True, timeout=900)
    return binary


def run_page(binary: Path, url: str, cookie: str | None, out: Path) -> dict[str, int]:
    command = [str(binary), url, "--quiet", "--output=json", f"--output-path={out}", "--preset=desktop",
               "--chrome-flags=--headless=new --no-sandbox --disable-gpu", "--only-categories=" + ",".join(CATEGORIES)]
    if cookie:
        command.append("--extra-headers=" + json.dumps({"Cookie": cookie}))
    env = {**os.environ, "CHROME_PATH": "/usr/bin/chromium"}
    subprocess.run(command, check=True, timeout=300, env=env, capture_output=True)
    report = json.loads(out.read_text())
    if report.get("finalDisplayedUrl", url).rstrip("/") != url.rstrip("/"):
        raise SystemExit(f"{url} was redirected to {report.get('finalDisplayedUrl')}: the session did not hold")
    return {name: round(report["categories"][name]["score"] * 100) for name in CATEGORIES}


def main() -> int:
    logging.getLogger("waitress").setLevel(logging.ERROR)
    binary = lighthouse()
    work = Path(tempfile.mkdtemp(prefix="yizhan-lighthouse-"))
    home = work / "hub"
    write_keypair(home)
    clock = Clock(dt.datetime.now(dt.UTC))
    app = create_app(home, console_clock=clock)
    engine = app.extensions["console"].engine
    for username, roles, name in USERS.values():
        create_user(engine, username, PASSWORD, roles, name)
    _seed(app, clock)
    scores: dict[str, dict[str, int]] = {}
    with HubServer(app) as server:
        session = requests.Session()
        page = session.get(server.url + "console/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, "the login page has no CSRF token"
        username = USERS["reviewer"][0]
        session.post(server.url + "console/login", timeout=30, allow_redirects=False,
                     data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
        cookie = "yizhan_console=" + session.cookies["yizhan_console"]
        for title, path in PAGES.items():
            scores[title] = run_page(binary, server.url + path, None if path.endswith("login") else cookie,
                                     work / f"{path.strip('/').replace('/', '_') or 'home'}.json")
    shutil.rmtree(work, ignore_errors=True)

    print(f"Lighthouse {LIGHTHOUSE_VERSION}, desktop preset, Chromium {chromium_version()}")
    print(f"{'页面':<8}" + "".join(f"{c:>16}" for c in CATEGORIES))
    for title, row in scores.items():
        print(f"{title:<8}" + "".join(f"{row[c]:>16}" for c in CATEGORIES))
    slugs = {"登录": "login", "工作台": "dashboard", "岗位信息": "jobs", "服务成效表": "results"}
    for title, row in scores.items():
        print(f"FIGURE lighthouse_accessibility_{slugs[title]} {row['accessibility']} score")
    return 0


def chromium_version() -> str:
    done = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True, timeout=60)
    found = re.search(r"\d+(\.\d+)+", done.stdout)
    return found.group(0) if found else "?"


if __name__ == "__main__":
    raise SystemExit(main())
