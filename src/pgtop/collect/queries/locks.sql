-- Locks held and awaited by one backend: run only while the inspect screen shows it.
SELECT l.locktype,
       l.mode,
       l.granted,
       CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END AS relation,
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
