"""`pgtop --demo`: a throwaway PostgreSQL (+ PgBouncer) under a lively workload, watched
by pgtop. Nothing survives it: quitting, Ctrl-C, SIGTERM/SIGHUP and a crash all stop the
servers and remove the temp dir, and what a SIGKILL leaves the next demo sweeps away.
run_demo owns the DemoEnvironment (servers, workload, temp dir) and the signal handlers
(_Signals) for the demo's lifetime; the servers come from pgtop.sandbox.
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
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from pgtop.demo.environment import DemoEnvironment, say
from pgtop.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from pgtop.sandbox import SandboxError

__all__ = ["DemoEnvironment", "run_demo"]


DEMO_REFRESH = 1.0


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
    t0 = time.monotonic()
    # Textual takes ~0.4 s to import: do it while initdb runs, which is mostly waiting.
    threading.Thread(target=_import_ui, name="pgtop-demo-import", daemon=True).start()
    env = DemoEnvironment()
    signals = _Signals()
    signals.install()
    code = EXIT_OK
    workload_error: str | None = None
    try:
        env.start()
        refresh = getattr(args, "refresh", None) or DEMO_REFRESH
        read_only = bool(getattr(args, "read_only", False))
        target = env.target(refresh=refresh, read_only=read_only)
        target = target.replace(read_only_locked=read_only)
        app = _make_app(target, recorder)
        signals.app = app
        if env.workload is not None:
            env.workload.on_error = partial(_notify, app)
        say(f"ready in {time.monotonic() - t0:.1f} s; opening pgtop (q or Ctrl-C quits)")
        app.run(mouse=not getattr(args, "no_mouse", False))
        signals.app = None
        workload_error = env.workload.error if env.workload else None
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
            if recorder is not None:
                recorder.close()  # the file outlives the demo: it is the user's
            env.close()
        finally:
            signals.restore()
    if workload_error:
        say(workload_error)
    if env.root is not None:
        say(f"stopped the servers and removed {env.root}")
    return code


def run_fleet_demo(args: argparse.Namespace) -> int:
    """`pgtop --demo --fleet`: demo/fleet.py's three servers on the fleet screen. The
    DemoFleet (servers, load, temp dir) lives as long as this call."""
    from pgtop.demo.fleet import DemoFleet

    t0 = time.monotonic()
    threading.Thread(target=_import_ui, name="pgtop-demo-import", daemon=True).start()
    demo = DemoFleet()
    signals = _Signals()
    signals.install()
    code = EXIT_OK
    try:
        demo.start()
        refresh = getattr(args, "refresh", None) or DEMO_REFRESH
        read_only = bool(getattr(args, "read_only", False))
        members = [
            (name, target.replace(read_only=read_only, read_only_locked=read_only))
            for name, target in demo.members(refresh)
        ]
        from pgtop.ui.app import PgTopApp

        app = PgTopApp(members[0][1], members=members)
        app.sub_title = "demo fleet"
        signals.app = app
        say(f"ready in {time.monotonic() - t0:.1f} s; opening the fleet (q or Ctrl-C quits)")
        app.run(mouse=not getattr(args, "no_mouse", False))
        signals.app = None
        if app.exit_message:
            say(f"error: {app.exit_message}")
            code = EXIT_FAILURE
        elif app.return_code:
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
            root = demo.root
            demo.close()
        finally:
            signals.restore()
    if root is not None:
        say(f"stopped the servers and removed {root}")
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
