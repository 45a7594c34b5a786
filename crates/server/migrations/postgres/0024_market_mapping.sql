-- The brand figure each published market series is set beside (`compare_with` in the imported
-- file: confirmed_fraud, losses, sim_swaps, …); NULL for figures shown as context only.
ALTER TABLE market_reference ADD COLUMN compare_with TEXT;

-- The counters gain the orders stopped (`stopped`, `stopped_value`) for the losses-avoided
-- estimate: count the whole event log again.
DELETE FROM rollups;
DELETE FROM rollups_daily;
DELETE FROM rollups_minutely;
UPDATE rollup_state SET last_event_id = 0 WHERE id = 1;

-- (No index by event type: loading ten million events took 568 s with one instead of 88 s. The
-- orders behind a figure walk the brand's events of at most 31 days by (brand, at).)
-- The market comparison reads every brand's daily counters of a span.
CREATE INDEX rollups_daily_day ON rollups_daily (day, dimension);
