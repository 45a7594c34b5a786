//! API keys (shown once, stored as hashes) and the keys that sign receipts.

#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiKeyInfo {
    pub id: String,
    pub brand: String,
    pub prefix: String,
    pub label: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A receipt signing key; its private half encrypted with the master secret.
#[derive(Debug, Clone)]
pub struct SigningKeyRow {
    pub kid: String,
    pub private_key_enc: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: i64,
}

/// A key of the key ring as stored: wrapped by the master secret `master_id` names.
#[derive(Debug, Clone)]
pub struct KeyringRow {
    pub purpose: crate::crypto::keyring::KeyPurpose,
    pub generation: u32,
    pub wrapped: Vec<u8>,
    pub master_id: String,
    pub created_at: i64,
    pub active_from: i64,
    pub retired_at: Option<i64>,
}
