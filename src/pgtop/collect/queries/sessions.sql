-- Every backend but pgtop's own. Before PostgreSQL 14 a.query_id reads NULL::bigint.
--
-- What is not sent again, so that the work of a poll follows what changed:
-- $6: the server's clock at pgtop's last poll, less a second (NULL: send every row). An
-- idle session whose state_change is older has not changed since pgtop read it: anything
-- it does is a statement, which moves state_change. Nothing is sent to the server per
-- session for this (at 1,000 mostly idle sessions, the pid and timestamp arrays that did
-- it cost the client more than the rows they saved).
-- $7/$8: sessions running a statement (not waiting on a lock), with the hash pgtop holds
-- of what moves while a statement runs (state_change, wait event, xid, xmin). A long
-- query is not sent again while its hash holds.
-- The last row lists every live backend's pid, so pgtop can tell which of the sessions not
-- sent still exist. Both read the same activity snapshot: it is taken once per transaction.
--
-- $2-$5: waits whose blockers pgtop knows from a recent poll (collect/blockers.py):
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
       NULL::int[] AS live_pids,
       running.hash AS running_hash
  FROM pg_stat_activity AS a
  CROSS JOIN LATERAL (
        SELECT CASE WHEN a.state = 'active' AND a.wait_event_type IS DISTINCT FROM 'Lock'
                    THEN hashtext(concat_ws(' ', a.state_change, a.wait_event_type,
                                            a.wait_event, a.backend_xid, a.backend_xmin))
               END AS hash) AS running
  LEFT JOIN unnest($2::int[], $3::timestamptz[], $4::timestamptz[], $5::text[])
            AS reused(pid, backend_start, state_change, wait_event)
         ON reused.pid = a.pid AND reused.backend_start = a.backend_start
        AND reused.state_change = a.state_change AND reused.wait_event = a.wait_event
  LEFT JOIN unnest($7::int[], $8::int[]) AS held(pid, hash)
         ON held.pid = a.pid AND held.hash = running.hash
 WHERE a.pid <> ALL($1::int[])
   AND NOT coalesce(a.state LIKE 'idle%' AND a.state_change < $6::timestamptz, false)
   AND held.pid IS NULL
 UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL,
       (SELECT array_agg(pg_stat_get_backend_pid(i)) FROM pg_stat_get_backend_idset() AS i),
       NULL
