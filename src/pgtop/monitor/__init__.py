"""One server, without a terminal: its state (state.py) and the feed that writes it."""
