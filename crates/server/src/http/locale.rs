//! The language of one request's texts: the `Accept-Language` header, else the default locale of
//! the brand whose API key authenticated it, else English.

use std::cell::Cell;
use std::future::Future;

use crate::i18n::FALLBACK_LOCALE;

struct RequestLocale {
    accepted: Option<&'static str>,
    brand_default: Cell<Option<&'static str>>,
}

tokio::task_local! {
    static REQUEST_LOCALE: RequestLocale;
}

/// Runs a request's handler with its language (from `Accept-Language`) known to everything it calls.
pub async fn scope<F: Future>(accepted: Option<&'static str>, handler: F) -> F::Output {
    let locale = RequestLocale { accepted, brand_default: Cell::new(None) };
    REQUEST_LOCALE.scope(locale, handler).await
}

pub fn set_brand_default(locale: &'static str) {
    let _ = REQUEST_LOCALE.try_with(|l| l.brand_default.set(Some(locale)));
}

pub fn current() -> &'static str {
    REQUEST_LOCALE.try_with(|l| l.accepted.or(l.brand_default.get())).ok().flatten().unwrap_or(FALLBACK_LOCALE)
}

/// The language the request asked for, if it asked for one we speak.
pub fn accepted() -> Option<&'static str> {
    REQUEST_LOCALE.try_with(|l| l.accepted).ok().flatten()
}
