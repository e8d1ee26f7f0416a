"""The headless runner: members polled, recorded and served as metrics until told to stop.

`HeadlessRunner` owns its members (headless/member.py), their HourRecorders and the
Pruner (headless/files.py) and the metrics HTTP server. Everything runs on one event loop;
the HTTP server's thread reads only `published`, a tuple of immutable ServerMetrics that
the loop replaces after each poll. `run_headless` adds what a service needs: SIGTERM and
SIGINT stop it cleanly (exit 0), SIGHUP reopens its files; log lines go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pgtop.collect.errors import CollectError
from pgtop.headless.files import (
    Clock,
    HourRecorder,
    Log,
    Pruner,
    SystemClock,
    human_bytes,
    human_span,
)
from pgtop.headless.member import Member
from pgtop.headless.options import HeadlessOptions
from pgtop.metrics.exposition import FindingLike, ServerMetrics, registry_for
from pgtop.model.records import Snapshot
from pgtop.target import Target

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

# What findings a snapshot has (model/findings.py, plugged in by the caller), for metrics.
FindingsOf = Callable[[Snapshot], Iterable[FindingLike]]


# pgtop.exit_codes' values (a layer above this one): connection failure, bad usage.
EXIT_FAILURE, EXIT_USAGE = 1, 2


class HeadlessError(Exception):
    """The runner cannot start (the directory, the listen address): one line, exit 1."""


def stderr_log(line: str) -> None:
    # A timestamp of our own: a container's log has none, and journald's shows both fine.
    # A log that went away (journald restarting) must not stop the recording.
    with contextlib.suppress(OSError, ValueError):
        print(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} pgtop: {line}", file=sys.stderr, flush=True)


class HeadlessRunner:
    """Polls `members` ((name, Target) pairs, names unique), recording each into
    options.record_dir and/or serving metrics on options.metrics_listen."""

    def __init__(
        self,
        members: Sequence[tuple[str, Target]],
        options: HeadlessOptions,
        *,
        clock: Clock | None = None,
        log: Log = stderr_log,
        findings: FindingsOf | None = None,
    ) -> None:
        names = [name for name, _ in members]
        if not names:
            raise HeadlessError("nothing to watch")
        if len(set(names)) != len(names):
            raise HeadlessError(f"server names must differ: {', '.join(names)}")
        self.options = options
        self.clock = clock or SystemClock()
        self.log = log
        self._findings = findings
        self.members = [Member(name, target, log, self._changed) for name, target in members]
        root = options.record_dir
        self.recorders = (
            {m.name: HourRecorder(root, m.name, self.clock, log) for m in self.members}
            if root is not None
            else {}
        )
        self.pruner = (
            Pruner(
                root,
                self.clock,
                log,
                retain_seconds=options.retain_seconds,
                retain_bytes=options.retain_bytes,
            )
            if root is not None
            else None
        )
        self._metrics = {m.name: m.metrics() for m in self.members}
        self.published: tuple[ServerMetrics, ...] = tuple(self._metrics.values())
        self._stop: asyncio.Event | None = None
        self._http: WSGIServer | None = None
        self.listening: tuple[str, int] | None = None  # the metrics address, once bound
        self.exit_code = 0

    # -- what the pollers report --------------------------------------------------------

    def _changed(self, member: Member, snap: Snapshot | None) -> None:
        if snap is not None and member.name in self.recorders:
            self.recorders[member.name].record(snap)
            assert self.pruner is not None
            self.pruner.maybe_prune(self.open_files())
        if self._findings is not None:
            found = self._findings(snap) if snap is not None else None
        else:  # the state derives them once per snapshot, with the member's thresholds
            found = member.state.frame.findings if snap is not None else None
        self._metrics[member.name] = member.metrics(found)
        self.published = tuple(self._metrics.values())  # one reference swap: thread-safe
        if member.unusable and all(m.unusable for m in self.members):
            # Nothing will ever be polled: a service manager should see a failure.
            self.exit_code = EXIT_USAGE
            self.log("no server can be polled with these settings: stopping")
            self.stop()

    def open_files(self) -> set[Path]:
        return {r.path for r in self.recorders.values() if r.path is not None}

    # -- control ------------------------------------------------------------------------

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()

    def reopen(self) -> None:
        """SIGHUP: finish every file; each server's next frame opens a new one."""
        if not self.recorders:
            self.log("SIGHUP: nothing to reopen (not recording)")
            return
        self.log("SIGHUP: reopening the recordings")
        for recorder in self.recorders.values():
            recorder.reopen()

    # -- running ------------------------------------------------------------------------

    def _start_http(self) -> None:
        if self.options.metrics_listen is None:
            return
        from prometheus_client import start_http_server

        host, port = self.options.metrics_listen
        try:
            self._http, _ = start_http_server(port, host, registry_for(lambda: self.published))
        except OSError as exc:
            raise HeadlessError(
                f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}"
            ) from None
        self.listening = (host, self._http.server_port)
        self.log(f"serving OpenMetrics on http://{_hostport(host, self.listening[1])}/metrics")

    def _start_files(self) -> None:
        root = self.options.record_dir
        if root is None:
            return
        try:
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise HeadlessError(f"cannot create {root}: {exc.strerror or exc}") from None
        if not root.is_dir():
            raise HeadlessError(f"{root} is not a directory")
        keep = []
        if self.options.retain_seconds:
            keep.append(human_span(timedelta(seconds=self.options.retain_seconds)))
        if self.options.retain_bytes:
            keep.append(human_bytes(self.options.retain_bytes))
        self.log(f"recording to {root}" + (f", keeping {' and '.join(keep)}" if keep else ""))
        assert self.pruner is not None
        self.pruner.prune(set())

    async def run(self) -> None:
        """Poll until stop(); HeadlessError if it cannot start."""
        self._stop = asyncio.Event()
        self._start_files()
        self._start_http()
        names = ", ".join(f"{m.name} ({m.postgres.address})" for m in self.members)
        self.log(f"started, polling {names} every {self.members[0].target.refresh:g} s")
        tasks = [t for m in self.members for t in m.start()]
        try:
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for recorder in self.recorders.values():
                recorder.close()
            for member in self.members:
                with contextlib.suppress(CollectError, OSError, TimeoutError):
                    await asyncio.wait_for(member.close(), 5)
            if self._http is not None:
                self._http.shutdown()
                self._http.server_close()
            self.log("stopped")


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def run_headless(
    members: Sequence[tuple[str, Target]],
    options: HeadlessOptions,
    *,
    findings: FindingsOf | None = None,
) -> int:
    """The service: run until SIGTERM/SIGINT (exit 0); 1 if it cannot start, 2 if no
    server can ever be polled with the settings given."""

    async def main() -> int:
        runner = HeadlessRunner(members, options, findings=findings)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, _stopping(runner, "SIGTERM"))
        loop.add_signal_handler(signal.SIGINT, _stopping(runner, "SIGINT"))
        loop.add_signal_handler(signal.SIGHUP, runner.reopen)
        await runner.run()
        return runner.exit_code

    try:
        return asyncio.run(main())
    except HeadlessError as exc:
        print(f"pgtop: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _stopping(runner: HeadlessRunner, name: str) -> Callable[[], None]:
    def stop() -> None:
        runner.log(f"{name}: stopping")
        runner.stop()

    return stop
