-- The key ring (docs/configuration.md, "Keys"): every key that protects stored data, each wrapped
-- (encrypted) by the master secret named by `master_id`, so that rotating the master re-wraps
-- keys, not data. `purpose`: data (encrypts numbers and secrets), lookup (keyed hashes of
-- numbers, ranges, devices, networks), pseudonym (customer ids), internal (code hashes, hosted
-- page tokens, the audit chain). A key is used from `active_from`; `retired_at` once nothing needs it.
CREATE TABLE keyring (
    purpose TEXT NOT NULL,
    generation BIGINT NOT NULL,
    wrapped BYTEA NOT NULL,
    master_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    active_from BIGINT NOT NULL,
    retired_at BIGINT,
    PRIMARY KEY (purpose, generation)
);

-- Which look-up key made a verification's keyed hashes, and the shop's device id sealed (erased
-- with the number), so that a rotation can key them again.
ALTER TABLE verifications ADD COLUMN lookup_key BIGINT NOT NULL DEFAULT 1;
ALTER TABLE verifications ADD COLUMN device_enc BYTEA;
-- A number or device entry keeps what was written, encrypted, so that it can be re-keyed too.
ALTER TABLE risk_lists ADD COLUMN value_enc BYTEA;
ALTER TABLE risk_lists ADD COLUMN lookup_key BIGINT NOT NULL DEFAULT 1;
