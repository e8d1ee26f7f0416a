-- Locks held and awaited by one backend: run only while the inspect screen shows it.
SELECT l.locktype,
       l.mode,
       l.granted,
       -- regclass resolves names in pgtop's own database only; elsewhere say where it is.
       CASE WHEN l.relation IS NULL THEN NULL
            WHEN l.database IN (0, (SELECT oid FROM pg_database
                                     WHERE datname = current_database()))
            THEN l.relation::regclass::text
            ELSE 'oid ' || l.relation || ' in ' ||
                 coalesce((SELECT quote_ident(datname) FROM pg_database
                            WHERE oid = l.database), '?')
       END AS relation,
       concat_ws(' ',
                 CASE WHEN l.transactionid IS NOT NULL THEN 'xid ' || l.transactionid END,
                 CASE WHEN l.virtualxid IS NOT NULL THEN 'vxid ' || l.virtualxid END,
                 CASE WHEN l.page IS NOT NULL THEN 'page ' || l.page END,
                 CASE WHEN l.tuple IS NOT NULL THEN 'tuple ' || l.tuple END,
                 CASE WHEN l.locktype IN ('object', 'advisory', 'userlock')
                      THEN 'obj ' || l.classid || '/' || l.objid || '/' || l.objsubid END
       ) AS detail
  FROM pg_locks AS l
 WHERE l.pid = $1
 ORDER BY l.granted, l.locktype, relation
