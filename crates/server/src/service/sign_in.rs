//! The admin sign-in in two steps: the password (`sign_in`), then the second factor's code
//! (`complete`), or, for a user without one yet, its enrolment (`confirm_enrolment`). Between
//! them a pending sign-in, named by a cookie of its own, lasts five minutes and five wrong codes.

use orderguard_domain::clock::Timestamp;

use super::admin::{AdminError, MAX_FAILURES, MAX_FAILURES_PER_CLIENT, NewSession, SESSION_MS, THROTTLE_WINDOW_MS};
use super::second_factor::{
    RECOVERY_CODES, decrypt, matching_step, new_recovery_code, new_secret, recovery_hash, unix_seconds,
};
use crate::crypto::{Secrets, passwords, sha256};
use crate::store::admin as users;
use crate::store::second_factor as store;
use crate::store::{Store, StoreError};

/// How long the second step may take after the password.
pub const PENDING_MS: i64 = 5 * 60_000;
/// Wrong codes one pending sign-in takes; then the password is asked for again.
const MAX_CODE_ATTEMPTS: i64 = 5;
/// Wrong codes after the right password, per user and window, from any number of addresses:
/// then codes are refused for the rest of the window. Whoever reaches this holds the password.
const MAX_CODE_FAILURES: i64 = 10;

/// The first step of a sign-in passed: a code is asked for next, or the user (without a second
/// factor yet) enrols one. The token names the pending sign-in (a cookie of its own).
pub struct PasswordChecked {
    pub token: String,
    pub enrol: bool,
}

/// Checks the password (also for unknown users, so that timing does not tell who exists) and
/// starts the second step. `client` is a keyed reference of the address the attempt comes from.
/// Failures are counted under it and a keyed reference of the typed username, which may be a
/// password typed into the wrong field: neither the name nor the address is kept.
///
/// Too many failures from one address refuse it. Too many for one username do not lock its
/// owner out: from then on the code is asked for whatever the password, and only the right
/// password with the right code gets in, so that a guesser learns nothing and the owner, with
/// their second factor, still signs in from anywhere.
pub async fn sign_in(
    store: &Store,
    secrets: &Secrets,
    username: &str,
    password: &str,
    client: &str,
    now: Timestamp,
) -> Result<PasswordChecked, AdminError> {
    let now = now.millis();
    let who = secrets.sign_in_reference("sign-in", username);
    let (name, counted_as, from) = (username.to_owned(), who.clone(), client.to_owned());
    let (user, (failures, from_client)) = store
        .read(move |conn| -> Result<_, StoreError> {
            let failures = users::failures_since(conn, &counted_as, &from, now - THROTTLE_WINDOW_MS)?;
            Ok((users::find_user(conn, &name)?, failures))
        })
        .await?;
    if from_client >= MAX_FAILURES_PER_CLIENT {
        return Err(AdminError::Throttled(THROTTLE_WINDOW_MS / 60_000));
    }
    let locked = failures >= MAX_FAILURES;
    let hash = user.as_ref().map_or_else(|| passwords::dummy_hash().to_owned(), |u| u.password_hash.clone());
    let candidate = password.to_owned();
    // Argon2 takes tens of milliseconds of CPU: off the async workers.
    let matches = tokio::task::spawn_blocking(move || passwords::verify(&candidate, &hash)).await.unwrap_or(false);
    let user = user.filter(|_| matches);
    // Locked, every try is counted, right or wrong: the answer and what is written are the same.
    if user.is_none() || locked {
        let (who, from) = (who.clone(), client.to_owned());
        store.write(move |conn| users::record_failure(conn, &who, &from, now, now - THROTTLE_WINDOW_MS)).await?;
    }
    if user.is_none() && !locked {
        return Err(AdminError::WrongCredentials);
    }
    let enrolled = user.as_ref().is_some_and(|u| u.totp_secret_enc.is_some());
    let (user_id, enrol_secret_enc) = match user {
        // Locked: the right password of a user without a second factor yet cannot pass the lock.
        Some(_) if locked && !enrolled => (None, None),
        Some(u) if !enrolled => (Some(u.id), Some(secrets.encrypt(&new_secret()))),
        Some(u) => (Some(u.id), None),
        None => (None, None),
    };
    let enrol = enrol_secret_enc.is_some();
    let pending =
        store::PendingSignIn { user_id, counted_as: who, client: client.to_owned(), enrol_secret_enc, attempts: 0 };
    let token = crate::ids::random_token(32);
    let token_hash = sha256(token.as_bytes());
    store.write(move |conn| store::insert_pending(conn, &token_hash, &pending, now, now + PENDING_MS)).await?;
    Ok(PasswordChecked { token, enrol })
}

/// Opens a session for a user who passed both steps.
async fn open_session(store: &Store, user_id: String, now: i64) -> Result<NewSession, AdminError> {
    let token = crate::ids::random_token(32);
    let (token_hash, csrf) = (sha256(token.as_bytes()), crate::ids::random_token(24));
    store.write(move |conn| users::insert_session(conn, &token_hash, &user_id, &csrf, now, now + SESSION_MS)).await?;
    Ok(NewSession { token })
}

/// The pending sign-in, its attempt counted; too many wrong codes end it.
async fn attempt(store: &Store, token: &str, now: i64) -> Result<(Vec<u8>, store::PendingSignIn), AdminError> {
    let token_hash = sha256(token.as_bytes());
    let hash = token_hash.clone();
    let pending =
        store.write(move |conn| store::attempt_pending(conn, &hash, now)).await?.ok_or(AdminError::SignInExpired)?;
    if pending.attempts > MAX_CODE_ATTEMPTS {
        let hash = token_hash.clone();
        store.write(move |conn| store::delete_pending(conn, &hash)).await?;
        return Err(AdminError::SignInExpired);
    }
    Ok((token_hash, pending))
}

/// The second step: a code from the authenticator app, or a recovery code. A wrong one counts as
/// a failed sign-in of the username and the address, and, after the right password, against the
/// user's own budget of wrong codes (guessers spread over many addresses meet it).
pub async fn complete(
    store: &Store,
    secrets: &Secrets,
    token: &str,
    code: &str,
    now: i64,
) -> Result<NewSession, AdminError> {
    let (token_hash, pending) = attempt(store, token, now).await?;
    let code = code.trim().to_owned();
    let code_budget = secrets.sign_in_reference("sign-in-code", &pending.counted_as);
    let (budget, id) = (code_budget.clone(), pending.user_id.clone().unwrap_or_default());
    let (sealed, spent) = store
        .read(move |conn| -> Result<_, StoreError> {
            // Read for a wrong password too, so that both take the same way.
            let spent = users::failures_since(conn, &budget, "", now - THROTTLE_WINDOW_MS)?.0;
            Ok((store::totp_secret(conn, &id)?, spent))
        })
        .await?;
    if pending.user_id.is_some() && spent >= MAX_CODE_FAILURES {
        return Err(AdminError::Throttled(THROTTLE_WINDOW_MS / 60_000));
    }
    let passed = match (&pending.user_id, &pending.enrol_secret_enc) {
        (Some(user_id), None) => {
            let step = match sealed {
                Some(sealed) => matching_step(&decrypt(secrets, &sealed)?, &code, unix_seconds()),
                None => None,
            };
            let (id, recovery) = (user_id.clone(), recovery_hash(&code));
            store
                .write(move |conn| match step {
                    Some(step) => store::use_totp_step(conn, &id, step),
                    None => store::use_recovery_code(conn, &id, &recovery, now),
                })
                .await?
        }
        _ => false,
    };
    if !passed {
        let (who, from) = (pending.counted_as.clone(), pending.client.clone());
        let right_password = pending.user_id.is_some();
        store
            .write(move |conn| {
                users::record_failure(conn, &who, &from, now, now - THROTTLE_WINDOW_MS)?;
                if right_password {
                    users::record_failure(conn, &code_budget, "", now, now - THROTTLE_WINDOW_MS)?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        return Err(AdminError::WrongCode);
    }
    store.write(move |conn| store::delete_pending(conn, &token_hash)).await?;
    open_session(store, pending.user_id.unwrap_or_default(), now).await
}

/// Confirms an enrolment with a first code from the app: the secret becomes the user's, with
/// recovery codes (shown this once), and the user is signed in.
pub async fn confirm_enrolment(
    store: &Store,
    secrets: &Secrets,
    token: &str,
    code: &str,
    now: i64,
) -> Result<(NewSession, Vec<String>), AdminError> {
    let (token_hash, pending) = attempt(store, token, now).await?;
    let (Some(user_id), Some(sealed)) = (pending.user_id, pending.enrol_secret_enc) else {
        return Err(AdminError::SignInExpired);
    };
    let Some(step) = matching_step(&decrypt(secrets, &sealed)?, code.trim(), unix_seconds()) else {
        return Err(AdminError::WrongCode);
    };
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| recovery_hash(c)).collect();
    let id = user_id.clone();
    let enrolled = store
        .write(move |conn| {
            store::delete_pending(conn, &token_hash)?;
            store::enrol(conn, &id, &sealed, step, &hashes)
        })
        .await?;
    if !enrolled {
        return Err(AdminError::SignInExpired);
    }
    Ok((open_session(store, user_id, now).await?, codes))
}
