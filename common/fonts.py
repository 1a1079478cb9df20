"""Finding a font that covers Simplified Chinese, for the kiosk, the board and slip previews.

Kivy's default font has no hanzi: every label must use the font found here. The order:
the ``ui.font`` setting if given, then fontconfig (``fc-list :lang=zh``), then paths
where Debian's CJK font packages put their files.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

KNOWN_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
# Preferred families, best first: clear sans-serif faces read best on screens and thermal paper.
PREFERRED = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "WenQuanYi Zen Hei", "Droid Sans Fallback")
INSTALL_HINT = "install a CJK font: apt-get install fonts-wqy-microhei (or fonts-noto-cjk)"


class FontNotFoundError(RuntimeError):
    """No font covering Chinese was found; the message names the package to install."""


def _fontconfig_candidates() -> list[Path]:
    if not shutil.which("fc-list"):
        return []
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "file", "family"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found: list[tuple[int, Path]] = []
    for line in out.splitlines():
        file, _, family = line.partition(":")
        rank = next((i for i, name in enumerate(PREFERRED) if name in family), len(PREFERRED))
        # Kivy (SDL_ttf) reads .ttf/.ttc/.otf; skip bitmap fonts.
        if file.lower().endswith((".ttf", ".ttc", ".otf")):
            found.append((rank, Path(file.strip())))
    return [path for _, path in sorted(found, key=lambda item: (item[0], str(item[1])))]


def find_cjk_font(configured: str | Path | None = None, *, use_fontconfig: bool = True,
                  known_paths: tuple[str, ...] = KNOWN_PATHS) -> Path:
    """Path of a font file covering Simplified Chinese, or :class:`FontNotFoundError`."""
    if configured:
        path = Path(configured)
        if not path.is_file():
            raise FontNotFoundError(f"ui.font: font file {path} does not exist; {INSTALL_HINT}")
        return path
    candidates = _fontconfig_candidates() if use_fontconfig else []
    candidates += [Path(p) for p in known_paths]
    for path in candidates:
        if path.is_file():
            return path
    raise FontNotFoundError(f"no font covering Chinese found; {INSTALL_HINT}")
