-- The risk decision and reasons a verification started with: the dashboards count every event of
-- the verification in that slice, though a relay or a network recheck may change its risk later.
-- NULL for verifications stored before: their events use the risk as it is when written.
ALTER TABLE verifications ADD COLUMN initial_decision TEXT;
ALTER TABLE verifications ADD COLUMN initial_reasons TEXT;
