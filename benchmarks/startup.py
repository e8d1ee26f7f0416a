"""First-screen timing: launches of each monitor, interleaved so both meet the same
conditions, timed from spawn to the first full screen only. Stateless."""

from __future__ import annotations

import time

from launcher import Launcher
from monitors import MonitorSpec


def first_screen(launcher: Launcher, spec: MonitorSpec) -> float:
    """Seconds from launch to `spec`'s first full screen; then stop it."""
    _, home, seconds = launcher.launch(spec)
    launcher.stop(home)
    return seconds


def startup_round(
    launcher: Launcher, specs: list[MonitorSpec], launches: int
) -> dict[str, list[float]]:
    """`launches` first screens of each monitor, round-robin."""
    times: dict[str, list[float]] = {spec.name: [] for spec in specs}
    for _ in range(launches):
        for spec in specs:
            times[spec.name].append(first_screen(launcher, spec))
            time.sleep(0.5)
    return times
