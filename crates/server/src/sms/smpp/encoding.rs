//! Text to short_message octets: GSM-7 when every character fits (more characters per SMS), else
//! UCS-2; and long messages split into parts with a concatenation user data header.
//!
//! GSM-7 is sent unpacked, one septet per octet, as SMSCs expect for data_coding 0.

/// data_coding for the SMSC's default alphabet, taken here as GSM 03.38.
pub const DATA_CODING_GSM7: u8 = 0x00;
/// data_coding for UCS-2 big-endian.
pub const DATA_CODING_UCS2: u8 = 0x08;

/// GSM 03.38 prefix that selects the extension table for the next septet.
const ESCAPE: u8 = 0x1B;

/// GSM 03.38 default alphabet by septet value; 0x1B is the escape, never a character.
const GSM7_BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// GSM 03.38 extension table: the character and the septet that follows the escape.
const GSM7_EXTENSION: [(char, u8); 10] = [
    ('\u{C}', 0x0A),
    ('^', 0x14),
    ('{', 0x28),
    ('}', 0x29),
    ('\\', 0x2F),
    ('[', 0x3C),
    ('~', 0x3D),
    (']', 0x3E),
    ('|', 0x40),
    ('€', 0x65),
];

const SINGLE_GSM7_SEPTETS: usize = 160;
const PART_GSM7_SEPTETS: usize = 153;
const SINGLE_OCTETS: usize = 140;
/// 140 octets less the 6-octet concatenation header.
const PART_OCTETS: usize = 134;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    /// The concatenation header counts parts in one octet.
    #[error("the message needs {0} parts, more than 255")]
    TooManyParts(usize),
}

/// The data_coding and octets for `text`: GSM-7 if every character is in the GSM 03.38 default
/// alphabet or its extension, else UCS-2 (surrogate pairs for characters outside the BMP, as
/// handsets read them).
pub fn encode_text(text: &str) -> (u8, Vec<u8>) {
    match gsm7(text) {
        Some(septets) => (DATA_CODING_GSM7, septets),
        None => (DATA_CODING_UCS2, text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
    }
}

fn gsm7(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        if let Some(septet) = GSM7_BASIC.iter().position(|&b| b == c).filter(|&p| p != usize::from(ESCAPE)) {
            out.push(u8::try_from(septet).ok()?);
        } else {
            let &(_, septet) = GSM7_EXTENSION.iter().find(|(e, _)| *e == c)?;
            out.extend_from_slice(&[ESCAPE, septet]);
        }
    }
    Some(out)
}

/// The short_message of each SMS for an encoded text: the text itself if it fits one SMS (160 GSM-7
/// septets, 140 octets otherwise), else parts of 153 septets or 134 octets (67 UCS-2 characters),
/// each behind the header `05 00 03 reference total sequence`. A part never ends inside a GSM-7
/// escape pair or a UTF-16 surrogate pair, so each part displays on its own. Parts are sent with
/// `ESM_CLASS_UDHI` set.
pub fn split_concatenated(data_coding: u8, bytes: &[u8], reference: u8) -> Result<Vec<Vec<u8>>, EncodingError> {
    let (single, part) = match data_coding {
        DATA_CODING_GSM7 => (SINGLE_GSM7_SEPTETS, PART_GSM7_SEPTETS),
        _ => (SINGLE_OCTETS, PART_OCTETS),
    };
    if bytes.len() <= single {
        return Ok(vec![bytes.to_vec()]);
    }
    let mut chunks: Vec<&[u8]> = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let mut end = rest.len().min(part);
        if end < rest.len() && ends_inside_pair(data_coding, rest.get(..end).unwrap_or_default()) {
            end -= if data_coding == DATA_CODING_UCS2 { 2 } else { 1 };
        }
        let (chunk, tail) = rest.split_at(end);
        chunks.push(chunk);
        rest = tail;
    }
    let total = u8::try_from(chunks.len()).map_err(|_| EncodingError::TooManyParts(chunks.len()))?;
    Ok(chunks
        .into_iter()
        .zip(1..=total)
        .map(|(chunk, sequence)| [&[0x05, 0x00, 0x03, reference, total, sequence][..], chunk].concat())
        .collect())
}

/// Whether `chunk` ends with the first half of a pair that must stay together.
fn ends_inside_pair(data_coding: u8, chunk: &[u8]) -> bool {
    match data_coding {
        DATA_CODING_GSM7 => {
            // Escapes come in pairs, so the last octet opens one only after an even run of them.
            let trailing_escapes = chunk.iter().rev().take_while(|&&b| b == ESCAPE).count();
            trailing_escapes % 2 == 1
        }
        DATA_CODING_UCS2 => match chunk.len().checked_sub(2).and_then(|at| chunk.get(at..)) {
            Some([high, _]) => (0xD8..=0xDB).contains(high),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udh(reference: u8, total: u8, sequence: u8) -> Vec<u8> {
        vec![0x05, 0x00, 0x03, reference, total, sequence]
    }

    #[test]
    fn chooses_gsm7_when_every_character_fits() {
        assert_eq!(
            encode_text("Code 1234 für Ä@"),
            (0, [b"Code 1234 f".as_slice(), &[0x7E, b'r', b' ', 0x5B, 0x00]].concat())
        );
        assert_eq!(
            encode_text("€[]{}~\\^|"),
            (
                0,
                vec![
                    0x1B, 0x65, 0x1B, 0x3C, 0x1B, 0x3E, 0x1B, 0x28, 0x1B, 0x29, 0x1B, 0x3D, 0x1B, 0x2F, 0x1B, 0x14,
                    0x1B, 0x40
                ]
            )
        );
        assert_eq!(encode_text("\n\rΔ_ß¿à"), (0, vec![0x0A, 0x0D, 0x10, 0x11, 0x1E, 0x60, 0x7F]));
    }

    #[test]
    fn falls_back_to_ucs2() {
        assert_eq!(encode_text("Код"), (8, vec![0x04, 0x1A, 0x04, 0x3E, 0x04, 0x34]));
        assert_eq!(encode_text("a😀"), (8, vec![0x00, 0x61, 0xD8, 0x3D, 0xDE, 0x00]));
        // The escape character itself is not text that GSM-7 can carry.
        assert_eq!(encode_text("\u{1B}").0, 8);
        assert_eq!(encode_text("`").0, 8);
    }

    #[test]
    fn a_text_that_fits_is_not_split() {
        let (dc, bytes) = encode_text(&"a".repeat(160));
        assert_eq!(split_concatenated(dc, &bytes, 1).unwrap(), vec![bytes]);
        let (dc, bytes) = encode_text(&"€".repeat(80));
        assert_eq!(split_concatenated(dc, &bytes, 1).unwrap().len(), 1);
        let (dc, bytes) = encode_text(&"ж".repeat(70));
        assert_eq!(split_concatenated(dc, &bytes, 1).unwrap(), vec![bytes]);
    }

    #[test]
    fn splits_gsm7_into_153_septet_parts() {
        let (dc, bytes) = encode_text(&"a".repeat(161));
        let parts = split_concatenated(dc, &bytes, 0x42).unwrap();
        assert_eq!(parts, vec![[udh(0x42, 2, 1), vec![b'a'; 153]].concat(), [udh(0x42, 2, 2), vec![b'a'; 8]].concat()]);
    }

    #[test]
    fn never_splits_an_escape_pair() {
        // 152 plain characters, then € occupies septets 153 and 154.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let (dc, bytes) = encode_text(&text);
        let parts = split_concatenated(dc, &bytes, 7).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], [udh(7, 2, 1), vec![b'a'; 152]].concat());
        assert_eq!(parts[1], [udh(7, 2, 2), vec![0x1B, 0x65], vec![b'b'; 10]].concat());
        // A run of euros: every part holds whole pairs.
        let (dc, bytes) = encode_text(&"€".repeat(200));
        let parts = split_concatenated(dc, &bytes, 7).unwrap();
        assert_eq!(parts.iter().map(|p| (p.len() - 6) / 2).collect::<Vec<_>>(), vec![76, 76, 48]);
        assert!(parts.iter().all(|p| p[6..].chunks(2).all(|pair| pair == [0x1B, 0x65])));
    }

    #[test]
    fn splits_ucs2_into_67_character_parts_without_splitting_surrogates() {
        let (dc, bytes) = encode_text(&"ж".repeat(71));
        let parts = split_concatenated(dc, &bytes, 9).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].len(), 6 + 134);
        assert_eq!(parts[1], [udh(9, 2, 2), [0x04, 0x36].repeat(4)].concat());
        // 66 characters, then an emoji across the 67th and 68th UTF-16 units.
        let text = format!("{}😀{}", "ж".repeat(66), "ж".repeat(5));
        let (dc, bytes) = encode_text(&text);
        let parts = split_concatenated(dc, &bytes, 9).unwrap();
        assert_eq!(parts[0], [udh(9, 2, 1), [0x04, 0x36].repeat(66)].concat());
        assert_eq!(parts[1], [udh(9, 2, 2), vec![0xD8, 0x3D, 0xDE, 0x00], [0x04, 0x36].repeat(5)].concat());
        let rejoined: Vec<u8> = parts.iter().flat_map(|p| p[6..].to_vec()).collect();
        assert_eq!(rejoined, bytes);
    }

    #[test]
    fn refuses_more_than_255_parts() {
        let bytes = vec![b'a'; 153 * 256];
        assert_eq!(split_concatenated(0, &bytes, 1), Err(EncodingError::TooManyParts(256)));
        assert_eq!(split_concatenated(0, &bytes[..153 * 255], 1).unwrap().len(), 255);
    }
}
