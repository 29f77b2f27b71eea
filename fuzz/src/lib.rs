//! What the fuzz targets share: arbitrary bytes as an HTTP answer.

use github_app_kms_token::net::http::Response;
use github_app_kms_token::net::url::Url;

/// The endpoint the answers claim to come from.
pub fn url() -> Url {
    Url::parse("https://fuzz.example").expect("a valid URL")
}

/// `data` as an answer: two bytes of status, then header lines up to an
/// empty line (`name: value`), then the body.
pub fn answer(data: &[u8]) -> Response {
    echoing(data, "")
}

/// [`answer`], with every `@@` in its headers and body replaced by `echo`:
/// a credential the request carried, which the answer may quote back (as
/// some services quote a bad token).
pub fn echoing(data: &[u8], echo: &str) -> Response {
    let (status, rest) = match data {
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]) % 600, rest),
        _ => (200, data),
    };
    let mut text = String::from_utf8_lossy(rest).into_owned();
    if !echo.is_empty() {
        text = text.replace("@@", echo);
    }
    let (head, body) = text.split_once("\n\n").unwrap_or(("", &text));
    let headers = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Response { status, headers, body: body.as_bytes().to_vec(), attempts: 1 }
}
