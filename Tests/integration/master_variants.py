"""Masters started in a hostile environment, for the hostile-runtime tests: a descriptor limit
the master cannot raise, and a stdout that is read slowly. Both are `harness.Master` with a
different `spawn`, so every other helper (start, logs, API, kit) works unchanged.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from pathlib import Path

from harness import Master, _Run


class LimitedMaster(Master):
    """RLIMIT_NOFILE soft and hard set to `limit` before exec, so the master's start-up raise
    of the soft limit to the hard one gains nothing."""

    def __init__(self, workdir: Path, limit: int):
        super().__init__(workdir)
        self.limit = limit

    def spawn(self, args: list[str]) -> _Run:
        limit = self.limit

        def lower() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

        proc = subprocess.Popen(
            [str(self.exe), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=str(self.workdir), env={**os.environ, **self.env},
            preexec_fn=lower,
        )
        self.run = _Run(proc)
        self.runs.append(self.run)
        return self.run


class SlowStdoutMaster(Master):
    """The master's stdout is a pipe drained at `rate` bytes per second (and discarded), like a
    busy log collector; stderr is read as usual. `stdout_lines()` is therefore empty."""

    def __init__(self, workdir: Path, rate: float):
        super().__init__(workdir)
        self.rate = rate
        self.drained = 0

    def spawn(self, args: list[str]) -> _Run:
        read_end, write_end = os.pipe()
        proc = subprocess.Popen(
            [str(self.exe), *args], stdin=subprocess.DEVNULL, stdout=write_end,
            stderr=subprocess.PIPE, cwd=str(self.workdir), env={**os.environ, **self.env},
        )
        os.close(write_end)
        threading.Thread(target=self._drain, args=(read_end,), daemon=True).start()
        proc.stdout = open(os.devnull, "rb")
        self.run = _Run(proc)
        self.runs.append(self.run)
        return self.run

    def _drain(self, fd: int) -> None:
        while True:
            data = os.read(fd, 65536)
            if not data:
                os.close(fd)
                return
            self.drained += len(data)
            time.sleep(len(data) / self.rate)
