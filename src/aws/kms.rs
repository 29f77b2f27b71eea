//! AWS KMS `Sign`: the SigV4-signed request and the reading of its answer.
//!
//! The request uses the JSON 1.1 protocol (`X-Amz-Target: TrentService.Sign`)
//! with `MessageType: RAW`, so KMS hashes the JWT signing input itself.

use std::time::SystemTime;

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::aws::arn;
use crate::aws::credentials::AwsCredentials;
use crate::aws::errors::{refusal, service_error};
use crate::aws::region::Region;
use crate::error::{Error, Result, Service, TransportError, invalid};
use crate::json::Object;
use crate::net::http::{Method, Request, Response, malformed};
use crate::net::url::Url;

/// The signing algorithm GitHub's RS256 needs.
pub const SIGNING_ALGORITHM: &str = "RSASSA_PKCS1_V1_5_SHA_256";
/// The length of an RSA-2048 signature, the key size of every GitHub App key.
pub const SIGNATURE_LEN: usize = 256;

/// A KMS key reference: key id, key ARN, `alias/NAME` or alias ARN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyId {
    text: String,
    /// The region named in an ARN.
    arn_region: Option<Region>,
}

impl KeyId {
    /// Validates a key reference; `field` names it in the error.
    pub fn parse(field: &str, text: &str) -> Result<KeyId> {
        let rule = "must be a key id, key ARN, alias/NAME or alias ARN";
        let (arn_region, resource) = if text.starts_with("arn:") {
            let arn = arn::parse(text, "kms").ok_or_else(|| invalid(field, rule))?;
            (Some(Region::parse(field, arn.region)?), arn.resource)
        } else {
            (None, text)
        };
        let valid = match resource.split_once('/') {
            Some(("key", id)) => arn_region.is_some() && is_key_id(id),
            Some(("alias", name)) => is_alias_name(name),
            _ => arn_region.is_none() && is_key_id(resource),
        };
        if !valid {
            return Err(invalid(field, rule));
        }
        Ok(KeyId { text: text.to_owned(), arn_region })
    }

    /// The region of a key or alias ARN.
    pub fn arn_region(&self) -> Option<&Region> {
        self.arn_region.as_ref()
    }

    /// The reference as given, for messages.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A UUID key id, or a multi-Region key id `mrk-` + 32 hex digits.
fn is_key_id(id: &str) -> bool {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(mrk) = id.strip_prefix("mrk-") {
        return hex(mrk, 32);
    }
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5 && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| hex(g, n))
}

fn is_alias_name(name: &str) -> bool {
    (1..=250).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
}

/// Which key to sign with, where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsKey {
    /// The key reference sent as `KeyId`.
    pub key_id: KeyId,
    /// The region in the SigV4 scope.
    pub region: Region,
    /// The KMS endpoint.
    pub endpoint: Url,
}

/// KMS's public endpoint for `region`.
pub fn default_endpoint(region: &Region) -> Url {
    region.endpoint("kms")
}

/// The SigV4-signed `Sign` request for `message` at time `now`.
pub fn sign_request(
    key: &KmsKey,
    credentials: &AwsCredentials,
    message: &[u8],
    now: SystemTime,
) -> Result<Request> {
    let body = serde_json::json!({
        "KeyId": key.key_id.as_str(),
        "Message": STANDARD.encode(message),
        "MessageType": "RAW",
        "SigningAlgorithm": SIGNING_ALGORITHM,
    })
    .to_string()
    .into_bytes();
    let mut headers = vec![
        ("content-type".to_owned(), "application/x-amz-json-1.1".to_owned()),
        ("x-amz-target".to_owned(), "TrentService.Sign".to_owned()),
    ];
    let identity = aws_credential_types::Credentials::new(
        &credentials.access_key_id,
        credentials.secret_access_key.expose(),
        credentials.session_token.as_ref().map(|t| t.expose().to_owned()),
        None,
        "github-app-kms-token",
    )
    .into();
    let cannot_sign = |e: &dyn std::fmt::Display| {
        let message = format!("the request could not be signed: {e}");
        Error::Transport(TransportError::new(Service::Kms, &key.endpoint, message))
    };
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(key.region.as_str())
        .name("kms")
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| cannot_sign(&e))?
        .into();
    let url = key.endpoint.to_string();
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(&body),
    )
    .map_err(|e| cannot_sign(&e))?;
    let (instructions, _signature) = sign(signable, &params).map_err(|e| cannot_sign(&e))?.into_parts();
    headers.extend(instructions.headers().map(|(n, v)| (n.to_ascii_lowercase(), v.to_owned())));
    let url = key.endpoint.clone();
    Ok(Request { service: Service::Kms, method: Method::Post, url, headers, body, retry: true })
}

/// The signature bytes from a `Sign` answer, or the error it reports.
/// `credentials` are scrubbed from any message AWS sends back.
pub fn read_sign_response(
    endpoint: &Url,
    response: &Response,
    credentials: &AwsCredentials,
) -> Result<Vec<u8>> {
    let secrets = &credentials.secrets();
    if !response.is_success() {
        return Err(refusal(service_error(response, Service::Kms, secrets, hint), Error::Kms));
    }
    let not_expected = |e| {
        malformed(
            Service::Kms,
            endpoint,
            response,
            secrets,
            format!("Sign answer is not the expected JSON: {e}"),
        )
    };
    let answer = Object::parse(&response.body).map_err(not_expected)?;
    let signature = STANDARD
        .decode(answer.required_str("Signature").map_err(not_expected)?)
        .map_err(|_| malformed(Service::Kms, endpoint, response, secrets, "Signature is not base64"))?;
    if signature.len() != SIGNATURE_LEN {
        return Err(malformed(
            Service::Kms,
            endpoint,
            response,
            secrets,
            format!("Signature is {} bytes, not the {SIGNATURE_LEN} of an RSA-2048 key", signature.len()),
        ));
    }
    Ok(signature)
}

fn hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "UnrecognizedClientException" | "InvalidClientTokenId" => {
            "AWS does not know this access key id: check AWS_ACCESS_KEY_ID and the region's partition"
        }
        "InvalidSignatureException" | "SignatureDoesNotMatch" => {
            "check AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials) and this machine's clock"
        }
        "ExpiredTokenException" => "the temporary credentials have expired: obtain fresh ones",
        "AccessDeniedException" => {
            "the IAM policy and the key policy must allow kms:Sign on this key for this identity"
        }
        "NotFoundException" => {
            "no such key or alias in this account and region: check kms-key-id and aws-region"
        }
        "DisabledException" => "the key is disabled: enable it in KMS",
        "KMSInvalidStateException" => {
            "the key is not usable now (pending deletion or import): check its state in KMS"
        }
        "InvalidKeyUsageException" => {
            "the key must be an asymmetric RSA_2048 key with key usage SIGN_VERIFY holding the App's private key"
        }
        "ThrottlingException" => "KMS is throttling requests: retry later",
        "KMSInternalException" | "DependencyTimeoutException" => "KMS had a transient failure: retry later",
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
