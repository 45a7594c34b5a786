//! JSON Web Tokens from the telco's OpenID provider: the signature checked against the provider's
//! JWKS with an algorithm the connector allows (never `none`, never HMAC: a public key must not
//! double as a shared secret), then issuer, audience and lifetime. No I/O here.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The asymmetric algorithms orderguard can verify.
pub const SUPPORTED_ALGORITHMS: [&str; 9] =
    ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT ({0})")]
    Malformed(&'static str),
    #[error("the token's algorithm `{0}` is not allowed")]
    AlgorithmNotAllowed(String),
    #[error("no key of the provider matches the token (kid {0:?})")]
    UnknownKey(Option<String>),
    #[error("the token's signature is not valid")]
    BadSignature,
    #[error("the token was issued by `{0}`, not by the configured issuer")]
    WrongIssuer(String),
    #[error("the token is not meant for orderguard (audience)")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the provider says the token is not active (expired or revoked)")]
    Inactive,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token has no `{0}` claim")]
    MissingClaim(&'static str),
}

#[derive(Debug, Clone, Deserialize)]
pub struct Jwk {
    pub kty: String,
    pub kid: Option<String>,
    pub alg: Option<String>,
    #[serde(rename = "use")]
    pub usage: Option<String>,
    pub n: Option<String>,
    pub e: Option<String>,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

impl JwkSet {
    /// Reads a JWKS document; keys this reader cannot use are skipped, not fatal (RFC 7517 §5).
    pub fn from_json(document: &Value) -> Option<Self> {
        let keys = document.get("keys")?.as_array()?;
        Some(Self { keys: keys.iter().filter_map(|k| serde_json::from_value(k.clone()).ok()).collect() })
    }
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    /// Extensions the token says must be understood; this reader understands none (RFC 7515 §4.1.11).
    crit: Option<Value>,
}

/// A token split and decoded, its signature not yet checked.
#[derive(Debug)]
pub struct Unverified {
    alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
    crit: bool,
    claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

/// What a token must satisfy besides its signature.
pub struct Expectations<'a> {
    pub issuer: &'a str,
    /// At least one of these must be in `aud`.
    pub audiences: &'a [String],
    pub allowed_algorithms: &'a [String],
    pub leeway_seconds: i64,
    pub now_seconds: i64,
}

/// Whether `token` has the shape of a JWS (three parts, a JSON header): access tokens may also be
/// opaque strings, which are introspected instead.
pub fn looks_like_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let header = parts.next().and_then(|h| URL_SAFE_NO_PAD.decode(h).ok());
    let shape = parts.next().is_some() && parts.next().is_some() && parts.next().is_none();
    shape && header.is_some_and(|h| serde_json::from_slice::<Header>(&h).is_ok())
}

pub fn parse(token: &str) -> Result<Unverified, TokenError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("it needs three dot-separated parts"));
    };
    let decode = |part: &str, what: &'static str| URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed(what));
    let header: Header = serde_json::from_slice(&decode(header_b64, "header is not base64url")?)
        .map_err(|_| TokenError::Malformed("header is not a JSON object with `alg`"))?;
    let claims: Map<String, Value> = serde_json::from_slice(&decode(claims_b64, "claims are not base64url")?)
        .map_err(|_| TokenError::Malformed("claims are not a JSON object"))?;
    Ok(Unverified {
        alg: header.alg,
        kid: header.kid,
        typ: header.typ,
        crit: header.crit.is_some(),
        claims,
        signing_input: format!("{header_b64}.{claims_b64}"),
        signature: decode(signature_b64, "signature is not base64url")?,
    })
}

impl Unverified {
    /// Checks algorithm and signature against the provider's keys, then the claims; gives the
    /// claims of a token that passed.
    pub fn verify(self, keys: &JwkSet, expect: &Expectations<'_>) -> Result<Map<String, Value>, TokenError> {
        if !SUPPORTED_ALGORITHMS.contains(&self.alg.as_str()) || !expect.allowed_algorithms.contains(&self.alg) {
            return Err(TokenError::AlgorithmNotAllowed(clip(&self.alg)));
        }
        if self.crit {
            return Err(TokenError::Malformed("it names critical header extensions (crit)"));
        }
        // The key named by `kid`, or, without one, every key of the algorithm's type (during a
        // rotation there are two). A key whose type, curve, `alg` or `use` does not fit never counts.
        let candidates: Vec<&Jwk> = keys
            .keys
            .iter()
            .filter(|k| {
                key_fits(&self.alg, k)
                    && k.alg.as_deref().is_none_or(|a| a == self.alg)
                    && k.usage.as_deref().is_none_or(|u| u == "sig")
                    && self.kid.as_ref().is_none_or(|kid| k.kid.as_ref() == Some(kid))
            })
            .collect();
        if candidates.is_empty() {
            return Err(TokenError::UnknownKey(self.kid.as_deref().map(clip)));
        }
        let message = self.signing_input.as_bytes();
        if !candidates.iter().any(|key| verify_signature(&self.alg, key, message, &self.signature).is_ok()) {
            return Err(TokenError::BadSignature);
        }
        check_claims(&self.claims, expect)?;
        Ok(self.claims)
    }
}

/// Text taken from a token for a message: short and printable, as it ends up in problem details
/// and events.
fn clip(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

fn key_fits(alg: &str, key: &Jwk) -> bool {
    match alg {
        "ES256" => key.kty == "EC" && key.crv.as_deref() == Some("P-256"),
        "ES384" => key.kty == "EC" && key.crv.as_deref() == Some("P-384"),
        "EdDSA" => key.kty == "OKP" && key.crv.as_deref() == Some("Ed25519"),
        _ => key.kty == "RSA",
    }
}

fn verify_signature(alg: &str, key: &Jwk, message: &[u8], sig: &[u8]) -> Result<(), TokenError> {
    let field = |value: &Option<String>| {
        value.as_deref().and_then(|v| URL_SAFE_NO_PAD.decode(v).ok()).ok_or(TokenError::UnknownKey(key.kid.clone()))
    };
    let verified = match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => {
            let params: &signature::RsaParameters = match alg {
                "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
                "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
                "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
                "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
                "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            let (n, e) = (field(&key.n)?, field(&key.e)?);
            // Some providers pad the modulus with a zero byte; ring wants it without.
            let n = n.iter().position(|&b| b != 0).and_then(|first| n.get(first..)).unwrap_or_default();
            RsaPublicKeyComponents { n, e: &e }.verify(params, message, sig)
        }
        "ES256" | "ES384" => {
            let algorithm: &signature::EcdsaVerificationAlgorithm =
                if alg == "ES256" { &signature::ECDSA_P256_SHA256_FIXED } else { &signature::ECDSA_P384_SHA384_FIXED };
            let mut point = vec![0x04];
            point.extend(field(&key.x)?);
            point.extend(field(&key.y)?);
            UnparsedPublicKey::new(algorithm, point).verify(message, sig)
        }
        "EdDSA" => UnparsedPublicKey::new(&signature::ED25519, field(&key.x)?).verify(message, sig),
        other => return Err(TokenError::AlgorithmNotAllowed(other.to_owned())),
    };
    verified.map_err(|_| TokenError::BadSignature)
}

fn check_claims(claims: &Map<String, Value>, expect: &Expectations<'_>) -> Result<(), TokenError> {
    let issuer = claims.get("iss").and_then(Value::as_str).ok_or(TokenError::MissingClaim("iss"))?;
    // Compared exactly, as OpenID Connect Core §3.1.3.7 asks (a trailing `/` counts).
    if issuer != expect.issuer {
        return Err(TokenError::WrongIssuer(clip(issuer)));
    }
    let audiences = audiences(claims);
    if audiences.is_empty() {
        return Err(TokenError::MissingClaim("aud"));
    }
    if !audiences.iter().any(|a| expect.audiences.iter().any(|e| e == a)) {
        return Err(TokenError::WrongAudience);
    }
    check_lifetime(claims, expect.leeway_seconds, expect.now_seconds, true)
}

/// The `aud` claim, a string or an array of them (RFC 7519 §4.1.3); empty when absent.
pub fn audiences(claims: &Map<String, Value>) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// `exp` (required or not) and `nbf` as NumericDates (RFC 7519 §2: may have a fraction); one that
/// is present but not a number is refused, never ignored.
pub fn check_lifetime(
    claims: &Map<String, Value>,
    leeway_seconds: i64,
    now_seconds: i64,
    exp_required: bool,
) -> Result<(), TokenError> {
    let date = |name: &'static str| match claims.get(name) {
        None => Ok(None),
        Some(value) => value.as_f64().map(Some).ok_or(TokenError::MissingClaim(name)),
    };
    let now = now_seconds as f64;
    let leeway = leeway_seconds as f64;
    match date("exp")? {
        Some(exp) if now > exp + leeway => return Err(TokenError::Expired),
        None if exp_required => return Err(TokenError::MissingClaim("exp")),
        _ => {}
    }
    if let Some(nbf) = date("nbf")?
        && now + leeway < nbf
    {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair};
    use serde_json::json;

    const ISSUER: &str = "https://id.telco.example";

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn ed25519() -> (Ed25519KeyPair, Jwk) {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let jwk = Jwk {
            kty: "OKP".into(),
            kid: Some("ed".into()),
            alg: None,
            usage: Some("sig".into()),
            n: None,
            e: None,
            crv: Some("Ed25519".into()),
            x: Some(b64(pair.public_key().as_ref())),
            y: None,
        };
        (pair, jwk)
    }

    fn token(header: Value, claims: Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let sig = sign(input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }

    fn claims(now: i64) -> Value {
        json!({ "iss": ISSUER, "aud": ["shop", "https://orderguard.test"], "sub": "alice", "exp": now + 60, "iat": now })
    }

    fn expect<'a>(audiences: &'a [String], algorithms: &'a [String], now: i64) -> Expectations<'a> {
        Expectations { issuer: ISSUER, audiences, allowed_algorithms: algorithms, leeway_seconds: 5, now_seconds: now }
    }

    #[test]
    fn accepts_a_good_token_and_refuses_each_kind_of_bad_one() {
        let (pair, jwk) = ed25519();
        let keys = JwkSet { keys: vec![jwk] };
        let audiences = vec!["https://orderguard.test".to_owned()];
        let algorithms = vec!["EdDSA".to_owned(), "RS256".to_owned()];
        let now = 1_800_000_000;
        let sign = |m: &[u8]| pair.sign(m).as_ref().to_vec();
        let header = json!({ "alg": "EdDSA", "kid": "ed" });
        let verify = |t: &str| parse(t).and_then(|u| u.verify(&keys, &expect(&audiences, &algorithms, now)));

        let good = token(header.clone(), claims(now), sign);
        assert!(looks_like_jwt(&good));
        assert_eq!(verify(&good).unwrap()["sub"], "alice");

        let mut c = claims(now);
        c["exp"] = json!(now - 6);
        assert_eq!(verify(&token(header.clone(), c, sign)), Err(TokenError::Expired));
        let mut c = claims(now);
        c["exp"] = json!(now - 4);
        assert!(verify(&token(header.clone(), c, sign)).is_ok(), "within the leeway");
        let mut c = claims(now);
        c["nbf"] = json!(now + 60);
        assert_eq!(verify(&token(header.clone(), c, sign)), Err(TokenError::NotYetValid));
        let mut c = claims(now);
        c["iss"] = json!("https://evil.example");
        assert_eq!(
            verify(&token(header.clone(), c, sign)),
            Err(TokenError::WrongIssuer("https://evil.example".into()))
        );
        let mut c = claims(now);
        c["aud"] = json!("someone-else");
        assert_eq!(verify(&token(header.clone(), c, sign)), Err(TokenError::WrongAudience));

        // A changed payload under the old signature.
        let (input, sig) = good.rsplit_once('.').unwrap();
        let (head, _) = input.split_once('.').unwrap();
        let mut c = claims(now);
        c["sub"] = json!("mallory");
        let forged = format!("{head}.{}.{sig}", b64(c.to_string().as_bytes()));
        assert_eq!(verify(&forged), Err(TokenError::BadSignature));

        // `alg: none`, and HMAC with the public key as the secret: refused before any key is used.
        let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(claims(now).to_string().as_bytes()));
        assert_eq!(verify(&none), Err(TokenError::AlgorithmNotAllowed("none".into())));
        let hs = token(json!({ "alg": "HS256", "kid": "ed" }), claims(now), |m| {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, keys.keys[0].x.as_deref().unwrap().as_bytes());
            ring::hmac::sign(&key, m).as_ref().to_vec()
        });
        assert_eq!(verify(&hs), Err(TokenError::AlgorithmNotAllowed("HS256".into())));

        // An unknown kid, and an allowed algorithm whose key type does not fit the key.
        assert_eq!(
            verify(&token(json!({ "alg": "EdDSA", "kid": "other" }), claims(now), sign)),
            Err(TokenError::UnknownKey(Some("other".into())))
        );
        assert_eq!(
            verify(&token(json!({ "alg": "RS256", "kid": "ed" }), claims(now), sign)),
            Err(TokenError::UnknownKey(Some("ed".into())))
        );
        // Critical extensions are refused; dates may have fractions; a non-numeric `nbf` is refused.
        let crit = token(json!({ "alg": "EdDSA", "kid": "ed", "crit": ["b64"], "b64": false }), claims(now), sign);
        assert!(matches!(verify(&crit), Err(TokenError::Malformed(_))));
        let mut c = claims(now);
        c["exp"] = json!(now as f64 + 30.5);
        assert!(verify(&token(header.clone(), c, sign)).is_ok());
        let mut c = claims(now);
        c["nbf"] = json!("yesterday");
        assert_eq!(verify(&token(header.clone(), c, sign)), Err(TokenError::MissingClaim("nbf")));
        // An issuer differing only by a trailing slash is another issuer.
        let mut c = claims(now);
        c["iss"] = json!(format!("{ISSUER}/"));
        assert!(matches!(verify(&token(header.clone(), c, sign)), Err(TokenError::WrongIssuer(_))));
        assert!(!looks_like_jwt("opaque-token-value"));
        assert!(matches!(parse("a.b"), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn verifies_es256_with_the_only_key_when_there_is_no_kid() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let public = pair.public_key().as_ref();
        let jwk = Jwk {
            kty: "EC".into(),
            kid: None,
            alg: Some("ES256".into()),
            usage: None,
            n: None,
            e: None,
            crv: Some("P-256".into()),
            x: Some(b64(&public[1..33])),
            y: Some(b64(&public[33..65])),
        };
        let keys = JwkSet { keys: vec![jwk] };
        let now = 1_800_000_000;
        let t = token(json!({ "alg": "ES256" }), claims(now), |m| pair.sign(&rng, m).unwrap().as_ref().to_vec());
        let audiences = vec!["shop".to_owned()];
        let algorithms = vec!["ES256".to_owned()];
        assert!(parse(&t).unwrap().verify(&keys, &expect(&audiences, &algorithms, now)).is_ok());
        let not_allowed = vec!["RS256".to_owned()];
        assert_eq!(
            parse(&t).unwrap().verify(&keys, &expect(&audiences, &not_allowed, now)),
            Err(TokenError::AlgorithmNotAllowed("ES256".into()))
        );
    }
}
