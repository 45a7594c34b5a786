//! Compact JWS with EdDSA (Ed25519) for receipts, and the JWKS that publishes the public keys.
//! Several keys can be published at once so that a rotation never breaks a receipt in flight.
//! The JOSE work (header, encoding, signature) is jsonwebtoken's; which key signs is ours.

use std::sync::RwLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::{CryptoError, Secrets};
use crate::records::keys::SigningKeyRow;

/// A new key is published this long before it signs, so that shops that cache the JWKS (it is
/// served with `max-age=300`) know it before they see it.
pub const PUBLISH_BEFORE_SIGNING_MS: i64 = 300_000;

/// The PKCS#8 v1 wrapping of a raw Ed25519 seed (RFC 8410 §7): the stored keys are seeds, and
/// jsonwebtoken takes PKCS#8.
const ED25519_PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

struct LoadedKey {
    kid: String,
    key: EncodingKey,
    /// The public key as the JWKS publishes it (base64url).
    x: String,
    created_at: i64,
}

/// The signing key for a seed, and its public key (base64url).
fn ed25519_key(seed: &[u8; 32]) -> Result<(EncodingKey, String), CryptoError> {
    let key = EncodingKey::from_ed_der(&[ED25519_PKCS8_PREFIX.as_slice(), seed].concat());
    match Jwk::from_encoding_key(&key, Algorithm::EdDSA).map(|jwk| jwk.algorithm) {
        Ok(AlgorithmParameters::OctetKeyPair(public)) => Ok((key, public.x)),
        _ => Err(CryptoError::BadSigningKey),
    }
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
                let seed = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| CryptoError::BadSigningKey)?;
                let (key, x) = ed25519_key(&seed)?;
                Ok(LoadedKey { kid: row.kid.clone(), key, x, created_at: row.created_at })
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
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(chosen.kid.clone());
        jsonwebtoken::encode(&header, claims, &chosen.key).ok()
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
                            "x": k.x,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        serde_json::json!({ "keys": keys })
    }
}

/// A fresh key pair as stored: the private half encrypted under the deployment's secret.
pub fn generate_key(secrets: &Secrets, kid: String, now: i64) -> Result<SigningKeyRow, CryptoError> {
    let seed = crate::ids::random_bytes::<32>();
    let (_, x) = ed25519_key(&seed)?;
    Ok(SigningKeyRow {
        kid,
        private_key_enc: secrets.encrypt(&seed),
        public_key: B64.decode(x).map_err(|_| CryptoError::BadSigningKey)?,
        created_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{DecodingKey, Validation};
    use serde_json::{Value, json};

    fn secrets() -> Secrets {
        let master = crate::crypto::keyring::MasterSecret::new([7; 32]);
        Secrets::new(&crate::crypto::keyring::first_keys(&master, false, 0), crate::clock::Clock::default()).unwrap()
    }

    /// What a shop does with a receipt: the key named by `kid` from the JWKS, EdDSA only.
    fn verify_like_a_shop(signer: &ReceiptSigner, receipt: &str) -> (jsonwebtoken::Header, Value) {
        let jwks: JwkSet = serde_json::from_value(signer.jwks()).unwrap();
        let header = jsonwebtoken::decode_header(receipt).unwrap();
        let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Value>(receipt, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap();
        (data.header, data.claims)
    }

    #[test]
    fn receipts_verify_against_the_published_keys() {
        let secrets = secrets();
        let old = generate_key(&secrets, "old".into(), 0).unwrap();
        let new = generate_key(&secrets, "new".into(), 1_000_000).unwrap();
        let signer = ReceiptSigner::new(&[new.clone(), old.clone()], &secrets).unwrap();

        let jwks = signer.jwks();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        assert_eq!(
            jwks["keys"][0],
            json!({ "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "new", "x": B64.encode(&new.public_key) })
        );
        // The stored public key is the seed's, as an independent Ed25519 implementation derives it.
        let seed = <[u8; 32]>::try_from(secrets.decrypt(&new.private_key_enc).unwrap()).unwrap();
        assert_eq!(ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes().as_slice(), new.public_key);

        let claims = json!({ "verification_id": "v-1", "amount": "849.00" });
        // The new key is not published long enough yet: the old one signs.
        let early = signer.sign(&claims, 1_000_000 + PUBLISH_BEFORE_SIGNING_MS - 1).unwrap();
        let (header, got) = verify_like_a_shop(&signer, &early);
        assert_eq!(
            (header.kid.as_deref(), header.typ.as_deref(), header.alg),
            (Some("old"), Some("JWT"), Algorithm::EdDSA)
        );
        assert_eq!(got, claims);
        let later = signer.sign(&claims, 1_000_000 + PUBLISH_BEFORE_SIGNING_MS).unwrap();
        assert_eq!(verify_like_a_shop(&signer, &later).0.kid.as_deref(), Some("new"));

        // A new deployment signs with its only key at once; without keys nothing is signed.
        let fresh = ReceiptSigner::new(&[new], &secrets).unwrap();
        assert_eq!(verify_like_a_shop(&fresh, &fresh.sign(&claims, 1_000_000).unwrap()).1, claims);
        assert!(ReceiptSigner::new(&[], &secrets).unwrap().sign(&claims, 0).is_none());
    }

    #[test]
    fn a_stored_key_of_the_wrong_size_is_refused() {
        let secrets = secrets();
        let row = SigningKeyRow {
            kid: "k".into(),
            private_key_enc: secrets.encrypt(&[1; 31]),
            public_key: vec![],
            created_at: 0,
        };
        assert!(matches!(ReceiptSigner::new(&[row], &secrets), Err(CryptoError::BadSigningKey)));
    }
}
