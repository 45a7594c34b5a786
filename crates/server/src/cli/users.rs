//! `orderguard user …`: the admin area's users.

use anyhow::Context;
use clap::Subcommand;
use orderguard_domain::clock::Timestamp;

use crate::brand::Brands;
use crate::config::Settings;
use crate::prepare_store;
use crate::service::admin;

#[derive(Subcommand)]
pub enum UserAction {
    /// Add a user of the admin area. The password is read from standard input with
    /// --password-stdin, or made up and shown once.
    Add {
        #[arg(long)]
        username: String,
        /// operator, brand_admin, analyst, auditor or privacy_officer.
        #[arg(long)]
        role: String,
        /// The brand of a brand_admin, analyst or privacy_officer.
        #[arg(long)]
        brand: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Take a user's second factor away (a lost phone) and end their sessions: they set up a new
    /// one at their next sign-in, with their password.
    ResetSecondFactor {
        #[arg(long)]
        username: String,
    },
}

pub async fn user(action: UserAction, settings: Settings, now: Timestamp) -> anyhow::Result<()> {
    let (username, role, brand, password_stdin) = match action {
        UserAction::Add { username, role, brand, password_stdin } => (username, role, brand, password_stdin),
        UserAction::ResetSecondFactor { username } => {
            let store = prepare_store(&settings, now).await?;
            crate::service::second_factor::reset(&store, &username).await?;
            eprintln!("{username}'s second factor is reset: they set up a new one at their next sign-in");
            return Ok(());
        }
    };
    let (password, show) = if password_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (crate::ids::random_token(18), true)
    };
    let brands = Brands::build(&settings)?;
    let store = prepare_store(&settings, now).await?;
    admin::add_user(&store, &brands, &username, &password, &role, brand.as_deref(), now).await?;
    let of_brand = brand.map(|b| format!(" of {b}")).unwrap_or_default();
    eprintln!("user {username} added as {role}{of_brand}; they set up their second factor at their first sign-in");
    if show {
        eprintln!("password (shown once):");
        println!("{password}");
    }
    Ok(())
}
