-- Recent activity per subject (a number across brands, a customer, a client network, a device, a
-- number range): one small JSON value each, locked, read and written back in the transaction of
-- the verification it counts, so hard limits hold exactly under parallel requests. Rows of
-- subjects idle for longer than the longest window are deleted by the sweeper.
CREATE TABLE risk_activity (
    subject TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX risk_activity_updated ON risk_activity (updated_at);
-- The receipt of an approved verification, signed once at approval and returned unchanged.
ALTER TABLE verifications ADD COLUMN receipt TEXT;
-- Keyed references of the number's range and the shop's device id, for the counts of later checks.
ALTER TABLE verifications ADD COLUMN range_ref TEXT;
ALTER TABLE verifications ADD COLUMN device_ref TEXT;
