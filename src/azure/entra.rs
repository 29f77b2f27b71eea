//! Where the Azure access token that signs comes from: Microsoft Entra
//! ID's client-credentials grant for the app registration
//! (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`), proven by a client secret
//! (`AZURE_CLIENT_SECRET`) or, keyless, by the workload's ID token as a
//! client assertion (a federated identity credential, as `azure/login` and
//! azure-identity use it).

use crate::error::{Result, Service, invalid};
use crate::identity::IdentityToken;
use crate::net::http::{Request, Response};
use crate::net::url::Url;
use crate::secret::Secret;

/// Entra ID's authority when `AZURE_AUTHORITY_HOST` does not say.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";
/// The audience of an ID token that a federated identity credential accepts.
pub const ASSERTION_AUDIENCE: &str = "api://AzureADTokenExchange";

/// The app registration, and how it proves itself.
#[derive(Debug)]
pub struct Entra {
    /// `https://login.microsoftonline.com`, or `AZURE_AUTHORITY_HOST`.
    pub authority: Url,
    /// The tenant: a GUID or a domain.
    pub tenant: String,
    /// The app registration's client id (a GUID).
    pub client_id: String,
    /// Its proof.
    pub proof: Proof,
}

/// How the app registration proves itself.
#[derive(Debug)]
pub enum Proof {
    /// A client secret (`AZURE_CLIENT_SECRET`).
    Secret(Secret),
    /// The workload's ID token, as a client assertion.
    Assertion(IdentityToken),
}

impl Entra {
    /// The app registration `client_id` (from `client_field`) in `tenant`
    /// (from `tenant_field`), at `authority`.
    pub fn new(
        authority: Url,
        (tenant_field, tenant): (&str, &str),
        (client_field, client_id): (&str, &str),
        proof: Proof,
    ) -> Result<Entra> {
        let tenant_ok = (1..=256).contains(&tenant.len())
            && tenant.split('.').all(|label| !label.is_empty())
            && tenant.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b));
        if !tenant_ok {
            return Err(invalid(tenant_field, "must be a tenant id (a GUID) or domain"));
        }
        if !is_guid(client_id) {
            return Err(invalid(client_field, "must be the app registration's client id, a GUID"));
        }
        Ok(Entra { authority, tenant: tenant.to_owned(), client_id: client_id.to_owned(), proof })
    }

    /// The tenant's token endpoint.
    pub fn token_url(&self) -> Url {
        self.authority.join(&format!("/{}/oauth2/v2.0/token", self.tenant))
    }
}

/// `8-4-4-4-12` hex digits.
fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The client-credentials request for an access token for `scope`, proven
/// by `proof`: the client secret, or the ID token (for an assertion).
pub fn token_request(entra: &Entra, scope: &str, proof: &Secret) -> Request {
    let mut pairs =
        vec![("client_id", entra.client_id.as_str()), ("scope", scope), ("grant_type", "client_credentials")];
    match entra.proof {
        Proof::Secret(_) => pairs.push(("client_secret", proof.expose())),
        Proof::Assertion(_) => pairs.extend([
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", proof.expose()),
        ]),
    }
    crate::oauth::token_request(Service::EntraId, &entra.token_url(), &pairs)
}

/// The access token from Entra ID's answer.
pub fn read_token(entra: &Entra, response: &Response, proof: &Secret) -> Result<Secret> {
    let hint = match entra.proof {
        Proof::Secret(_) => "check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (secrets expire)",
        Proof::Assertion(_) => {
            "the app registration (AZURE_CLIENT_ID) needs a federated identity credential whose issuer, subject \
             and audience (api://AzureADTokenExchange) match this workload's ID token"
        }
    };
    crate::oauth::read_access_token(Service::EntraId, &entra.token_url(), response, &[proof], hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::script::answer;

    const CLIENT: &str = "11111111-2222-3333-4444-555555555555";

    fn entra(proof: Proof) -> Entra {
        let authority = Url::parse(DEFAULT_AUTHORITY).unwrap();
        Entra::new(
            authority,
            ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"),
            ("AZURE_CLIENT_ID", CLIENT),
            proof,
        )
        .unwrap()
    }

    #[test]
    fn asks_for_the_vaults_scope_with_an_assertion_or_a_secret() {
        let federated = entra(Proof::Assertion(IdentityToken::Given(Secret::new("a.b.c"))));
        let request = token_request(&federated, "https://vault.azure.net/.default", &Secret::new("a.b.c"));
        assert_eq!(
            request.url.to_string(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let form: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
        assert!(form.contains(&("client_assertion".into(), "a.b.c".into())));
        assert!(form.contains(&("scope".into(), "https://vault.azure.net/.default".into())));
        assert!(!form.iter().any(|(k, _)| k == "client_secret"));
        let with_secret = entra(Proof::Secret(Secret::new("s3cr3t")));
        let request = token_request(&with_secret, "https://vault.azure.net/.default", &Secret::new("s3cr3t"));
        let form: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
        assert!(form.contains(&("client_secret".into(), "s3cr3t".into())));
        let ok = answer(200, &[], r#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ.x.y"}"#)
            .unwrap();
        assert_eq!(read_token(&with_secret, &ok, &Secret::new("s3cr3t")).unwrap().expose(), "eyJ.x.y");
    }

    #[test]
    fn tenants_and_client_ids_are_checked() {
        let authority = || Url::parse(DEFAULT_AUTHORITY).unwrap();
        let proof = || Proof::Secret(Secret::new("s"));
        let field = |r: Result<Entra>| match r {
            Err(crate::error::Error::InvalidInput(e)) => e.field,
            _ => panic!("accepted"),
        };
        for tenant in ["a/b", "..", ".", "contoso..com", ".contoso.com"] {
            assert_eq!(
                field(Entra::new(authority(), ("AZURE_TENANT_ID", tenant), ("c", CLIENT), proof())),
                "AZURE_TENANT_ID",
                "{tenant}"
            );
        }
        assert_eq!(
            field(Entra::new(authority(), ("t", "contoso"), ("AZURE_CLIENT_ID", "app"), proof())),
            "AZURE_CLIENT_ID"
        );
    }
}
