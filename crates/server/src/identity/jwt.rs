//! JSON Web Tokens from the telco's OpenID provider: the signature checked against the provider's
//! JWKS with an algorithm the connector allows (never `none`, never HMAC: a public key must not
//! double as a shared secret), then issuer, audience and lifetime. No I/O here.
//!
//! jsonwebtoken reads the keys and checks the signature. The policy stays here: which algorithms
//! and keys may count, and the claims, held to the `now` passed in (the library's own lifetime
//! checks read the wall clock, so they are switched off).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
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

/// The header fields read before any key is chosen: `alg` as text, so that `none`, HMAC or a name
/// the library does not know is refused by name rather than as malformed.
#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    /// Extensions the token says must be understood; this reader understands none (RFC 7515 §4.1.11).
    crit: Option<Value>,
}

/// A token whose shape was checked, its signature not yet.
#[derive(Debug)]
pub struct Unverified<'t> {
    token: &'t str,
    alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
    crit: bool,
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

/// Checks the token's shape, so that a malformed token is refused before any key is fetched.
pub fn parse(token: &str) -> Result<Unverified<'_>, TokenError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("it needs three dot-separated parts"));
    };
    let decode = |part: &str, what: &'static str| URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed(what));
    let header: Header = serde_json::from_slice(&decode(header_b64, "header is not base64url")?)
        .map_err(|_| TokenError::Malformed("header is not a JSON object with `alg`"))?;
    serde_json::from_slice::<Map<String, Value>>(&decode(claims_b64, "claims are not base64url")?)
        .map_err(|_| TokenError::Malformed("claims are not a JSON object"))?;
    decode(signature_b64, "signature is not base64url")?;
    Ok(Unverified { token, alg: header.alg, kid: header.kid, typ: header.typ, crit: header.crit.is_some() })
}

impl Unverified<'_> {
    /// Checks algorithm and signature against the provider's keys, then the claims; gives the
    /// claims of a token that passed.
    pub fn verify(self, keys: &JwkSet, expect: &Expectations<'_>) -> Result<Map<String, Value>, TokenError> {
        let algorithm = match self.alg.parse::<Algorithm>() {
            Ok(algorithm)
                if SUPPORTED_ALGORITHMS.contains(&self.alg.as_str())
                    && expect.allowed_algorithms.contains(&self.alg) =>
            {
                algorithm
            }
            _ => return Err(TokenError::AlgorithmNotAllowed(clip(&self.alg))),
        };
        if self.crit {
            return Err(TokenError::Malformed("it names critical header extensions (crit)"));
        }
        // The key named by `kid`, or, without one, every key of the algorithm's type (during a
        // rotation there are two). A key whose type, curve, `alg` or `use` does not fit never counts.
        let candidates: Vec<&Jwk> = keys
            .keys
            .iter()
            .filter(|k| {
                key_fits(algorithm, k)
                    && k.common.key_algorithm.is_none_or(|a| a == KeyAlgorithm::from(algorithm))
                    && k.common.public_key_use.as_ref().is_none_or(|u| *u == PublicKeyUse::Signature)
                    && self.kid.as_ref().is_none_or(|kid| k.common.key_id.as_ref() == Some(kid))
            })
            .collect();
        if candidates.is_empty() {
            return Err(TokenError::UnknownKey(self.kid.as_deref().map(clip)));
        }
        let mut validation = Validation::new(algorithm);
        // Lifetime, issuer and audience are checked below, against `now` and with our messages.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        for key in candidates {
            let Some(key) = decoding_key(key) else { continue };
            match jsonwebtoken::decode::<Map<String, Value>>(self.token, &key, &validation) {
                Ok(data) => {
                    check_claims(&data.claims, expect)?;
                    return Ok(data.claims);
                }
                // The library's own header rules (e.g. `b64`) refuse the token, whatever the key.
                Err(e) if matches!(e.kind(), ErrorKind::InvalidToken | ErrorKind::Json(_)) => {
                    return Err(TokenError::Malformed("the header or the claims are not what a JWT holds"));
                }
                Err(_) => {}
            }
        }
        Err(TokenError::BadSignature)
    }
}

/// Text taken from a token for a message: short and printable, as it ends up in problem details
/// and events.
fn clip(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

fn key_fits(alg: Algorithm, key: &Jwk) -> bool {
    match (&key.algorithm, alg) {
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => ec.curve == EllipticCurve::P256,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => ec.curve == EllipticCurve::P384,
        (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => okp.curve == EllipticCurve::Ed25519,
        (AlgorithmParameters::RSA(_), alg) => alg.family() == jsonwebtoken::AlgorithmFamily::Rsa,
        _ => false,
    }
}

/// The key to verify with, or `None` for one whose numbers do not decode.
fn decoding_key(key: &Jwk) -> Option<DecodingKey> {
    match &key.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let (n, e) = (URL_SAFE_NO_PAD.decode(&rsa.n).ok()?, URL_SAFE_NO_PAD.decode(&rsa.e).ok()?);
            // Some providers pad the modulus with a zero byte; aws-lc, like ring, wants it without.
            let n = n.iter().position(|&b| b != 0).and_then(|first| n.get(first..)).unwrap_or_default();
            Some(DecodingKey::from_rsa_raw_components(n, &e))
        }
        _ => DecodingKey::from_jwk(key).ok(),
    }
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
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
    use serde_json::json;

    const ISSUER: &str = "https://id.telco.example";

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn jwk(value: Value) -> Jwk {
        serde_json::from_value(value).unwrap()
    }

    fn ed25519() -> (Ed25519KeyPair, Jwk) {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let jwk = jwk(json!({
            "kty": "OKP", "kid": "ed", "use": "sig", "crv": "Ed25519", "x": b64(pair.public_key().as_ref()),
        }));
        (pair, jwk)
    }

    fn p256() -> (EcdsaKeyPair, Value) {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let public = pair.public_key().as_ref();
        let jwk = json!({ "kty": "EC", "crv": "P-256", "x": b64(&public[1..33]), "y": b64(&public[33..65]) });
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

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn accepts_a_good_token_and_refuses_each_kind_of_bad_one() {
        let (pair, jwk) = ed25519();
        let public_x = match &jwk.algorithm {
            AlgorithmParameters::OctetKeyPair(okp) => okp.x.clone(),
            _ => unreachable!(),
        };
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
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, public_x.as_bytes());
            aws_lc_rs::hmac::sign(&key, m).as_ref().to_vec()
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
        let (pair, mut public) = p256();
        public["alg"] = json!("ES256");
        let keys = JwkSet { keys: vec![jwk(public)] };
        let now = 1_800_000_000;
        let rng = SystemRandom::new();
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

    #[test]
    fn verifies_rsa_tokens_and_keeps_pkcs1_and_pss_apart() {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let rng = SystemRandom::new();
        let rsa_sign = |padding: &'static dyn sig::RsaEncoding| {
            let pair = &pair;
            let rng = &rng;
            move |m: &[u8]| {
                let mut out = vec![0; pair.public_modulus_len()];
                pair.sign(padding, rng, m, &mut out).unwrap();
                out
            }
        };
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = b64(public.exponent().big_endian_without_leading_zero());
        // A provider that pads the modulus with a zero byte still counts.
        let padded = [&[0u8][..], &n].concat();
        let keys =
            JwkSet { keys: vec![jwk(json!({ "kty": "RSA", "kid": "rsa", "use": "sig", "n": b64(&padded), "e": e }))] };
        let audiences = strings(&["shop"]);
        let algorithms = strings(&["RS256", "PS256", "RS512"]);
        let now = 1_800_000_000;
        let verify = |t: &str| parse(t).and_then(|u| u.verify(&keys, &expect(&audiences, &algorithms, now)));

        let rs256 = token(json!({ "alg": "RS256", "kid": "rsa" }), claims(now), rsa_sign(&sig::RSA_PKCS1_SHA256));
        assert_eq!(verify(&rs256).unwrap()["sub"], "alice");
        let ps256 = token(json!({ "alg": "PS256", "kid": "rsa" }), claims(now), rsa_sign(&sig::RSA_PSS_SHA256));
        assert!(verify(&ps256).is_ok());
        // A PKCS#1 signature under a PSS header, and SHA-256 under an RS512 header, are forgeries.
        let swapped = token(json!({ "alg": "PS256", "kid": "rsa" }), claims(now), rsa_sign(&sig::RSA_PKCS1_SHA256));
        assert_eq!(verify(&swapped), Err(TokenError::BadSignature));
        let wrong_hash = token(json!({ "alg": "RS512", "kid": "rsa" }), claims(now), rsa_sign(&sig::RSA_PKCS1_SHA256));
        assert_eq!(verify(&wrong_hash), Err(TokenError::BadSignature));
        // The RSA key is no HMAC secret either.
        let hs = token(json!({ "alg": "HS256", "kid": "rsa" }), claims(now), |m| {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &n);
            aws_lc_rs::hmac::sign(&key, m).as_ref().to_vec()
        });
        assert_eq!(verify(&hs), Err(TokenError::AlgorithmNotAllowed("HS256".into())));
    }

    #[test]
    fn chooses_keys_by_kid_type_curve_alg_and_use() {
        let (pair, jwk_ed) = ed25519();
        let (ec_pair, ec) = p256();
        let sign = |m: &[u8]| pair.sign(m).as_ref().to_vec();
        let now = 1_800_000_000;
        let audiences = strings(&["shop"]);
        let algorithms = strings(&["EdDSA", "ES256", "ES384"]);
        let check =
            |keys: &JwkSet, t: &str| parse(t).and_then(|u| u.verify(keys, &expect(&audiences, &algorithms, now)));
        let ed_x = match &jwk_ed.algorithm {
            AlgorithmParameters::OctetKeyPair(okp) => okp.x.clone(),
            _ => unreachable!(),
        };
        let eddsa = token(json!({ "alg": "EdDSA", "kid": "ed" }), claims(now), sign);

        // The same key marked for encryption, or for another algorithm, does not count.
        for (field, value) in [("use", "enc"), ("alg", "ES256")] {
            let mut other = json!({ "kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": ed_x });
            other[field] = json!(value);
            assert_eq!(
                check(&JwkSet { keys: vec![jwk(other)] }, &eddsa),
                Err(TokenError::UnknownKey(Some("ed".into())))
            );
        }
        // An ES384 token finds no P-256 key; an EdDSA token finds no EC key under its kid.
        let mut ec_kid = ec.clone();
        ec_kid["kid"] = json!("ed");
        let ec_keys = JwkSet { keys: vec![jwk(ec_kid)] };
        let rng = SystemRandom::new();
        let es384 = token(json!({ "alg": "ES384", "kid": "ed" }), claims(now), |m| {
            ec_pair.sign(&rng, m).unwrap().as_ref().to_vec()
        });
        assert_eq!(check(&ec_keys, &es384), Err(TokenError::UnknownKey(Some("ed".into()))));
        assert_eq!(check(&ec_keys, &eddsa), Err(TokenError::UnknownKey(Some("ed".into()))));

        // Without a kid every fitting key is tried, as during a rotation; one whose numbers do not
        // decode is skipped.
        let (_, other_jwk) = ed25519();
        let broken = jwk(json!({ "kty": "OKP", "crv": "Ed25519", "x": "!!" }));
        let rotation = JwkSet { keys: vec![broken, other_jwk, jwk_ed] };
        let no_kid = token(json!({ "alg": "EdDSA" }), claims(now), sign);
        assert!(check(&rotation, &no_kid).is_ok());
        // A JWKS document keeps the keys it can read and skips the others.
        let document = json!({ "keys": [
            { "kty": "OKP", "crv": "Ed25519", "x": ed_x, "kid": "ed" },
            { "kty": "EC", "crv": "P-256" },
            "not a key",
            { "kty": "oct", "k": "c2VjcmV0" },
        ] });
        let read = JwkSet::from_json(&document).unwrap();
        assert!(check(&read, &eddsa).is_ok());
        assert!(JwkSet::from_json(&json!({ "keys": "none" })).is_none());
        // An HMAC key in the JWKS still makes no HMAC token valid.
        let hs = token(json!({ "alg": "HS256" }), claims(now), |m| {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"secret");
            aws_lc_rs::hmac::sign(&key, m).as_ref().to_vec()
        });
        assert_eq!(check(&read, &hs), Err(TokenError::AlgorithmNotAllowed("HS256".into())));
    }

    #[test]
    fn refuses_malformed_tokens_and_unknown_algorithms() {
        let (pair, jwk) = ed25519();
        let keys = JwkSet { keys: vec![jwk] };
        let sign = |m: &[u8]| pair.sign(m).as_ref().to_vec();
        let now = 1_800_000_000;
        let audiences = strings(&["shop"]);
        let algorithms = strings(&["EdDSA", "ES512", "HS256"]);
        let verify = |t: &str| parse(t).and_then(|u| u.verify(&keys, &expect(&audiences, &algorithms, now)));
        let good = token(json!({ "alg": "EdDSA", "kid": "ed" }), claims(now), sign);
        let (head, rest) = good.split_once('.').unwrap();
        let (body, signature) = rest.split_once('.').unwrap();

        for bad in [
            format!("{good}.extra"),
            format!("{head}.{body}"),
            format!("*{head}.{body}.{signature}"),
            format!("{}.{body}.{signature}", b64(b"not json")),
            format!("{}.{body}.{signature}", b64(br#"{"kid":"ed"}"#)),
            format!("{head}.*.{signature}"),
            format!("{head}.{}.{signature}", b64(b"[1,2]")),
            format!("{head}.{body}.*"),
        ] {
            assert!(matches!(verify(&bad), Err(TokenError::Malformed(_))), "{bad}");
        }
        // No signature, or a truncated one, is a bad signature.
        assert_eq!(verify(&format!("{head}.{body}.")), Err(TokenError::BadSignature));
        assert_eq!(verify(&format!("{head}.{body}.{}", &signature[..20])), Err(TokenError::BadSignature));
        // Names outside the supported set are refused even when configured (HMAC never counts).
        for alg in ["ES512", "HS256", "eddsa", "RSA-OAEP", ""] {
            let t = token(json!({ "alg": alg, "kid": "ed" }), claims(now), sign);
            assert_eq!(verify(&t), Err(TokenError::AlgorithmNotAllowed(alg.into())), "{alg}");
        }
        // `b64: false` without `crit` is refused by the library's header rules.
        let unencoded = token(json!({ "alg": "EdDSA", "kid": "ed", "b64": false }), claims(now), sign);
        assert!(matches!(verify(&unencoded), Err(TokenError::Malformed(_))));
    }

    #[test]
    fn claims_are_held_to_the_now_passed_in_not_the_wall_clock() {
        let (pair, jwk) = ed25519();
        let keys = JwkSet { keys: vec![jwk] };
        let sign = |m: &[u8]| pair.sign(m).as_ref().to_vec();
        let audiences = strings(&["shop"]);
        let algorithms = strings(&["EdDSA"]);
        let header = json!({ "alg": "EdDSA", "kid": "ed" });
        let at = |t: &str, now: i64| parse(t).and_then(|u| u.verify(&keys, &expect(&audiences, &algorithms, now)));

        // Long expired by the wall clock, valid at the simulated time: and the other way round.
        let past = 1_000_000_000;
        let old = token(header.clone(), claims(past), sign);
        assert!(at(&old, past).is_ok());
        assert_eq!(at(&old, past + 66), Err(TokenError::Expired));
        let future = 4_000_000_000;
        let mut c = claims(future);
        c["nbf"] = json!(future - 10);
        let later = token(header.clone(), c, sign);
        assert_eq!(at(&later, future - 16), Err(TokenError::NotYetValid));
        assert!(at(&later, future - 14).is_ok(), "within the leeway");
        assert!(at(&later, future).is_ok());

        // `iss`, `aud` and `exp` are required; `aud` may be a string; a number is no issuer.
        for (claim, name) in [("iss", "iss"), ("aud", "aud"), ("exp", "exp")] {
            let mut c = claims(past);
            c.as_object_mut().unwrap().remove(claim);
            assert_eq!(at(&token(header.clone(), c, sign), past), Err(TokenError::MissingClaim(name)));
        }
        let mut c = claims(past);
        c["aud"] = json!("shop");
        assert!(at(&token(header.clone(), c, sign), past).is_ok());
        let mut c = claims(past);
        c["iss"] = json!(42);
        assert_eq!(at(&token(header.clone(), c, sign), past), Err(TokenError::MissingClaim("iss")));
        let mut c = claims(past);
        c["aud"] = json!([]);
        assert_eq!(at(&token(header.clone(), c, sign), past), Err(TokenError::MissingClaim("aud")));
    }
}
