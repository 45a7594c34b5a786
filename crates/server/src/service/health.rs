//! Readiness: whether this instance can do its work.

use super::ServiceError;
use crate::app::App;

/// The database takes writes (it goes through the writer like every change).
pub async fn ready(app: &App) -> Result<(), ServiceError> {
    Ok(app.store.ping().await?)
}
