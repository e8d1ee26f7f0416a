"""DemoSite: what every demo shares, whatever servers it starts (environment.py's one
PostgreSQL + PgBouncer, fleet.py's three servers).

A DemoSite owns its temp dir under /tmp (leftovers.PREFIX, claimed so that a later demo
sweeps what a SIGKILL left, after sweeping the dead demos itself), the PGTOP_STATE_DIR and
PGTOP_CONFIG it points into that dir while it runs (pgtop's audit log and profiles never
reach the user's real state), and the teardown: start() is everything or nothing, close()
is idempotent and registered with atexit, so a path that skips the `finally` still stops
the servers and removes the dir. Subclasses start and stop their own servers and load in
_start_servers()/_stop_servers(); the helpers below build those servers the demo's way
(one generated password, die_with_parent, the dirs handed to the servers' OS user).
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Self

from pgtop.audit import STATE_ENV
from pgtop.demo import leftovers
from pgtop.profiles.paths import CONFIG_ENV
from pgtop.sandbox import (
    PgBouncerServer,
    PostgresServer,
    RunAs,
    SandboxError,
    find_pgbouncer,
    find_postgres_bindir,
)
from pgtop.target import ConnSettings

SUPERUSER = "postgres"

NO_POSTGRES = (
    "no PostgreSQL binaries found (/usr/lib/postgresql/*/bin, pg_ctl on PATH, or the "
    "pgserver wheel): apt-get install postgresql, or pip install 'pgtop[demo]'"
)


def say(message: str) -> None:
    """One line of progress on stderr, before the TUI takes the terminal."""
    print(f"pgtop demo: {message}", file=sys.stderr, flush=True)


def postgres_bindir() -> tuple[Path, str]:
    """The PostgreSQL binaries and where they were found, or why a demo cannot start."""
    found = find_postgres_bindir()
    if found is None:
        raise SandboxError(NO_POSTGRES)
    return found


class DemoSite:
    """`with Subclass() as demo:` gives its servers running in a private temp dir. start()
    and close() are the only writers of root and of the two environment variables."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet
        self.password = secrets.token_urlsafe(24)  # URL-safe: it goes into URIs as is
        self.root: Path | None = None  # None again once close() removed it
        self.removed: Path | None = None  # the dir close() removed, to say so
        self.started_in = 0.0
        self._saved_env: dict[str, str | None] = {}

    def _say(self, message: str) -> None:
        if not self.quiet:
            say(message)

    # -- start -------------------------------------------------------------------------
    def start(self) -> Self:
        """Everything or nothing: a failure tears down what was started, then raises."""
        t0 = time.monotonic()
        try:
            self._start_servers()
        except BaseException:
            self.close()
            raise
        self.started_in = time.monotonic() - t0
        return self

    def _start_servers(self) -> None:
        raise NotImplementedError

    def _open_root(self, run_as: RunAs) -> Path:
        """Sweep the dead demos, then make, claim and hand over this one's dir."""
        owners = {os.geteuid(), *([run_as.uid] if run_as.uid is not None else [])}
        for root, stopped in leftovers.sweep(owners):
            servers = f", stopped {stopped} of its processes" if stopped else ""
            self._say(f"removed {root}, left by a demo that could not clean up{servers}")
        # Short path under /tmp: a unix socket path must stay under ~107 bytes.
        self.root = root = Path(tempfile.mkdtemp(prefix=leftovers.PREFIX))
        atexit.register(self.close)
        leftovers.claim(root)
        for name, value in {STATE_ENV: "state", CONFIG_ENV: "config.toml"}.items():
            self._saved_env[name] = os.environ.get(name)
            os.environ[name] = str(root / value)
        run_as.hand_over(root)
        return root

    def _subdir(self, name: str, run_as: RunAs) -> Path:
        assert self.root is not None
        sub = self.root / name
        sub.mkdir()
        run_as.hand_over(sub)
        return sub

    def _postgres(
        self, bindir: Path, run_as: RunAs, root: Path, max_connections: int, **more: Any
    ) -> PostgresServer:
        """A PostgreSQL that asks for the demo's password (TCP and socket alike) and dies
        with pgtop, quiet in its log (cancelled queries would fill it)."""
        return PostgresServer(
            bindir,
            superuser=SUPERUSER,
            password=self.password,
            settings={"log_min_messages": "fatal", "max_connections": max_connections},
            run_as=run_as,
            root=root,
            die_with_parent=True,  # immediate shutdown if pgtop is SIGKILLed
            start_timeout=30,
            **more,
        )

    def _pgbouncer(
        self, server: PostgresServer, users: dict[str, str], pool_size: int, **more: Any
    ) -> PgBouncerServer | None:
        """A started PgBouncer in front of `server` whose console the superuser reads, or
        None when there is no PgBouncer binary."""
        binary = find_pgbouncer()
        if binary is None:
            return None
        bouncer = PgBouncerServer(
            server,
            users=users,
            admin_users=[SUPERUSER],  # pgtop watches the console as the superuser
            pool_mode="transaction",
            default_pool_size=pool_size,
            # the bursts would write a line per client
            settings={"log_connections": 0, "log_disconnections": 0},
            binary=binary,
            root=self._subdir("pgbouncer", server.run_as),
            die_with_parent=True,
            **more,
        )
        bouncer.setup()
        return bouncer

    def _conn_settings(self, server: PostgresServer) -> ConnSettings:
        """How pgtop logs in to `server`: the superuser, the demo's password."""
        return ConnSettings({
            "host": server.host,
            "port": str(server.port),
            "user": SUPERUSER,
            "password": self.password,
            "dbname": "postgres",
            "sslmode": "disable",  # loopback only; saves the TLS probe
        })  # fmt: skip

    def load_error(self) -> str | None:
        """Why the demo's load stopped, if it did: said once the servers are gone."""
        return None

    # -- stop --------------------------------------------------------------------------
    def _stop_servers(self) -> None:
        """Stop the load and the servers, never raising; idempotent."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop everything, remove the temp dir, give the environment back. Idempotent."""
        try:
            self._stop_servers()
        finally:
            if self.root is not None:
                shutil.rmtree(self.root, ignore_errors=True)
                self.removed, self.root = self.root, None
            saved, self._saved_env = self._saved_env, {}
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            atexit.unregister(self.close)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
