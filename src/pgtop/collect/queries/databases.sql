-- Per-database limits and counters, plus the server's clock for this poll.
SELECT d.datname,
       d.datconnlimit,
       d.datallowconn,
       coalesce(s.xact_commit, 0) AS xact_commit,
       coalesce(s.xact_rollback, 0) AS xact_rollback,
       statement_timestamp() AS now,
       pg_is_in_recovery() AS in_recovery,
       -- How old an xmin is (findings: old snapshot); reads shared memory, assigns no xid.
       txid_snapshot_xmax(txid_current_snapshot()) AS next_xid
  FROM pg_database AS d
  LEFT JOIN pg_stat_database AS s ON s.datid = d.oid
 WHERE NOT d.datistemplate
 ORDER BY d.datname
