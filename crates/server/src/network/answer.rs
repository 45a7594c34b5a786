//! Answers of gateways and authorisation servers as orderguard reads them: bounded in size, and
//! their texts made fit for events and logs.

use super::CallError;

/// Gateways' messages are kept this short in events and logs.
const MOST_MESSAGE_CHARS: usize = 200;
/// The largest answer read from a gateway or its authorisation server.
const MOST_BODY_BYTES: usize = 64 * 1024;

/// A gateway's text made fit for events and logs: short, one line, and without anything that
/// looks like a phone number (a run of five or more digits, spaced or not, becomes `…`).
pub fn scrub(text: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let mut digits = 0;
    let flush = |out: &mut String, run: &mut String, digits: &mut usize| {
        if *digits >= 5 {
            out.push('…');
        } else {
            out.push_str(run);
        }
        run.clear();
        *digits = 0;
    };
    for c in text.chars().filter(|c| !c.is_control()) {
        if c.is_ascii_digit() || (matches!(c, '+' | ' ' | '-' | '(' | ')') && (digits > 0 || c == '+')) {
            digits += usize::from(c.is_ascii_digit());
            run.push(c);
        } else {
            flush(&mut out, &mut run, &mut digits);
            out.push(c);
        }
    }
    flush(&mut out, &mut run, &mut digits);
    out.chars().take(MOST_MESSAGE_CHARS).collect()
}

/// The body of an answer, refused when larger than any answer these APIs give.
pub async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, CallError> {
    if response.content_length().is_some_and(|n| n > MOST_BODY_BYTES as u64) {
        return Err(CallError::Unreadable("the answer is too large"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(CallError::from_reqwest)? {
        if body.len() + chunk.len() > MOST_BODY_BYTES {
            return Err(CallError::Unreadable("the answer is too large"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn texts_lose_what_looks_like_a_number() {
        assert_eq!(scrub("a\nb"), "ab");
        assert_eq!(scrub("unknown subscriber tel:+49 151 2345-6789."), "unknown subscriber tel:….");
        let kept = "Check monitor period could not exceed local regulations (30 days)";
        assert_eq!(scrub(kept), kept);
        assert_eq!(scrub(&"x".repeat(500)).len(), 200);
    }
}
