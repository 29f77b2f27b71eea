//! Google APIs' error answers: `{"error": {"code": 403, "status":
//! "PERMISSION_DENIED", "message": "…"}}`.

use crate::error::{Service, ServiceError};
use crate::json::Object;
use crate::net::http::Response;
use crate::secret::Secret;

/// A Google API error answer as a [`ServiceError`]: `status` as the code,
/// `secrets` scrubbed from the message. The caller adds a hint.
pub fn service_error(response: &Response, service: Service, secrets: &[&Secret]) -> ServiceError {
    let error = Object::parse(&response.body)
        .ok()
        .and_then(|mut body| body.take("error"))
        .and_then(|error| Object::from_value(error, "error").ok());
    let text = |key: &str| error.as_ref().and_then(|e| e.str(key).ok().flatten());
    let message = text("message").map(str::to_owned).unwrap_or_else(|| {
        format!(
            "answer without a Google error body (content-type {})",
            response.header("content-type").unwrap_or("none")
        )
    });
    ServiceError::quoted(response, service, text("status"), &message, secrets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::script::answer;

    #[test]
    fn reads_the_status_and_the_message() {
        let body = r#"{"error":{"code":403,"message":"Permission 'cloudkms.cryptoKeyVersions.useToSign' denied on resource 'projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1' (or it may not exist).","status":"PERMISSION_DENIED"}}"#;
        let e = service_error(&answer(403, &[], body).unwrap(), Service::GoogleKms, &[]);
        assert_eq!(
            (e.service, e.status, e.code.as_deref()),
            (Service::GoogleKms, 403, Some("PERMISSION_DENIED"))
        );
        assert!(e.message.starts_with("Permission 'cloudkms.cryptoKeyVersions.useToSign' denied"));
        let e = service_error(
            &answer(502, &[("content-type", "text/html")], "<html>").unwrap(),
            Service::GoogleKms,
            &[],
        );
        assert_eq!(
            (e.code, e.message.as_str()),
            (None, "answer without a Google error body (content-type text/html)")
        );
    }
}
