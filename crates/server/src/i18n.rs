//! Texts for people — the hosted page and API error details — in German and English, with Fluent.
//! The built-in texts are in `locales/*.ftl`; a brand overrides any of them per locale in its
//! configuration. A text missing in one locale falls back to the brand's default locale, then to
//! the built-in English.

use std::collections::{BTreeMap, HashMap};

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

pub const SUPPORTED_LOCALES: &[&str] = &["de", "en"];
pub const FALLBACK_LOCALE: &str = "en";

const BUILT_IN: &[(&str, &str)] =
    &[("en", include_str!("../locales/en.ftl")), ("de", include_str!("../locales/de.ftl"))];
const PROBLEMS_DE: &str = include_str!("../locales/problems.de.ftl");

type Bundle = FluentBundle<FluentResource>;

#[derive(Debug, thiserror::Error)]
pub enum TextsError {
    #[error("texts.{locale}: `{locale}` is not one of the brand's locales")]
    UnknownLocale { locale: String },
    #[error("texts.{locale}.{key}: {message}")]
    Invalid { locale: String, key: String, message: String },
}

/// The supported locale a tag such as `de-AT` or `EN_gb` belongs to.
pub fn supported(tag: &str) -> Option<&'static str> {
    let language = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    SUPPORTED_LOCALES.iter().copied().find(|l| *l == language)
}

/// The first supported language of an `Accept-Language` header, by quality.
pub fn from_accept_language(header: &str) -> Option<&'static str> {
    let mut choices: Vec<(f32, &'static str)> = header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let locale = supported(pieces.next()?)?;
            let quality =
                pieces.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            (quality > 0.0).then_some((quality, locale))
        })
        .collect();
    choices.sort_by(|a, b| b.0.total_cmp(&a.0));
    choices.first().map(|c| c.1)
}

fn bundle(locale: &str) -> Bundle {
    let id = locale.parse().unwrap_or_default();
    let mut bundle = Bundle::new_concurrent(vec![id]);
    // Isolation marks around arguments would show up in SMS and HTML attributes.
    bundle.set_use_isolating(false);
    bundle
}

/// Adds built-in FTL; the files are part of the binary and covered by tests, so an error here is a
/// bug that the tests catch, never input.
fn add_built_in(bundle: &mut Bundle, ftl: &str) {
    let resource = FluentResource::try_new(ftl.to_owned()).unwrap_or_else(|(resource, _)| resource);
    bundle.add_resource_overriding(resource);
}

fn format(bundle: &Bundle, key: &str, attribute: Option<&str>, args: &[(&str, FluentValue<'_>)]) -> Option<String> {
    let message = bundle.get_message(key)?;
    let pattern = match attribute {
        Some(name) => message.get_attribute(name)?.value(),
        None => message.value()?,
    };
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        fluent_args.set(*name, value.clone());
    }
    let mut errors = Vec::new();
    Some(bundle.format_pattern(pattern, Some(&fluent_args), &mut errors).into_owned())
}

/// The variables the pages pass to their texts.
const TEXT_VARIABLES: &[&str] = &["brand", "seconds", "attempts", "contact"];

/// An override must read as one text and use only variables the pages pass: a mistake would
/// otherwise show customers `{$name}` or lose part of the text.
fn check_override(bundle: &Bundle, key: &str) -> Result<(), String> {
    let message = bundle.get_message(key).ok_or("not a valid Fluent text")?;
    if message.attributes().next().is_some() {
        return Err("a line of the text starts with `.`; indent it or rephrase".into());
    }
    let pattern = message.value().ok_or("the text is empty")?;
    let mut args = FluentArgs::new();
    for name in TEXT_VARIABLES {
        args.set(*name, FluentValue::from(1));
    }
    let mut errors = Vec::new();
    bundle.format_pattern(pattern, Some(&args), &mut errors);
    match errors.first() {
        None => Ok(()),
        Some(e) => Err(format!(
            "{e} (the texts may use {})",
            TEXT_VARIABLES.iter().map(|v| format!("{{ ${v} }}")).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// One brand's texts (or the built-in ones): a bundle per locale.
pub struct Texts {
    bundles: HashMap<&'static str, Bundle>,
    default_locale: &'static str,
}

impl Texts {
    /// The built-in texts, for pages that belong to no brand.
    pub fn built_in() -> Self {
        let bundles = SUPPORTED_LOCALES
            .iter()
            .map(|locale| {
                let mut b = bundle(locale);
                for (l, ftl) in BUILT_IN {
                    if l == locale {
                        add_built_in(&mut b, ftl);
                    }
                }
                (*locale, b)
            })
            .collect();
        Self { bundles, default_locale: FALLBACK_LOCALE }
    }

    /// The built-in texts with a brand's overrides (`locale → key → Fluent pattern`).
    pub fn for_brand(
        locales: &[String],
        overrides: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Self, TextsError> {
        let mut texts = Self::built_in();
        texts.default_locale = locales.first().and_then(|l| supported(l)).unwrap_or(FALLBACK_LOCALE);
        for (locale, entries) in overrides {
            let Some(bundle) =
                supported(locale).filter(|_| locales.contains(locale)).and_then(|l| texts.bundles.get_mut(l))
            else {
                return Err(TextsError::UnknownLocale { locale: locale.clone() });
            };
            for (key, value) in entries {
                let invalid =
                    |message: String| TextsError::Invalid { locale: locale.clone(), key: key.clone(), message };
                if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                    return Err(invalid("a text key has letters, digits and dashes only".into()));
                }
                // Continuation lines of a Fluent message are indented.
                let ftl = format!("{key} = {}\n", value.trim().replace('\n', "\n    "));
                let resource = FluentResource::try_new(ftl)
                    .map_err(|(_, errors)| invalid(format!("not a valid Fluent text: {errors:?}")))?;
                bundle.add_resource_overriding(resource);
                check_override(bundle, key).map_err(invalid)?;
            }
        }
        Ok(texts)
    }

    pub fn default_locale(&self) -> &'static str {
        self.default_locale
    }

    /// The text in `locale`, else in the default locale, else in English, else the key itself.
    pub fn get(&self, locale: &str, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        [locale, self.default_locale, FALLBACK_LOCALE]
            .into_iter()
            .find_map(|l| self.bundles.get(l).and_then(|b| format(b, key, None, args)))
            .unwrap_or_else(|| key.to_owned())
    }
}

/// The keys of the built-in texts (the same in every locale; a test keeps them so).
pub fn built_in_keys(locale: &str) -> Vec<String> {
    BUILT_IN
        .iter()
        .filter(|(l, _)| *l == locale)
        .flat_map(|(_, ftl)| ftl.lines())
        .filter_map(|line| line.split_once(" =").map(|(key, _)| key))
        .filter(|key| !key.is_empty() && !key.starts_with([' ', '#', '.', '*', '[']))
        .map(str::to_owned)
        .collect()
}

/// German title and detail of an API problem, by its type; `None` keeps the English.
pub struct ProblemTexts(Bundle);

impl ProblemTexts {
    pub fn new() -> Self {
        let mut b = bundle("de");
        add_built_in(&mut b, PROBLEMS_DE);
        Self(b)
    }

    /// `(title, detail)` in `locale` for the problem type `slug`.
    pub fn get(&self, locale: &str, slug: &str, args: &[(&str, FluentValue<'_>)]) -> Option<(String, String)> {
        if locale != "de" {
            return None;
        }
        let key = format!("problem-{slug}");
        Some((format(&self.0, &key, Some("title"), args)?, format(&self.0, &key, None, args)?))
    }
}

impl Default for ProblemTexts {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_text_exists_in_every_locale() {
        let en = built_in_keys("en");
        assert!(en.len() > 20, "{en:?}");
        let de = built_in_keys("de");
        assert_eq!(en, de);
        let texts = Texts::built_in();
        for key in &en {
            let args = [
                ("brand", FluentValue::from("Nordtel")),
                ("phone", FluentValue::from("+49 ••• 89")),
                ("seconds", FluentValue::from(12)),
                ("attempts", FluentValue::from(1)),
                ("contact", FluentValue::from("service@nordtel.example")),
            ];
            for locale in SUPPORTED_LOCALES {
                let bundle = texts.bundles.get(locale).unwrap();
                let mut errors = Vec::new();
                let message = bundle.get_message(key).unwrap();
                let mut fluent_args = FluentArgs::new();
                for (n, v) in &args {
                    fluent_args.set(*n, v.clone());
                }
                bundle.format_pattern(message.value().unwrap(), Some(&fluent_args), &mut errors);
                assert!(errors.is_empty(), "{locale} {key}: {errors:?}");
            }
        }
    }

    #[test]
    fn plurals_and_fallbacks() {
        let texts = Texts::built_in();
        assert_eq!(
            texts.get("de", "notice-wrong", &[("attempts", 1.into())]),
            "Der Code ist nicht richtig. Noch ein Versuch."
        );
        assert_eq!(
            texts.get("en", "notice-wrong", &[("attempts", 3.into())]),
            "That code is not right. 3 attempts left."
        );
        assert_eq!(texts.get("fr", "total", &[]), "Total");
        assert_eq!(texts.get("de", "no-such-text", &[]), "no-such-text");
    }

    #[test]
    fn brand_overrides_win_and_bad_ones_are_refused() {
        let locales = vec!["de".to_owned(), "en".to_owned()];
        let mut overrides = BTreeMap::new();
        overrides.insert("de".to_owned(), BTreeMap::from([("confirm-button".to_owned(), "Jetzt kaufen".to_owned())]));
        let texts = Texts::for_brand(&locales, &overrides).unwrap();
        assert_eq!(texts.get("de", "confirm-button", &[]), "Jetzt kaufen");
        assert_eq!(texts.get("en", "confirm-button", &[]), "Confirm order");
        assert_eq!(texts.get("fr", "confirm-button", &[]), "Jetzt kaufen", "falls back to the brand's default");
        overrides.insert("fr".to_owned(), BTreeMap::new());
        assert!(matches!(Texts::for_brand(&locales, &overrides), Err(TextsError::UnknownLocale { .. })));
        overrides.remove("fr");
        overrides.insert("en".to_owned(), BTreeMap::from([("total".to_owned(), "{ $".to_owned())]));
        assert!(matches!(Texts::for_brand(&locales, &overrides), Err(TextsError::Invalid { .. })));
        overrides.insert("en".to_owned(), BTreeMap::from([("total".to_owned(), "Sum for { $customer }".to_owned())]));
        let err = Texts::for_brand(&locales, &overrides).err().unwrap().to_string();
        assert!(err.contains("texts.en.total") && err.contains("{ $brand }"), "{err}");
        overrides.insert("en".to_owned(), BTreeMap::from([("total".to_owned(), "Sum\n.title = x".to_owned())]));
        assert!(Texts::for_brand(&locales, &overrides).err().unwrap().to_string().contains("starts with `.`"));
    }

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(from_accept_language("fr-CH, fr;q=0.9, de;q=0.8, en;q=0.7"), Some("de"));
        assert_eq!(from_accept_language("en-GB,en;q=0.9"), Some("en"));
        assert_eq!(from_accept_language("de;q=0, en;q=0.1"), Some("en"));
        assert_eq!(from_accept_language("fr"), None);
    }

    #[test]
    fn every_problem_type_has_a_german_text() {
        let problems = ProblemTexts::new();
        // Every problem type the API answers with (docs/api.md lists them).
        for slug in [
            "malformed-body",
            "malformed-json",
            "duplicate-key",
            "method-not-allowed",
            "metrics-refused",
            "unauthorized",
            "not-found",
            "no-route",
            "unsupported-media-type",
            "payload-too-large",
            "validation-error",
            "customer-unknown",
            "customer-phone-invalid",
            "customer-phone-unverified",
            "customer-phone-missing",
            "customer-token-invalid",
            "customer-token-expired",
            "idempotency-key-reused",
            "concurrent-change",
            "verification-not-pending",
            "verification-expired",
            "resend-limit-reached",
            "resend-too-soon",
            "identity-unavailable",
            "internal-error",
            "not-ready",
        ] {
            let (title, detail) = problems.get("de", slug, &[("detail", "x".into()), ("seconds", 3.into())]).unwrap();
            assert!(!title.is_empty() && !detail.is_empty(), "{slug}");
        }
        assert!(problems.get("en", "not-found", &[]).is_none());
    }
}
