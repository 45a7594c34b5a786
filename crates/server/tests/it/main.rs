//! The one integration-test binary: the real server over HTTP, on SQLite and on PostgreSQL.
// Test code: a failed unwrap or an out-of-range index is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

mod admin;
mod alerts;
mod analytics;
mod api_flow;
mod cli;
mod clusters;
mod crash;
mod deploy;
mod doc_receivers;
mod event_log;
mod explain;
mod fraud;
mod hosted;
mod idempotency;
mod identity;
mod instances;
mod isolation;
mod keys;
mod limits;
mod live;
mod metrics;
mod network;
mod openapi;
mod peers;
mod postgres_ops;
mod privacy;
mod reviews;
mod simulation;
mod sms_http;
mod sms_smpp;
mod smsc;
mod validation;
mod webhook_endpoints;
mod webhooks;
