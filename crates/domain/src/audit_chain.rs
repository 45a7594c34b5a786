//! The audit log as a chain: each entry carries its number and a keyed hash (HMAC-SHA-256) over
//! its fields and the hash of the entry before, so that changing, removing or inserting an entry
//! breaks every link after it. The key is the deployment's: someone who can write to the database
//! but does not hold the master secret cannot forge a chain that verifies.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The fields of an audit entry that its hash covers.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    pub seq: i64,
    pub at_ms: i64,
    pub username: &'a str,
    pub role: &'a str,
    pub action: &'a str,
    pub brand: Option<&'a str>,
    pub subject: &'a str,
}

/// Where the chain starts: after the last entry retention removed (or at the beginning: `seq` 0
/// and an empty hash).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
}

/// The first link that does not hold, as `orderguard audit verify` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The entry after `after` is missing (removed, or the numbers jump).
    Missing { after: i64, found: i64 },
    /// The entry's fields or its hash were changed (or it was written without the key).
    Changed { seq: i64 },
    /// The log ends before the entry the head names: entries at its end were removed.
    Truncated { last: i64, head: i64 },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing { after, found } => {
                write!(f, "entries {} to {} are missing: the entry after {after} is {found}", after + 1, found - 1)
            }
            Self::Changed { seq } => write!(f, "entry {seq} was changed: its hash does not match its fields"),
            Self::Truncated { last, head } => {
                write!(
                    f,
                    "the log ends at entry {last} but {head} entries were written: entries at its end were removed"
                )
            }
        }
    }
}

#[derive(Clone)]
pub struct AuditChain {
    key: [u8; 32],
}

impl AuditChain {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// The hash of `link` after the entry whose hash is `previous`.
    pub fn hash(&self, previous: &str, link: &Link<'_>) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.key) else {
            return String::new();
        };
        let seq = link.seq.to_string();
        let at = link.at_ms.to_string();
        // Each field with its length in front: no two different entries read the same.
        let fields =
            [previous, &seq, &at, link.username, link.role, link.action, link.brand.unwrap_or("\u{0}"), link.subject];
        for field in fields {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field.as_bytes());
        }
        crate::order::hex(&mac.finalize().into_bytes())
    }

    /// Checks the chain from `anchor` through `entries` (in the order of their numbers, each with
    /// its stored hash) to the head (`head_seq`, the number of the last entry written).
    pub fn verify<'a>(
        &self,
        anchor: &Anchor,
        entries: impl IntoIterator<Item = (Link<'a>, &'a str)>,
        head_seq: i64,
    ) -> Result<i64, Break> {
        let (mut last, mut previous) = (anchor.seq, anchor.hash.clone());
        for (link, stored) in entries {
            if link.seq <= anchor.seq {
                continue;
            }
            if link.seq != last + 1 {
                return Err(Break::Missing { after: last, found: link.seq });
            }
            let hash = self.hash(&previous, &link);
            if !bool::from(hash.as_bytes().ct_eq(stored.as_bytes())) {
                return Err(Break::Changed { seq: link.seq });
            }
            (last, previous) = (link.seq, hash);
        }
        if last < head_seq {
            return Err(Break::Truncated { last, head: head_seq });
        }
        Ok(last - anchor.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(chain: &AuditChain, n: i64) -> Vec<(i64, String, String)> {
        let mut out = Vec::new();
        let mut previous = String::new();
        for seq in 1..=n {
            let subject = format!("order-{seq}");
            let hash = chain.hash(&previous, &link(seq, &subject));
            out.push((seq, subject, hash.clone()));
            previous = hash;
        }
        out
    }

    fn link(seq: i64, subject: &str) -> Link<'_> {
        Link {
            seq,
            at_ms: 1_000 * seq,
            username: "ops",
            role: "operator",
            action: "order_trace",
            brand: Some("alpha"),
            subject,
        }
    }

    fn check(chain: &AuditChain, anchor: &Anchor, rows: &[(i64, String, String)], head: i64) -> Result<i64, Break> {
        chain.verify(anchor, rows.iter().map(|(seq, subject, hash)| (link(*seq, subject), hash.as_str())), head)
    }

    #[test]
    fn an_intact_chain_verifies() {
        let chain = AuditChain::new([7; 32]);
        let rows = entries(&chain, 5);
        assert_eq!(check(&chain, &Anchor::default(), &rows, 5), Ok(5));
        assert_eq!(check(&chain, &Anchor::default(), &[], 0), Ok(0));
    }

    #[test]
    fn a_changed_entry_is_the_first_broken_link() {
        let chain = AuditChain::new([7; 32]);
        let mut rows = entries(&chain, 5);
        rows[2].1 = "order-other".into();
        assert_eq!(check(&chain, &Anchor::default(), &rows, 5), Err(Break::Changed { seq: 3 }));
    }

    #[test]
    fn a_removed_entry_or_end_is_found() {
        let chain = AuditChain::new([7; 32]);
        let mut rows = entries(&chain, 5);
        rows.remove(1);
        assert_eq!(check(&chain, &Anchor::default(), &rows, 5), Err(Break::Missing { after: 1, found: 3 }));
        let rows = entries(&chain, 5);
        assert_eq!(check(&chain, &Anchor::default(), &rows[..4], 5), Err(Break::Truncated { last: 4, head: 5 }));
    }

    #[test]
    fn a_chain_rewritten_without_the_key_does_not_verify() {
        let rows = entries(&AuditChain::new([8; 32]), 3);
        assert_eq!(check(&AuditChain::new([7; 32]), &Anchor::default(), &rows, 3), Err(Break::Changed { seq: 1 }));
    }

    #[test]
    fn the_chain_starts_after_what_retention_removed() {
        let chain = AuditChain::new([7; 32]);
        let rows = entries(&chain, 5);
        let anchor = Anchor { seq: 2, hash: rows[1].2.clone() };
        assert_eq!(check(&chain, &anchor, &rows[2..], 5), Ok(3));
        let wrong = Anchor { seq: 2, hash: rows[0].2.clone() };
        assert_eq!(check(&chain, &wrong, &rows[2..], 5), Err(Break::Changed { seq: 3 }));
    }
}
