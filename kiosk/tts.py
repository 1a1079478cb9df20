"""Reading text aloud (朗读) with a speech engine run as a child process.

The engine is whatever ``kiosk.tts_command`` names (default ``espeak-ng -v cmn -s 140``,
espeak-ng's Mandarin voice); the text is passed as the last argument. Speaking never
blocks the caller: the process is started and left to run; a new request stops the one
before, so only one voice speaks at a time. Masks (``张*``) are read as ``某``.
"""

from __future__ import annotations

import logging
import re
import shlex
import shutil
import subprocess

log = logging.getLogger(__name__)
# What espeak-ng (through ALSA/PortAudio) writes when there is no sound card: it still exits 0.
_NO_AUDIO = ("Unknown PCM", "cannot find card", "audio open error", "No such file or directory",
             "Connection refused", "snd_pcm_open")
NO_AUDIO_MARKERS = _NO_AUDIO  # also read by ``yizhan doctor`` (config/doctor.py)
MAX_CHARS = 1200  # a screen's worth; keeps the command line bounded
# Phone numbers are read digit by digit, as people say them (not as one big number).
_PHONE = re.compile(r"(?<!\d)(?:0\d{2,3}-?\d{5,8}|1[3-9]\d{9}|123\d{2})(?!\d)")


def speakable(text: str) -> str:
    """Text made fit for a speech engine: masks as 某, symbols spelled out, whitespace folded."""
    text = re.sub(r"\*+", "某", text or "")
    text = _PHONE.sub(lambda m: " ".join(ch for ch in m.group(0) if ch.isdigit()), text)
    # Ranges (4500-6000元, 18-45岁) are read "到"; other dashes (phone numbers) are pauses.
    text = re.sub(r"(\d+)\s*[-~～]\s*(\d+)(?=\s*(?:元|岁|公里|人|天|个月|小时))", r"\1到\2", text)
    text = text.replace("元/", "元每").replace("-", " ")
    text = re.sub(r"[\[\]【】<>{}|#_=]", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:MAX_CHARS]


class ReadAloud:
    """Speaks one text at a time in a child process; ``say`` returns at once."""

    def __init__(self, command: str, *, enabled: bool = True) -> None:
        self.argv = shlex.split(command) if command else []
        self.enabled = enabled and bool(self.argv)
        self._process: subprocess.Popen[bytes] | None = None
        # Why nothing can be heard (no sound card...), for staff: the doctor, the heartbeat,
        # the staff screen. Never shown to a resident.
        self.problem = ""

    @property
    def available(self) -> bool:
        """Whether the engine is configured and its program exists."""
        return self.enabled and shutil.which(self.argv[0]) is not None

    @property
    def speaking(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def say(self, text: str) -> bool:
        """Start speaking ``text`` (stopping any earlier speech). False if it cannot be spoken."""
        self.stop()
        words = speakable(text)
        if not words or not self.available:
            return False
        try:
            self._process = subprocess.Popen(
                [*self.argv, words], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, start_new_session=True,
            )
        except OSError as exc:
            log.warning("read-aloud engine %s could not start: %s", self.argv[0], exc.strerror)
            self._process = None
            return False
        return True

    def check(self) -> bool:
        """After speech ended: note whether it could be heard (:attr:`problem`). True while speaking."""
        process = self._process
        if process is None:
            return False
        if process.poll() is None:
            return True
        self._process = None
        errors = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
        if process.stderr:
            process.stderr.close()
        if any(marker in errors for marker in _NO_AUDIO):
            if not self.problem:
                log.warning("read-aloud: no sound output (%s)", errors.strip().splitlines()[-1][:120])
            self.problem = "没有声音输出设备（找不到声卡），朗读听不到"
        elif process.returncode == 0:
            self.problem = ""
        return False

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr:
            process.stderr.close()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the current speech to end (for tests and tools; the UI never waits)."""
        process = self._process
        if process is None:
            return None
        return process.wait(timeout=timeout)
