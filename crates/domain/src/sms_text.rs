//! SMS texts: templates with variables, the origin-bound last line, GSM-7 or UCS-2 and segments.

/// The variables a brand's SMS template may use: `{code}`, `{amount}`, `{brand}`, `{minutes}`.
#[derive(Debug, Clone)]
pub struct SmsVars<'a> {
    pub code: &'a str,
    pub amount: &'a str,
    pub brand: &'a str,
    pub minutes: i64,
}

pub const VARIABLES: &[&str] = &["code", "amount", "brand", "minutes"];

/// Where the customer types the code: the shop's own page, orderguard's hosted page, or the hosted
/// page inside an iframe on the shop's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeEntry {
    Shop,
    Hosted,
    Embedded,
}

impl CodeEntry {
    pub const ALL: [CodeEntry; 3] = [CodeEntry::Shop, CodeEntry::Hosted, CodeEntry::Embedded];

    pub fn as_str(self) -> &'static str {
        match self {
            CodeEntry::Shop => "shop",
            CodeEntry::Hosted => "hosted",
            CodeEntry::Embedded => "embedded",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == value)
    }

    /// The hosts of the SMS's origin-bound line: the top-level page's, and the iframe's if any.
    pub fn hosts<'a>(self, shop_host: &'a str, hosted_page_host: &'a str) -> (&'a str, Option<&'a str>) {
        match self {
            CodeEntry::Shop => (shop_host, None),
            CodeEntry::Hosted => (hosted_page_host, None),
            CodeEntry::Embedded => (shop_host, Some(hosted_page_host)),
        }
    }
}

/// Fills the template and appends the origin-bound line that lets browsers offer the code for
/// autofill only on the page where it is typed (WebOTP): `@shop.example #123456`, or for a page in
/// an iframe `@shop.example #123456 @verify.example`.
pub fn render(template: &str, vars: &SmsVars<'_>, top_host: &str, frame_host: Option<&str>) -> String {
    let body = template
        .replace("{code}", vars.code)
        .replace("{amount}", vars.amount)
        .replace("{brand}", vars.brand)
        .replace("{minutes}", &vars.minutes.to_string());
    let frame = frame_host.map(|host| format!(" @{host}")).unwrap_or_default();
    format!("{}\n\n@{top_host} #{}{frame}", body.trim_end(), vars.code)
}

/// Names in `{…}` that are not known variables: a typo in a template must not reach customers.
pub fn unknown_variables(template: &str) -> Vec<String> {
    template
        .split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name))
        .filter(|name| !VARIABLES.contains(name))
        .map(str::to_owned)
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// GSM 03.38 default alphabet, 160 characters per single SMS.
    Gsm7,
    /// UCS-2, 70 characters per single SMS.
    Ucs2,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// Septets a character takes in GSM-7, or `None` if it is not in the alphabet.
fn gsm7_septets(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

pub fn encoding(text: &str) -> Encoding {
    if text.chars().all(|c| gsm7_septets(c).is_some()) { Encoding::Gsm7 } else { Encoding::Ucs2 }
}

/// How many SMS the text takes (concatenated messages carry a 6-byte header).
pub fn segments(text: &str) -> usize {
    let (units, single, multi) = match encoding(text) {
        Encoding::Gsm7 => (text.chars().filter_map(gsm7_septets).sum::<usize>(), 160, 153),
        Encoding::Ucs2 => (text.encode_utf16().count(), 70, 67),
    };
    if units <= single { 1 } else { units.div_ceil(multi) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> SmsVars<'static> {
        SmsVars { code: "123456", amount: "849.00 EUR", brand: "Nordtel", minutes: 5 }
    }

    #[test]
    fn renders_variables_and_the_origin_line() {
        let text = render(
            "{brand}: code {code} confirms {amount}, valid {minutes} min.",
            &vars(),
            "shop.nordtel.example",
            None,
        );
        assert_eq!(text, "Nordtel: code 123456 confirms 849.00 EUR, valid 5 min.\n\n@shop.nordtel.example #123456");
        let (top, frame) = CodeEntry::Embedded.hosts("shop.nordtel.example", "verify.example");
        let text = render("{code}", &vars(), top, frame);
        assert_eq!(text, "123456\n\n@shop.nordtel.example #123456 @verify.example");
        assert_eq!(CodeEntry::Hosted.hosts("shop.nordtel.example", "verify.example"), ("verify.example", None));
        assert_eq!(CodeEntry::parse("embedded"), Some(CodeEntry::Embedded));
        assert_eq!(CodeEntry::parse("iframe"), None);
    }

    #[test]
    fn finds_unknown_variables() {
        assert_eq!(unknown_variables("{code} {amout} {brand}"), vec!["amout"]);
        assert!(unknown_variables("{code} {amount}").is_empty());
    }

    #[test]
    fn chooses_encoding_and_counts_segments() {
        assert_eq!(encoding("Ihr Code für Bestellung: 123456 €"), Encoding::Gsm7);
        assert_eq!(encoding("Код 123456"), Encoding::Ucs2);
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"€".repeat(80)), 1);
        assert_eq!(segments(&"€".repeat(81)), 2);
        assert_eq!(segments(&"ж".repeat(70)), 1);
        assert_eq!(segments(&"ж".repeat(71)), 2);
    }
}
