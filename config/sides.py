"""Which side of the project an installation carries, for the commands that need the other one.

A station installs the shared core and the ``station`` extra (its release bundle carries
``requirements-station.lock``): the hub's packages (pyproject's ``hub`` extra: Flask, waitress,
gunicorn, SQLAlchemy, psycopg, ...) are not there. ``yizhan hub`` and ``yizhan demo`` need them;
on a station they say so in one line instead of a traceback. A hub installs the core and the
``hub`` extra (``requirements-hub.lock``): there the station's commands say so the same way.
``tests/deploy/test_lock.py`` keeps :data:`HUB_MODULES` and :data:`STATION_MODULES` in step with
the extras.
"""

from __future__ import annotations

import importlib.util
from functools import cache

# The import names of the packages only the hub's extra brings.
HUB_MODULES = ("flask", "flask_wtf", "werkzeug", "waitress", "gunicorn", "sqlalchemy", "psycopg",
               "python_calamine", "stdnum")
# The import names of the packages only the station's extra brings (a hub's install has none).
STATION_MODULES = ("kivy", "serial", "escpos", "usb", "qrcode", "pypinyin", "wcwidth", "psutil", "tqdm")
# What only a development install has (the test extra): the kiosk's scripted tour needs Kivy's
# test touches (pytest), the demo's screenshots Chromium through Selenium.
DEV_MODULES = ("pytest", "selenium")
# The commands that run the hub (the demo runs one beside the station).
HUB_COMMANDS = frozenset({"hub", "demo"})
OUR_PACKAGES = frozenset({"common", "config", "content", "deploy", "display", "hub", "idcard", "kiosk",
                          "printer", "protocol"})


@cache
def missing_hub_modules() -> tuple[str, ...]:
    """The hub's packages this installation lacks (all of them on a station)."""
    return tuple(name for name in HUB_MODULES if importlib.util.find_spec(name) is None)


def hub_missing_message(module: str) -> str:
    return (f"本机没有安装中心平台的软件包（缺少 {module}）：站点的安装包只含站点部分。"
            "中心平台按 deploy/hub/README.md 用 requirements-hub.lock 安装；演示在开发目录里运行 make demo")


def missing_package_message(exc: ModuleNotFoundError) -> str | None:
    """The line for a third-party package this installation lacks; None for a module of ours (a defect)."""
    top = (exc.name or "").partition(".")[0]
    if not top or top in OUR_PACKAGES:
        return None
    if top in HUB_MODULES:
        return hub_missing_message(top)
    if top in STATION_MODULES:
        return (f"本机没有安装站点的软件包（缺少 {top}）：这是中心平台的安装，站点的命令不在这里。"
                "站点用发布的安装包安装（见 docs/operations.md 里安装站点的步骤）")
    if top in DEV_MODULES:
        return f"这是开发用的功能，只在开发环境里有（缺少 {top}）：在开发目录里运行 make setup 后再用"
    return (f"缺少 Python 软件包 {top}：这次安装不完整。站点请重新安装这个版本的安装包"
            "（yizhan install --bundle），开发目录里运行 make setup")
