//! The key that signs App JWTs, in whichever store holds it ([`Key`]), the
//! credentials that use it ([`Credentials`]), and the [`Signer`] of one
//! call: credentials fetched once (with the key's public half, where the
//! store hands it out), then one request per signature.
//!
//! Every store gets the same SHA-256 digest of the JWT's signing input
//! and returns an RSASSA-PKCS1-v1_5 signature; what differs is how to ask.

use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::aws::credentials::{AwsCredentials, Source};
use crate::aws::kms::{self, KmsKey};
use crate::aws::sts;
use crate::azure::entra::{self, Entra, Proof};
use crate::azure::keyvault;
use crate::error::{Error, Result, Service};
use crate::gcp::credentials::{self as google, Federation};
use crate::gcp::kms::{self as cloud_kms, KeyVersion};
use crate::net::http::{Response, Transport, malformed};
use crate::net::url::Url;
use crate::rs256::PublicKey;
use crate::secret::Secret;
use crate::vault::login::{self, Login};
use crate::vault::transit::{self, Signing};

/// The App's private key, and the store that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// In AWS KMS (`awskms://`, or a bare key id, alias or ARN).
    AwsKms(KmsKey),
    /// In Google Cloud KMS (`gcpkms://`).
    GoogleKms(KeyVersion),
    /// In Azure Key Vault or Managed HSM (`azurekms://`).
    AzureKeyVault(keyvault::Key),
    /// In Vault or OpenBao Transit (`hashivault://`).
    VaultTransit(transit::Key),
}

impl Key {
    /// The store, as a key reference's scheme names it.
    pub fn store(&self) -> &'static str {
        match self {
            Key::AwsKms(_) => "awskms",
            Key::GoogleKms(_) => "gcpkms",
            Key::AzureKeyVault(_) => "azurekms",
            Key::VaultTransit(_) => "hashivault",
        }
    }

    /// What tells this key from any other, for cache keys: the store, where
    /// it is, and the key's name there.
    pub fn identity(&self) -> Vec<String> {
        let mut parts = vec![self.store().to_owned()];
        match self {
            Key::AwsKms(key) => parts.extend([
                key.key_id.as_str().to_owned(),
                key.region.as_str().to_owned(),
                key.endpoint.to_string(),
            ]),
            Key::GoogleKms(key) => parts.extend([key.endpoint.to_string(), key.name.clone()]),
            Key::AzureKeyVault(key) => parts.extend([
                key.vault.to_string(),
                key.name.clone(),
                key.version.clone().unwrap_or_default(),
            ]),
            Key::VaultTransit(key) => parts.extend([
                key.server.address.to_string(),
                key.server.namespace.clone().unwrap_or_default(),
                key.path(),
            ]),
        }
        parts
    }
}

/// Where the credentials for the key's store come from.
#[derive(Debug)]
pub enum Credentials {
    /// AWS: access keys, or a web identity exchanged at STS.
    Aws(Source),
    /// Google Cloud: an access token, or Workload Identity Federation.
    Google(google::Source),
    /// Azure: Entra ID's client credentials, with a secret or an assertion.
    Azure(Entra),
    /// Vault: a token, or a JWT login.
    Vault(Login),
}

/// AWS credentials from `source`: keys as they are; a web identity (the
/// runner's OIDC token, fetched here, or one the host gave) exchanged at
/// STS for temporary credentials.
pub fn aws_credentials(source: &Source, http: &impl Transport) -> Result<AwsCredentials> {
    let (role, token, endpoint) = match source {
        Source::Keys(keys) => return Ok(keys.clone()),
        Source::WebIdentity { role, token, sts } => (role, token, sts),
    };
    let web_identity = token.fetch(http)?;
    let response = http.send(sts::assume_role_request(endpoint, role, &web_identity))?;
    sts::read_credentials(endpoint, &response, &web_identity)
}

/// A Vault token from `login`: the one given, or one from the JWT login.
pub fn vault_token(server: &crate::vault::Server, login: &Login, http: &impl Transport) -> Result<Secret> {
    match login {
        Login::Token(token) => Ok(token.clone()),
        Login::Jwt { role, mount, token } => {
            let jwt = token.fetch(http)?;
            let response = http.send(login::login_request(server, mount, role, &jwt))?;
            login::read_login(server, &response, &jwt)
        }
    }
}

/// A Google access token from `source`: the one given, or one from
/// Workload Identity Federation (STS, then perhaps impersonation).
pub fn google_token(source: &google::Source, http: &impl Transport) -> Result<Secret> {
    let federation: &Federation = match source {
        google::Source::Token(token) => return Ok(token.clone()),
        google::Source::Federated(federation) => federation,
    };
    let jwt = federation.token.fetch(http)?;
    let response = http.send(google::exchange_request(federation, &jwt))?;
    let federated = google::read_exchange(federation, &response, &jwt)?;
    let Some(url) = &federation.impersonation else { return Ok(federated) };
    let response = http.send(google::impersonation_request(url, &federated))?;
    google::read_impersonation(url, &response, &federated)
}

/// An Entra ID access token for `scope`, proven by a secret or the
/// workload's ID token.
pub fn azure_token(entra: &Entra, scope: &str, http: &impl Transport) -> Result<Secret> {
    let proof = match &entra.proof {
        Proof::Secret(secret) => secret.clone(),
        Proof::Assertion(token) => token.fetch(http)?,
    };
    let response = http.send(entra::token_request(entra, scope, &proof))?;
    entra::read_token(entra, &response, &proof)
}

/// One call's way to sign with the key: the store's credentials, fetched once.
pub enum Signer {
    /// AWS KMS `Sign`, SigV4-signed with these credentials.
    AwsKms {
        /// The key.
        key: KmsKey,
        /// The credentials.
        credentials: AwsCredentials,
    },
    /// Cloud KMS `asymmetricSign`, with this access token.
    GoogleKms {
        /// The key version.
        key: KeyVersion,
        /// The access token.
        token: Secret,
        /// The version's public half.
        public_key: PublicKey,
    },
    /// Key Vault `sign`, with this access token.
    AzureKeyVault {
        /// The key.
        key: keyvault::Key,
        /// The access token.
        token: Secret,
        /// The version that signs and its public half.
        signing: keyvault::Signing,
    },
    /// Vault Transit `sign`, with this token.
    VaultTransit {
        /// The key.
        key: transit::Key,
        /// The Vault token.
        token: Secret,
        /// The version that signs and its public half.
        signing: Signing,
    },
}

impl Signer {
    /// Fetches what signing with `key` needs, with `credentials`.
    pub fn open(key: &Key, credentials: &Credentials, http: &impl Transport) -> Result<Signer> {
        match (key, credentials) {
            (Key::AwsKms(key), Credentials::Aws(source)) => {
                Ok(Signer::AwsKms { key: key.clone(), credentials: aws_credentials(source, http)? })
            }
            (Key::GoogleKms(key), Credentials::Google(source)) => {
                let token = google_token(source, http)?;
                let response = http.send(cloud_kms::public_key_request(key, &token))?;
                let public_key = cloud_kms::read_public_key(key, &response, &token)?;
                Ok(Signer::GoogleKms { key: key.clone(), token, public_key })
            }
            (Key::AzureKeyVault(key), Credentials::Azure(entra)) => {
                let token = azure_token(entra, &key.scope(), http)?;
                let response = http.send(keyvault::key_request(key, &token))?;
                let signing = keyvault::read_key(key, &response, &token)?;
                Ok(Signer::AzureKeyVault { key: key.clone(), token, signing })
            }
            (Key::VaultTransit(key), Credentials::Vault(login)) => {
                let token = vault_token(&key.server, login, http)?;
                let response = http.send(transit::key_request(key, &token))?;
                let signing = transit::read_key(key, &response, &token)?;
                Ok(Signer::VaultTransit { key: key.clone(), token, signing })
            }
            (key, _) => Err(Error::CredentialsMissing(format!(
                "the key is in {}, and the credentials given are for another store",
                key.store()
            ))),
        }
    }

    /// The RS256 signature of `message` (an App JWT's signing input), at
    /// `now`. Where the store handed out the key's public half, a signature
    /// it does not verify is refused here, before GitHub sees it.
    pub fn sign(&self, message: &[u8], now: SystemTime, http: &impl Transport) -> Result<Vec<u8>> {
        let digest = Sha256::digest(message);
        match self {
            Signer::AwsKms { key, credentials } => {
                let response = http.send(kms::sign_request(key, credentials, message, now)?)?;
                kms::read_sign_response(&key.endpoint, &response, credentials)
            }
            Signer::GoogleKms { key, token, public_key } => {
                let response = http.send(cloud_kms::sign_request(key, token, &digest))?;
                let signature = cloud_kms::read_signature(key, &response, token)?;
                let by = || (Service::GoogleKms, &key.endpoint, key.name.clone());
                verified(signature, public_key, message, &response, token, by)
            }
            Signer::AzureKeyVault { key, token, signing } => {
                let response = http.send(keyvault::sign_request(key, token, &signing.version, &digest))?;
                let signature = keyvault::read_signature(key, &response, token)?;
                let by = || {
                    (
                        Service::KeyVault,
                        &key.vault,
                        format!("version {} of {}", signing.version, key.describe()),
                    )
                };
                verified(signature, &signing.public_key, message, &response, token, by)
            }
            Signer::VaultTransit { key, token, signing } => {
                let response = http.send(transit::sign_request(key, token, signing.version, &digest))?;
                let signature = transit::read_signature(key, &response, token, signing.version)?;
                let by = || {
                    (
                        Service::Vault,
                        &key.server.address,
                        format!("version {} of {}", signing.version, key.path()),
                    )
                };
                verified(signature, &signing.public_key, message, &response, token, by)
            }
        }
    }
}

/// `signature` if `public_key` verifies it over `message`; else a
/// `malformed-response` about the `response` to the request `token`
/// authorised, from the store `by` names (its service, endpoint and the key
/// that should have signed), before GitHub sees it.
fn verified<'a>(
    signature: Vec<u8>,
    public_key: &PublicKey,
    message: &[u8],
    response: &Response,
    token: &Secret,
    by: impl FnOnce() -> (Service, &'a Url, String),
) -> Result<Vec<u8>> {
    if public_key.verify(message, &signature) {
        return Ok(signature);
    }
    let (service, endpoint, key) = by();
    let what = format!("the signature does not verify under {key}: refused before GitHub sees it");
    Err(malformed(service, endpoint, response, &[token], what))
}

/// A key reference, parsed: the store, and the key's name there. The
/// schemes are the go-cloud style URIs that cosign and sigstore write;
/// text without a scheme is an AWS KMS key id, alias or ARN, as before
/// there were others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference<'a> {
    /// `awskms:///KEY`, `awskms://ENDPOINT/KEY`, or a bare `KEY`.
    AwsKms {
        /// `host[:port]` of the KMS endpoint, if named.
        endpoint: Option<&'a str>,
        /// A key id, key ARN, `alias/NAME` or alias ARN.
        key: &'a str,
    },
    /// `gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/V`.
    GcpKms {
        /// The key version's resource name.
        name: &'a str,
    },
    /// `azurekms://VAULT.vault.azure.net/KEY[/VERSION]`.
    AzureKms {
        /// `host[:port]` of the vault or managed HSM.
        vault: &'a str,
        /// The key's name.
        key: &'a str,
        /// The version, if pinned.
        version: Option<&'a str>,
    },
    /// `hashivault://KEY`: a Transit key (Vault at `VAULT_ADDR`).
    HashiVault {
        /// The key's name.
        key: &'a str,
    },
}

/// The schemes of the key references this build reads.
pub const SCHEMES: &str = "awskms:///KEY, awskms://ENDPOINT/KEY, gcpkms://projects/…/cryptoKeyVersions/V, \
                           azurekms://VAULT.vault.azure.net/KEY[/VERSION], hashivault://KEY, \
                           or an AWS KMS key id, alias or ARN";

impl<'a> Reference<'a> {
    /// Reads `text` (from `field`) as a key reference. Only its shape is
    /// checked here; the store's own rules for the key's name are checked
    /// where the key is made.
    pub fn parse(field: &str, text: &'a str) -> Result<Reference<'a>> {
        let Some((scheme, rest)) = text.split_once("://") else {
            return Ok(Reference::AwsKms { endpoint: None, key: text });
        };
        let unknown = || crate::error::invalid(field, format!("must be a key reference: {SCHEMES}"));
        match scheme {
            "awskms" => {
                let (endpoint, key) = rest.split_once('/').ok_or_else(unknown)?;
                let endpoint = Some(endpoint).filter(|e| !e.is_empty());
                if key.is_empty() {
                    return Err(crate::error::invalid(field, "must name the key after awskms:///"));
                }
                Ok(Reference::AwsKms { endpoint, key })
            }
            "gcpkms" if !rest.is_empty() => Ok(Reference::GcpKms { name: rest }),
            "azurekms" => match rest.split('/').collect::<Vec<_>>()[..] {
                [vault, key] if !vault.is_empty() && !key.is_empty() => {
                    Ok(Reference::AzureKms { vault, key, version: None })
                }
                [vault, key, version] if !vault.is_empty() && !key.is_empty() && !version.is_empty() => {
                    Ok(Reference::AzureKms { vault, key, version: Some(version) })
                }
                _ => Err(crate::error::invalid(
                    field,
                    "must be azurekms://VAULT.vault.azure.net/KEY[/VERSION]",
                )),
            },
            "hashivault" if !rest.is_empty() => Ok(Reference::HashiVault { key: rest }),
            "gcpkms" | "hashivault" => {
                Err(crate::error::invalid(field, format!("must name the key after {scheme}://")))
            }
            _ => Err(unknown()),
        }
    }
}

#[cfg(test)]
mod tests;
