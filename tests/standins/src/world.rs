//! A ready-made world: a KMS stand-in holding a fresh App key, a GitHub
//! stand-in with a few installations, and the environment that points the
//! component at them.

use std::collections::BTreeMap;

use std::sync::Arc;

use crate::github::{Github, Installation};
use crate::kms::{ALIAS, Kms};
use crate::oidc::Oidc;
use crate::sigv4::Credential;
use crate::sts::{Sts, Trust};
use crate::vault::{KEY as VAULT_KEY, ROLE as VAULT_ROLE, Trust as VaultTrust, Vault};
use crate::{issuer_key, random_hex, rsa_key};

/// The App's numeric id.
pub const APP_ID: u64 = 4242;
/// The App's Client ID.
pub const CLIENT_ID: &str = "Iv23liStandIn4242";
/// The KMS stand-in's region.
pub const REGION: &str = "eu-west-1";

/// The audience of the ID tokens the Vault stand-in's JWT login accepts.
pub const VAULT_AUDIENCE: &str = "https://vault.example.com";

/// The role that the STS stand-in lets the runner's identity assume.
pub const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/github-app-signer";

/// The stand-ins and the credentials they accept.
pub struct World {
    /// The KMS stand-in.
    pub kms: Arc<Kms>,
    /// The GitHub Actions ID token endpoint stand-in.
    pub oidc: Oidc,
    /// The STS stand-in, trusting `oidc`'s tokens for audience `sts.amazonaws.com`.
    pub sts: Sts,
    /// The runner's `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub request_token: String,
    /// The GitHub stand-in.
    pub github: Github,
    /// Temporary AWS credentials (with a session token) the KMS stand-in accepts.
    pub credential: Credential,
}

fn permissions(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The installations the GitHub stand-in knows.
pub fn installations() -> Vec<Installation> {
    vec![
        Installation {
            id: 1001,
            account: "octo-org".into(),
            enterprise: None,
            repositories: vec!["widgets".into(), "gadgets".into(), "docs".into()],
            permissions: permissions(&[
                ("contents", "write"),
                ("issues", "write"),
                ("metadata", "read"),
                ("pull_requests", "write"),
            ]),
        },
        Installation {
            id: 1002,
            account: "octocat".into(),
            enterprise: None,
            repositories: vec!["hello-world".into()],
            permissions: permissions(&[("contents", "read"), ("metadata", "read")]),
        },
        Installation {
            id: 1003,
            account: "acme-corp".into(),
            enterprise: Some("acme".into()),
            repositories: vec![],
            permissions: permissions(&[("organization_administration", "read")]),
        },
    ]
}

impl World {
    /// Starts both stand-ins; GitHub's API under `prefix` (`""`, or `/api/v3` as GHES).
    pub fn start(prefix: &str) -> World {
        let credential = Credential::temporary();
        let kms = Arc::new(Kms::start(REGION, vec![credential.clone()], rsa_key()));
        let github = Github::start(prefix, APP_ID, CLIENT_ID, kms.public_key(), installations());
        let request_token = random_hex(24);
        crate::remember(&request_token);
        let oidc = Oidc::start(&request_token, issuer_key());
        let trust = Trust {
            issuer: oidc.issuer(),
            public_key: issuer_key().to_public_key(),
            audience: "sts.amazonaws.com".into(),
            role_arn: ROLE_ARN.into(),
        };
        let sts = Sts::start(trust, kms.clone());
        World { kms, oidc, sts, request_token, github, credential }
    }

    /// The environment that points the component at the stand-ins.
    pub fn env(&self) -> Vec<(String, String)> {
        let c = &self.credential;
        [
            ("APP_ID", APP_ID.to_string()),
            ("KMS_KEY_ID", ALIAS.to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", c.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", c.secret_access_key.clone()),
            ("AWS_SESSION_TOKEN", c.session_token.clone().unwrap_or_default()),
            ("AWS_ENDPOINT_URL_KMS", self.kms.url()),
            ("GITHUB_API_URL", self.github.url()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The environment of a GitHub Actions job with `id-token: write`: no
    /// AWS keys, a role to assume, and the runner's ID token endpoint.
    pub fn keyless_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .env()
            .into_iter()
            .filter(|(k, _)| {
                !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET") && k != "AWS_SESSION_TOKEN"
            })
            .collect();
        env.extend(
            [
                ("AWS_ROLE_ARN", ROLE_ARN.to_owned()),
                ("ACTIONS_ID_TOKEN_REQUEST_URL", self.oidc.request_url()),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", self.request_token.clone()),
                ("AWS_ENDPOINT_URL_STS", self.sts.url()),
                ("GITHUB_RUN_ID", "4242".to_owned()),
                ("GITHUB_RUN_ATTEMPT", "3".to_owned()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        env
    }

    /// A Vault stand-in holding the App's key as Transit's `github-app`
    /// (in `namespace`, if any), whose JWT login trusts this world's ID
    /// tokens for audience [`VAULT_AUDIENCE`].
    pub fn vault(&self, namespace: Option<&str>) -> Vault {
        let trust = VaultTrust {
            issuer: self.oidc.issuer(),
            public_key: issuer_key().to_public_key(),
            audience: VAULT_AUDIENCE.into(),
        };
        Vault::start(rsa_key(), namespace, "transit", "jwt", trust)
    }

    /// The environment that points the component at `vault`'s key, with
    /// `token` as `VAULT_TOKEN`: no AWS settings at all.
    pub fn vault_env(&self, vault: &Vault, namespace: Option<&str>, token: &str) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> =
            self.env().into_iter().filter(|(k, _)| !k.starts_with("AWS_") && k != "KMS_KEY_ID").collect();
        env.push(("KEY".into(), format!("hashivault://{VAULT_KEY}")));
        env.push(("VAULT_ADDR".into(), vault.url()));
        env.extend(namespace.map(|n| ("VAULT_NAMESPACE".to_owned(), n.to_owned())));
        env.push(("VAULT_TOKEN".into(), token.to_owned()));
        env
    }

    /// [`World::vault_env`] of a GitHub Actions job with `id-token: write`:
    /// no Vault token, the JWT login as [`VAULT_ROLE`] with the runner's ID token.
    pub fn vault_keyless_env(&self, vault: &Vault, namespace: Option<&str>) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> =
            self.vault_env(vault, namespace, "").into_iter().filter(|(k, _)| k != "VAULT_TOKEN").collect();
        env.extend(
            [
                ("VAULT_ROLE", VAULT_ROLE.to_owned()),
                ("VAULT_AUDIENCE", VAULT_AUDIENCE.to_owned()),
                ("ACTIONS_ID_TOKEN_REQUEST_URL", self.oidc.request_url()),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", self.request_token.clone()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        env
    }

    /// The hosts the component needs to reach.
    pub fn allowed_hosts(&self) -> Vec<String> {
        vec![self.kms.authority(), self.github.authority()]
    }

    /// Every secret in play: AWS secret and session token, every JWT
    /// presented, every token minted. None may appear in any error or log.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = vec![self.credential.secret_access_key.clone()];
        secrets.extend(self.credential.session_token.clone());
        secrets.extend(self.github.jwts());
        secrets.extend(self.github.issued().into_iter().map(|t| t.token));
        secrets
    }
}
