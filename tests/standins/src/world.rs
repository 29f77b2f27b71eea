//! A ready-made world: a KMS stand-in holding a fresh App key, a GitHub
//! stand-in with a few installations, and the environment that points the
//! component at them.

use std::collections::BTreeMap;

use std::sync::Arc;

use crate::azure::{
    Azure, CLIENT_ID as AZURE_CLIENT_ID, Federated, KEY as AZURE_KEY, TENANT as AZURE_TENANT,
};
use crate::github::{Github, Installation};
use crate::google::{Google, KEY_VERSION as GCP_KEY_VERSION};
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

    /// The broker's trust policy most tests use: callers of the issuer from
    /// octo-org get `contents: read` on octo-org/widgets.
    pub fn trust_policy(&self) -> serde_json::Value {
        serde_json::json!({"rules": [{
            "issuer": self.oidc.issuer(),
            "claims": {"repository_owner": "octo-org"},
            "owner": "octo-org",
            "repositories": ["widgets"],
            "permissions": {"contents": "read"},
        }]})
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
        let mut env = self.github_env();
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
            [("VAULT_ROLE", VAULT_ROLE.to_owned()), ("VAULT_AUDIENCE", VAULT_AUDIENCE.to_owned())]
                .map(|(k, v)| (k.to_owned(), v)),
        );
        env.extend(self.runner());
        env
    }

    /// A Google stand-in holding the App's key as [`crate::google::KEY_VERSION`],
    /// whose provider trusts this world's ID tokens.
    pub fn google(&self) -> Google {
        Google::start(rsa_key(), &self.oidc.issuer(), issuer_key().to_public_key())
    }

    /// The environment that points the component at `google`'s key, with
    /// `token` as `GOOGLE_OAUTH_ACCESS_TOKEN`: no AWS settings at all.
    pub fn google_env(&self, google: &Google, token: &str) -> Vec<(String, String)> {
        let mut env = self.github_env();
        env.push(("KEY".into(), format!("gcpkms://{GCP_KEY_VERSION}")));
        env.push(("GOOGLE_KMS_ENDPOINT".into(), google.url()));
        env.push(("GOOGLE_OAUTH_ACCESS_TOKEN".into(), token.to_owned()));
        env
    }

    /// [`World::google_env`] keyless: `GOOGLE_APPLICATION_CREDENTIALS` names
    /// `credentials`, an external-account JSON (the runner's ID token, as
    /// `google-github-actions/auth` writes it; see [`Google::external_account`]).
    pub fn google_keyless_env(
        &self,
        google: &Google,
        credentials: &std::path::Path,
    ) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .google_env(google, "")
            .into_iter()
            .filter(|(k, _)| k != "GOOGLE_OAUTH_ACCESS_TOKEN")
            .collect();
        env.push(("GOOGLE_APPLICATION_CREDENTIALS".into(), credentials.to_string_lossy().into_owned()));
        env
    }

    /// An Azure stand-in holding the App's key as [`crate::azure::KEY`],
    /// whose app registration's federated credential trusts this world's
    /// ID tokens for `octo-org/widgets` on `main`.
    pub fn azure(&self) -> Azure {
        let federated = Federated {
            issuer: self.oidc.issuer(),
            public_key: issuer_key().to_public_key(),
            subject: "repo:octo-org/widgets:ref:refs/heads/main".into(),
        };
        Azure::start(rsa_key(), federated)
    }

    /// The environment that points the component at `azure`'s key, the
    /// app registration proven by its client secret.
    pub fn azure_env(&self, azure: &Azure) -> Vec<(String, String)> {
        let mut env = self.github_env();
        env.extend(
            [
                ("KEY", format!("azurekms://{}/{AZURE_KEY}", azure.authority())),
                ("AZURE_AUTHORITY_HOST", azure.url()),
                ("AZURE_TENANT_ID", AZURE_TENANT.to_owned()),
                ("AZURE_CLIENT_ID", AZURE_CLIENT_ID.to_owned()),
                ("AZURE_CLIENT_SECRET", azure.client_secret()),
            ]
            .map(|(k, v)| (k.to_owned(), v)),
        );
        env
    }

    /// [`World::azure_env`] keyless: the runner's ID token as the client assertion.
    pub fn azure_keyless_env(&self, azure: &Azure) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> =
            self.azure_env(azure).into_iter().filter(|(k, _)| k != "AZURE_CLIENT_SECRET").collect();
        env.extend(self.runner());
        env
    }

    /// The App and GitHub, without any key store's settings.
    fn github_env(&self) -> Vec<(String, String)> {
        self.env().into_iter().filter(|(k, _)| !k.starts_with("AWS_") && k != "KMS_KEY_ID").collect()
    }

    /// The runner's ID token endpoint, as a job with `id-token: write` has it.
    fn runner(&self) -> Vec<(String, String)> {
        vec![
            ("ACTIONS_ID_TOKEN_REQUEST_URL".into(), self.oidc.request_url()),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN".into(), self.request_token.clone()),
        ]
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
