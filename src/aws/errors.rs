//! AWS error answers, as the JSON protocols (KMS) and the query/XML
//! protocols (STS, and some proxies and emulators) send them.

use crate::error::{Error, Service, ServiceError};
use crate::json::Object;
use crate::net::http::{Response, aws_error_code};
use crate::secret::{Secret, quote};

/// AWS error codes that mean the credentials themselves were refused.
const CREDENTIAL_ERRORS: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
    "ExpiredTokenException",
    "ExpiredToken",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
];

/// The error code and message of an AWS error body, JSON or XML.
fn code_and_message(body: &[u8]) -> (Option<String>, Option<String>) {
    if let Ok(json) = Object::parse(body) {
        let text = |key: &str| json.str(key).ok().flatten();
        let code = text("__type").map(aws_error_code);
        return (code, text("message").or_else(|| text("Message")).map(str::to_owned));
    }
    let text = String::from_utf8_lossy(body);
    (xml_text(&text, "Code"), xml_text(&text, "Message"))
}

/// The text of the first `<tag>…</tag>` in `xml`, unescaped.
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let len = xml[start..].find(&format!("</{tag}>"))?;
    let text = &xml[start..start + len];
    Some(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// An AWS error answer as a [`ServiceError`], its texts quoted
/// ([`crate::secret::quote`]): `secrets` are scrubbed from the message,
/// since AWS may echo the signed request back. `hint` suggests what to do
/// for a code.
pub fn service_error(
    response: &Response,
    service: Service,
    secrets: &[&Secret],
    hint: fn(&str) -> Option<&'static str>,
) -> ServiceError {
    let (code, message) = code_and_message(&response.body);
    let message = message.unwrap_or_else(|| {
        format!(
            "answer without an AWS error body (content-type {})",
            response.header("content-type").unwrap_or("none")
        )
    });
    // AWS's request id header, for STS too; else the XML body's.
    let mut error = ServiceError::quoted(response, service, code.as_deref(), &message, secrets);
    if error.request_id.is_none() {
        error.request_id =
            xml_text(&String::from_utf8_lossy(&response.body), "RequestId").map(|id| quote(&id, secrets));
    }
    error.hint = error.code.as_deref().and_then(hint).map(str::to_owned);
    error
}

/// `error` as [`Error::CredentialsRejected`] when AWS refused the
/// credentials themselves, else as `otherwise` (the action was refused).
pub fn refusal(error: ServiceError, otherwise: fn(ServiceError) -> Error) -> Error {
    if error.code.as_deref().is_some_and(|c| CREDENTIAL_ERRORS.contains(&c)) {
        Error::CredentialsRejected(error)
    } else {
        otherwise(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        crate::net::script::answer(status, &[("x-amzn-requestid", "r-1")], body).unwrap()
    }

    fn no_hint(_: &str) -> Option<&'static str> {
        None
    }

    fn error(
        response: &Response,
        secrets: &[&Secret],
        hint: fn(&str) -> Option<&'static str>,
        otherwise: fn(ServiceError) -> Error,
    ) -> Error {
        refusal(service_error(response, Service::Kms, secrets, hint), otherwise)
    }

    #[test]
    fn reads_json_and_xml_errors() {
        let xml = r#"<?xml version="1.0"?><ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>
            <Message>a &amp; b &lt;c&gt;</Message></Error><RequestId>x</RequestId></ErrorResponse>"#;
        let Error::CredentialsRejected(e) = error(&response(403, xml), &[], no_hint, Error::Kms) else {
            panic!()
        };
        assert_eq!((e.code.as_deref(), e.message.as_str()), (Some("SignatureDoesNotMatch"), "a & b <c>"));

        let json = r#"{"__type":"com.amazonaws.kms#DisabledException:http://internal","message":"off"}"#;
        let Error::Kms(e) = error(&response(400, json), &[], no_hint, Error::Kms) else { panic!() };
        assert_eq!(
            (e.code.as_deref(), e.message.as_str(), e.request_id.as_deref()),
            (Some("DisabledException"), "off", Some("r-1"))
        );

        let both = r#"{"__type":"AccessDeniedException","message":"lower","Message":"upper"}"#;
        let Error::Kms(e) = error(&response(400, both), &[], no_hint, Error::Kms) else { panic!() };
        assert_eq!((e.code.as_deref(), e.message.as_str()), (Some("AccessDeniedException"), "lower"));

        let Error::Sts(e) = error(&response(502, "<html>bad gateway</html>"), &[], no_hint, Error::Sts)
        else {
            panic!()
        };
        assert_eq!(e.code, None);
        assert!(e.message.contains("without an AWS error body"));

        let sts = r#"<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>bad</Message></Error><RequestId>req-9</RequestId></ErrorResponse>"#;
        let e =
            service_error(&crate::net::script::answer(400, &[], sts).unwrap(), Service::Sts, &[], no_hint);
        assert_eq!(
            (e.code.as_deref(), e.request_id.as_deref()),
            (Some("InvalidIdentityToken"), Some("req-9"))
        );
    }
}
