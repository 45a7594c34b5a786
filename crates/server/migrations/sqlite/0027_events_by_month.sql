-- The event log in monthly partitions: PostgreSQL only. SQLite keeps one table, and an archived
-- month's events are deleted from it.
SELECT 1;
