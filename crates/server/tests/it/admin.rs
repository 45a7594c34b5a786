//! The admin area's sign-in: users added on the command line, sessions, CSRF, throttling, roles
//! and brand isolation, through the real server over HTTP.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::on_both_databases;
use crate::support::{Db, TestServer, config};

on_both_databases!(
    sign_in_session_and_sign_out,
    failed_sign_ins_are_throttled,
    each_role_sees_its_brands_only,
    order_traces_are_masked_isolated_and_audited,
    the_second_factor_holds_against_guessers_and_stale_enrolments,
);

pub const PASSWORD: &str = "a long admin passphrase";

/// `orderguard user add` with the password on standard input.
pub fn add_user(db: &Db, args: &[&str]) -> (bool, String) {
    let config_path = db.dir.0.join("orderguard.toml");
    std::fs::write(&config_path, config(db)).unwrap();
    add_user_with_config(&config_path, args)
}

/// `orderguard user add` against the instance of this configuration file.
pub fn add_user_with_config(config_path: &std::path::Path, args: &[&str]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orderguard"))
        .args(["user", "add", "--password-stdin", "--config"])
        .arg(config_path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{PASSWORD}\n").as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// A browser without JavaScript: keeps the admin cookies, follows no redirects.
pub struct Browser {
    base: String,
    http: reqwest::Client,
    cookies: std::collections::BTreeMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub html: String,
}

impl Browser {
    pub fn new(server: &TestServer) -> Self {
        Self::at(&server.base)
    }

    pub fn at(base: &str) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { base: base.to_owned(), http, cookies: Default::default() }
    }

    /// The request a page would send, with the session cookie (for streams).
    pub fn request(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(format!("{}{path}", self.base)).header(COOKIE, self.cookie_header())
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn keep(&mut self, response: reqwest::Response) -> Page {
        for set in response.headers().get_all(SET_COOKIE) {
            let set = set.to_str().unwrap();
            assert!(
                set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/admin"),
                "{set}"
            );
            let (pair, _) = set.split_once(';').unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let status = response.status();
        let location = response.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_owned());
        Page { status, location, html: response.text().await.unwrap() }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response =
            self.http.get(format!("{}{path}", self.base)).header(COOKIE, self.cookie_header()).send().await.unwrap();
        self.keep(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    /// Signs in through both steps, as the user with their authenticator app would: a user's
    /// first sign-in on this server enrols their second factor (the secret read from the page).
    /// Answers the password step's page when it does not lead on (a wrong password, a refused
    /// address), else the last step's: the redirect to /admin, or the wrong code's page. A first
    /// enrolment's page of recovery codes counts as the redirect to /admin it leads to.
    pub async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/admin/login").await;
        let csrf = hidden_csrf(&form.html);
        let page = self.post("/admin/login", &[("username", username), ("password", password), ("csrf", &csrf)]).await;
        match page.location.as_deref() {
            Some("/admin/login/enrol") => {
                let enrol = self.get("/admin/login/enrol").await;
                let secret = enrol.html.split("id=\"totp-secret\">").nth(1).unwrap().split('<').next().unwrap();
                authenticator::enrolled(&self.base, username, secret);
                let code = authenticator::code(&self.base, username);
                let done = self.post("/admin/login/enrol", &[("code", &code), ("csrf", &csrf)]).await;
                assert_eq!(done.status, StatusCode::OK, "{}", done.html);
                let codes: Vec<String> =
                    done.html.split("<li><code>").skip(1).map(|c| c.split('<').next().unwrap().to_owned()).collect();
                assert_eq!(codes.len(), 10, "{}", done.html);
                authenticator::recovery_codes(&self.base, username, codes);
                Page { status: StatusCode::SEE_OTHER, location: Some("/admin".into()), html: done.html }
            }
            Some("/admin/login/code") => {
                let code = authenticator::code(&self.base, username);
                self.post("/admin/login/code", &[("code", &code), ("csrf", &csrf)]).await
            }
            _ => page,
        }
    }
}

/// The tests' authenticator app: the TOTP secrets of the users enrolled on each server, and the
/// codes it shows (each good once: a user signing in again within the same 30 seconds gets the
/// next step's code, or, past that, one of their recovery codes).
pub mod authenticator {
    use std::collections::HashMap;
    use std::sync::Mutex;

    #[derive(Clone)]
    struct Enrolled {
        secret: Vec<u8>,
        last_step: u64,
        recovery: Vec<String>,
    }

    static APPS: Mutex<Option<HashMap<(String, String), Enrolled>>> = Mutex::new(None);

    fn with<T>(f: impl FnOnce(&mut HashMap<(String, String), Enrolled>) -> T) -> T {
        f(APPS.lock().unwrap().get_or_insert_with(HashMap::new))
    }

    fn totp(secret: &[u8]) -> totp_rs::TOTP {
        totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, secret.to_vec(), None, "test".into()).unwrap()
    }

    pub fn enrolled(base: &str, username: &str, secret_base32: &str) {
        let secret = totp_rs::Secret::Encoded(secret_base32.to_owned()).to_bytes().unwrap();
        with(|apps| {
            apps.insert((base.into(), username.into()), Enrolled { secret, last_step: 0, recovery: Vec::new() })
        });
    }

    /// The same app used against another server with the same users (a restored backup).
    pub fn carried_over(from_base: &str, to_base: &str, username: &str) {
        with(|apps| {
            let enrolled = apps[&(from_base.into(), username.into())].clone();
            apps.insert((to_base.into(), username.into()), enrolled);
        });
    }

    pub fn recovery_codes(base: &str, username: &str, codes: Vec<String>) {
        with(|apps| apps.get_mut(&(base.into(), username.into())).unwrap().recovery = codes);
    }

    /// The code the app shows now for a user enrolled on `base` (a wrong one for anyone else).
    pub fn code(base: &str, username: &str) -> String {
        let now = u64::try_from(orderguard::clock::real_now().millis() / 1000).unwrap() / 30;
        with(|apps| {
            let Some(app) = apps.get_mut(&(base.into(), username.into())) else { return "000000".into() };
            match [now, now + 1].into_iter().find(|step| *step > app.last_step) {
                Some(step) => {
                    app.last_step = step;
                    totp(&app.secret).generate(step * 30)
                }
                None => app.recovery.pop().expect("a recovery code left"),
            }
        })
    }
}

/// The session's CSRF token, from the forms of the home page.
pub async fn csrf_of_home(browser: &mut Browser) -> String {
    hidden_csrf(&browser.get("/admin").await.html)
}

async fn search_number(browser: &mut Browser, brand: &str, phone: &str, csrf: &str) -> Page {
    browser.post("/admin/orders-by-number", &[("brand", brand), ("phone", phone), ("csrf", csrf)]).await
}

pub fn hidden_csrf(html: &str) -> String {
    let after = html.split("name=\"csrf\" value=\"").nth(1).expect("a CSRF field");
    after.split('"').next().unwrap().to_owned()
}

async fn sign_in_session_and_sign_out(db: Db) {
    let (ok, err) = add_user(&db, &["--username", "ops", "--role", "operator"]);
    assert!(ok, "{err}");
    let server = TestServer::start(db).await;
    let mut browser = Browser::new(&server);

    let page = browser.get("/admin").await;
    assert_eq!((page.status, page.location.as_deref()), (StatusCode::SEE_OTHER, Some("/admin/login")));

    // Without the form's CSRF token, then with a wrong password, then right.
    let page = browser.get("/admin/login").await;
    assert_eq!(page.status, StatusCode::OK);
    let page = browser.post("/admin/login", &[("username", "ops"), ("password", PASSWORD)]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = browser.sign_in("ops", "not the passphrase").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.html.contains("Wrong username or password"), "{}", page.html);
    let page = browser.sign_in("ops", PASSWORD).await;
    assert_eq!((page.status, page.location.as_deref()), (StatusCode::SEE_OTHER, Some("/admin")));
    assert!(browser.cookies.contains_key("og_admin"));

    let home = browser.get("/admin").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.html.contains("ops (operator)") && home.html.contains("Alpha Mobil") && home.html.contains("Beta Telecom")
    );

    // Sign-out needs the session's CSRF token; afterwards the session is gone, even replayed.
    let session = browser.cookies["og_admin"].clone();
    let page = browser.post("/admin/logout", &[("csrf", "forged")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = browser.post("/admin/logout", &[("csrf", &hidden_csrf(&home.html))]).await;
    assert_eq!((page.status, page.location.as_deref()), (StatusCode::SEE_OTHER, Some("/admin/login")));
    assert!(!browser.cookies.contains_key("og_admin"));
    browser.cookies.insert("og_admin".into(), session);
    assert_eq!(browser.get("/admin").await.status, StatusCode::SEE_OTHER, "a signed-out session is dead");
    browser.cookies.insert("og_admin".into(), "made-up".into());
    assert_eq!(browser.get("/admin").await.status, StatusCode::SEE_OTHER);
    server.stop().await;
}

async fn failed_sign_ins_are_throttled(db: Db) {
    assert!(add_user(&db, &["--username", "ops", "--role", "operator"]).0);
    assert!(add_user(&db, &["--username", "ops2", "--role", "operator"]).0);
    let server = TestServer::start(db).await;
    let mut browser = Browser::new(&server);
    assert_eq!(browser.sign_in("ops", PASSWORD).await.status, StatusCode::SEE_OTHER, "ops enrols a second factor");
    let mut guesser = Browser::new(&server);
    for _ in 0..5 {
        assert_eq!(guesser.sign_in("ops", "guess").await.status, StatusCode::UNAUTHORIZED);
    }
    // Locked now: the code is asked for whatever the password, so a guesser cannot tell a right
    // guess, and a wrong password with a right code does not get in...
    let form = guesser.get("/admin/login").await;
    let csrf = hidden_csrf(&form.html);
    let page = guesser.post("/admin/login", &[("username", "ops"), ("password", "guess"), ("csrf", &csrf)]).await;
    assert_eq!(page.location.as_deref(), Some("/admin/login/code"), "the same answer as to the right password");
    let code = authenticator::code(&server.base, "ops");
    let page = guesser.post("/admin/login/code", &[("code", &code), ("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.html.contains("Wrong code"), "{}", page.html);
    // ...but the owner, with the password and the second factor, still gets in: the lock does
    // not lock them out.
    let page = browser.sign_in("ops", PASSWORD).await;
    assert_eq!((page.status, page.location.as_deref()), (StatusCode::SEE_OTHER, Some("/admin")));
    // A user without a second factor yet cannot pass a lock with the password alone.
    for _ in 0..5 {
        assert_eq!(guesser.sign_in("ops2", "guess").await.status, StatusCode::UNAUTHORIZED);
    }
    let page = guesser.sign_in("ops2", PASSWORD).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "asked for a code it cannot have: {}", page.html);
    assert!(page.html.contains("Wrong code"));
    assert_eq!(guesser.sign_in("nobody", "guess").await.status, StatusCode::UNAUTHORIZED);
    // One address trying many usernames: after 30 failures in the window it is refused, even with
    // a right password. So far 16: for ops 5 guesses, the wrong password and its code, and the
    // owner's own try (while locked every try counts, right or wrong); for ops2 5 guesses, the
    // right password and its code; 1 for nobody.
    for n in 0..14 {
        assert_eq!(guesser.sign_in(&format!("guess-{n}"), "guess").await.status, StatusCode::UNAUTHORIZED);
    }
    let page = guesser.sign_in("ops", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.html.contains("Too many failed sign-ins"), "{}", page.html);

    // What was kept of the failures: keyed references of the typed name (it may be a password
    // typed into the wrong field) and of the client's address, never the name or the address.
    let failures = |server: &TestServer| {
        let store = server.app().store.clone();
        async move {
            store
                .read(|conn| conn.query("SELECT username, client FROM admin_login_failures", &[]))
                .await
                .unwrap()
                .iter()
                .map(|r| (r.text("username").unwrap(), r.text("client").unwrap()))
                .collect::<Vec<_>>()
        }
    };
    let kept = failures(&server).await;
    assert_eq!(kept.len(), 30, "{kept:?}");
    for (name, client) in &kept {
        assert!(!name.contains("ops") && !name.contains("guess") && name.len() == 32, "{name}");
        assert!(!client.contains("127.0.0") && client.len() == 32, "{client}");
    }
    // Past the window they are forgotten, also when no new failure comes to drop them.
    let after = orderguard::clock::Clock::default().now().millis() + 16 * 60_000;
    server.app().clock.set_simulated(Some(orderguard_domain::clock::Timestamp(after)));
    for _ in 0..100 {
        if failures(&server).await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(failures(&server).await.is_empty(), "the sweeper keeps past failures");
    assert_eq!(browser.sign_in("ops", PASSWORD).await.status, StatusCode::SEE_OTHER);
    server.stop().await;
}

async fn each_role_sees_its_brands_only(db: Db) {
    // The command line refuses what makes no sense, with a readable message.
    let (ok, err) = add_user(&db, &["--username", "x", "--role", "brand_admin"]);
    assert!(!ok && err.contains("--brand"), "{err}");
    let (ok, err) = add_user(&db, &["--username", "x", "--role", "operator", "--brand", "alpha"]);
    assert!(!ok && err.contains("no brand"), "{err}");
    let (ok, err) = add_user(&db, &["--username", "x", "--role", "root"]);
    assert!(!ok && err.contains("operator, brand_admin, analyst, auditor"), "{err}");
    let (ok, err) = add_user(&db, &["--username", "x", "--role", "analyst", "--brand", "gamma"]);
    assert!(!ok && err.contains("gamma"), "{err}");
    assert!(add_user(&db, &["--username", "alpha-admin", "--role", "brand_admin", "--brand", "alpha"]).0);
    assert!(add_user(&db, &["--username", "beta-analyst", "--role", "analyst", "--brand", "beta"]).0);
    assert!(add_user(&db, &["--username", "auditor", "--role", "auditor"]).0);
    let (ok, err) = add_user(&db, &["--username", "auditor", "--role", "auditor"]);
    assert!(!ok && err.contains("taken"), "{err}");

    let server = TestServer::start(db).await;
    server.create(&server.alpha_key, "A-1", "c-1").await;
    server.create(&server.beta_key, "B-1", "c-2").await;
    server.create(&server.beta_key, "B-2", "c-2").await;

    let mut alpha = Browser::new(&server);
    alpha.sign_in("alpha-admin", PASSWORD).await;
    // The event counters catch up within a moment.
    let mut page = alpha.get("/admin").await;
    for _ in 0..60 {
        if page.html.contains("<td>verification.created</td><td>1</td>") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        page = alpha.get("/admin").await;
    }
    assert!(page.html.contains("<td>verification.created</td><td>1</td>"), "{}", page.html);
    assert!(page.html.contains("Alpha Mobil") && !page.html.contains("Beta Telecom"), "{}", page.html);
    assert!(page.html.contains("<td>pending</td><td>1</td>"), "{}", page.html);

    // The overview: shares of the started verifications, as a page and as CSV.
    let overview = alpha.get("/admin/overview?brand=alpha&days=7").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.html.contains("<td>started</td><td>1</td><td>100.0 %</td>"), "{}", overview.html);
    assert!(overview.html.contains("<svg") && overview.html.contains("<td>approved</td><td>0</td><td>0.0 %</td>"));
    let csv = alpha.get("/admin/overview.csv?brand=alpha&days=7").await;
    assert!(
        csv.status == StatusCode::OK && csv.html.starts_with("metric,count,") && csv.html.contains("started,1,100.00,"),
        "{}",
        csv.html
    );
    assert_eq!(alpha.get("/admin/overview?brand=alpha&days=0").await.status, StatusCode::BAD_REQUEST);
    let malformed = alpha.get("/admin/fraud?brand=alpha&days=many").await;
    assert!(
        malformed.status == StatusCode::BAD_REQUEST && malformed.html.contains("days=1 to 365"),
        "{}",
        malformed.html
    );
    assert_eq!(alpha.get("/admin/overview?brand=beta").await.status, StatusCode::NOT_FOUND);
    assert_eq!(alpha.get("/admin/overview.csv?brand=beta").await.status, StatusCode::NOT_FOUND);

    let mut beta = Browser::new(&server);
    beta.sign_in("beta-analyst", PASSWORD).await;
    let page = beta.get("/admin").await;
    assert!(page.html.contains("Beta Telecom") && !page.html.contains("Alpha Mobil"), "{}", page.html);
    assert!(page.html.contains("<td>pending</td><td>2</td>"), "{}", page.html);

    let mut auditor = Browser::new(&server);
    auditor.sign_in("auditor", PASSWORD).await;
    let page = auditor.get("/admin").await;
    assert!(!page.html.contains("Alpha Mobil") && !page.html.contains("Beta Telecom"), "{}", page.html);
    server.stop().await;
}

async fn order_traces_are_masked_isolated_and_audited(db: Db) {
    for args in [
        ["--username", "alpha-admin", "--role", "brand_admin", "--brand", "alpha"].as_slice(),
        &["--username", "alpha-analyst", "--role", "analyst", "--brand", "alpha"],
        &["--username", "beta-admin", "--role", "brand_admin", "--brand", "beta"],
        &["--username", "auditor", "--role", "auditor"],
    ] {
        assert!(add_user(&db, args).0);
    }
    let server = TestServer::start(db).await;
    let id = server.create(&server.alpha_key, "T-1", "c-1").await["id"].as_str().unwrap().to_owned();
    server.code(&id).await;
    // An event of the order that belongs to no verification: in the trace too.
    let (status, body) =
        server.post(&server.alpha_key, "/v1/orders/T-1/outcome", serde_json::json!({ "outcome": "completed" })).await;
    assert_eq!(status, 200, "{body}");

    let mut admin = Browser::new(&server);
    admin.sign_in("alpha-admin", PASSWORD).await;
    let trace = admin.get("/admin/trace?brand=alpha&order=T-1").await;
    assert_eq!(trace.status, StatusCode::OK);
    for expected in [
        id.as_str(),
        "+4915123456789",
        "verification.created",
        "risk.assessed",
        "sms.submitted",
        "order.outcome_reported",
    ] {
        assert!(trace.html.contains(expected), "{expected} missing in {}", trace.html);
    }
    assert!(admin.get("/admin/audit").await.status == StatusCode::FORBIDDEN, "brand admins do not read the audit log");

    // By the customer's number: the orders, for roles that see numbers; audited with the hint only.
    // A form POST with the session's CSRF token: the number never goes into a URL.
    let csrf = csrf_of_home(&mut admin).await;
    let found = search_number(&mut admin, "alpha", "+4915123456789", &csrf).await;
    assert_eq!(found.status, StatusCode::OK);
    assert!(found.html.contains("order=T-1") && found.html.contains(&id), "{}", found.html);
    let national = search_number(&mut admin, "alpha", "015123456789", &csrf).await;
    assert!(national.html.contains("order=T-1"), "numbers are read in the brand's region: {}", national.html);
    assert_eq!(search_number(&mut admin, "alpha", "hello", &csrf).await.status, StatusCode::BAD_REQUEST);
    let forged = search_number(&mut admin, "alpha", "+4915123456789", "forged").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "a wrong CSRF token is refused");

    let mut analyst = Browser::new(&server);
    analyst.sign_in("alpha-analyst", PASSWORD).await;
    let csrf = csrf_of_home(&mut analyst).await;
    let refused = search_number(&mut analyst, "alpha", "+4915123456789", &csrf).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "analysts see masked numbers only");
    let trace = analyst.get("/admin/trace?brand=alpha&order=T-1").await;
    assert!(trace.html.contains(&id) && !trace.html.contains("+4915123456789"), "masked for analysts: {}", trace.html);

    // Another brand's user: alpha does not exist for them, and their own brand has no such order.
    let mut other = Browser::new(&server);
    other.sign_in("beta-admin", PASSWORD).await;
    assert_eq!(other.get("/admin/trace?brand=alpha&order=T-1").await.status, StatusCode::NOT_FOUND);
    let csrf = csrf_of_home(&mut other).await;
    assert_eq!(search_number(&mut other, "alpha", "+4915123456789", &csrf).await.status, StatusCode::NOT_FOUND);
    let own = other.get("/admin/trace?brand=beta&order=T-1").await;
    assert!(own.status == StatusCode::OK && own.html.contains("Nothing is known") && !own.html.contains(&id));

    let mut auditor = Browser::new(&server);
    auditor.sign_in("auditor", PASSWORD).await;
    assert_eq!(auditor.get("/admin/trace?brand=alpha&order=T-1").await.status, StatusCode::NOT_FOUND);
    let log = auditor.get("/admin/audit").await;
    assert_eq!(log.status, StatusCode::OK);
    let rows = log.html.matches("<td>order_trace</td>").count();
    assert_eq!(rows, 3, "the views of alpha-admin, alpha-analyst and beta-admin (not the refused ones): {}", log.html);
    assert_eq!(log.html.matches("<td>number_search</td>").count(), 2, "{}", log.html);
    assert!(!log.html.contains("+4915123456789"), "the audit log holds no full numbers");
    let mine = auditor.get("/admin/audit?user=alpha-analyst").await;
    assert_eq!(mine.html.matches("<td>order_trace</td>").count(), 1);
    assert!(mine.html.contains("<td>alpha-analyst</td><td>analyst</td>"), "{}", mine.html);
    // Nothing in the admin area changes the audit log.
    assert_eq!(auditor.post("/admin/audit", &[("user", "x")]).await.status, StatusCode::METHOD_NOT_ALLOWED);
    server.stop().await;
}

/// The password step, up to the page of the second step it leads to; with the form's token.
async fn password_step(browser: &mut Browser, username: &str) -> (Page, String) {
    let form = browser.get("/admin/login").await;
    let csrf = hidden_csrf(&form.html);
    let page = browser.post("/admin/login", &[("username", username), ("password", PASSWORD), ("csrf", &csrf)]).await;
    (page, csrf)
}

async fn the_second_factor_holds_against_guessers_and_stale_enrolments(db: Db) {
    assert!(add_user(&db, &["--username", "ops", "--role", "operator"]).0);
    let server = TestServer::start(db).await;

    // Someone with the password begins an enrolment; the owner enrols first. The stale one, with
    // its own secret's right code, does not replace the owner's second factor.
    let mut intruder = Browser::new(&server);
    let (page, csrf) = password_step(&mut intruder, "ops").await;
    assert_eq!(page.location.as_deref(), Some("/admin/login/enrol"));
    let enrol = intruder.get("/admin/login/enrol").await;
    let stale = enrol.html.split("id=\"totp-secret\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    let mut owner = Browser::new(&server);
    assert_eq!(owner.sign_in("ops", PASSWORD).await.status, StatusCode::SEE_OTHER);
    let secret = totp_rs::Secret::Encoded(stale).to_bytes().unwrap();
    let code = totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, secret, None, "x".into())
        .unwrap()
        .generate_current()
        .unwrap();
    let page = intruder.post("/admin/login/enrol", &[("code", &code), ("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.html);
    assert!(!intruder.cookies.contains_key("og_admin"));
    assert_eq!(Browser::new(&server).sign_in("ops", PASSWORD).await.status, StatusCode::SEE_OTHER, "the owner's stays");

    // With the password, ten wrong codes (over two pending sign-ins) use up the user's budget:
    // then even a right code is refused for the rest of the window.
    for _ in 0..2 {
        let (page, csrf) = password_step(&mut intruder, "ops").await;
        assert_eq!(page.location.as_deref(), Some("/admin/login/code"));
        for _ in 0..5 {
            let page = intruder.post("/admin/login/code", &[("code", "000000"), ("csrf", &csrf)]).await;
            assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        }
    }
    let (_, csrf) = password_step(&mut intruder, "ops").await;
    let right = authenticator::code(&server.base, "ops");
    let page = intruder.post("/admin/login/code", &[("code", &right), ("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.html.contains("Too many failed sign-ins"), "{}", page.html);
    assert!(!intruder.cookies.contains_key("og_admin"));
    server.stop().await;
}
