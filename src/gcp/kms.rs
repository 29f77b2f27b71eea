//! Cloud KMS, the key version that signs: its algorithm and public half
//! (`GET …/{name}/publicKey`), and a signature of a SHA-256 digest
//! (`POST …/{name}:asymmetricSign`), with the CRC32C checks Google
//! recommends both ways: the digest's (`digestCrc32c`, which KMS confirms
//! with `verifiedDigestCrc32c`) and the signature's (`signatureCrc32c`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result, Service, ServiceError, invalid};
use crate::gcp::{errors, request};
use crate::json::Object;
use crate::net::http::{Method, Request, Response, malformed, unsupported_key};
use crate::net::url::Url;
use crate::rs256::PublicKey;
use crate::secret::{Secret, quote};

/// Cloud KMS's endpoint when `GOOGLE_KMS_ENDPOINT` does not say.
pub const DEFAULT_ENDPOINT: &str = "https://cloudkms.googleapis.com";

/// The algorithms of key versions that sign an App JWT (RS256).
pub const RSA_ALGORITHMS: &[&str] =
    &["RSA_SIGN_PKCS1_2048_SHA256", "RSA_SIGN_PKCS1_3072_SHA256", "RSA_SIGN_PKCS1_4096_SHA256"];

/// CRC32C (Castagnoli), as Cloud KMS checks its inputs and outputs.
const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// The CRC32C of `bytes`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    CRC32C.checksum(bytes)
}

/// A Cloud KMS key version: its resource name, and the endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVersion {
    /// `projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V`.
    pub name: String,
    /// `https://cloudkms.googleapis.com`, or `GOOGLE_KMS_ENDPOINT`.
    pub endpoint: Url,
}

impl KeyVersion {
    /// The key version `name` (from `field`) at `endpoint`.
    pub fn new(field: &str, name: &str, endpoint: Url) -> Result<KeyVersion> {
        let parts: Vec<&str> = name.split('/').collect();
        let labels = ["projects", "locations", "keyRings", "cryptoKeys", "cryptoKeyVersions"];
        // A domain-scoped project id has a `:` (`example.com:project`).
        let id_ok = |id: &str| {
            (1..=63 + 253).contains(&id.len())
                && id != "."
                && id != ".."
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        };
        let shaped = parts.len() == 10
            && parts.chunks(2).zip(labels).all(|(pair, label)| pair[0] == label && id_ok(pair[1]))
            && parts[9].bytes().all(|b| b.is_ascii_digit());
        if !shaped {
            return Err(invalid(
                field,
                "must name a key version: gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V",
            ));
        }
        Ok(KeyVersion { name: name.to_owned(), endpoint })
    }
}

/// The request for the key version's public half.
pub fn public_key_request(key: &KeyVersion, token: &Secret) -> Request {
    let url = key.endpoint.join(&format!("/v1/{}/publicKey", key.name));
    request(Service::GoogleKms, Method::Get, url, token, None)
}

/// The key version's public half, checked: an RSA PKCS#1 SHA-256
/// algorithm (else a `kms` error naming the key), the PEM's CRC32C.
pub fn read_public_key(key: &KeyVersion, response: &Response, token: &Secret) -> Result<PublicKey> {
    if !response.is_success() {
        return Err(refusal(errors::service_error(response, Service::GoogleKms, &[token])));
    }
    let not_expected = |what: String| malformed(Service::GoogleKms, &key.endpoint, response, &[token], what);
    let answer = Object::parse(&response.body).map_err(|e| not_expected(format!("publicKey answer: {e}")))?;
    let field = |name| answer.required_str(name).map_err(|e| not_expected(format!("publicKey answer: {e}")));
    let algorithm = field("algorithm")?;
    if !RSA_ALGORITHMS.contains(&algorithm) {
        let message = format!(
            "{} is {}, not RSA_SIGN_PKCS1_*_SHA256: an App JWT is RS256",
            key.name,
            quote(algorithm, &[token])
        );
        let hint = "import the App's private key into a key whose algorithm is RSA_SIGN_PKCS1_2048_SHA256 (docs/keys.md)";
        return Err(unsupported_key(Service::GoogleKms, response, &message, hint, &[token]));
    }
    let pem = field("pem")?;
    if answer.str("pemCrc32c").ok().flatten().is_some_and(|crc| crc != crc32c(pem.as_bytes()).to_string()) {
        return Err(not_expected("the PEM does not match its pemCrc32c: corrupted on the way".into()));
    }
    PublicKey::from_pem(pem).map_err(|e| not_expected(format!("the PEM is not a usable RSA key ({e:?})")))
}

/// The request for a signature of `digest` (SHA-256), with its CRC32C.
pub fn sign_request(key: &KeyVersion, token: &Secret, digest: &[u8]) -> Request {
    let url = key.endpoint.join(&format!("/v1/{}:asymmetricSign", key.name));
    let body = serde_json::json!({
        "digest": { "sha256": STANDARD.encode(digest) },
        "digestCrc32c": crc32c(digest).to_string(),
    });
    request(Service::GoogleKms, Method::Post, url, token, Some(body))
}

/// The signature from an `asymmetricSign` answer, once KMS has confirmed
/// the digest it received and the signature has arrived intact.
pub fn read_signature(key: &KeyVersion, response: &Response, token: &Secret) -> Result<Vec<u8>> {
    if !response.is_success() {
        return Err(refusal(errors::service_error(response, Service::GoogleKms, &[token])));
    }
    let not_expected = |what: String| malformed(Service::GoogleKms, &key.endpoint, response, &[token], what);
    let answer = Object::parse(&response.body).map_err(|e| not_expected(format!("sign answer: {e}")))?;
    if answer.value("verifiedDigestCrc32c").and_then(|v| v.as_bool()) != Some(true) {
        return Err(not_expected("KMS did not confirm the digest's CRC32C: corrupted on the way".into()));
    }
    if answer.str("name").ok().flatten() != Some(key.name.as_str()) {
        return Err(not_expected("the answer names another key version".into()));
    }
    let encoded = answer.required_str("signature").map_err(|e| not_expected(format!("sign answer: {e}")))?;
    let signature =
        STANDARD.decode(encoded).map_err(|_| not_expected("the signature is not base64".into()))?;
    let crc =
        answer.required_str("signatureCrc32c").map_err(|e| not_expected(format!("sign answer: {e}")))?;
    if crc != crc32c(&signature).to_string() {
        return Err(not_expected(
            "the signature does not match its signatureCrc32c: corrupted on the way".into(),
        ));
    }
    Ok(signature)
}

/// A refusal: of the access token (`credentials-rejected`), or of the
/// signature (`kms`), with what to do.
fn refusal(mut error: ServiceError) -> Error {
    let hint = match error.code.as_deref() {
        Some("UNAUTHENTICATED") => {
            error.hint = Some("Google refused the access token: it expired, or is not one".into());
            return Error::CredentialsRejected(error);
        }
        Some("PERMISSION_DENIED") => {
            "grant the identity roles/cloudkms.signer (cloudkms.cryptoKeyVersions.useToSign) and \
             roles/cloudkms.publicKeyViewer (cloudkms.cryptoKeyVersions.viewPublicKey) on the key"
        }
        Some("NOT_FOUND") => "no such key version: check the project, location, key ring, key and version",
        Some("FAILED_PRECONDITION") => {
            "the key version is not enabled (disabled, destroyed, or pending import)"
        }
        Some("RESOURCE_EXHAUSTED") => "Cloud KMS's quota is spent: retry later, or raise the quota",
        _ => return Error::Kms(error),
    };
    error.hint = Some(hint.to_owned());
    Error::Kms(error)
}

#[cfg(test)]
mod tests;
