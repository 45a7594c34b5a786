//! An allow- or block-list entry as stored.

use orderguard_domain::clock::Timestamp;
use orderguard_domain::lists::{ListKind, ListName};

#[derive(Debug, Clone)]
pub struct ListEntry {
    pub id: String,
    pub brand: String,
    pub list: ListName,
    pub kind: ListKind,
    /// What a verification is looked up by (a keyed hash or reference, a range, a prefix).
    pub value: String,
    /// For a number or device: what was written, sealed (for re-keying after a look-up key rotation).
    pub value_enc: Option<Vec<u8>>,
    /// The generation of the look-up key that made `value` (numbers and devices).
    pub lookup_key: u32,
    /// What people see: a masked number, a range, a prefix, a shortened reference.
    pub label: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// A list entry that matched a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListMatch {
    pub id: String,
    pub list: ListName,
    pub kind: ListKind,
}
