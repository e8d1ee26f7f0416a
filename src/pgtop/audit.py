"""The audit log: every cancel and terminate, so a DBA can later say what was hit.

One JSON object per line in `platformdirs.user_state_dir("pgtop")/audit.log` (or
$PGTOP_STATE_DIR/audit.log), appended, mode 0600.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from pgtop.collect.actions import ActionResult
from pgtop.model.records import Session

QUERY_HEAD = 200


def audit_path() -> Path:
    override = os.environ.get("PGTOP_STATE_DIR")
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
                ensure_ascii=False,
            )
        )
    path = audit_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
    except OSError as exc:
        return f"could not write the audit log {path}: {exc.strerror or exc}"
    return None
