//! Logs of a command: to stderr, filtered by `RUST_LOG` (default `info`), as text or JSON.

use crate::config::LogFormat;

const QUIET_PARAMETERS: &str = "tokio_postgres=info";

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        // The PostgreSQL client logs each statement's parameters at debug level: numbers, number
        // prefixes and address ranges of list look-ups. Never, whatever RUST_LOG asks.
        .add_directive(QUIET_PARAMETERS.parse().unwrap_or_default());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
