"""手写: one character written with a finger, recognised offline by Zinnia.

Debian's ``libzinnia0`` does the recognition and ``tegaki-zinnia-simplified-chinese``
brings the model (both installed by ``make setup``). The binding is a few ctypes calls of
Zinnia's C API; nothing here imports Kivy, so it is tested and measured without a screen.

Strokes are lists of (x, y) points on a pad ``width`` x ``height``, y growing downwards
(the way the pad hands them over); the recogniser answers the likeliest characters first.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MODEL = Path("/usr/share/tegaki/models/zinnia/handwriting-zh_CN.model")
LIBRARY = "libzinnia.so.0"
CANDIDATES = 5

Stroke = Sequence[tuple[float, float]]


class HandwritingUnavailable(RuntimeError):
    """The recogniser's library or model is missing (the message is for station staff)."""


@dataclass(frozen=True)
class Candidate:
    char: str
    score: float


def _load_library(name: str) -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        found = ctypes.util.find_library("zinnia")
        if found is None:
            raise HandwritingUnavailable(
                f"手写识别库 {name} 没有安装（请运行 make setup，或 apt-get install libzinnia0）") from None
        lib = ctypes.CDLL(found)
    vp, cp, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
    signatures = {
        "zinnia_recognizer_new": ([], vp),
        "zinnia_recognizer_destroy": ([vp], None),
        "zinnia_recognizer_open": ([vp, cp], ctypes.c_int),
        "zinnia_recognizer_strerror": ([vp], cp),
        "zinnia_recognizer_classify": ([vp, vp, sz], vp),
        "zinnia_character_new": ([], vp),
        "zinnia_character_destroy": ([vp], None),
        "zinnia_character_clear": ([vp], None),
        "zinnia_character_set_width": ([vp, sz], None),
        "zinnia_character_set_height": ([vp, sz], None),
        "zinnia_character_add": ([vp, sz, ctypes.c_int, ctypes.c_int], ctypes.c_int),
        "zinnia_result_value": ([vp, sz], cp),
        "zinnia_result_score": ([vp, sz], ctypes.c_float),
        "zinnia_result_size": ([vp], sz),
        "zinnia_result_destroy": ([vp], None),
    }
    for function, (args, result) in signatures.items():
        f = getattr(lib, function)
        f.argtypes, f.restype = args, result
    return lib


class Recognizer:
    """Zinnia's recogniser with the simplified-Chinese model mapped (about 25 MB; opening takes a few ms)."""

    def __init__(self, model: Path = MODEL, library: str = LIBRARY) -> None:
        check_available(model, library)
        self._lib = _load_library(library)
        self._recognizer = self._lib.zinnia_recognizer_new()
        if not self._lib.zinnia_recognizer_open(self._recognizer, str(model).encode()):
            why = (self._lib.zinnia_recognizer_strerror(self._recognizer) or b"").decode(errors="replace")
            self._lib.zinnia_recognizer_destroy(self._recognizer)
            raise HandwritingUnavailable(f"手写识别模型 {model} 打不开：{why}")
        self._character = self._lib.zinnia_character_new()
        self._lock = threading.Lock()  # one Zinnia character is reused between calls

    def classify(self, strokes: Sequence[Stroke], width: float, height: float,
                 n: int = CANDIDATES) -> list[Candidate]:
        """The ``n`` likeliest characters for ``strokes`` written on a ``width`` x ``height`` pad."""
        strokes = [s for s in strokes if len(s) > 0]
        if not strokes:
            return []
        lib, c = self._lib, self._character
        with self._lock:
            lib.zinnia_character_clear(c)
            lib.zinnia_character_set_width(c, max(1, int(width)))
            lib.zinnia_character_set_height(c, max(1, int(height)))
            for index, stroke in enumerate(strokes):
                for x, y in stroke:
                    lib.zinnia_character_add(c, index, int(round(x)), int(round(y)))
            result = lib.zinnia_recognizer_classify(self._recognizer, c, n)
            if not result:
                return []
            try:
                return [Candidate(lib.zinnia_result_value(result, i).decode("utf-8"),
                                  float(lib.zinnia_result_score(result, i)))
                        for i in range(lib.zinnia_result_size(result))]
            finally:
                lib.zinnia_result_destroy(result)

    def close(self) -> None:
        if self._recognizer:
            self._lib.zinnia_character_destroy(self._character)
            self._lib.zinnia_recognizer_destroy(self._recognizer)
            self._recognizer = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown: the library may be gone already
            self.close()


def check_available(model: Path = MODEL, library: str = LIBRARY) -> None:
    """Whether a :class:`Recognizer` can be made, without loading its model (about 25 MB of
    memory while open); raises HandwritingUnavailable saying what is missing."""
    if not Path(model).is_file():
        raise HandwritingUnavailable(
            f"手写识别模型 {model} 不存在（请运行 make setup，"
            "或 apt-get install tegaki-zinnia-simplified-chinese）")
    _load_library(library)


def simplify(stroke: Stroke, min_step: float) -> list[tuple[float, float]]:
    """Drop points closer than ``min_step`` to the last kept one (a finger sends many)."""
    kept: list[tuple[float, float]] = []
    for x, y in stroke:
        if not kept or abs(x - kept[-1][0]) + abs(y - kept[-1][1]) >= min_step:
            kept.append((x, y))
    if stroke and kept[-1] != tuple(stroke[-1]):
        kept.append((stroke[-1][0], stroke[-1][1]))
    return kept
