//! Keys and the primitives that use them: keyed hashes, AEAD for personal data, JWS receipts,
//! API key hashing. Every key is derived from the one master secret of the deployment.

pub mod jws;
pub mod passwords;

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use orderguard_domain::audit_chain::AuditChain;
use orderguard_domain::code::CodeHasher;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the secret key must be 32 bytes, base64 or hex encoded (e.g. `openssl rand -base64 32`)")]
    BadSecretKey,
    #[error("data could not be decrypted: wrong secret key or corrupted data")]
    Decrypt,
    #[error("a stored signing key is invalid")]
    BadSigningKey,
}

/// Version byte in front of every ciphertext, so that a later key rotation can tell keys apart.
const AEAD_VERSION: u8 = 1;

pub struct Secrets {
    code_hasher: CodeHasher,
    phone_hash_key: [u8; 32],
    customer_key: [u8; 32],
    aead: XChaCha20Poly1305,
    audit_chain: AuditChain,
    hosted_token_key: [u8; 32],
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else {
        return [0; 32];
    };
    for part in parts {
        mac.update(part);
        mac.update(b"\0");
    }
    mac.finalize().into_bytes().into()
}

impl Secrets {
    /// Parses a 32-byte key written as base64 (standard or URL-safe) or as 64 hex digits.
    pub fn parse_master_key(text: &str) -> Result<[u8; 32], CryptoError> {
        let text = text.trim();
        let decoded = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| text.get(i * 2..i * 2 + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect::<Option<Vec<u8>>>()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text))
                .ok()
        };
        decoded.and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()).ok_or(CryptoError::BadSecretKey)
    }

    pub fn encode_master_key(key: &[u8; 32]) -> String {
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    pub fn derive(master: &[u8; 32]) -> Self {
        let derive = |label: &str| hmac(master, &[b"orderguard", label.as_bytes()]);
        Self {
            code_hasher: CodeHasher::new(derive("code-hash")),
            phone_hash_key: derive("phone-hash"),
            customer_key: derive("customer-ref"),
            aead: XChaCha20Poly1305::new(&derive("personal-data-aead").into()),
            audit_chain: AuditChain::new(derive("audit-chain")),
            hosted_token_key: derive("hosted-token"),
        }
    }

    pub fn code_hasher(&self) -> &CodeHasher {
        &self.code_hasher
    }

    /// The key of the audit log's chain of hashes.
    pub fn audit_chain(&self) -> &AuditChain {
        &self.audit_chain
    }

    /// A keyed hash of an E.164 number, for lookups (velocity, data-subject requests) without the number.
    pub fn phone_hash(&self, e164: &str) -> Vec<u8> {
        hmac(&self.phone_hash_key, &[e164.as_bytes()]).to_vec()
    }

    /// A keyed reference of another identifier (`kind`: a number range, a device id, a client
    /// network), for counting by it without keeping it.
    pub fn reference(&self, kind: &str, value: &str) -> String {
        let digest = hmac(&self.phone_hash_key, &[kind.as_bytes(), value.as_bytes()]);
        orderguard_domain::order::hex(digest.get(..16).unwrap_or_default())
    }

    /// The token in a verification's hosted page link: derived from its id, so that only its
    /// hash is stored (`hosted_token_hash`) and the link can still be given on every read.
    pub fn hosted_token(&self, verification_id: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(hmac(&self.hosted_token_key, &[verification_id.as_bytes()]))
    }

    /// The pseudonym a customer id is stored under.
    pub fn customer_ref(&self, brand: &str, customer_id: &str) -> String {
        let digest = hmac(&self.customer_key, &[brand.as_bytes(), customer_id.as_bytes()]);
        orderguard_domain::order::hex(digest.get(..16).unwrap_or_default())
    }

    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce_bytes = crate::ids::random_bytes::<24>();
        let nonce = XNonce::from_slice(&nonce_bytes);
        // Encryption with a valid key and nonce only fails for inputs beyond 256 GiB.
        let ciphertext = self.aead.encrypt(nonce, plaintext).unwrap_or_default();
        let mut out = Vec::with_capacity(1 + 24 + ciphertext.len());
        out.push(AEAD_VERSION);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn decrypt(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (Some(&AEAD_VERSION), Some(nonce), Some(ciphertext)) = (data.first(), data.get(1..25), data.get(25..))
        else {
            return Err(CryptoError::Decrypt);
        };
        self.aead.decrypt(XNonce::from_slice(nonce), ciphertext).map_err(|_| CryptoError::Decrypt)
    }

    pub fn decrypt_string(&self, data: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.decrypt(data)?).map_err(|_| CryptoError::Decrypt)
    }
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// What the database keeps of a hosted page's token: its SHA-256 in hex (a high-entropy secret
/// needs no slow hash), so that reading the database does not open anyone's page.
pub fn hosted_token_hash(token: &str) -> String {
    orderguard_domain::order::hex(&sha256(token.as_bytes()))
}

/// Whether a stored hosted token is such a hash; a verification created before this release
/// keeps its token in clear until it ends.
pub fn is_hosted_token_hash(stored: &str) -> bool {
    stored.len() == 64 && stored.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Compares secrets by their SHA-256: where two digests differ tells nothing about where the
/// secrets do, and lengths do not show.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(a), Sha256::digest(b));
    a.iter().zip(b.iter()).fold(0_u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// API keys: `og_` and 192 random bits. Only the SHA-256 is stored (a high-entropy secret needs no
/// slow hash); the first characters are kept to tell keys apart in listings.
pub struct NewApiKey {
    pub secret: String,
    pub hash: Vec<u8>,
    pub prefix: String,
}

pub fn new_api_key() -> NewApiKey {
    let secret = format!("og_{}", crate::ids::random_token(24));
    let hash = sha256(secret.as_bytes());
    let prefix = secret.chars().take(9).collect();
    NewApiKey { secret, hash, prefix }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aead_round_trip_and_tamper_detection() {
        let secrets = Secrets::derive(&[1; 32]);
        let sealed = secrets.encrypt(b"+4915112345678");
        assert_eq!(secrets.decrypt(&sealed).unwrap(), b"+4915112345678");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(secrets.decrypt(&tampered).is_err());
        assert!(Secrets::derive(&[2; 32]).decrypt(&sealed).is_err());
    }

    #[test]
    fn master_key_formats() {
        let key = [7u8; 32];
        assert_eq!(Secrets::parse_master_key(&Secrets::encode_master_key(&key)).unwrap(), key);
        assert_eq!(Secrets::parse_master_key(&"07".repeat(32)).unwrap(), key);
        assert!(Secrets::parse_master_key("short").is_err());
    }

    #[test]
    fn api_keys_have_enough_entropy() {
        let key = new_api_key();
        assert!(key.secret.len() >= 3 + 32);
        assert_eq!(key.hash, sha256(key.secret.as_bytes()));
    }
}
