"""`pgtop --list-profiles`, `--delete-profile NAME` and `--save-profile NAME`: print, exit,
never connect. The profiles file is the only state touched, through `pgtop.profiles`."""

from __future__ import annotations

import sys

from pgtop import profiles
from pgtop.exit_codes import EXIT_OK, EXIT_USAGE
from pgtop.invocation import Invocation


def run_profile_command(invocation: Invocation) -> int:
    try:
        return _run(invocation)
    except profiles.ProfileError as exc:  # an unreadable file, a bad name: one line, exit 2
        print(f"pgtop: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run(invocation: Invocation) -> int:
    if invocation.mode == "list-profiles":
        saved, warnings = profiles.load_profiles()
        _warn(warnings)
        print(profiles.format_profile_list(saved))
        return EXIT_OK
    if invocation.mode == "delete-profile":
        name = invocation.profile_name
        assert name is not None  # pgtop.cli sets it for this mode
        if not profiles.delete_profile(name):
            print(f"pgtop: no profile named {name!r}", file=sys.stderr)
            return EXIT_USAGE
        print(f"deleted profile {name!r} from {profiles.profiles_path()}")
        return EXIT_OK
    profile = invocation.profile
    assert profile is not None  # pgtop.cli sets it for save-profile
    _warn(profiles.save_profile(profile, allow_password=invocation.save_password))
    print(f"saved profile {profile.name!r} ({profile.describe()}) to {profiles.profiles_path()}")
    return EXIT_OK


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"pgtop: warning: {warning}", file=sys.stderr)
