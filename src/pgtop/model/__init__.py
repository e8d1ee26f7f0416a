"""pgtop's records and the pure functions over them: what a poll said (records, host),
which session is which (identity), and what to show of it (derive, view, filter, locks,
capacity, pooler_join, history, format, export, codec). No I/O, no Textual, no import of
another pgtop package (see docs/design.md).

Every record here is frozen: whoever builds one (a collector, the replay) never changes
it. The one mutable object is `history.History`, written only by the object that holds it.
"""
