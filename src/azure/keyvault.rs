//! Azure Key Vault (and Managed HSM, the same keys API), the key that
//! signs: its type, operations and public half (`GET /keys/{name}[/{version}]`),
//! and an RS256 signature of a SHA-256 digest (`POST
//! /keys/{name}/{version}/sign`), pinned to the version that was read.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::azure::errors;
use crate::error::{Error, Result, Service, ServiceError, invalid};
use crate::json::Object;
use crate::net::http::{Method, Request, Response, malformed, unsupported_key};
use crate::net::url::Url;
use crate::rs256::PublicKey;
use crate::secret::{Secret, quote};

/// The keys API's version every request names (Key Vault and Managed HSM).
pub const API_VERSION: &str = "7.4";

/// The vault hosts' suffixes, by cloud, and the resource each one's access
/// tokens are for.
const CLOUDS: &[(&str, &str)] = &[
    (".vault.azure.net", "https://vault.azure.net"),
    (".managedhsm.azure.net", "https://managedhsm.azure.net"),
    (".vault.azure.cn", "https://vault.azure.cn"),
    (".managedhsm.azure.cn", "https://managedhsm.azure.cn"),
    (".vault.usgovcloudapi.net", "https://vault.usgovcloudapi.net"),
    (".managedhsm.usgovcloudapi.net", "https://managedhsm.usgovcloudapi.net"),
];

/// A key in a vault or managed HSM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// `https://NAME.vault.azure.net` (plain `http://` to loopback only: a stand-in).
    pub vault: Url,
    /// The key's name.
    pub name: String,
    /// A version, if the reference pins one; else the latest signs.
    pub version: Option<String>,
}

impl Key {
    /// The key `name` (and `version`) in `vault`, all from `field`.
    pub fn new(field: &str, vault: Url, name: &str, version: Option<&str>) -> Result<Key> {
        let vault = Url { authority: vault.authority.to_ascii_lowercase(), ..vault };
        if !vault.is_loopback() && !CLOUDS.iter().any(|(suffix, _)| vault.host().ends_with(suffix)) {
            return Err(invalid(
                field,
                "must name a vault (NAME.vault.azure.net) or managed HSM (NAME.managedhsm.azure.net)",
            ));
        }
        let name_ok =
            (1..=127).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let version_ok = version
            .is_none_or(|v| (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !name_ok || !version_ok {
            return Err(invalid(
                field,
                "must be azurekms://VAULT.vault.azure.net/KEY[/VERSION]: letters, digits and -",
            ));
        }
        Ok(Key { vault, name: name.to_owned(), version: version.map(str::to_owned) })
    }

    /// The scope of the access tokens this vault accepts
    /// (`https://vault.azure.net/.default`).
    pub fn scope(&self) -> String {
        let resource = CLOUDS
            .iter()
            .find(|(suffix, _)| self.vault.host().ends_with(suffix))
            .map_or("https://vault.azure.net", |(_, resource)| resource);
        format!("{resource}/.default")
    }

    /// `VAULT/keys/NAME[/VERSION]`, as errors name the key.
    pub fn describe(&self) -> String {
        let version = self.version.as_deref().map(|v| format!("/{v}")).unwrap_or_default();
        format!("{}/keys/{}{version}", self.vault.host(), self.name)
    }
}

/// The version that signs and its public half.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signing {
    /// The key's version, from its `kid`.
    pub version: String,
    /// The version's public half: every signature is checked with it.
    pub public_key: PublicKey,
}

/// A request to the keys API, with `token` as its bearer.
fn request(key: &Key, method: Method, path: &str, token: &Secret, body: Vec<u8>) -> Request {
    let url = key.vault.join(&format!("{path}?api-version={API_VERSION}"));
    let mut headers = vec![
        ("authorization".to_owned(), format!("Bearer {}", token.expose())),
        ("accept".to_owned(), "application/json".to_owned()),
        ("user-agent".to_owned(), crate::USER_AGENT.to_owned()),
    ];
    if !body.is_empty() {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    Request { service: Service::KeyVault, method, url, headers, body, retry: true }
}

/// The request for the key (its version, if pinned, else the latest).
pub fn key_request(key: &Key, token: &Secret) -> Request {
    let version = key.version.as_deref().map(|v| format!("/{v}")).unwrap_or_default();
    request(key, Method::Get, &format!("/keys/{}{version}", key.name), token, Vec::new())
}

/// The version and public half, from the key's JSON Web Key; a key that
/// cannot sign an App JWT (not RSA, `sign` not allowed, disabled) is a
/// `kms` error naming it.
pub fn read_key(key: &Key, response: &Response, token: &Secret) -> Result<Signing> {
    if !response.is_success() {
        return Err(refusal(errors::service_error(response, &[token])));
    }
    let not_expected = |what: String| malformed(Service::KeyVault, &key.vault, response, &[token], what);
    let answer = Object::parse(&response.body).map_err(|e| not_expected(format!("key answer: {e}")))?;
    let jwk = answer.value("key").ok_or_else(|| not_expected("the key answer has no `key`".into()))?;
    let text = |name: &str| jwk.get(name).and_then(|v| v.as_str());
    let kty = text("kty").ok_or_else(|| not_expected("the key has no kty".into()))?;
    if !matches!(kty, "RSA" | "RSA-HSM") {
        return Err(unusable(
            response,
            token,
            &format!("{} is a {} key, not RSA: an App JWT is RS256", key.describe(), quote(kty, &[token])),
        ));
    }
    let ops = jwk.get("key_ops").and_then(|o| o.as_array());
    if !ops.is_some_and(|ops| ops.iter().any(|op| op == "sign")) {
        return Err(unusable(
            response,
            token,
            &format!("{} does not allow the sign operation (key_ops)", key.describe()),
        ));
    }
    if answer.value("attributes").and_then(|a| a.get("enabled")).and_then(|e| e.as_bool()) == Some(false) {
        return Err(unusable(response, token, &format!("{} is disabled", key.describe())));
    }
    let kid = text("kid").ok_or_else(|| not_expected("the key has no kid".into()))?;
    // Key names are case-insensitive in Key Vault.
    let (prefix, lower) = (format!("/keys/{}/", key.name.to_ascii_lowercase()), kid.to_ascii_lowercase());
    let version = lower
        .find(&prefix)
        .map(|at| &kid[at + prefix.len()..])
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric()))
        .filter(|v| key.version.as_deref().is_none_or(|pinned| pinned == *v))
        .ok_or_else(|| not_expected("the key's kid does not name this key and a version".into()))?;
    let number = |name: &str| text(name).and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
    let (n, e) = number("n").zip(number("e")).ok_or_else(|| not_expected("the key has no n and e".into()))?;
    let public_key = PublicKey::new(&n, &e)
        .map_err(|e| not_expected(format!("the key is not a usable RSA key ({e:?})")))?;
    Ok(Signing { version: version.to_owned(), public_key })
}

/// The request for an RS256 signature of `digest` (SHA-256) by `version`.
pub fn sign_request(key: &Key, token: &Secret, version: &str, digest: &[u8]) -> Request {
    let body = serde_json::json!({ "alg": "RS256", "value": URL_SAFE_NO_PAD.encode(digest) });
    let path = format!("/keys/{}/{version}/sign", key.name);
    request(key, Method::Post, &path, token, body.to_string().into_bytes())
}

/// The signature from a `sign` answer.
pub fn read_signature(key: &Key, response: &Response, token: &Secret) -> Result<Vec<u8>> {
    if !response.is_success() {
        return Err(refusal(errors::service_error(response, &[token])));
    }
    let not_expected = |what: String| malformed(Service::KeyVault, &key.vault, response, &[token], what);
    let answer = Object::parse(&response.body).map_err(|e| not_expected(format!("sign answer: {e}")))?;
    let value = answer.required_str("value").map_err(|e| not_expected(format!("sign answer: {e}")))?;
    URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map_err(|_| not_expected("the signature is not base64url".into()))
}

/// A refusal: of the access token (`credentials-rejected`), or of the
/// operation (`kms`), with what to do.
fn refusal(mut error: ServiceError) -> Error {
    if error.status == 401 {
        error.hint =
            Some("Key Vault refused the access token: it expired, or is for another resource".into());
        return Error::CredentialsRejected(error);
    }
    let hint = match (error.status, error.code.as_deref()) {
        (403, _) => {
            "grant the identity the Key Vault Crypto User role on the key (or, with access policies, \
             the key permissions get and sign)"
        }
        (404, _) => "no such key or version in this vault: check the key reference",
        (400, Some("BadParameter")) => {
            "the key cannot sign RS256: it must be an RSA key holding the App's key"
        }
        (429, _) => "Key Vault is throttling requests: retry later",
        _ => return Error::Kms(error),
    };
    error.hint = Some(hint.to_owned());
    Error::Kms(error)
}

/// A key that cannot sign an App JWT: a `kms` error naming it.
fn unusable(response: &Response, token: &Secret, message: &str) -> Error {
    let hint = "import the App's private key as an RSA key with the sign operation: az keyvault key import … --ops sign";
    unsupported_key(Service::KeyVault, response, message, hint, &[token])
}

#[cfg(test)]
mod tests;
