-- Every backend but pgtop's own. Before PostgreSQL 14 a.query_id reads NULL::bigint.
--
-- $3/$4: idle sessions pgtop already holds, with their state_change. Such a session
-- cannot have changed since: anything it does is a statement, which moves state_change.
-- Those rows are not sent again (at 1,000 mostly idle sessions that is ~70 % of the rows
-- and ~20 % of this statement's time); the last row lists every live backend's pid, so
-- pgtop can tell which of them still exist. Both read the same activity snapshot: it is
-- taken once per transaction.
--
-- $2/$5/$6/$7: waits whose blockers pgtop knows from a recent poll (collect/blockers.py):
-- pid, backend_start, state_change, wait_event. A waiter still in that same wait is not
-- asked again; one in any other wait is asked now.
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
       a.query_id,
       a.backend_xid::text AS backend_xid,
       -- As text, not age(): an idle row is not sent again, and its age grows meanwhile.
       a.backend_xmin::text AS backend_xmin,
       -- pg_blocking_pids() is costly, so it runs only for sessions waiting on a lock.
       CASE WHEN a.wait_event_type = 'Lock' AND reused.pid IS NULL
            THEN pg_blocking_pids(a.pid) END AS blocked_by,
       NULL::int[] AS live_pids
  FROM pg_stat_activity AS a
  LEFT JOIN unnest($3::int[], $4::timestamptz[]) AS known(pid, state_change)
         ON known.pid = a.pid AND known.state_change = a.state_change
        AND a.state LIKE 'idle%'
  LEFT JOIN unnest($2::int[], $5::timestamptz[], $6::timestamptz[], $7::text[])
            AS reused(pid, backend_start, state_change, wait_event)
         ON reused.pid = a.pid AND reused.backend_start = a.backend_start
        AND reused.state_change = a.state_change AND reused.wait_event = a.wait_event
 WHERE a.pid <> ALL($1::int[])
   AND known.pid IS NULL
 UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL,
       (SELECT array_agg(pg_stat_get_backend_pid(i)) FROM pg_stat_get_backend_idset() AS i)
