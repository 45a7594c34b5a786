//! The hosted verification page over HTTP, as a browser without JavaScript uses it: forms,
//! POST-redirect-GET, and back to the shop's return URL.

use serde_json::Value;

use crate::on_both_databases;
use crate::support::{Db, TestServer, order};

on_both_databases!(customer_confirms_on_the_hosted_page, customer_cancels_on_the_hosted_page);

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
    let code = server.code(&id).await;

    let response = http.get(&page_url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("form-action 'self' https://shop.alpha.example"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"));
    let html = response.text().await.unwrap();
    assert!(html.contains("<html lang=\"de\">"));
    assert!(html.contains("Alpha Mobil"));
    assert!(html.contains("1 × Smartphone X"));
    assert!(html.contains("849,00 €"));
    assert!(html.contains("+49 *** ****89"));
    assert!(html.contains("autocomplete=\"one-time-code\"") && html.contains("inputmode=\"numeric\""));
    assert!(!html.contains(&code), "the page never shows the code");

    // A wrong code: back to the page (POST-redirect-GET), which names the attempts left.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, location) = post_form(&http, &format!("{page_url}/check"), &[("code", wrong)]).await;
    assert_eq!(status, 303);
    assert!(location.ends_with("?notice=wrong"), "{location}");
    let html = http.get(format!("{}{location}", server.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Der Code ist falsch. Verbleibende Versuche: 4"), "{html}");

    // Resend at once: the cooldown is shown.
    let (_, location) = post_form(&http, &format!("{page_url}/resend"), &[]).await;
    assert!(location.ends_with("?notice=too_soon"), "{location}");

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

    let response = http.get(format!("{}/v/not-a-token", server.base)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert!(response.text().await.unwrap().contains("This verification link is not valid."));
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
    // Acting on a finished verification changes nothing and shows the page.
    let (status, location) = post_form(&http, &format!("{page_url}/check"), &[("code", "123456")]).await;
    assert_eq!((status, location.as_str()), (303, page_url.trim_start_matches(&server.base)));
    server.stop().await;
}
