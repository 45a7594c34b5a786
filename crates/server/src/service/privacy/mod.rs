//! Data protection (docs/gdpr.md): retention, data-subject requests, the audit log's chain.

pub mod audit_chain;
pub mod retention;
pub mod subject;
