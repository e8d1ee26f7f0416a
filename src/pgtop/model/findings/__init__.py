"""Findings: what one poll means (why clients wait, who holds the slots, storms, old
snapshots, lock piles, leaks), derived from data pgtop already has. Pure.

base.py the `Finding` record; history.py what the caller keeps between polls;
pooler.py, server.py, sessions.py one function per kind; derive.py runs them. The
thresholds are model/thresholds.py's, named here too.
"""

from pgtop.model.findings.base import KINDS, Finding, Severity
from pgtop.model.findings.derive import derive_findings, worst
from pgtop.model.findings.history import FindingHistory
from pgtop.model.thresholds import DEFAULT_THRESHOLDS, THRESHOLD_NAMES, Thresholds, thresholds_from

__all__ = [
    "DEFAULT_THRESHOLDS",
    "KINDS",
    "THRESHOLD_NAMES",
    "Finding",
    "FindingHistory",
    "Severity",
    "Thresholds",
    "derive_findings",
    "thresholds_from",
    "worst",
]
