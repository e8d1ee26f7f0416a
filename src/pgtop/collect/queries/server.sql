-- Facts that rarely change, refreshed every ~30 s rather than every tick.
-- reset_val, not setting: pgtop SETs its own timeouts, and the pane must show the server's.
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       pg_postmaster_start_time() AS start_time,
       current_user AS current_user,
       (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid())
         AS own_backend_start,
       -- Superuser-only: NULL for others (pg_settings hides the row), then "/" is used.
       (SELECT setting FROM pg_settings WHERE name = 'data_directory') AS data_directory,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
         OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS can_see_all,
       coalesce((SELECT json_agg(json_build_array(rolname, rolconnlimit) ORDER BY rolname)
                   FROM pg_roles WHERE rolcanlogin AND rolconnlimit >= 0), '[]')::text AS role_limits,
       coalesce((SELECT json_agg(json_build_array(name, reset_val, unit, source, pending_restart)
                                 ORDER BY name)
                   FROM pg_settings WHERE name = ANY($1::text[])), '[]')::text AS settings
