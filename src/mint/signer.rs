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
use crate::error::{Error, Result};
use crate::net::http::{Transport, malformed};
use crate::secret::Secret;
use crate::vault::login::{self, Login};
use crate::vault::transit::{self, Signing};

/// The App's private key, and the store that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// In AWS KMS (`awskms://`, or a bare key id, alias or ARN).
    AwsKms(KmsKey),
    /// In Vault or OpenBao Transit (`hashivault://`).
    VaultTransit(transit::Key),
}

impl Key {
    /// The store, as a key reference's scheme names it.
    pub fn store(&self) -> &'static str {
        match self {
            Key::AwsKms(_) => "awskms",
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

/// One call's way to sign with the key: the store's credentials, fetched once.
pub enum Signer {
    /// AWS KMS `Sign`, SigV4-signed with these credentials.
    AwsKms {
        /// The key.
        key: KmsKey,
        /// The credentials.
        credentials: AwsCredentials,
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
    /// `now`. A signature the key's public half does not verify is refused
    /// here, before GitHub sees it.
    pub fn sign(&self, message: &[u8], now: SystemTime, http: &impl Transport) -> Result<Vec<u8>> {
        match self {
            Signer::AwsKms { key, credentials } => {
                let response = http.send(kms::sign_request(key, credentials, message, now)?)?;
                kms::read_sign_response(&key.endpoint, &response, credentials)
            }
            Signer::VaultTransit { key, token, signing } => {
                let digest = Sha256::digest(message);
                let response = http.send(transit::sign_request(key, token, signing.version, &digest))?;
                let signature = transit::read_signature(key, &response, token, signing.version)?;
                if !signing.public_key.verify(message, &signature) {
                    return Err(malformed(
                        crate::error::Service::Vault,
                        &key.server.address,
                        &response,
                        format!(
                            "the signature does not verify under version {} of {}: refused before GitHub sees it",
                            signing.version,
                            key.path()
                        ),
                    ));
                }
                Ok(signature)
            }
        }
    }
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
    /// `hashivault://KEY`: a Transit key (Vault at `VAULT_ADDR`).
    HashiVault {
        /// The key's name.
        key: &'a str,
    },
}

/// The schemes of the key references this build reads.
pub const SCHEMES: &str =
    "awskms:///KEY, awskms://ENDPOINT/KEY, hashivault://KEY, or an AWS KMS key id, alias or ARN";

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
            "hashivault" if !rest.is_empty() => Ok(Reference::HashiVault { key: rest }),
            "hashivault" => Err(crate::error::invalid(field, "must name the key after hashivault://")),
            "gcpkms" | "azurekms" => Err(crate::error::invalid(
                field,
                format!("{scheme}:// keys are not supported by this version; it reads {SCHEMES}"),
            )),
            _ => Err(unknown()),
        }
    }
}

#[cfg(test)]
mod tests;
