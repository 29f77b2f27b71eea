//! Key Vault's error answers: `{"error": {"code": "Forbidden", "message":
//! "…", "innererror": {"code": "ForbiddenByRbac"}}}`, with the request id
//! in `x-ms-request-id`.

use crate::error::{Service, ServiceError};
use crate::json::Object;
use crate::net::http::Response;
use crate::secret::Secret;

/// A Key Vault error answer as a [`ServiceError`]: the inner error's code
/// where there is one (it says more), `secrets` scrubbed from the message.
pub fn service_error(response: &Response, secrets: &[&Secret]) -> ServiceError {
    let error = Object::parse(&response.body)
        .ok()
        .and_then(|mut body| body.take("error"))
        .and_then(|error| Object::from_value(error, "error").ok());
    let text = |key: &str| error.as_ref().and_then(|e| e.str(key).ok().flatten());
    let inner = error
        .as_ref()
        .and_then(|e| e.value("innererror"))
        .and_then(|inner| inner.get("code"))
        .and_then(|code| code.as_str());
    let message = text("message").map(str::to_owned).unwrap_or_else(|| {
        format!(
            "answer without a Key Vault error body (content-type {})",
            response.header("content-type").unwrap_or("none")
        )
    });
    ServiceError::quoted(response, Service::KeyVault, inner.or(text("code")), &message, secrets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::script::answer;

    #[test]
    fn reads_the_inner_code_the_message_and_the_request_id() {
        let body = r#"{"error":{"code":"Forbidden","message":"Caller is not authorized to perform action on resource.","innererror":{"code":"ForbiddenByRbac"}}}"#;
        let e = service_error(&answer(403, &[("x-ms-request-id", "req-9")], body).unwrap(), &[]);
        assert_eq!((e.code.as_deref(), e.request_id.as_deref()), (Some("ForbiddenByRbac"), Some("req-9")));
        assert_eq!(e.message, "Caller is not authorized to perform action on resource.");
        let body = r#"{"error":{"code":"KeyNotFound","message":"A key with (name/id) app was not found in this key vault."}}"#;
        assert_eq!(service_error(&answer(404, &[], body).unwrap(), &[]).code.as_deref(), Some("KeyNotFound"));
    }
}
