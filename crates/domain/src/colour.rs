//! Colours of a brand's theme and their contrast (WCAG 2.x relative luminance).

/// An sRGB colour written `#rgb` or `#rrggbb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

pub const WHITE: Colour = Colour { r: 255, g: 255, b: 255 };

/// WCAG AA: normal text needs 4.5:1; large text and controls' borders need 3:1.
pub const AA_TEXT: f64 = 4.5;
pub const AA_NON_TEXT: f64 = 3.0;

impl Colour {
    pub fn parse(text: &str) -> Option<Self> {
        let hex = text.strip_prefix('#')?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let channel = |s: &str| u8::from_str_radix(s, 16).ok();
        match hex.len() {
            6 => Some(Self { r: channel(hex.get(0..2)?)?, g: channel(hex.get(2..4)?)?, b: channel(hex.get(4..6)?)? }),
            3 => {
                let double = |i: usize| hex.get(i..=i).and_then(|c| channel(&c.repeat(2)));
                Some(Self { r: double(0)?, g: double(1)?, b: double(2)? })
            }
            _ => None,
        }
    }

    fn luminance(self) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * linear(self.r) + 0.7152 * linear(self.g) + 0.0722 * linear(self.b)
    }

    /// The contrast ratio with another colour, from 1 (none) to 21 (black on white).
    pub fn contrast(self, other: Colour) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_matches_known_values() {
        let black = Colour::parse("#000").unwrap();
        assert!((black.contrast(WHITE) - 21.0).abs() < 0.01);
        assert!((WHITE.contrast(WHITE) - 1.0).abs() < 0.01);
        // #767676 on white is the classic lightest grey that passes AA for text.
        let grey = Colour::parse("#767676").unwrap();
        assert!(grey.contrast(WHITE) >= AA_TEXT && grey.contrast(WHITE) < 4.6);
        assert!(Colour::parse("#f2a900").unwrap().contrast(WHITE) < AA_NON_TEXT);
    }

    #[test]
    fn only_hex_colours_parse() {
        assert_eq!(Colour::parse("#0b4f8a"), Some(Colour { r: 11, g: 79, b: 138 }));
        assert_eq!(Colour::parse("#abc"), Some(Colour { r: 0xaa, g: 0xbb, b: 0xcc }));
        for bad in ["0b4f8a", "#0b4f8", "#ggg", "red", "#12345678", "#ééé"] {
            assert_eq!(Colour::parse(bad), None, "{bad}");
        }
    }
}
