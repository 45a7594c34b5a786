//! The signed-in home page: the brands the user may see, with what is pending and the last
//! month's events.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{AdminUser, page};
use crate::app::App;
use crate::http::error::PageError;
use crate::service::dashboards;
use crate::store::replication::ReplicaLag;

struct BrandSummary {
    slug: String,
    name: String,
    /// Verifications waiting for their code now.
    pending: i64,
    /// Events of the last 30 days by type, from the counters.
    events: Vec<(String, i64)>,
}

const SUMMARY_DAYS: i64 = 30;

#[derive(Template)]
#[template(path = "admin_home.html")]
struct HomePage {
    username: String,
    role: &'static str,
    csrf: String,
    brands: Vec<BrandSummary>,
    reads_audit: bool,
    /// The brands whose data-subject requests the user answers: (slug, name).
    privacy_brands: Vec<(String, String)>,
    /// May search orders by the customer's number (roles that see personal data).
    sees_numbers: bool,
    /// Where the dashboards read from, when that is a replica: how far behind it is.
    replica: Option<String>,
}

/// The replica's lag in words: the pages below may be this much behind the orders.
fn replica_line(lag: &ReplicaLag) -> String {
    if !lag.standby {
        return "Dashboards read from database_read_url, which is not a replica: it takes writes.".into();
    }
    let behind = if lag.bytes == 0 {
        "up to date".to_owned()
    } else {
        let (seconds, tenths) = (lag.millis / 1000, lag.millis % 1000 / 100);
        format!("{seconds}.{tenths} s behind ({} kB of changes to replay)", (lag.bytes + 1023) / 1024)
    };
    let paused = if lag.paused { "; replay is paused on the replica" } else { "" };
    format!("Dashboards read from a replica: {behind}{paused}.")
}

#[utoipa::path(get, path = "/admin", tag = "admin", responses((status = 200, description = "The brands the user may see", content_type = "text/html"), (status = 303, description = "Not signed in: to the sign-in form")))]
pub async fn home(State(app): State<Arc<App>>, AdminUser(user): AdminUser) -> Result<Response, PageError> {
    let mut brands = Vec::new();
    // Whole hours, as every page counts them (the counters are per hour).
    let (from, to) = dashboards::period_bounds(app.clock.now(), SUMMARY_DAYS);
    for brand in app.brands.all().filter(|b| user.access.sees_brand(b.slug.as_str())) {
        let summary = dashboards::summary(&app, brand.slug.as_str(), from, to).await?;
        brands.push(BrandSummary {
            slug: brand.slug.to_string(),
            name: brand.name.clone(),
            pending: summary.pending,
            events: summary.events,
        });
    }
    // The replica down is said here; the pages that read from it answer with their error.
    let replica = match dashboards::replica_lag(&app).await {
        Ok(lag) => lag.as_ref().map(replica_line),
        Err(e) => Some(format!("Dashboards read from a replica that does not answer: {e}")),
    };
    let html = HomePage {
        username: user.username,
        role: user.access.role.as_str(),
        csrf: user.csrf_token,
        brands,
        reads_audit: user.access.reads_audit_log(),
        privacy_brands: app
            .brands
            .all()
            .filter(|b| user.access.answers_privacy_requests(b.slug.as_str()))
            .map(|b| (b.slug.to_string(), b.name.clone()))
            .collect(),
        sees_numbers: !user.access.role.masks_personal_data(),
        replica,
    }
    .render();
    page(StatusCode::OK, html, Vec::new())
}
