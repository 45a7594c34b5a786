-- Where the counting of a rebuild starts: events before it belong to months archived past the
-- event-log horizon, whose counters a rebuild keeps; any of their events still in the log are
-- passed over, not counted a second time.
ALTER TABLE rollup_state ADD COLUMN counted_from BIGINT NOT NULL DEFAULT 0;
