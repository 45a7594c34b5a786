//! Logs of a command: to stderr, filtered by `RUST_LOG` (default `info`), as text or JSON.

use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

pub fn init_logging(format: LogFormat) {
    let asked = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // The PostgreSQL client logs each statement's parameters below info: numbers, number prefixes
    // and address ranges of list look-ups. A filter of its own, after RUST_LOG's, so that no
    // directive (a narrower target, a span) lets them through.
    let no_parameters =
        filter_fn(|meta| !(meta.target().starts_with("tokio_postgres") && *meta.level() > tracing::Level::INFO));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = match format {
        LogFormat::Json => fmt.json().with_filter(no_parameters).boxed(),
        LogFormat::Text => fmt.with_filter(no_parameters).boxed(),
    };
    tracing_subscriber::registry().with(asked).with(layer).init();
}
