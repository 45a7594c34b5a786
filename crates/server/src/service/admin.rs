//! Admin users and sign-in: Argon2id passwords, throttled logins, sessions that live in the
//! database (any instance can serve them) and carry their own CSRF token.

use orderguard_domain::clock::Timestamp;
use orderguard_domain::role::{Access, Role};

use crate::brand::Brands;
use crate::crypto::{passwords, sha256};
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
    #[error("too many failed sign-ins; try again in {0} minutes")]
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
