use super::*;

#[test]
fn reads_each_kind_of_reference() {
    let aws = |endpoint, key| Reference::AwsKms { endpoint, key };
    let gcp_name = "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";
    let cases = [
        ("alias/github-app", aws(None, "alias/github-app")),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", aws(None, "1234abcd-12ab-34cd-56ef-1234567890ab")),
        ("awskms:///alias/github-app", aws(None, "alias/github-app")),
        (
            "awskms:///arn:aws:kms:eu-west-1:111122223333:alias/github-app",
            aws(None, "arn:aws:kms:eu-west-1:111122223333:alias/github-app"),
        ),
        ("awskms://localhost:4566/alias/github-app", aws(Some("localhost:4566"), "alias/github-app")),
        ("hashivault://github-app", Reference::HashiVault { key: "github-app" }),
        (&format!("gcpkms://{gcp_name}"), Reference::GcpKms { name: gcp_name }),
        (
            "azurekms://acme.vault.azure.net/app",
            Reference::AzureKms { vault: "acme.vault.azure.net", key: "app", version: None },
        ),
        (
            "azurekms://acme.managedhsm.azure.net/app/0a1b",
            Reference::AzureKms { vault: "acme.managedhsm.azure.net", key: "app", version: Some("0a1b") },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(Reference::parse("key", text), Ok(expected), "{text}");
    }
}

#[test]
fn a_malformed_reference_names_the_field() {
    for text in [
        "awskms://",
        "awskms:///",
        "awskms://host",
        "hashivault://",
        "s3://bucket/key",
        "gcpkms://",
        "azurekms://v.vault.azure.net",
        "azurekms://v.vault.azure.net/k/1/2",
        "azurekms:///k",
    ] {
        let Err(Error::InvalidInput(e)) = Reference::parse("key", text) else { panic!("{text} accepted") };
        assert_eq!(e.field, "key", "{text}");
    }
}

#[test]
fn a_key_and_credentials_of_two_stores_do_not_open() {
    use crate::net::script::Script;
    use crate::vault::Server;
    let server = Server { address: Url::parse("https://vault.example.com").unwrap(), namespace: None };
    let key = Key::VaultTransit(transit::Key::new("key", "app", "m", "transit", server).unwrap());
    let aws = Credentials::Aws(Source::Keys(AwsCredentials {
        access_key_id: "AKIDEXAMPLE".into(),
        secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        session_token: None,
    }));
    let script = Script::new([]);
    let Err(Error::CredentialsMissing(why)) = Signer::open(&key, &aws, &script) else { panic!() };
    assert!(why.contains("hashivault"), "{why}");
    assert!(script.lines().is_empty(), "nothing sent");
}

#[test]
fn debug_never_shows_a_credential() {
    use crate::identity::IdentityToken;
    let authority = Url::parse(entra::DEFAULT_AUTHORITY).unwrap();
    let client = ("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555");
    let every = [
        Credentials::Google(google::Source::Token(Secret::new("ya29.secret-access-token"))),
        Credentials::Google(google::Source::Federated(Box::new(Federation {
            audience: "//iam.googleapis.com/x".into(),
            token_url: Url::parse(google::DEFAULT_TOKEN_URL).unwrap(),
            subject_token_type: google::JWT_TOKEN_TYPE.into(),
            impersonation: None,
            token: IdentityToken::Given(Secret::new("a.secret-id-token.c")),
        }))),
        Credentials::Azure(
            Entra::new(
                authority.clone(),
                ("AZURE_TENANT_ID", "contoso"),
                client,
                Proof::Secret(Secret::new("secret-value")),
            )
            .unwrap(),
        ),
        Credentials::Azure(
            Entra::new(
                authority,
                ("AZURE_TENANT_ID", "contoso"),
                client,
                Proof::Assertion(IdentityToken::Given(Secret::new("a.secret-assertion.c"))),
            )
            .unwrap(),
        ),
        Credentials::Vault(Login::Token(Secret::new("hvs.secret-vault-token"))),
    ];
    for credentials in every {
        let text = format!("{credentials:?}");
        assert!(!text.contains("secret-"), "{text}");
    }
}
