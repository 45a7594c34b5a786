//! Compact JWS with EdDSA (Ed25519) for receipts, and the JWKS that publishes the public keys.
//! Several keys can be published at once so that a rotation never breaks a receipt in flight.

use std::sync::RwLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::Serialize;

use super::{CryptoError, Secrets};
use crate::records::keys::SigningKeyRow;

/// A new key is published this long before it signs, so that shops that cache the JWKS (it is
/// served with `max-age=300`) know it before they see it.
pub const PUBLISH_BEFORE_SIGNING_MS: i64 = 300_000;

struct LoadedKey {
    kid: String,
    key: SigningKey,
    created_at: i64,
}

pub struct ReceiptSigner {
    /// Newest first.
    keys: RwLock<Vec<LoadedKey>>,
}

impl ReceiptSigner {
    pub fn new(rows: &[SigningKeyRow], secrets: &Secrets) -> Result<Self, CryptoError> {
        let signer = Self { keys: RwLock::new(Vec::new()) };
        signer.reload(rows, secrets)?;
        Ok(signer)
    }

    pub fn reload(&self, rows: &[SigningKeyRow], secrets: &Secrets) -> Result<(), CryptoError> {
        let keys = rows
            .iter()
            .map(|row| {
                let bytes = secrets.decrypt(&row.private_key_enc)?;
                let secret = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| CryptoError::BadSigningKey)?;
                Ok(LoadedKey { kid: row.kid.clone(), key: SigningKey::from_bytes(&secret), created_at: row.created_at })
            })
            .collect::<Result<Vec<_>, CryptoError>>()?;
        if let Ok(mut guard) = self.keys.write() {
            *guard = keys;
        }
        Ok(())
    }

    /// Signs with the newest key published long enough, or the oldest key when none is (a new
    /// deployment); `None` when no key is loaded.
    pub fn sign(&self, claims: &impl Serialize, now_ms: i64) -> Option<String> {
        let guard = self.keys.read().ok()?;
        let chosen =
            guard.iter().find(|k| k.created_at <= now_ms - PUBLISH_BEFORE_SIGNING_MS).or_else(|| guard.last())?;
        let (kid, key) = (&chosen.kid, &chosen.key);
        let header = serde_json::json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid });
        let payload = serde_json::to_vec(claims).ok()?;
        let signing_input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(payload));
        let signature = key.sign(signing_input.as_bytes());
        Some(format!("{signing_input}.{}", B64.encode(signature.to_bytes())))
    }

    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .keys
            .read()
            .map(|guard| {
                guard
                    .iter()
                    .map(|k| {
                        serde_json::json!({
                            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": k.kid,
                            "x": B64.encode(k.key.verifying_key().to_bytes()),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        serde_json::json!({ "keys": keys })
    }
}

/// A fresh key pair as stored: the private half encrypted under the deployment's secret.
pub fn generate_key(secrets: &Secrets, kid: String, now: i64) -> SigningKeyRow {
    let key = SigningKey::from_bytes(&crate::ids::random_bytes::<32>());
    SigningKeyRow {
        kid,
        private_key_enc: secrets.encrypt(&key.to_bytes()),
        public_key: key.verifying_key().to_bytes().to_vec(),
        created_at: now,
    }
}
