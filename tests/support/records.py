"""`replace` for tests: pgtop's poll records (model/records.py) are NamedTuples, changed
with `._replace`; the pooler's records and the profiles are dataclasses. A test changes
either the same way."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

R = TypeVar("R")


def replace(record: R, **changes: Any) -> R:
    if dataclasses.is_dataclass(record):
        return dataclasses.replace(record, **changes)  # type: ignore[type-var]
    return record._replace(**changes)  # type: ignore[attr-defined, no-any-return]
