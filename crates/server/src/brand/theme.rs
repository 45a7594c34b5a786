//! A brand's look: colours, font, logo and legal links, checked once at start.

use std::path::Path;

use base64::Engine;
use orderguard_domain::colour::{AA_NON_TEXT, AA_TEXT, Colour, WHITE};

use crate::config::ThemeConfig;

pub const MAX_LOGO_BYTES: usize = 100 * 1024;

/// The logo as served at `/brands/{slug}/logo`.
pub struct Logo {
    pub content_type: &'static str,
    /// Shared with every response, not copied.
    pub bytes: axum::body::Bytes,
    /// Changes with the content, so pages can let browsers cache the logo for long.
    pub version: String,
}

pub struct Theme {
    pub primary_color: String,
    pub accent_color: String,
    pub font: String,
    pub logo: Option<Logo>,
    pub imprint_url: Option<String>,
    pub privacy_url: Option<String>,
}

/// The image type by its first bytes; the name or data URI may claim anything.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.len() > 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("image/webp")
    } else {
        let head = String::from_utf8_lossy(bytes.get(..bytes.len().min(512)).unwrap_or_default()).to_ascii_lowercase();
        (head.contains("<svg")).then_some("image/svg+xml")
    }
}

fn load_logo(source: &str, config_dir: Option<&Path>) -> Result<Logo, String> {
    let bytes = if let Some(data) = source.strip_prefix("data:") {
        let (_, payload) =
            data.split_once(";base64,").ok_or("theme.logo: a data URI must be base64 (`data:image/png;base64,…`)")?;
        base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .map_err(|e| format!("theme.logo: the data URI is not valid base64: {e}"))?
    } else {
        let path = config_dir.map_or_else(|| Path::new(source).to_owned(), |dir| dir.join(source));
        let size =
            std::fs::metadata(&path).map_err(|e| format!("theme.logo: cannot read {}: {e}", path.display()))?.len();
        if size > MAX_LOGO_BYTES as u64 {
            return Err(format!(
                "theme.logo: {} has {size} bytes; at most {MAX_LOGO_BYTES} are allowed",
                path.display()
            ));
        }
        std::fs::read(&path).map_err(|e| format!("theme.logo: cannot read {}: {e}", path.display()))?
    };
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(format!("theme.logo has {} bytes; at most {MAX_LOGO_BYTES} are allowed", bytes.len()));
    }
    let content_type = sniff(&bytes).ok_or("theme.logo must be a PNG, JPEG, WebP or SVG image")?;
    let version = crate::crypto::sha256(&bytes).iter().take(6).map(|b| format!("{b:02x}")).collect();
    Ok(Logo { content_type, bytes: bytes.into(), version })
}

fn legal_link(key: &str, url: &Option<String>) -> Result<Option<String>, String> {
    let Some(url) = url else { return Ok(None) };
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("theme.{key}: not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(format!("theme.{key} must be an http(s) URL"));
    }
    Ok(Some(parsed.to_string()))
}

impl Theme {
    pub fn build(c: &ThemeConfig, config_dir: Option<&Path>) -> Result<Self, String> {
        // Theme values go into the pages' CSS unescaped: only colours and font names pass.
        for (key, colour) in [("primary_color", &c.primary_color), ("accent_color", &c.accent_color)] {
            if Colour::parse(colour).is_none() {
                return Err(format!("theme.{key} must be a colour like #1f3a5f"));
            }
        }
        let font_ok = |ch: char| ch.is_ascii_alphanumeric() || " ,'-".contains(ch);
        let quotes_balanced = c.font.matches('\'').count().is_multiple_of(2);
        if c.font.is_empty() || c.font.len() > 200 || !c.font.chars().all(font_ok) || !quotes_balanced {
            return Err(
                "theme.font must be a list of font names such as \"'Trebuchet MS', Verdana, sans-serif\"".into()
            );
        }
        Ok(Self {
            primary_color: c.primary_color.clone(),
            accent_color: c.accent_color.clone(),
            font: c.font.clone(),
            logo: c.logo.as_deref().map(|source| load_logo(source, config_dir)).transpose()?,
            imprint_url: legal_link("imprint_url", &c.imprint_url)?,
            privacy_url: legal_link("privacy_url", &c.privacy_url)?,
        })
    }

    /// WCAG AA problems of the colours as the pages use them: white text on the primary colour,
    /// the accent colour as focus ring and border on white.
    pub fn contrast_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(primary) = Colour::parse(&self.primary_color) {
            let ratio = primary.contrast(WHITE);
            if ratio < AA_TEXT {
                warnings.push(format!(
                    "theme.primary_color {}: white text on it has a contrast of {ratio:.1}:1, WCAG AA needs {AA_TEXT}:1; choose a darker colour",
                    self.primary_color
                ));
            }
        }
        if let Some(accent) = Colour::parse(&self.accent_color) {
            let ratio = accent.contrast(WHITE);
            if ratio < AA_NON_TEXT {
                warnings.push(format!(
                    "theme.accent_color {}: on white it has a contrast of {ratio:.1}:1, WCAG AA needs {AA_NON_TEXT}:1 for focus rings and borders; choose a darker colour",
                    self.accent_color
                ));
            }
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theme(logo: Option<&str>) -> ThemeConfig {
        ThemeConfig { logo: logo.map(str::to_owned), ..ThemeConfig::default() }
    }

    #[test]
    fn values_that_could_break_out_of_css_are_refused() {
        let mut c = theme(None);
        c.font = "x; } body { display: none".into();
        assert!(Theme::build(&c, None).err().unwrap().contains("theme.font"));
        c.font = "'Trebuchet MS, sans-serif".into();
        assert!(Theme::build(&c, None).err().unwrap().contains("theme.font"), "an open quote would swallow the CSS");
        let mut c = theme(None);
        c.primary_color = "red</style>".into();
        assert!(Theme::build(&c, None).err().unwrap().contains("theme.primary_color"));
    }

    #[test]
    fn logos_are_checked_by_content_and_size() {
        let svg = base64::engine::general_purpose::STANDARD.encode(b"<svg xmlns='http://www.w3.org/2000/svg'/>");
        let logo = Theme::build(&theme(Some(&format!("data:image/svg+xml;base64,{svg}"))), None).unwrap().logo.unwrap();
        assert_eq!(logo.content_type, "image/svg+xml");
        let html = base64::engine::general_purpose::STANDARD.encode(b"<html><script>alert(1)</script>");
        assert!(Theme::build(&theme(Some(&format!("data:image/png;base64,{html}"))), None).is_err());
        let big = base64::engine::general_purpose::STANDARD.encode(vec![0x89; MAX_LOGO_BYTES + 1]);
        assert!(
            Theme::build(&theme(Some(&format!("data:image/png;base64,{big}"))), None)
                .err()
                .unwrap()
                .contains("at most")
        );
        assert!(Theme::build(&theme(Some("no-such-logo.png")), None).err().unwrap().contains("cannot read"));
    }

    #[test]
    fn weak_contrast_is_reported() {
        let mut c = theme(None);
        c.primary_color = "#f2a900".into();
        c.accent_color = "#ffeeee".into();
        let warnings = Theme::build(&c, None).unwrap().contrast_warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(Theme::build(&theme(None), None).unwrap().contrast_warnings().is_empty());
    }
}
