-- Every backend but pgtop's own, PostgreSQL 10-13 (no query_id).
SELECT a.pid,
       a.backend_start,
       a.datname,
       a.usename,
       a.application_name,
       host(a.client_addr) AS client_addr,
       a.client_port,
       -- Hidden from roles without pg_monitor; a session with a database is a client.
       coalesce(a.backend_type,
                CASE WHEN a.datname IS NOT NULL THEN 'client backend' END) AS backend_type,
       a.state,
       a.wait_event_type,
       a.wait_event,
       a.xact_start,
       a.query_start,
       a.state_change,
       a.query,
       NULL::bigint AS query_id,
       a.backend_xid::text AS backend_xid,
       -- $2: waiters whose blockers pgtop still knows from a recent poll (collect/blockers.py).
       CASE WHEN a.wait_event_type = 'Lock' AND a.pid <> ALL($2::int[])
            THEN pg_blocking_pids(a.pid) END AS blocked_by
  FROM pg_stat_activity AS a
 WHERE a.pid <> ALL($1::int[])
