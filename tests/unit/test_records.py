"""A Session built by position, as the collector builds it from a row, is the one its
keywords build; it stays frozen; replace_session gives what `_replace` gives."""

import pickle

import pytest
from builders import ago, session

from pgtop.model.records import Session, replace_session
from support.records import replace


def test_a_session_built_by_position_is_the_one_keywords_build() -> None:
    like = session(4242, "active", blocked_by=(7, 8), backend_xmin="123")
    built = Session(*[getattr(like, name) for name in Session._fields])
    assert type(built) is Session
    assert built == like and hash(built) == hash(like) and repr(built) == repr(like)
    assert built.is_client and built.client == like.client
    assert pickle.loads(pickle.dumps(built)) == like


def test_a_session_stays_frozen() -> None:
    built = Session(*session(1))
    with pytest.raises(AttributeError):
        built.state = "active"  # type: ignore[misc]


def test_replace_session_is_replace() -> None:
    s = session(77, "idle in transaction", xact_start=ago(5))
    for changes in ({"blocked_by": (1, 2)}, {"state": "active", "query": "select 2"}, {}):
        got = replace_session(s, **changes)
        assert type(got) is Session and got == replace(s, **changes)
    assert s.blocked_by == () and s.state == "idle in transaction"  # the original kept
    with pytest.raises(KeyError):
        replace_session(s, no_such_field=1)
