"""The runners: what pgtop does with the `Invocation` the command line made — the app on a
server, --once, --replay, the demo and the profile commands. They never see argv.

No state lives here: each runner builds what it runs (a collector, a recorder, the app)
and that object owns its state.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from typing import TYPE_CHECKING

from pgtop.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from pgtop.invocation import PROFILE_MODES, Invocation
from pgtop.target import DEFAULT_REFRESH, MIN_REFRESH, Target

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from pgtop.collect.record import Recorder
    from pgtop.collect.replay import Recording
    from pgtop.model.derive import Rates
    from pgtop.model.records import Snapshot
    from pgtop.ui.app import PgTopApp


def run_invocation(invocation: Invocation) -> int:
    """Run what the command line asked for; returns the exit code."""
    if invocation.full_screen and os.environ.get("TERM") == "dumb":
        # As top does: a dumb terminal cannot place the cursor or draw colour.
        print("pgtop: TERM=dumb cannot show the full-screen view; use --once", file=sys.stderr)
        return EXIT_USAGE
    if invocation.mode == "demo":
        return _run_demo(invocation)
    if invocation.replay is not None:
        return run_replay(invocation)
    if invocation.mode in PROFILE_MODES:
        from pgtop.profile_commands import run_profile_command

        return run_profile_command(invocation)
    if invocation.fleet:
        return run_fleet(invocation)
    from pgtop.password_prompt import NoPassword
    from pgtop.profiles import ProfileError

    try:
        target, password = _with_password(invocation)
    except (NoPassword, ProfileError) as exc:
        print(f"pgtop: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    if invocation.mode == "once":
        return run_once(target, password, invocation.output_format, invocation.server)
    if invocation.mode == "headless":
        return _run_headless(invocation, [(invocation.server or "server", target)])
    record = str(invocation.record) if invocation.record else None
    return run_app(target, password, mouse=invocation.mouse, record=record)


def _with_password(invocation: Invocation) -> tuple[Target, str | None]:
    """-W asks now; otherwise a profile's password_command runs (its password goes into the
    Target's settings). Raises NoPassword or ProfileError."""
    from pgtop.password_prompt import ask_password
    from pgtop.profiles import apply_password_command

    target = invocation.target
    if invocation.ask_password:
        return target, ask_password(target.postgres.describe())
    if target.password_command:
        return apply_password_command(target), None
    return target, None


# -- the fleet (issue 17): several servers ------------------------------------------------


def _run_headless(invocation: Invocation, members: list[tuple[str, Target]]) -> int:
    from pgtop import gc_pause
    from pgtop.headless.runner import run_headless

    gc_pause.resume()  # a service runs for weeks: the collector must run
    assert invocation.headless is not None  # pgtop.cli sets it for headless
    return run_headless(members, invocation.headless)


def _fleet_headless(invocation: Invocation) -> int:
    """Every member recorded and served under its profile name. A member whose
    password_command fails stops the start: a service must not run half-configured."""
    from pgtop.profiles import ProfileError, apply_password_command

    members = []
    for m in invocation.members:
        try:
            target = apply_password_command(m.target) if m.target.password_command else m.target
        except ProfileError as exc:
            print(f"pgtop: {m.name}: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        members.append((m.name, target))
    return _run_headless(invocation, members)


def run_fleet(invocation: Invocation) -> int:
    """Several profiles: the fleet screen, with --once every server printed, headless
    every server recorded and served."""
    if invocation.mode == "headless":
        return _fleet_headless(invocation)
    if invocation.mode != "once":
        return run_fleet_app(
            [(m.name, m.target) for m in invocation.members], mouse=invocation.mouse
        )
    from pgtop import gc_pause

    gc_pause.resume()
    from pgtop.once_fleet import collect_fleet, render_fleet

    members = [(m.name, m.target) for m in invocation.members]
    try:  # each member's password_command runs in collect_fleet, for that member alone
        results = asyncio.run(collect_fleet(members, {}))
    except KeyboardInterrupt:
        return EXIT_FAILURE
    sys.stdout.write(render_fleet(results, invocation.output_format))
    sys.stdout.flush()
    for r in results:
        for warning in warnings_for(r.snapshot) if r.snapshot is not None else ():
            print(f"pgtop: warning: {r.name}: {warning}", file=sys.stderr)
    return EXIT_OK if any(r.answered for r in results) else EXIT_FAILURE


def run_fleet_app(members: list[tuple[str, Target]], *, mouse: bool, title: str = "") -> int:
    """The fleet screen over `members`. Each member's password_command runs first, for
    that member alone: one that fails leaves the member to say why on its line."""
    if not sys.stdout.isatty() and not os.environ.get("PGTOP_FORCE_TTY"):
        print("pgtop: standard output is not a terminal; use --once for scripts", file=sys.stderr)
        return EXIT_USAGE
    from pgtop.profiles import ProfileError, apply_password_command

    ready = []
    for name, target in members:
        if target.password_command and "password" not in target.postgres.params:
            try:
                target = apply_password_command(target)
            except ProfileError as exc:
                print(f"pgtop: warning: {name}: {exc}", file=sys.stderr)
        ready.append((name, target))
    app = _import_app()(Target(), members=ready)
    if title:
        app.sub_title = title
    try:
        app.run(mouse=mouse)
    except KeyboardInterrupt:
        return EXIT_FAILURE
    if app.exit_message:
        print(f"pgtop: {app.exit_message}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_FAILURE if app.return_code else EXIT_OK


def _run_demo(invocation: Invocation) -> int:
    from pgtop.demo import run_demo

    # run_demo still takes argparse-style options (pgtop.demo is being reworked apart from
    # this): the three it reads, built here so that it never needs the command line.
    options = argparse.Namespace(
        refresh=invocation.target.refresh,
        read_only=invocation.target.read_only,
        no_mouse=not invocation.mouse,
        record=invocation.record,
        fleet=invocation.demo_fleet,
    )
    return run_demo(options)


def run_once(target: Target, password: str | None, fmt: str, server: str | None = None) -> int:
    from pgtop import gc_pause

    gc_pause.resume()  # paused for the app's start-up only
    from pgtop.collect.errors import CollectError
    from pgtop.once import collect_once, render
    from pgtop.password_prompt import NoPassword, with_password_prompt

    def collect(pw: str | None) -> Awaitable[tuple[Snapshot, Rates]]:
        return collect_once(target, pw)

    try:
        (first, rates), _ = asyncio.run(
            with_password_prompt(collect, password, target.postgres.describe())
        )
    except CollectError as exc:
        print(f"pgtop: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.kind == "usage" else EXIT_FAILURE
    except NoPassword as exc:
        print(f"pgtop: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    name = server or target.postgres.describe()
    has_pooler = bool(target.pooler)
    sys.stdout.write(render(first, rates, fmt, target.findings, server=name, has_pooler=has_pooler))
    sys.stdout.flush()
    for warning in warnings_for(first):
        print(f"pgtop: warning: {warning}", file=sys.stderr)
    return EXIT_OK


def warnings_for(snapshot: object) -> list[str]:
    from pgtop.model.format import visible
    from pgtop.model.records import Snapshot

    assert isinstance(snapshot, Snapshot)
    out = []
    if not snapshot.server.can_see_all:
        out.append(
            f"limited view: role {snapshot.server.current_user!r} cannot see other users' "
            f"queries and states — GRANT pg_monitor TO {snapshot.server.current_user}"
        )
    if snapshot.pooler_error:
        out.append(snapshot.pooler_error)
    return [visible(line) for line in out]  # role names come from the server: no escapes


def _open_recording(invocation: Invocation) -> Recording:
    """The recording --replay names: a file, or one server's hour files of a directory,
    starting at --at. RecordingError (one line) if it cannot be read or --at is bad."""
    from datetime import UTC, datetime

    from pgtop.collect.record import RecordingError
    from pgtop.collect.replay import load_directory, load_recording, parse_at

    path = invocation.replay
    assert path is not None  # pgtop.cli sets it for a replay
    try:
        at = parse_at(invocation.replay_at, datetime.now(UTC)) if invocation.replay_at else None
    except ValueError as exc:
        raise RecordingError(str(exc)) from None
    if path.is_dir():
        return load_directory(path, invocation.replay_server, at)
    recording = load_recording(path)
    if at is not None:
        first, last = recording.times[0], recording.times[-1]
        if not first.timestamp() - 60 <= at.timestamp() <= last.timestamp() + 60:
            raise RecordingError(
                f"{at.astimezone():%Y-%m-%d %H:%M} is outside {path.name} "
                f"({first.astimezone():%Y-%m-%d %H:%M}–{last.astimezone():%H:%M})"
            )
        recording.start = recording.index_at(at)
    return recording


def run_replay(invocation: Invocation) -> int:
    """--replay FILE|DIR: the full-screen view of a recording; with --once, its last frame
    (or the frame at --at)."""
    from pgtop.collect.record import RecordingError
    from pgtop.model.format import visible

    try:
        recording = _open_recording(invocation)
        damaged = recording.summary()
        if damaged:
            print(f"pgtop: warning: {visible(damaged)}", file=sys.stderr)
        if invocation.mode == "once":
            from pgtop.model.derive import compute_rates
            from pgtop.once import render

            wanted = recording.start if invocation.replay_at else len(recording) - 1
            at, last, _ = recording.readable(wanted, -1)
            before, first, _ = recording.readable(max(0, at - 1), -1)
            first = first if before < at else last  # no earlier frame: no rates
            # The server label: the name it was recorded under, else its address.
            recorded = recording.header.get("name") or recording.server.get("address")
            name = recorded if isinstance(recorded, str) else recording.path.name
            text = render(last, compute_rates(first, last), invocation.output_format, server=name)
            sys.stdout.write(text)
            return EXIT_OK
    except RecordingError as exc:
        print(f"pgtop: {exc}", file=sys.stderr)
        return EXIT_USAGE
    refresh = max(MIN_REFRESH, recording.median_interval() or DEFAULT_REFRESH)
    return run_app(Target(refresh=refresh, read_only=True), None, mouse=invocation.mouse,
                    replay=recording)  # fmt: skip


def _early_screen(poll: asyncio.Future[Snapshot], target: Target) -> None:
    """The first poll drawn while Textual still imports (ui/early_screen.py)."""
    if poll.cancelled() or poll.exception() is not None:
        return  # the app says why
    from pgtop.ui import alt_screen, early_screen

    try:
        early_screen.show(poll.result(), target)
    except Exception:  # a courtesy: the app's own first frame follows in a moment anyway
        alt_screen.restore()


def _import_app(pooler: str | None = None) -> type[PgTopApp]:
    """The app's class, imported on a thread while the first poll runs; `pooler`, a
    --pooler URI, is checked there too (it imports psycopg). Raises CollectError("usage")."""
    if pooler is not None:
        from pgtop.collect.errors import CollectError
        from pgtop.target import pooler_uri_problem

        problem = pooler_uri_problem(pooler)
        if problem:
            raise CollectError(problem, "usage")
    from pgtop.ui.app import PgTopApp

    return PgTopApp


def run_app(
    target: Target,
    password: str | None,
    *,
    mouse: bool,
    record: str | None = None,
    replay: Recording | None = None,
) -> int:
    if not sys.stdout.isatty() and not os.environ.get("PGTOP_FORCE_TTY"):
        print("pgtop: standard output is not a terminal; use --once for scripts", file=sys.stderr)
        return EXIT_USAGE
    recorder: Recorder | None = None
    if record:  # only then: gzip, a writer thread and the codec (start-up time)
        from pathlib import Path

        from pgtop.collect.record import Recorder, RecordingError

        try:
            recorder = Recorder(Path(record))
        except RecordingError as exc:
            print(f"pgtop: {exc}", file=sys.stderr)
            return EXIT_USAGE

    async def main() -> PgTopApp | CollectError | NoPassword:
        importing = asyncio.ensure_future(asyncio.to_thread(_import_app, target.pooler))
        head_start, pw = None, password
        if replay is None:
            # Connect and poll while Textual imports (~0.3 s): the first screen has data.
            # The connection is made before the app owns the terminal, so that a password
            # prompt or a one-line refusal reads as in psql.
            try:
                collector, pw = await with_password_prompt(
                    _connected_collector, password, target.postgres.describe()
                )
            except (CollectError, NoPassword) as exc:
                if not isinstance(exc, CollectError) or exc.kind != "server":
                    with contextlib.suppress(CollectError):  # the connection's error first
                        await importing
                    return exc
                collector = None  # a server-side hiccup: the app shows it and retries
            if collector is not None:
                head_start = (collector, asyncio.ensure_future(collector.poll()))
                head_start[1].add_done_callback(
                    lambda poll: None if importing.done() else _early_screen(poll, target)
                )
        try:
            app_class = await importing
        except CollectError as exc:  # a --pooler URI libpq cannot parse: a usage error
            if head_start is not None:
                head_start[1].cancel()
                await head_start[0].close()
            return exc
        app = app_class(
            target, password=pw, recorder=recorder, replay=replay, head_start=head_start
        )
        await app.run_async(mouse=mouse)
        return app

    async def _connected_collector(pw: str | None) -> PostgresCollector:
        collector = postgres_collector(target, pw)
        await collector.connect()
        return collector

    from pgtop.collect.errors import CollectError
    from pgtop.collect.monitor import postgres_collector
    from pgtop.collect.postgres import PostgresCollector
    from pgtop.password_prompt import NoPassword, with_password_prompt

    try:
        app = asyncio.run(main())
    except KeyboardInterrupt:  # ctrl+c before the app took the terminal (it quits there)
        if recorder is not None:
            recorder.close()
        return EXIT_FAILURE
    finally:
        held = sys.modules.get("pgtop.ui.alt_screen")  # imported if the early screen drew
        if held is not None:
            held.restore()  # if the app never took the terminal over from it
    if isinstance(app, CollectError | NoPassword):
        if recorder is not None:
            recorder.close()
        print(f"pgtop: {app}", file=sys.stderr)
        usage = isinstance(app, CollectError) and app.kind == "usage"
        return EXIT_USAGE if usage else EXIT_FAILURE  # as --once
    if recorder is not None:
        recorder.close()  # normally done on unmount already; this is a no-op then
        done = recorder.error or f"recorded {recorder.frames} frames to {record}"
        print(f"pgtop: {done}", file=sys.stderr)
    if app.exit_message:
        print(f"pgtop: {app.exit_message}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK
