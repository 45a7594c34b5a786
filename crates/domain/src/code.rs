//! One-time codes: generated from a CSPRNG, stored only as a keyed hash, compared in constant time.

use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::FieldError;

pub const MIN_LENGTH: u8 = 6;
pub const MAX_LENGTH: u8 = 8;

/// A code as typed by the customer or as generated: 6 to 8 ASCII digits.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

impl std::fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtpCode(***)")
    }
}

impl OtpCode {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let trimmed = input.trim_matches(|c: char| c.is_ascii_whitespace());
        let length_ok = (usize::from(MIN_LENGTH)..=usize::from(MAX_LENGTH)).contains(&trimmed.len());
        if !length_ok || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new("code", "must be the 6 to 8 digits from the SMS"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// A uniformly random code of `length` digits (rejection sampling: no modulo bias).
    pub fn generate(length: u8, rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let length = length.clamp(MIN_LENGTH, MAX_LENGTH);
        let modulus = 10_u64.pow(u32::from(length));
        let limit = u64::MAX - (u64::MAX % modulus);
        let value = loop {
            let candidate = rng.next_u64();
            if candidate < limit {
                break candidate % modulus;
            }
        };
        Self(format!("{value:0width$}", width = usize::from(length)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Hashes codes with a server-side key, bound to the verification they belong to, so a stolen
/// database row reveals nothing and a code for one verification is worthless for another.
#[derive(Clone)]
pub struct CodeHasher {
    key: [u8; 32],
}

impl CodeHasher {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    pub fn hash(&self, verification_id: &str, code: &OtpCode) -> [u8; 32] {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return [0; 32];
        };
        mac.update(verification_id.as_bytes());
        mac.update(b"\0");
        mac.update(code.as_str().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Constant-time comparison of a typed code against the stored hash.
    pub fn matches(&self, verification_id: &str, code: &OtpCode, stored: &[u8]) -> bool {
        bool::from(self.hash(verification_id, code).as_slice().ct_eq(stored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(u64);
    impl RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 += 1;
            self.0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(0);
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl CryptoRng for Counter {}

    #[test]
    fn generated_codes_have_the_asked_length_and_leading_zeros() {
        let code = OtpCode::generate(6, &mut Counter(41));
        assert_eq!(code.as_str(), "000042");
        assert_eq!(OtpCode::generate(8, &mut Counter(0)).as_str().len(), 8);
    }

    #[test]
    fn hash_is_bound_to_the_verification_and_the_key() {
        let hasher = CodeHasher::new([7; 32]);
        let code = OtpCode::parse("123456").unwrap();
        let stored = hasher.hash("v1", &code);
        assert!(hasher.matches("v1", &code, &stored));
        assert!(!hasher.matches("v2", &code, &stored));
        assert!(!hasher.matches("v1", &OtpCode::parse("123457").unwrap(), &stored));
        assert!(!CodeHasher::new([8; 32]).matches("v1", &code, &stored));
    }

    #[test]
    fn parse_accepts_only_digits() {
        assert!(OtpCode::parse(" 123456 ").is_ok());
        assert!(OtpCode::parse("12345").is_err());
        assert!(OtpCode::parse("12345a").is_err());
        assert!(OtpCode::parse("123456789").is_err());
    }
}
