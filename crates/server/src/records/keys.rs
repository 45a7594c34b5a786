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

/// What a key of the ring is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyPurpose {
    /// Encrypts numbers, queued SMS, list values and stored secrets; rotated with re-encryption.
    Data,
    /// Keyed hashes of numbers, ranges, devices and networks; rotated with an overlap in which
    /// both keys are matched.
    Lookup,
    /// Customer pseudonyms: stable (docs/configuration.md, "Keys").
    Pseudonym,
    /// Code hashes, hosted page tokens, sign-in throttling and the audit chain: never rotated.
    Internal,
}

impl KeyPurpose {
    pub const ALL: [KeyPurpose; 4] = [Self::Data, Self::Lookup, Self::Pseudonym, Self::Internal];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Lookup => "lookup",
            Self::Pseudonym => "pseudonym",
            Self::Internal => "internal",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// A key of the key ring as stored: wrapped by the master secret `master_id` names.
#[derive(Debug, Clone)]
pub struct KeyringRow {
    pub purpose: KeyPurpose,
    pub generation: u32,
    pub wrapped: Vec<u8>,
    pub master_id: String,
    pub created_at: i64,
    pub active_from: i64,
    pub retired_at: Option<i64>,
}
