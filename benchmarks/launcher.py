"""Running one monitor at a time in a pty (ptymon.PtyMonitor) with a fresh HOME, until its
first full screen, and stopping it. The Launcher owns the running monitor; launch() and
stop() are its only writers."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

from common import COLS, ROWS
from environment import BenchEnvironment
from monitors import MonitorSpec, monitor_env
from ptymon import PtyMonitor
from screens import known_pid_rows


def screen_dump(m: PtyMonitor) -> str:
    return "\n".join(line.rstrip() for line in m.lines())


class Launcher:
    def __init__(self, env: BenchEnvironment) -> None:
        self.env = env
        self.monitor: PtyMonitor | None = None

    def launch(self, spec: MonitorSpec) -> tuple[PtyMonitor, Path, float]:
        """Start `spec` in a pty with a fresh HOME; wait for its first full screen.
        Returns the monitor (stop it, and remove HOME, when done) and the seconds it took."""
        home = Path(tempfile.mkdtemp(prefix="home-", dir=self.env.tmp))
        user = None
        # pg_activity's remote mode: see MonitorSpec.run_as_nobody.
        if spec.run_as_nobody and os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            user = (nobody.pw_uid, nobody.pw_gid)
            os.chown(home, *user)
        m = PtyMonitor(
            spec.cmd(*self.env.ports), monitor_env(home), COLS, ROWS, user=user, cwd=str(home)
        )
        known = self.env.known_pids
        need = min(20, max(1, len(known) // 10))
        first = m.watch(lambda s: known_pid_rows(s, known) >= need)
        self.monitor = m
        try:
            m.start()
            if not first.event.wait(60) or first.fired_at is None:
                raise RuntimeError(f"{spec.name}: no first screen in 60 s:\n" + screen_dump(m))
        except BaseException:
            self.stop(home)
            raise
        return m, home, first.fired_at - m.started_at

    def stop(self, home: Path | None = None) -> None:
        if self.monitor is not None:
            self.monitor.stop()
            self.monitor = None
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)
