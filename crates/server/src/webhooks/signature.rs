//! Standard Webhooks signatures: `webhook-signature` holds `v1,` + base64 of HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the endpoint's secret (`whsec_` +
//! base64), once per secret while a rotation runs. Five lines of HMAC: no crate is needed for it,
//! and the tests verify every signature with the scheme's own libraries.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};

/// An endpoint's signing secret.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl WebhookSecret {
    /// `whsec_` + base64 of 24 to 64 random bytes.
    pub fn parse(text: &str) -> Result<Self, String> {
        let encoded = text.strip_prefix("whsec_").ok_or("a webhook secret starts with whsec_")?;
        let bytes = STANDARD.decode(encoded).map_err(|_| "a webhook secret is whsec_ and base64".to_owned())?;
        if !(24..=64).contains(&bytes.len()) {
            return Err("a webhook secret holds 24 to 64 bytes".into());
        }
        Ok(Self(bytes))
    }

    /// A new random secret, as `whsec_…`.
    pub fn generate() -> String {
        format!("whsec_{}", STANDARD.encode(crate::ids::random_bytes::<32>()))
    }
}

/// An endpoint's Ed25519 signing key, for `v1a` signatures.
pub struct SigningKey(jsonwebtoken::EncodingKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl SigningKey {
    /// A PKCS#8 PEM Ed25519 private key, tried by signing once.
    pub fn parse(pem: &str) -> Result<Self, String> {
        let key = jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes())
            .map_err(|_| "the signing key is not an Ed25519 private key in PEM".to_owned())?;
        jsonwebtoken::crypto::sign(b"probe", &key, jsonwebtoken::Algorithm::EdDSA)
            .map_err(|_| "the signing key is not an Ed25519 private key in PEM".to_owned())?;
        Ok(Self(key))
    }
}

/// The `webhook-signature` header: one `v1,…` per secret and a `v1a,…` with the signing key,
/// separated by spaces.
pub fn sign(secrets: &[WebhookSecret], key: Option<&SigningKey>, id: &str, timestamp: i64, body: &str) -> String {
    let signed = format!("{id}.{timestamp}.{body}");
    let symmetric = secrets.iter().filter_map(|secret| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&secret.0).ok()?;
        mac.update(signed.as_bytes());
        Some(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
    });
    // jsonwebtoken gives the signature in base64url; the scheme has standard base64.
    let asymmetric = key.and_then(|key| {
        let url_safe = jsonwebtoken::crypto::sign(signed.as_bytes(), &key.0, jsonwebtoken::Algorithm::EdDSA).ok()?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(url_safe).ok()?;
        Some(format!("v1a,{}", STANDARD.encode(bytes)))
    });
    symmetric.chain(asymmetric).collect::<Vec<_>>().join(" ")
}

/// Whether one of the `v1` signatures in `header` is ours for this delivery (a receiver's check,
/// for the demo's own receiver; real receivers use a Standard Webhooks library).
pub fn verify(secrets: &[WebhookSecret], id: &str, timestamp: &str, body: &str, header: &str) -> bool {
    let Ok(timestamp) = timestamp.parse::<i64>() else { return false };
    let expected = sign(secrets, None, id, timestamp, body);
    let given: Vec<&str> = header.split(' ').collect();
    expected.split(' ').any(|e| given.iter().any(|g| crate::crypto::constant_time_eq(e.as_bytes(), g.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference implementations.
    #[test]
    fn signs_as_the_specification_does() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = sign(&[secret], None, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let secret = [WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()];
        let (id, body) = ("msg_p5jXN8AQM9LWM0D4loKWxJek", r#"{"test": 2432232314}"#);
        assert!(verify(&secret, id, "1614265330", body, &format!("v1,other {signature}")));
        assert!(!verify(&secret, id, "1614265331", body, &signature));
        assert!(!verify(&secret, id, "1614265330", r#"{"test": 1}"#, &signature));
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(WebhookSecret::parse(&WebhookSecret::generate()).is_ok());
    }
}
