//! Vault Transit, the key that signs: its type and public half
//! (`GET /v1/{mount}/keys/{name}`), and a signature of a SHA-256 digest
//! (`POST /v1/{mount}/sign/{name}/sha2-256` with `prehashed: true` and
//! `signature_algorithm: pkcs1v15`: Vault's default for RSA is PSS, and
//! without `prehashed` it would hash the digest again). OpenBao is the same.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result, Service, ServiceError, invalid};
use crate::json::Object;
use crate::net::http::{Method, Request, Response, malformed, unsupported_key};
use crate::rs256::PublicKey;
use crate::secret::{Secret, quote};
use crate::vault::{Server, errors, is_path, request};

/// Transit's mount when `VAULT_TRANSIT_MOUNT` does not say.
pub const DEFAULT_MOUNT: &str = "transit";

/// The key types that sign an App JWT (RS256).
pub const RSA_TYPES: &[&str] = &["rsa-2048", "rsa-3072", "rsa-4096"];

/// A Transit key: where, and which.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// The Vault server.
    pub server: Server,
    /// Transit's mount path (`transit`).
    pub mount: String,
    /// The key's name.
    pub name: String,
}

impl Key {
    /// The key `name` (from `field`) under `mount` (from `mount_field`).
    pub fn new(field: &str, name: &str, mount_field: &str, mount: &str, server: Server) -> Result<Key> {
        let name_ok = (1..=128).contains(&name.len())
            && name != "."
            && name != ".."
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !name_ok {
            return Err(invalid(field, "must name a Transit key: 1 to 128 letters, digits or -_."));
        }
        if !is_path(mount) {
            return Err(invalid(mount_field, "must be a mount path such as transit or team-a/transit"));
        }
        Ok(Key { server, mount: mount.to_owned(), name: name.to_owned() })
    }

    /// `transit/keys/NAME`, as errors name the key.
    pub fn path(&self) -> String {
        format!("{}/keys/{}", self.mount, self.name)
    }
}

/// The version of the key that signs, and its public half.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signing {
    /// The key's latest version, sent with each signature request.
    pub version: u64,
    /// The version's public half: every signature is checked with it.
    pub public_key: PublicKey,
}

/// The request for the key's description.
pub fn key_request(key: &Key, token: &Secret) -> Request {
    request(&key.server, Method::Get, &key.path(), Some(token), Vec::new())
}

/// The latest version and its public half, from the key's description; a
/// key that cannot sign an App JWT (not RSA, no signing) is a `kms` error
/// naming the key.
pub fn read_key(key: &Key, response: &Response, token: &Secret) -> Result<Signing> {
    if !response.is_success() {
        return Err(refusal(key, errors::service_error(response, &[token]), "read"));
    }
    let not_expected =
        |what: String| malformed(Service::Vault, &key.server.address, response, &[token], what);
    let data = data(response).map_err(|e| not_expected(format!("key answer: {e}")))?;
    let kind = data.required_str("type").map_err(|e| not_expected(format!("key answer: {e}")))?;
    if !RSA_TYPES.contains(&kind) {
        let message = format!(
            "{} is a {} key, not RSA: an App JWT is RS256 (rsa-2048)",
            key.path(),
            quote(kind, &[token])
        );
        return Err(unusable(key, response, token, &message));
    }
    let version =
        data.required_u64("latest_version").map_err(|e| not_expected(format!("key answer: {e}")))?;
    let pem = data
        .value("keys")
        .and_then(|keys| keys.get(version.to_string()))
        .and_then(|entry| entry.get("public_key"))
        .and_then(|pem| pem.as_str())
        .ok_or_else(|| not_expected(format!("the key answer has no public_key for version {version}")))?;
    let public_key = PublicKey::from_pem(pem).map_err(|e| {
        not_expected(format!("version {version}'s public_key is not a usable RSA key ({e:?})"))
    })?;
    Ok(Signing { version, public_key })
}

/// The request for a signature of `digest` (SHA-256) by `version`.
pub fn sign_request(key: &Key, token: &Secret, version: u64, digest: &[u8]) -> Request {
    let body = serde_json::json!({
        "input": STANDARD.encode(digest),
        "prehashed": true,
        "signature_algorithm": "pkcs1v15",
        "key_version": version,
    })
    .to_string()
    .into_bytes();
    let path = format!("{}/sign/{}/sha2-256", key.mount, key.name);
    request(&key.server, Method::Post, &path, Some(token), body)
}

/// The signature bytes from a sign answer (`vault:vN:BASE64`), made by
/// `version`; or the error Vault reports.
pub fn read_signature(key: &Key, response: &Response, token: &Secret, version: u64) -> Result<Vec<u8>> {
    if !response.is_success() {
        return Err(refusal(key, errors::service_error(response, &[token]), "update"));
    }
    let not_expected =
        |what: String| malformed(Service::Vault, &key.server.address, response, &[token], what);
    let data = data(response).map_err(|e| not_expected(format!("sign answer: {e}")))?;
    let text = data.required_str("signature").map_err(|e| not_expected(format!("sign answer: {e}")))?;
    let prefix = format!("vault:v{version}:");
    let encoded = text
        .strip_prefix(&prefix)
        .ok_or_else(|| not_expected(format!("the signature is not {prefix}…: another version signed")))?;
    STANDARD.decode(encoded).map_err(|_| not_expected("the signature is not base64".into()))
}

/// The `data` object of a Vault answer.
fn data(response: &Response) -> crate::json::Result<Object> {
    let mut answer = Object::parse(&response.body)?;
    let data = answer.take("data").ok_or_else(|| crate::json::wrong("data", "an object"))?;
    Object::from_value(data, "data")
}

/// A refusal of `capability` on the key: the token's (`credentials-rejected`),
/// or the key's (`kms`), with what to do.
fn refusal(key: &Key, mut error: ServiceError, capability: &str) -> Error {
    if errors::is_bad_token(&error) {
        error.hint =
            Some("Vault does not know this token or it expired: check VAULT_TOKEN or the JWT login".into());
        return Error::CredentialsRejected(error);
    }
    let path = key.path();
    let sign = format!("{}/sign/{}/sha2-256", key.mount, key.name);
    error.hint = Some(match error.status {
        403 => format!(
            "the token's policy must allow read on {path} and update on {sign} (this request needed {capability}); \
             some Vault versions also answer so for an expired token"
        ),
        404 | 400 if capability == "read" => {
            format!("no key {path} here: check the key reference, VAULT_TRANSIT_MOUNT and VAULT_NAMESPACE")
        }
        _ => return Error::Kms(error),
    });
    Error::Kms(error)
}

/// A key that cannot sign an App JWT: a `kms` error naming it, with
/// Vault's request id.
fn unusable(key: &Key, response: &Response, token: &Secret, message: &str) -> Error {
    let hint = format!(
        "import the App's private key as an rsa-2048 key: vault transit import {}/keys/NAME @KEY-FILE type=rsa-2048",
        key.mount
    );
    let mut error = unsupported_key(Service::Vault, response, message, &hint, &[token]);
    if let Error::Kms(e) = &mut error {
        e.request_id = Object::parse(&response.body)
            .ok()
            .and_then(|b| b.str("request_id").ok().flatten().map(|id| quote(id, &[token])));
    }
    error
}

#[cfg(test)]
mod tests;
