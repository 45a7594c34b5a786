//! The hosted verification page over HTTP: as a browser without JavaScript uses it (forms,
//! POST-redirect-GET, back to the shop's return URL), as its script uses it (JSON answers), and
//! inside the shop's iframe. Real browsers click through it in `tests/browser`.

use serde_json::Value;

use crate::on_both_databases;
use crate::support::{Db, TestServer, order};

on_both_databases!(
    customer_confirms_on_the_hosted_page,
    customer_cancels_on_the_hosted_page,
    the_script_gets_json_and_the_iframe_stays_inside,
    brand_texts_logo_and_language,
    the_sms_binds_the_code_to_where_it_is_typed
);

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn start_with_return_url(server: &TestServer, order_id: &str) -> (String, String) {
    let mut body = order(order_id, "c-1");
    body["return_url"] = Value::from("https://shop.alpha.example/checkout/done?cart=7");
    let (status, v) = server.post(&server.alpha_key, "/v1/verifications", body).await;
    assert_eq!(status, 201, "{v}");
    let token_url = v["hosted_url"].as_str().unwrap().to_owned();
    (v["id"].as_str().unwrap().to_owned(), token_url)
}

async fn post_form(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = http.post(url).form(form).send().await.unwrap();
    let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (response.status().as_u16(), location)
}

async fn customer_confirms_on_the_hosted_page(db: Db) {
    let server = TestServer::start(db).await;
    let http = no_redirects();
    let (id, page_url) = start_with_return_url(&server, "P-1").await;
    assert!(!page_url.contains(&id), "the link is a token, not the verification id");
    let token = page_url.rsplit('/').next().unwrap();
    assert!(token.len() >= 22, "at least 128 bits: {token}");
    let code = server.code(&id).await;

    let response = http.get(&page_url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("form-action 'self' https://shop.alpha.example"), "{csp}");
    assert!(csp.contains("frame-ancestors https://shop.alpha.example"), "only the brand's shops frame it: {csp}");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"), "{csp}");
    assert!(response.headers().get("x-frame-options").is_none(), "the CSP says who may frame it");
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"de\">"));
    assert!(html.contains("id=\"payee\">Alpha Mobil"));
    assert!(html.contains("1 × <bdi>Smartphone X</bdi>"), "the item name isolated from the quantity");
    assert!(html.contains("849,00 €"));
    assert!(html.contains("+49 *** ****89"));
    assert!(html.contains("autocomplete=\"one-time-code\"") && html.contains("inputmode=\"numeric\""));
    assert!(html.contains("<label for=\"code\">"), "the code field is labelled");
    assert!(html.contains("aria-live"), "notices are announced");
    assert!(!html.contains(&code), "the page never shows the code");

    // A wrong code: back to the page (POST-redirect-GET), which names the attempts left.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, location) = post_form(&http, &format!("{page_url}/check"), &[("code", wrong)]).await;
    assert_eq!(status, 303);
    assert!(location.ends_with("?notice=wrong"), "{location}");
    let html = http.get(format!("{}{location}", server.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Der Code ist nicht richtig. Noch 4 Versuche."), "{html}");
    assert!(html.contains("id=\"attempts\">4<"));

    // Resend at once: refused, with the cooldown shown; no second SMS.
    let (_, location) = post_form(&http, &format!("{page_url}/resend"), &[]).await;
    assert!(location.ends_with("?notice=too_soon"), "{location}");
    let html = http.get(format!("{}{location}", server.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Ein neuer Code ist in 2") || html.contains("Ein neuer Code ist in 3"), "{html}");
    assert_eq!(server.outbox(Some(&id)).await.len(), 1);

    // Odd input: a repeated or unknown parameter is ignored; a form without a code costs no attempt.
    let response = http.get(format!("{page_url}?lang=de&lang=en&x=1")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (status, location) = post_form(&http, &format!("{page_url}/check?lang=de&lang=en"), &[]).await;
    assert_eq!(status, 303);
    assert!(location.ends_with("?notice=invalid"), "{location}");
    let (_, v) = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!(v["attempts_remaining"], 4);

    // The right code: back to the shop with the outcome; the shop fetches the receipt by API.
    let (status, location) = post_form(&http, &format!("{page_url}/check"), &[("code", &code)]).await;
    assert_eq!(status, 303);
    assert_eq!(
        location,
        format!("https://shop.alpha.example/checkout/done?cart=7&verification_id={id}&status=approved")
    );
    let (_, v) = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!(v["status"], "approved");
    assert!(v["receipt"].is_string());

    // Afterwards the page shows the result and the way back.
    let html = http.get(&page_url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Bestellung bestätigt.") && !html.contains("name=\"code\""));
    assert!(
        html.contains(
            "id=\"back-to-shop\" href=\"https://shop.alpha.example/checkout/done?cart=7&#38;verification_id="
        ),
        "{html}"
    );

    // An unknown link, in the language the browser asks for.
    let response = http.get(format!("{}/v/not-a-token", server.base)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert!(response.text().await.unwrap().contains("This verification link is not valid."));
    let response =
        http.get(format!("{}/v/not-a-token", server.base)).header("accept-language", "de-DE").send().await.unwrap();
    assert!(response.text().await.unwrap().contains("Dieser Bestätigungslink ist nicht gültig."));
    server.stop().await;
}

async fn customer_cancels_on_the_hosted_page(db: Db) {
    let server = TestServer::start(db).await;
    let http = no_redirects();
    let (id, page_url) = start_with_return_url(&server, "P-2").await;
    let (status, location) = post_form(&http, &format!("{page_url}/cancel"), &[]).await;
    assert_eq!(status, 303);
    assert!(location.ends_with(&format!("verification_id={id}&status=canceled")), "{location}");
    let (_, v) = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!(v["status"], "canceled");
    // Acting on a finished verification changes nothing and leads back to the shop with the outcome.
    let (status, location) = post_form(&http, &format!("{page_url}/check"), &[("code", "123456")]).await;
    assert_eq!(status, 303);
    assert!(location.ends_with(&format!("verification_id={id}&status=canceled")), "{location}");
    let (_, v) = server.get(&server.alpha_key, &format!("/v1/verifications/{id}")).await;
    assert_eq!((v["status"].as_str(), v["attempts_remaining"].as_u64()), (Some("canceled"), Some(5)));
    server.stop().await;
}

async fn the_script_gets_json_and_the_iframe_stays_inside(db: Db) {
    let server = TestServer::start(db).await;
    let http = no_redirects();
    let (id, page_url) = start_with_return_url(&server, "P-3").await;
    let code = server.code(&id).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let json = |url: String, form: Vec<(&'static str, String)>| {
        let http = http.clone();
        async move {
            let response = http.post(url).header("accept", "application/json").form(&form).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let answer = json(format!("{page_url}/check?embed=1&lang=en"), vec![("code", wrong.into())]).await;
    assert_eq!(answer["status"], "pending");
    assert_eq!(answer["attempts_remaining"], 4);
    assert_eq!(answer["message"], "That code is not right. 4 attempts left.");
    assert!(answer["redirect"].is_null());

    // Inside the iframe the outcome stays in the frame: the page posts it to the shop page.
    let answer = json(format!("{page_url}/check?embed=1"), vec![("code", code)]).await;
    assert_eq!(answer["status"], "approved");
    let redirect = answer["redirect"].as_str().unwrap();
    assert!(redirect.ends_with("?embed=1") && redirect.starts_with("/v/"), "{redirect}");
    let html = http.get(format!("{}{redirect}", server.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-status=\"approved\""));
    assert!(html.contains(&format!("data-verification-id=\"{id}\"")));
    assert!(html.contains("data-parent-origin=\"https://shop.alpha.example\""), "posted only to the shop's origin");
    assert!(html.contains("target=\"_top\""), "without a script the way back leaves the frame");
    // Inside the frame the header is hidden; the language links move into the page.
    let (_, v) = server.post(&server.alpha_key, "/v1/verifications", order("P-3b", "c-2")).await;
    let embedded = format!("{}?embed=1", v["hosted_url"].as_str().unwrap());
    let html = http.get(&embedded).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<nav class=\"languages\"") && html.contains("href=\"?lang=en&#38;embed=1\""), "{html}");

    // The page's script is served from the binary, cacheable by its versioned URL.
    let src = html.split("<script src=\"").nth(1).unwrap().split('"').next().unwrap();
    let response = http.get(format!("{}{src}", server.base)).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/javascript; charset=utf-8");
    assert!(response.text().await.unwrap().contains("postMessage"));
    server.stop().await;
}

async fn brand_texts_logo_and_language(db: Db) {
    let logo = "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>";
    let dir = std::env::temp_dir().join(format!("og-logo-{}", orderguard::ids::random_token(6)));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("alpha.svg"), logo).unwrap();
    let config_dir = dir.clone();
    let server = TestServer::start_with(db, move |s| {
        s.config_dir = Some(config_dir);
        let alpha = &mut s.brands[0];
        alpha.theme.logo = Some("alpha.svg".into());
        alpha.theme.imprint_url = Some("https://shop.alpha.example/impressum".into());
        alpha
            .texts
            .insert("de".into(), [("confirm-button".to_owned(), "Jetzt verbindlich bestätigen".to_owned())].into());
    })
    .await;
    let http = no_redirects();
    let (_, page_url) = start_with_return_url(&server, "P-4").await;

    let html = http.get(&page_url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Jetzt verbindlich bestätigen"), "the brand's own wording");
    assert!(html.contains("Code gültig für"), "built-in texts for everything else");
    assert!(html.contains("href=\"https://shop.alpha.example/impressum\"") && html.contains(">Impressum<"));
    let logo_src = html.split("<img src=\"").nth(1).unwrap().split('"').next().unwrap();
    let response = http.get(format!("{}{logo_src}", server.base)).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert!(response.headers()["content-security-policy"].to_str().unwrap().contains("sandbox"));
    assert_eq!(response.text().await.unwrap(), logo);
    assert_eq!(http.get(format!("{}/brands/beta/logo", server.base)).send().await.unwrap().status().as_u16(), 404);

    // English on request; the override was only for German.
    let response = http.get(format!("{page_url}?lang=en")).send().await.unwrap();
    assert_eq!(response.headers()["content-language"], "en");
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">") && html.contains("Confirm order") && html.contains("Code valid for"));
    assert!(html.contains("action=\"/v/") && html.contains("/check?lang=en\""), "forms keep the language");
    // A language the brand does not speak is ignored.
    let html = http.get(format!("{page_url}?lang=fr")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<html lang=\"de\">"));

    // A verification started with Accept-Language and no `locale` field speaks that language.
    let mut body = order("P-5", "c-1");
    body.as_object_mut().unwrap().remove("locale");
    let response = server
        .http
        .post(format!("{}/v1/verifications", server.base))
        .bearer_auth(&server.alpha_key)
        .header("accept-language", "en-GB,en;q=0.9")
        .json(&body)
        .send()
        .await
        .unwrap();
    let v: Value = response.json().await.unwrap();
    assert_eq!(v["locale"], "en");
    let html = http.get(v["hosted_url"].as_str().unwrap()).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    server.stop().await;
    std::fs::remove_dir_all(dir).unwrap();
}

/// WebOTP: the SMS's last line names the origin of the page where the code is typed.
async fn the_sms_binds_the_code_to_where_it_is_typed(db: Db) {
    let server = TestServer::start(db).await;
    let host = server.base.trim_start_matches("http://").split(':').next().unwrap().to_owned();
    for (entry, expected_end) in [
        (None, String::new()),
        (Some("shop"), String::new()),
        (Some("hosted"), String::new()),
        (Some("embedded"), format!(" @{host}")),
    ] {
        let mut body = order(&format!("W-{entry:?}"), "c-1");
        if let Some(entry) = entry {
            body["code_entry"] = Value::from(entry);
        }
        let (status, v) = server.post(&server.alpha_key, "/v1/verifications", body).await;
        assert_eq!(status, 201, "{v}");
        assert_eq!(v["code_entry"], entry.unwrap_or("shop"));
        let id = v["id"].as_str().unwrap();
        let code = server.code(id).await;
        let text = server.outbox(Some(id)).await[0]["text"].as_str().unwrap().to_owned();
        let top = if entry == Some("hosted") { host.as_str() } else { "shop.alpha.example" };
        assert!(text.ends_with(&format!("\n\n@{top} #{code}{expected_end}")), "{entry:?}: {text}");
    }
    let mut body = order("W-bad", "c-1");
    body["code_entry"] = Value::from("iframe");
    let (status, problem) = server.post(&server.alpha_key, "/v1/verifications", body).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "code_entry");
    server.stop().await;
}
