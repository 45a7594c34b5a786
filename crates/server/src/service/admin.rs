//! Admin users and sign-in: Argon2id passwords, throttled logins, sessions that live in the
//! database (any instance can serve them) and carry their own CSRF token.

use orderguard_domain::clock::Timestamp;
use orderguard_domain::role::{Access, Role};

use crate::brand::Brands;
use crate::crypto::{Secrets, passwords, sha256};
use crate::records::admin::AdminUser;
use crate::store::admin as store;
use crate::store::{Store, StoreError};

/// Failed logins of one username within `THROTTLE_WINDOW_MS` after which it is locked for the rest
/// of the window: online password guessing gets five tries per quarter hour.
pub const MAX_FAILURES: i64 = 5;
/// Failed logins from one client address within the window after which it is refused: one address
/// trying many usernames. Behind a reverse proxy every client has the proxy's address, and this
/// becomes a brake on all sign-ins.
pub const MAX_FAILURES_PER_CLIENT: i64 = 30;
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// A session ends after this, signed in or not (no sliding renewal).
pub const SESSION_MS: i64 = 8 * 3600 * 1000;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("the username `{0}` is taken")]
    Taken(String),
    #[error("wrong username or password")]
    WrongCredentials,
    #[error("too many failed sign-ins from this address; try again in {0} minutes")]
    Throttled(i64),
    #[error("wrong code")]
    WrongCode,
    #[error("the sign-in took too long or had too many wrong codes: please sign in again")]
    SignInExpired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub username: String,
    pub access: Access,
    pub csrf_token: String,
}

impl SignedIn {
    /// The user as the author of an audited change.
    pub fn actor(&self) -> super::Actor {
        super::Actor { username: self.username.clone(), role: self.access.role, brand: self.access.brand.clone() }
    }
}

pub struct NewSession {
    /// The cookie's value; only its hash is stored.
    pub token: String,
}

pub async fn add_user(
    store: &Store,
    brands: &Brands,
    username: &str,
    password: &str,
    role: &str,
    brand: Option<&str>,
    now: Timestamp,
) -> Result<(), AdminError> {
    let invalid = |what: &str| AdminError::Invalid(what.to_owned());
    if username.is_empty()
        || username.len() > 64
        || !username.chars().all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
    {
        return Err(invalid("the username must be 1 to 64 letters, digits and . _ @ -"));
    }
    check_password(password)?;
    let role = Role::parse(role).ok_or_else(|| {
        AdminError::Invalid(format!("the role must be one of {}", Role::ALL.map(Role::as_str).join(", ")))
    })?;
    match (role.needs_brand(), brand) {
        (true, None) => return Err(invalid("this role belongs to one brand: add --brand SLUG")),
        (false, Some(_)) => return Err(invalid("operators and auditors belong to no brand: leave out --brand")),
        (true, Some(slug)) if brands.get(slug).is_none() => {
            return Err(AdminError::Invalid(format!("brand `{slug}` is not in the configuration")));
        }
        _ => {}
    }
    let user = AdminUser {
        id: crate::ids::new_id(now.millis()),
        username: username.to_owned(),
        password_hash: passwords::hash(password).map_err(|e| AdminError::Invalid(e.to_string()))?,
        role,
        brand: brand.map(str::to_owned),
        totp_secret_enc: None,
    };
    let added = store.write(move |conn| store::insert_user(conn, &user, now.millis())).await?;
    if added { Ok(()) } else { Err(AdminError::Taken(username.to_owned())) }
}

fn check_password(password: &str) -> Result<(), AdminError> {
    if password.chars().count() < 12 {
        return Err(AdminError::Invalid("the password must have at least 12 characters".into()));
    }
    Ok(())
}

/// Forgets the failed sign-ins whose window has passed (also when no new failure comes to drop
/// them on its way in); gives how many.
pub async fn forget_sign_in_failures(store: &Store, now: Timestamp) -> Result<u64, AdminError> {
    let before = now.millis() - THROTTLE_WINDOW_MS;
    Ok(store.write(move |conn| store::forget_failures(conn, before)).await?)
}

/// Gives an existing user a new password.
pub async fn set_password(store: &Store, username: &str, password: &str) -> Result<(), AdminError> {
    check_password(password)?;
    let hash = passwords::hash(password).map_err(|e| AdminError::Invalid(e.to_string()))?;
    let name = username.to_owned();
    if store.write(move |conn| store::set_password_hash(conn, &name, &hash)).await? {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!("there is no user `{username}`")))
    }
}

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
    let who = secrets.reference("sign-in", username);
    let (name, counted_as, from) = (username.to_owned(), who.clone(), client.to_owned());
    let (user, (failures, from_client)) = store
        .read(move |conn| -> Result<_, StoreError> {
            let failures = store::failures_since(conn, &counted_as, &from, now - THROTTLE_WINDOW_MS)?;
            Ok((store::find_user(conn, &name)?, failures))
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
    if user.is_none() {
        let (who, from) = (who.clone(), client.to_owned());
        store.write(move |conn| store::record_failure(conn, &who, &from, now, now - THROTTLE_WINDOW_MS)).await?;
        if !locked {
            return Err(AdminError::WrongCredentials);
        }
    }
    let enrolled = user.as_ref().is_some_and(|u| u.totp_secret_enc.is_some());
    let (user_id, enrol_secret_enc) = match user {
        // Locked: the right password of a user without a second factor yet cannot pass the lock.
        Some(_) if locked && !enrolled => (None, None),
        Some(u) if !enrolled => (Some(u.id), Some(secrets.encrypt(&super::second_factor::new_secret()))),
        Some(u) => (Some(u.id), None),
        None => (None, None),
    };
    let enrol = enrol_secret_enc.is_some();
    let pending = crate::store::second_factor::PendingSignIn {
        user_id,
        counted_as: who,
        client: client.to_owned(),
        enrol_secret_enc,
        attempts: 0,
    };
    let token = crate::ids::random_token(32);
    let token_hash = sha256(token.as_bytes());
    store
        .write(move |conn| {
            crate::store::second_factor::insert_pending(
                conn,
                &token_hash,
                &pending,
                now,
                now + super::second_factor::PENDING_MS,
            )
        })
        .await?;
    Ok(PasswordChecked { token, enrol })
}

/// Opens a session for a user who passed both steps.
pub(super) async fn open_session(store: &Store, user_id: String, now: i64) -> Result<NewSession, AdminError> {
    let token = crate::ids::random_token(32);
    let (token_hash, csrf) = (sha256(token.as_bytes()), crate::ids::random_token(24));
    store.write(move |conn| store::insert_session(conn, &token_hash, &user_id, &csrf, now, now + SESSION_MS)).await?;
    Ok(NewSession { token })
}

/// The user of a session cookie, if the session is live and the user's role still reads.
pub async fn session(store: &Store, token: &str, now: Timestamp) -> Result<Option<SignedIn>, AdminError> {
    let token_hash = sha256(token.as_bytes());
    let found = store.read(move |conn| store::session_user(conn, &token_hash, now.millis())).await?;
    Ok(found.map(|(user, csrf_token)| SignedIn {
        username: user.username,
        access: Access { role: user.role, brand: user.brand },
        csrf_token,
    }))
}

pub async fn sign_out(store: &Store, token: &str) -> Result<(), AdminError> {
    let token_hash = sha256(token.as_bytes());
    Ok(store.write(move |conn| store::delete_session(conn, &token_hash)).await?)
}
