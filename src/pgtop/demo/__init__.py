"""`pgtop --demo`: a throwaway PostgreSQL (+ PgBouncer) under a lively workload, watched
by pgtop. Nothing survives it: quitting, Ctrl-C, SIGTERM/SIGHUP and a crash all stop the
servers and remove the temp dir, and what a SIGKILL leaves the next demo sweeps away.
run_demo (one server) and run_fleet_demo (three) each own their demo (servers, load, temp
dir: a DemoSite) and, through _run_app, the signal handlers (_Signals) for its lifetime;
the servers come from pgtop.sandbox.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from pgtop.demo.environment import DemoEnvironment
from pgtop.demo.site import DemoSite, say
from pgtop.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from pgtop.sandbox import SandboxError

__all__ = ["DemoEnvironment", "run_demo"]


DEMO_REFRESH = 1.0
Site = TypeVar("Site", bound=DemoSite)


class _Signals:
    """SIGINT/SIGTERM/SIGHUP while the demo runs. Before the TUI: KeyboardInterrupt, so the
    `finally` cleans up. In the TUI: ask the app to exit the normal way (the terminal is
    restored), and if a second signal comes, stop waiting for it."""

    NAMES = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.app: Any = None
        self.hits = 0
        self.closing = False  # while tearing down, ignore signals: let cleanup finish
        self._old: dict[int, Any] = {}

    def install(self) -> None:
        for sig in self.NAMES:
            self._old[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.closing:
            return
        self.hits += 1
        try:
            loop = asyncio.get_running_loop()  # the app's, when the TUI is up
        except RuntimeError:
            loop = None
        if self.app is not None and loop is not None and self.hits == 1:
            loop.call_soon_threadsafe(self.app.exit)
            return
        raise KeyboardInterrupt


def _make_app(target: Any, recorder: Any = None) -> Any:
    """The usual app (ctrl+c quits there too, or copies a mouse selection first), titled
    "demo". Imported late: keeps textual out of here."""
    from pgtop.ui.app import PgTopApp

    app = PgTopApp(target, recorder=recorder)
    app.sub_title = "demo"
    return app


def run_demo(args: argparse.Namespace) -> int:
    if not sys.stdout.isatty() and not os.environ.get("PGTOP_FORCE_TTY"):
        print("pgtop: standard output is not a terminal; the demo needs one", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "fleet", False):
        return run_fleet_demo(args)
    recorder = _recorder(getattr(args, "record", None))
    if isinstance(recorder, str):
        print(f"pgtop: {recorder}", file=sys.stderr)
        return EXIT_USAGE

    def open_app(env: DemoEnvironment, refresh: float, read_only: bool) -> Any:
        target = env.target(refresh=refresh, read_only=read_only)
        app = _make_app(target.replace(read_only_locked=read_only), recorder)
        if env.workload is not None:
            env.workload.on_error = partial(_notify, app)
        return app

    closing = recorder.close if recorder is not None else None  # the file is the user's
    return _run_app(args, DemoEnvironment(), open_app, "pgtop", closing=closing)


def run_fleet_demo(args: argparse.Namespace) -> int:
    """`pgtop --demo --fleet`: demo/fleet.py's three servers on the fleet screen. The
    DemoFleet (servers, load, temp dir) lives as long as this call."""
    from pgtop.demo.fleet import DemoFleet

    def open_app(demo: DemoFleet, refresh: float, read_only: bool) -> Any:
        from pgtop.ui.app import PgTopApp

        members = [
            (name, target.replace(read_only=read_only, read_only_locked=read_only))
            for name, target in demo.members(refresh)
        ]
        app = PgTopApp(members[0][1], members=members)
        app.sub_title = "demo fleet"
        return app

    return _run_app(args, DemoFleet(), open_app, "the fleet")


def _run_app(
    args: argparse.Namespace,
    demo: Site,
    open_app: Callable[[Site, float, bool], Any],
    opening: str,
    *,
    closing: Callable[[], None] | None = None,
) -> int:
    """Start `demo`, run the app open_app(demo, refresh, read_only) gives over it, stop
    it: the exit code, and one line on stderr for whatever went wrong, never a traceback.
    `closing` runs just before the servers stop, whatever happened."""
    t0 = time.monotonic()
    # Textual takes ~0.4 s to import: do it while initdb runs, which is mostly waiting.
    threading.Thread(target=_import_ui, name="pgtop-demo-import", daemon=True).start()
    signals = _Signals()
    signals.install()
    code = EXIT_OK
    load_error: str | None = None
    try:
        demo.start()
        refresh = getattr(args, "refresh", None) or DEMO_REFRESH
        app = open_app(demo, refresh, bool(getattr(args, "read_only", False)))
        signals.app = app
        say(f"ready in {time.monotonic() - t0:.1f} s; opening {opening} (q or Ctrl-C quits)")
        app.run(mouse=not getattr(args, "no_mouse", False))
        signals.app = None
        load_error = demo.load_error()
        if app.exit_message:
            say(f"error: {app.exit_message}")
            code = EXIT_FAILURE
        elif app.return_code:  # Textual printed the crash itself
            code = EXIT_FAILURE
    except SandboxError as exc:
        say(f"error: {exc}")
        code = EXIT_FAILURE
    except KeyboardInterrupt:
        say("interrupted")
        code = EXIT_FAILURE
    except Exception as exc:  # a demo must never end in a traceback
        first = str(exc).strip().splitlines()
        say(f"error: {type(exc).__name__}: {first[0] if first else 'unexpected failure'}")
        code = EXIT_FAILURE
    finally:
        signals.app, signals.closing = None, True
        try:
            if closing is not None:
                closing()
            demo.close()
        finally:
            signals.restore()
    if load_error:
        say(load_error)
    if demo.removed is not None:
        say(f"stopped the servers and removed {demo.removed}")
    return code


def _recorder(path: Path | None) -> Any:
    """--record with --demo: a Recorder, None, or why the file cannot be written."""
    if path is None:
        return None
    from pgtop.collect.record import Recorder, RecordingError

    try:
        return Recorder(Path(path))
    except RecordingError as exc:
        return str(exc)


def _import_ui() -> None:
    with contextlib.suppress(Exception):  # a real failure surfaces again in _make_app
        importlib.import_module("pgtop.ui.app")


def _notify(app: Any, message: str) -> None:
    """From the workload's thread: show its failure in the TUI, where the user looks."""
    app.call_from_thread(app.notify, message, severity="error", timeout=30)
