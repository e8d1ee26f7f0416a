"""pgtop's figures as Prometheus metrics (OpenMetrics text), for `--once --format
openmetrics` and the headless recorder's `--metrics-listen` endpoint (metrics/exposition.py).
"""
