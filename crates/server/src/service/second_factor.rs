//! The admin users' second factor: TOTP (RFC 6238, with `totp-rs`: SHA-1, six digits, 30-second
//! steps, as every authenticator app reads them), each code good once, and ten single-use
//! recovery codes. Every admin user has one: a user without it enrols at their next sign-in
//! (`sign_in` runs the steps).
//! Codes are checked against the wall clock (`clock::real_now`), the one the customer's phone
//! has, even in an instance whose clock a simulation moves.

use totp_rs::{Algorithm, TOTP};

use super::admin::AdminError;
use crate::crypto::{Secrets, constant_time_eq, sha256};
use crate::store::Store;
use crate::store::second_factor as store;

pub(super) const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "orderguard";
const STEP_SECONDS: u64 = 30;

/// A new TOTP secret: 160 bits, as RFC 4226 recommends.
pub fn new_secret() -> Vec<u8> {
    crate::ids::random_bytes::<20>().to_vec()
}

fn totp(secret: Vec<u8>, account: &str) -> Option<TOTP> {
    TOTP::new(Algorithm::SHA1, 6, 1, STEP_SECONDS, secret, Some(ISSUER.into()), account.replace(':', "_")).ok()
}

pub(super) fn unix_seconds() -> u64 {
    u64::try_from(crate::clock::real_now().millis() / 1000).unwrap_or(0)
}

/// The time step `code` belongs to, one step either side for a phone's clock a little off.
pub(super) fn matching_step(secret: &[u8], code: &str, at_seconds: u64) -> Option<i64> {
    let totp = totp(secret.to_vec(), "admin")?;
    let now = at_seconds / STEP_SECONDS;
    (now.saturating_sub(1)..=now + 1)
        .find(|step| constant_time_eq(totp.generate(step * STEP_SECONDS).as_bytes(), code.as_bytes()))
        .and_then(|step| i64::try_from(step).ok())
}

/// The code of this moment (for the development hint).
pub fn current_code(secret: &[u8]) -> String {
    totp(secret.to_vec(), "admin").map(|t| t.generate(unix_seconds())).unwrap_or_default()
}

/// For the development hint: a code that is good now and was not used yet (this step's, else the
/// next one's, which an app shows a moment later), if there is one.
fn unused_code(secret: &[u8], last_step: Option<i64>) -> Option<String> {
    let totp = totp(secret.to_vec(), "admin")?;
    let now = unix_seconds() / STEP_SECONDS;
    [now, now + 1]
        .into_iter()
        .find(|step| last_step.is_none_or(|last| i64::try_from(*step).is_ok_and(|s| s > last)))
        .map(|step| totp.generate(step * STEP_SECONDS))
}

/// Recovery codes are typed with or without their dash, in either case.
pub(super) fn recovery_hash(code: &str) -> Vec<u8> {
    let normalised: String =
        code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
    sha256(normalised.as_bytes())
}

pub(super) fn new_recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let bytes = crate::ids::random_bytes::<10>();
    let chars: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET.get(usize::from(*b) % ALPHABET.len()).copied().unwrap_or(b'a')))
        .collect();
    format!("{}-{}", chars.get(..5).unwrap_or_default(), chars.get(5..).unwrap_or_default())
}

/// What the enrolment page shows: the secret to add to an authenticator app, as a QR code and
/// as text.
pub struct Enrolment {
    pub secret_base32: String,
    pub otpauth_url: String,
    pub qr_svg: String,
    /// The code of this moment, for the development hint.
    pub current_code: String,
}

/// What the code page may show: for the development hint, a code good now, when the password
/// was right.
pub struct Challenge {
    pub current_code: Option<String>,
}

pub(super) fn decrypt(secrets: &Secrets, sealed: &[u8]) -> Result<Vec<u8>, AdminError> {
    secrets.decrypt(sealed).map_err(|e| AdminError::Invalid(e.to_string()))
}

/// The enrolment offered to the pending sign-in `token`; `None` when there is none (expired).
pub async fn enrolment(
    store: &Store,
    secrets: &Secrets,
    token: &str,
    now: i64,
) -> Result<Option<Enrolment>, AdminError> {
    let token_hash = sha256(token.as_bytes());
    let view = store.read(move |conn| store::peek_pending(conn, &token_hash, now)).await?;
    let Some((username, sealed)) = view.and_then(|v| v.username.zip(v.enrol_secret_enc)) else { return Ok(None) };
    let secret = decrypt(secrets, &sealed)?;
    let Some(totp) = totp(secret.clone(), &username) else { return Ok(None) };
    let otpauth_url = totp.get_url();
    let qr_svg = qrcode::QrCode::new(otpauth_url.as_bytes())
        .map(|qr| qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).build())
        .unwrap_or_default();
    // Inline in the page: without the XML declaration.
    let qr_svg = qr_svg.find("<svg").and_then(|at| qr_svg.get(at..)).unwrap_or_default().to_owned();
    Ok(Some(Enrolment {
        secret_base32: totp.get_secret_base32(),
        otpauth_url,
        qr_svg,
        current_code: current_code(&secret),
    }))
}

/// What the code page of the pending sign-in `token` may show; `None` when it has expired.
pub async fn challenge(
    store: &Store,
    secrets: &Secrets,
    token: &str,
    now: i64,
) -> Result<Option<Challenge>, AdminError> {
    let token_hash = sha256(token.as_bytes());
    let view = store.read(move |conn| store::peek_pending(conn, &token_hash, now)).await?;
    let Some(view) = view else { return Ok(None) };
    let code = match view.totp_secret_enc {
        Some(sealed) => unused_code(&decrypt(secrets, &sealed)?, view.totp_last_step),
        None => None,
    };
    Ok(Some(Challenge { current_code: code }))
}

/// Takes a user's second factor away (a lost phone) and ends their sessions: they enrol again at
/// their next sign-in.
pub async fn reset(store: &Store, username: &str) -> Result<(), AdminError> {
    let name = username.to_owned();
    if store.write(move |conn| store::reset(conn, &name)).await? {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!("there is no user `{username}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_step_and_the_steps_beside_it() {
        let secret = vec![7; 20];
        let totp = totp(secret.clone(), "ops").unwrap();
        let at = 1_796_630_000_u64;
        let code = totp.generate(at);
        assert_eq!(matching_step(&secret, &code, at), i64::try_from(at / 30).ok());
        assert_eq!(matching_step(&secret, &code, at + 30), i64::try_from(at / 30).ok(), "a phone a step behind");
        assert_eq!(matching_step(&secret, &code, at + 90), None, "long past");
        assert_eq!(matching_step(&[8; 20], &code, at), None, "another secret");
    }

    #[test]
    fn the_rfc_6238_test_vector_holds() {
        // RFC 6238, appendix B: SHA-1, the ASCII secret "12345678901234567890", T = 59 s.
        let totp = TOTP::new(Algorithm::SHA1, 8, 1, 30, b"12345678901234567890".to_vec(), None, "x".into()).unwrap();
        assert_eq!(totp.generate(59), "94287082");
    }

    #[test]
    fn recovery_codes_are_typed_loosely() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(recovery_hash(&code), recovery_hash(&code.to_uppercase().replace('-', " ")));
        assert_ne!(recovery_hash(&code), recovery_hash(&new_recovery_code()));
    }
}
