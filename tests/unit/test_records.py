"""The cheap ways to build a Session (model/records.py) give exactly what its own
constructor and `_replace` give, and a record as frozen."""

import pickle

import pytest
from builders import ago, session

from pgtop.model.records import Session, new_session, replace_session
from support.records import replace


def test_new_session_is_the_session_its_constructor_builds() -> None:
    like = session(4242, "active", blocked_by=(7, 8), backend_xmin="123")
    values = [getattr(like, name) for name in Session._fields]
    built = new_session(*values)
    assert type(built) is Session
    assert built == like and hash(built) == hash(like) and repr(built) == repr(like)
    assert built.is_client and built.client == like.client
    assert pickle.loads(pickle.dumps(built)) == like
    # Defaults and keywords as the constructor takes them.
    assert new_session(*values[:15]) == Session(*values[:15])
    assert new_session(*values[:15], blocked_by=(3,)).blocked_by == (3,)


def test_a_session_built_cheaply_stays_frozen() -> None:
    built = new_session(*session(1))
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
