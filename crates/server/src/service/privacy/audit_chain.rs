//! `orderguard audit verify`: walks the audit log's chain from where it starts to its head.

use orderguard_domain::audit_chain::Break;

use crate::crypto::Secrets;
use crate::service::ServiceError;
use crate::store::{self, Store};

/// Entries read at a time.
const PAGE: i64 = 1000;

/// What the walk found.
#[derive(Debug)]
pub struct ChainReport {
    /// Entries whose links held.
    pub verified: i64,
    /// Where the chain starts: 0, or the last entry retention removed.
    pub starts_after: i64,
    /// Entries written before the chain began (by an earlier release), which it cannot cover.
    pub unchained: i64,
    /// The head: the number and hash of the last entry written, to be recorded outside the
    /// database (where a writer to it cannot rewind it).
    pub head: (i64, String),
    pub broken: Option<Break>,
}

pub async fn verify(store: &Store, secrets: &Secrets) -> Result<ChainReport, ServiceError> {
    let (head, last_hash, anchor) = store.read(store::admin::audit_head).await?;
    let unchained = store.read(store::admin::audit_unchained).await?;
    let chain = secrets.audit_chain();
    let mut current = anchor.clone();
    let mut verified = 0;
    loop {
        let after = current.seq;
        let page = store.read(move |conn| store::admin::audit_chained(conn, after, PAGE)).await?;
        let last_page = i64::try_from(page.len()).unwrap_or(0) < PAGE;
        // The head only counts on the last page: earlier pages end where the next one goes on.
        let head_here = if last_page { head } else { 0 };
        let links = page.iter().map(|(seq, entry, hash)| (entry.link(*seq), hash.as_str()));
        match chain.verify(&current, links, head_here) {
            Err(broken) => {
                return Ok(ChainReport {
                    verified,
                    starts_after: anchor.seq,
                    unchained,
                    head: (head, last_hash.clone()),
                    broken: Some(broken),
                });
            }
            Ok(n) => verified += n,
        }
        match page.last() {
            Some((seq, _, hash)) if !last_page => {
                current = orderguard_domain::audit_chain::Anchor { seq: *seq, hash: hash.clone() };
            }
            _ => {
                return Ok(ChainReport {
                    verified,
                    starts_after: anchor.seq,
                    unchained,
                    head: (head, last_hash.clone()),
                    broken: None,
                });
            }
        }
    }
}
