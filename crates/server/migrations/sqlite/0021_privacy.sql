-- GDPR (docs/gdpr.md). When a verification's personal fields were erased (by retention or a
-- data-subject request); the retention job finds the ones still holding them by this index.
ALTER TABLE verifications ADD COLUMN personal_erased_at INTEGER;
CREATE INDEX verifications_retention ON verifications (brand, created_at) WHERE personal_erased_at IS NULL;

-- The logs beside them have retention periods of their own ([retention] in the configuration).
CREATE INDEX verifications_review_notes ON verifications (created_at) WHERE review_note IS NOT NULL;
CREATE INDEX webhook_deliveries_settled ON webhook_deliveries (settled_at) WHERE status <> 'pending';

-- The audit log as a chain: each entry carries its number and a keyed hash over itself and the
-- entry before. The head is one row that every writer locks, so that entries form one chain with
-- several instances; `anchor_*` is the last entry removed by retention, where the chain now starts.
ALTER TABLE admin_audit ADD COLUMN seq INTEGER;
ALTER TABLE admin_audit ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX admin_audit_seq ON admin_audit (seq);
CREATE TABLE audit_chain (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    anchor_seq INTEGER NOT NULL,
    anchor_hash TEXT NOT NULL
);
INSERT INTO audit_chain (id, seq, hash, anchor_seq, anchor_hash) VALUES (1, 0, '', 0, '');

-- The register of data-subject requests (Art. 15 and 17), with the deadline of Art. 12(3).
CREATE TABLE privacy_requests (
    id TEXT PRIMARY KEY,
    brand TEXT NOT NULL,
    kind TEXT NOT NULL,
    named_by TEXT NOT NULL,
    reference TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    answered_at INTEGER,
    answered_by TEXT,
    outcome TEXT
);
CREATE INDEX privacy_requests_by_brand ON privacy_requests (brand, received_at);
