-- The fleet's one statement per tick for a server in the background (collect/summary.py):
-- counts and ages computed by the server, never the session list. Connections are
-- counted as the limits pane counts them (client backends, pgtop's own included) against
-- max_connections minus the reserved slots (model/capacity.py, Limits).
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved,
       -- PostgreSQL 16+; missing_ok gives NULL before.
       current_setting('reserved_connections', true)::int AS reserved,
       a.client_connections, a.active, a.idle_in_transaction, a.waiting_on_lock,
       a.oldest_xact_s,
       -- Over the databases the full poll counts (databases.sql), so that the rate does
       -- not jump when a server comes on screen.
       (SELECT coalesce(sum(s.xact_commit + s.xact_rollback), 0)::bigint
          FROM pg_database AS d JOIN pg_stat_database AS s ON s.datid = d.oid
         WHERE NOT d.datistemplate) AS transactions,
       pg_is_in_recovery() AS in_recovery,
       statement_timestamp() AS now
  -- As the sessions pane counts: client backends only, pgtop's own left out of states.
  FROM (SELECT count(*) AS client_connections,
               count(*) FILTER (WHERE state = 'active' AND NOT own) AS active,
               count(*) FILTER (WHERE state LIKE 'idle in transaction%') AS idle_in_transaction,
               count(*) FILTER (WHERE wait_event_type = 'Lock') AS waiting_on_lock,
               extract(epoch FROM statement_timestamp()
                                  - min(xact_start) FILTER (WHERE NOT own))::float8
                 AS oldest_xact_s
          FROM (SELECT state, wait_event_type, xact_start, pid = pg_backend_pid() AS own
                  FROM pg_stat_activity
                 WHERE backend_type = 'client backend') AS s) AS a
