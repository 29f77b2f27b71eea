//! OAuth 2.0 token endpoints as the key stores' identity services answer
//! them: Google's STS (an RFC 8693 token exchange) and Microsoft Entra ID
//! (client credentials, with a secret or a client assertion). A
//! form-encoded `POST`, then an `access_token`, or an RFC 6749 §5.2 error
//! (`{"error": "invalid_grant", "error_description": "…"}`).

use crate::error::{Error, Result, Service, ServiceError};
use crate::json::Object;
use crate::net::http::{Method, Request, Response, malformed};
use crate::net::url::Url;
use crate::secret::Secret;

/// A form-encoded `POST` of `pairs` to the token endpoint `url`.
pub fn token_request(service: Service, url: &Url, pairs: &[(&str, &str)]) -> Request {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        form.append_pair(name, value);
    }
    Request {
        service,
        method: Method::Post,
        url: url.clone(),
        headers: vec![
            ("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned()),
            ("accept".to_owned(), "application/json".to_owned()),
            ("user-agent".to_owned(), crate::USER_AGENT.to_owned()),
        ],
        body: form.finish().into_bytes(),
        retry: true,
    }
}

/// The `access_token` of a token endpoint's answer. A refusal is `sts`:
/// the exchange of the workload's identity (or secret) was refused;
/// `secrets` (the ID token, a client secret) are scrubbed from it, and
/// `hint` says what usually causes it.
pub fn read_access_token(
    service: Service,
    url: &Url,
    response: &Response,
    secrets: &[&Secret],
    hint: &str,
) -> Result<Secret> {
    if !response.is_success() {
        let mut error = service_error(response, service, secrets);
        error.hint = refused(response).then(|| hint.to_owned());
        return Err(Error::Sts(error));
    }
    let not_expected = |what: String| malformed(service, url, response, secrets, what);
    let answer = Object::parse(&response.body).map_err(|e| not_expected(format!("token answer: {e}")))?;
    let token =
        answer.required_str("access_token").map_err(|e| not_expected(format!("token answer: {e}")))?;
    if token.is_empty() || token.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(not_expected("the access_token is not a token".into()));
    }
    Ok(Secret::new(token))
}

/// Whether an error answer is a refusal (a 4xx other than 429), whose
/// cause is the trust's configuration, rather than an outage or throttling
/// (5xx, 429), where a hint about trust would mislead.
pub fn refused(response: &Response) -> bool {
    (400..500).contains(&response.status) && response.status != 429
}

/// An RFC 6749 error answer as a [`ServiceError`]: `error` as the code,
/// `error_description` as the message (Entra's starts with its `AADSTS`
/// code), Entra's `trace_id` as the request id where no header carries one.
pub fn service_error(response: &Response, service: Service, secrets: &[&Secret]) -> ServiceError {
    let body = Object::parse(&response.body).ok();
    let text = |key: &str| body.as_ref().and_then(|b| b.str(key).ok().flatten());
    let message = text("error_description").map(str::to_owned).unwrap_or_else(|| {
        format!(
            "answer without an OAuth error body (content-type {})",
            response.header("content-type").unwrap_or("none")
        )
    });
    let mut error = ServiceError::quoted(response, service, text("error"), &message, secrets);
    if error.request_id.is_none() {
        error.request_id = text("trace_id").map(|id| crate::secret::quote(id, secrets));
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::script::answer;

    #[test]
    fn posts_a_form_and_reads_the_token() {
        let url = Url::parse("https://sts.googleapis.com/v1/token").unwrap();
        let request =
            token_request(Service::GoogleSts, &url, &[("grant_type", "a:b"), ("subject_token", "x y")]);
        assert_eq!(String::from_utf8(request.body.clone()).unwrap(), "grant_type=a%3Ab&subject_token=x+y");
        let ok = answer(200, &[], r#"{"access_token":"ya29.tok","token_type":"Bearer","expires_in":3599}"#);
        let token = read_access_token(Service::GoogleSts, &url, &ok.unwrap(), &[], "h").unwrap();
        assert_eq!(token.expose(), "ya29.tok");
        let none = answer(200, &[], r#"{"token_type":"Bearer"}"#).unwrap();
        let result = read_access_token(Service::GoogleSts, &url, &none, &[], "h");
        assert!(matches!(result, Err(Error::MalformedResponse(_))));
    }

    #[test]
    fn a_refusal_is_sts_with_its_code_and_no_secret() {
        let url = Url::parse("https://login.microsoftonline.com/t/oauth2/v2.0/token").unwrap();
        let body = r#"{"error":"invalid_client","error_description":"AADSTS700213: No matching federated identity record found for presented assertion a.b.c","trace_id":"tr-1"}"#;
        let refused = answer(400, &[], body).unwrap();
        let Err(Error::Sts(e)) = read_access_token(
            Service::EntraId,
            &url,
            &refused,
            &[&Secret::new("a.b.c")],
            "check the subject",
        ) else {
            panic!()
        };
        assert_eq!((e.service, e.code.as_deref()), (Service::EntraId, Some("invalid_client")));
        assert!(e.message.ends_with("presented assertion [redacted]"), "{}", e.message);
        assert_eq!(e.hint.as_deref(), Some("check the subject"));
        assert_eq!(e.request_id.as_deref(), Some("tr-1"));
        // An outage is not a refusal: no hint about trust.
        let down =
            answer(503, &[], r#"{"error":"temporarily_unavailable","error_description":"AADSTS90033"}"#)
                .unwrap();
        let Err(Error::Sts(e)) = read_access_token(Service::EntraId, &url, &down, &[], "check the subject")
        else {
            panic!()
        };
        assert_eq!((e.status, e.hint), (503, None));
    }
}
