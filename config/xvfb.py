"""A virtual X display (Xvfb) for the demo, the tests and the benchmarks on headless machines."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass


@dataclass
class VirtualDisplay:
    display: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_xvfb(width: int = 1920, height: int = 1080, depth: int = 24) -> VirtualDisplay:
    """Start Xvfb on a free display number (chosen by the server itself) and return it."""
    binary = shutil.which("Xvfb")
    if not binary:
        raise RuntimeError("Xvfb is not installed: apt-get install xvfb (or run 'make setup')")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        [binary, "-displayfd", str(write_fd), "-screen", "0", f"{width}x{height}x{depth}",
         "-nolisten", "tcp", "-noreset", "+extension", "GLX"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        process.kill()
        raise RuntimeError("Xvfb did not start")
    return VirtualDisplay(display=f":{number}", process=process)
