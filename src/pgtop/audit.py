"""The audit log: every cancel, terminate and PgBouncer command, so a DBA can later say
what was hit.

One JSON object per line in `platformdirs.user_state_dir("pgtop")/audit.log` (or
$PGTOP_STATE_DIR/audit.log), appended, mode 0600. JSON with ensure_ascii: every control,
C1 and bidi character from the server is stored as a \\u escape, so reading the log in a
terminal cannot be hijacked. Each append is whole lines or nothing (see private_file).
The file is the only state: `record_actions` (signals) and `record_pooler_commands`
(PgBouncer admin commands, a line per process) are its writers, through `_append`, called
by the acting code after each act; nothing in pgtop rewrites or truncates it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from pgtop.collect.actions import ActionResult
from pgtop.collect.pooler_commands import CommandResult
from pgtop.model.format import visible
from pgtop.model.pooler_records import PoolerClient
from pgtop.model.records import Session
from pgtop.private_file import PrivateFileError, append_whole, open_private_append

QUERY_HEAD = 200
STATE_ENV = "PGTOP_STATE_DIR"


def audit_path() -> Path:
    override = os.environ.get(STATE_ENV)
    if override:
        return Path(override) / "audit.log"
    import platformdirs

    return Path(platformdirs.user_state_dir("pgtop")) / "audit.log"


def record_actions(
    server: str, sessions: Iterable[Session], results: Iterable[ActionResult]
) -> str | None:
    """Append one line per result; returns a one-line error instead of raising."""
    by_pid = {s.pid: s for s in sessions}
    now = datetime.now(UTC).isoformat()
    lines = []
    for r in results:
        s = by_pid.get(r.pid)
        lines.append(
            json.dumps(
                {
                    "time": now,
                    "server": server,
                    "action": r.kind,
                    "pid": r.pid,
                    "backend_start": r.backend_start.isoformat() if r.backend_start else None,
                    "user": s.user if s else None,
                    "database": s.database if s else None,
                    "application": s.application if s else None,
                    "client": s.client if s else None,
                    "query": s.query[:QUERY_HEAD] if s else None,
                    "result": r.outcome,
                    "detail": r.detail,
                },
                ensure_ascii=True,
            )
        )
    return _append(lines)


def record_pooler_commands(
    pooler: str,
    database: str,
    client: PoolerClient | None,
    results: Iterable[CommandResult],
) -> str | None:
    """One line per PgBouncer process the command went to; a one-line error or None."""
    now = datetime.now(UTC).isoformat()
    lines = [
        json.dumps(
            {
                "time": now,
                "pooler": pooler,
                "process": r.process,
                "action": f"pgbouncer {r.kind}",
                "database": database,
                "client_id": client.id if client else None,
                "client": client.address if client else None,
                "application": client.application_name if client else None,
                "result": r.outcome,
                "detail": r.detail,
            },
            ensure_ascii=True,
        )
        for r in results
    ]
    return _append(lines)


def _append(lines: list[str]) -> str | None:
    path = audit_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = open_private_append(path)
        try:
            append_whole(fd, "".join(line + "\n" for line in lines).encode())
        finally:
            os.close(fd)
    except PrivateFileError as exc:
        return visible(f"not recorded in the audit log: {exc}")
    except OSError as exc:
        return visible(f"not recorded in the audit log {path}: {exc.strerror or exc}")
    return None
