//! Identifiers and random tokens from the operating system's CSPRNG.

use base64::Engine;
use rand_core::{OsRng, RngCore};

/// A UUIDv7: time-ordered (good for indexes), 74 random bits (not guessable in practice).
pub fn new_id(now_ms: i64) -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    let ms = u64::try_from(now_ms).unwrap_or(0).to_be_bytes();
    for (slot, byte) in bytes.iter_mut().zip(ms.iter().skip(2)) {
        *slot = *byte;
    }
    if let Some(b) = bytes.get_mut(6) {
        *b = (*b & 0x0f) | 0x70;
    }
    if let Some(b) = bytes.get_mut(8) {
        *b = (*b & 0x3f) | 0x80;
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let part = |range: std::ops::Range<usize>| hex.get(range).unwrap_or_default().to_owned();
    format!("{}-{}-{}-{}-{}", part(0..8), part(8..12), part(12..16), part(16..20), part(20..32))
}

/// `bytes` random bytes, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    OsRng.fill_bytes(&mut buf);
    buf
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_uuid_v7_and_ordered() {
        let a = super::new_id(1_000);
        let b = super::new_id(2_000);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "7");
        assert!(a < b);
    }
}
