-- When the telco's network was last asked about the verification's number (SIM swap, device
-- swap): a resend long after it asks again.
ALTER TABLE verifications ADD COLUMN network_checked_at INTEGER;
