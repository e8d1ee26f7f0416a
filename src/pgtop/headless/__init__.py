"""`pgtop --headless`: poll servers with no terminal, record every poll into hour files
with retention, and serve OpenMetrics over HTTP.

options.py parses the command line's values; files.py writes one server's hour files and
prunes the directory; member.py polls one server; runner.py runs them all until SIGTERM.
"""
