-- Blockers of lock waiters whose earlier answer no longer holds (collect/blockers.py):
-- read in the same poll, so a waiter is never shown without them.
SELECT w.pid, pg_blocking_pids(w.pid) AS blocked_by
  FROM unnest($1::int[]) AS w(pid)
