//! Compact JWS with EdDSA (Ed25519) for receipts, and the JWKS that publishes the public keys.
//! Several keys can be published at once so that a rotation never breaks a receipt in flight.

use std::sync::RwLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::Serialize;

use super::{CryptoError, Secrets};
use crate::store::keys::SigningKeyRow;

pub struct ReceiptSigner {
    /// Newest first; the first one signs.
    keys: RwLock<Vec<(String, SigningKey)>>,
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
                Ok((row.kid.clone(), SigningKey::from_bytes(&secret)))
            })
            .collect::<Result<Vec<_>, CryptoError>>()?;
        if let Ok(mut guard) = self.keys.write() {
            *guard = keys;
        }
        Ok(())
    }

    /// Signs the claims with the newest key; `None` when no key is loaded.
    pub fn sign(&self, claims: &impl Serialize) -> Option<String> {
        let guard = self.keys.read().ok()?;
        let (kid, key) = guard.first()?;
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
                    .map(|(kid, key)| {
                        serde_json::json!({
                            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid,
                            "x": B64.encode(key.verifying_key().to_bytes()),
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
