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
    let aws = crate::mint::settings::Deployment::example("https://api.github.com").credentials;
    let script = Script::new([]);
    let Err(Error::CredentialsMissing(why)) = Signer::open(&key, &aws, &script) else { panic!() };
    assert!(why.contains("hashivault"), "{why}");
    assert!(script.lines().is_empty(), "nothing sent");
}
