"""What the command line asks pgtop to do: one `Invocation`, made by `pgtop.cli` from argv
and taken by the runners in `pgtop.modes`, which never see argparse.

An `Invocation` is immutable: `pgtop.cli.parse` builds it once and nobody changes it.
It holds no secret that was not on the command line: `-W` and ``password_command`` are
resolved by the runner, just before connecting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from pgtop.target import Target

if TYPE_CHECKING:  # annotations only: a live start imports neither (start-up time)
    from pgtop.headless.options import HeadlessOptions
    from pgtop.profiles.record import Profile

# live: the full-screen view of a server; once: one report on stdout (of a server, or of
# the last frame of a recording); replay: the full-screen view of a recording; demo: a
# throwaway server under load; the rest manage saved profiles without connecting.
# headless: no terminal, polling into hour files and/or a metrics endpoint.
Mode = Literal[
    "live",
    "once",
    "replay",
    "demo",
    "headless",
    "list-profiles",
    "delete-profile",
    "save-profile",
]
OutputFormat = Literal["text", "json", "openmetrics"]


class Member(NamedTuple):
    """One server of a fleet: the profile it came from and the Target built from it."""

    name: str
    target: Target


FULL_SCREEN_MODES: frozenset[Mode] = frozenset({"live", "replay", "demo"})
PROFILE_MODES: frozenset[Mode] = frozenset({"list-profiles", "delete-profile", "save-profile"})


@dataclass(frozen=True)
class Invocation:
    """One run of pgtop: what to run (`mode`) and with what.

    Fields a mode does not use keep their defaults.
    """

    mode: Mode
    # live, once: the server (from a profile and arguments); demo: refresh and read-only.
    target: Target = field(default_factory=Target)
    ask_password: bool = False  # -W: prompt before connecting, as psql does
    mouse: bool = True
    output_format: OutputFormat = "text"  # of --once
    record: Path | None = None  # live, demo: also write every snapshot here
    replay: Path | None = None  # replay, once: read this recording (or directory) instead
    replay_at: str | None = None  # replay, once: --at, where to start (as typed)
    replay_server: str | None = None  # replay, once: which server of a directory (-P)
    headless: HeadlessOptions | None = None  # headless: where to record, serve, what to keep
    server: str | None = None  # live, once, headless: its name in recordings and metrics
    profile: Profile | None = None  # save-profile: what to save
    save_password: bool = False  # save-profile: keep the password in the file
    profile_name: str | None = None  # delete-profile: which one
    # live, once: the servers of a fleet (-P a -P b, --fleet [NAME]), in the order asked;
    # empty for a single server, which is `target` (as before the fleet).
    members: tuple[Member, ...] = ()
    demo_fleet: bool = False  # demo: three servers on the fleet screen (--demo --fleet)

    @property
    def fleet(self) -> bool:
        """Several servers are watched (a single -P is a single server, as before)."""
        return len(self.members) > 1

    @property
    def full_screen(self) -> bool:
        """This run takes over the terminal (and so needs one that can draw)."""
        return self.mode in FULL_SCREEN_MODES
