//! `orderguard config check`: what an operator should know about a configuration before it goes
//! live — errors that stop the service, and warnings about texts, SMS length and contrast.

use std::collections::BTreeSet;
use std::fmt::Write;

use orderguard_domain::money::{Currency, Money};
use orderguard_domain::sms_text::{self, CodeEntry, Encoding};

use crate::brand::{Brand, Brands};
use crate::config::Settings;
use crate::i18n::{FALLBACK_LOCALE, built_in_keys};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warning,
    Error,
}

#[derive(Debug, Default)]
pub struct Report {
    pub lines: Vec<(Option<String>, Level, String)>,
}

impl Report {
    fn add(&mut self, brand: Option<&str>, level: Level, text: impl Into<String>) {
        self.lines.push((brand.map(str::to_owned), level, text.into()));
    }

    pub fn has_errors(&self) -> bool {
        self.count(Level::Error) > 0
    }

    pub fn count(&self, level: Level) -> usize {
        self.lines.iter().filter(|l| l.1 == level).count()
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut current: Option<Option<&str>> = None;
        for (brand, level, text) in &self.lines {
            if current != Some(brand.as_deref()) {
                current = Some(brand.as_deref());
                match brand {
                    Some(slug) => writeln!(out, "\nbrand {slug}"),
                    None => writeln!(out, "\nconfiguration"),
                }
                .ok();
            }
            let tag = match level {
                Level::Ok => "ok     ",
                Level::Warning => "warning",
                Level::Error => "error  ",
            };
            let _ = writeln!(out, "  {tag}  {text}");
        }
        let _ = writeln!(out, "\n{} error(s), {} warning(s)", self.count(Level::Error), self.count(Level::Warning));
        out
    }
}

/// Checks a configuration the way `serve` reads it, then reports what `serve` would accept silently.
pub fn check(settings: &Settings) -> Report {
    let mut report = Report::default();
    // Brands are built exactly as at start.
    let brands = match Brands::build(settings) {
        Ok(brands) => brands,
        Err(e) => {
            report.add(None, Level::Error, e.to_string());
            return report;
        }
    };
    if settings.brands.is_empty() {
        report.add(None, Level::Warning, "no brands are configured");
    }
    let dev = &settings.dev;
    let on: Vec<&str> = [
        ("outbox_page", dev.outbox_page),
        ("demo_shop", dev.demo_shop),
        ("simulated_clock", dev.simulated_clock),
        ("show_admin_codes", dev.show_admin_codes),
    ]
    .into_iter()
    .filter_map(|(name, enabled)| enabled.then_some(name))
    .collect();
    if !on.is_empty() {
        report.add(
            None,
            Level::Warning,
            format!(
                "[dev] {} on: development only (no authentication; the outbox shows codes, the clock can be moved)",
                on.join(", ")
            ),
        );
    }
    // The hosted page's host goes into the SMS of `embedded` verifications, the longest form.
    let hosted_page_host = settings
        .public_url
        .as_deref()
        .and_then(|u| reqwest::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "verify.example.com".into());
    for brand in brands.all() {
        check_brand(&mut report, brand, &hosted_page_host);
    }
    report
}

fn check_brand(report: &mut Report, brand: &Brand, hosted_page_host: &str) {
    let slug = Some(brand.slug.as_str());
    for warning in brand.theme.contrast_warnings() {
        report.add(slug, Level::Warning, warning);
    }
    if let Some(logo) = &brand.theme.logo {
        report.add(slug, Level::Ok, format!("logo: {}, {} bytes", logo.content_type, logo.bytes.len()));
    }
    check_texts(report, brand);
    check_sms(report, brand, hosted_page_host);
}

/// Unused: overrides of texts that do not exist. Missing: a text overridden in one of the brand's
/// locales but not in another, so that customers in that language see the built-in wording.
fn check_texts(report: &mut Report, brand: &Brand) {
    let slug = Some(brand.slug.as_str());
    let known: BTreeSet<String> = built_in_keys(FALLBACK_LOCALE).into_iter().collect();
    let overridden: BTreeSet<&String> = brand.config.texts.values().flat_map(|t| t.keys()).collect();
    for (locale, texts) in &brand.config.texts {
        for key in texts.keys().filter(|k| !known.contains(*k)) {
            report.add(slug, Level::Warning, format!("texts.{locale}.{key} is unused: there is no text `{key}`"));
        }
    }
    for locale in &brand.locales {
        let own = brand.config.texts.get(locale);
        for key in overridden.iter().filter(|k| known.contains(**k)) {
            if own.is_none_or(|t| !t.contains_key(*key)) {
                report.add(
                    slug,
                    Level::Warning,
                    format!(
                        "texts.{locale}.{key} is missing: other locales override it, `{locale}` shows the built-in text"
                    ),
                );
            }
        }
    }
}

/// The SMS of each locale with a long amount and the longest origin line, and how many messages it costs.
fn check_sms(report: &mut Report, brand: &Brand, hosted_page_host: &str) {
    let slug = Some(brand.slug.as_str());
    let code = "8".repeat(usize::from(brand.policy.code_length));
    let Ok(sample) = Currency::parse("EUR").and_then(|eur| Money::parse("12345.67", eur)) else { return };
    for locale in &brand.locales {
        let text = brand.sms_text(locale, &code, sample, CodeEntry::Embedded, hosted_page_host);
        let segments = sms_text::segments(&text);
        let (encoding, level) = match sms_text::encoding(&text) {
            Encoding::Gsm7 => ("GSM-7", Level::Ok),
            Encoding::Ucs2 => ("UCS-2 (a character outside GSM-7 halves the length of an SMS)", Level::Warning),
        };
        let level = if segments > 1 { Level::Warning } else { level };
        report.add(
            slug,
            level,
            format!("SMS {locale}: {encoding}, {segments} segment(s), {} characters", text.chars().count()),
        );
    }
}

/// Prints the report; fails when the configuration cannot start the service.
pub fn command(path: &std::path::Path) -> anyhow::Result<()> {
    let settings = Settings::load(path)?;
    let report = check(&settings);
    print!("{}", report.text());
    if report.has_errors() {
        anyhow::bail!("{} cannot be used: see the errors above", path.display());
    }
    Ok(())
}
