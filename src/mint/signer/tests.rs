use super::*;

#[test]
fn reads_each_kind_of_reference() {
    let aws = |endpoint, key| Reference::AwsKms { endpoint, key };
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
        "gcpkms://projects/p",
    ] {
        let Err(Error::InvalidInput(e)) = Reference::parse("key", text) else { panic!("{text} accepted") };
        assert_eq!(e.field, "key", "{text}");
    }
    let Err(Error::InvalidInput(e)) = Reference::parse("KEY", "azurekms://v.vault.azure.net/k") else {
        panic!()
    };
    assert!(e.rule.starts_with("azurekms:// keys are not supported by this version"), "{}", e.rule);
}

#[test]
fn a_key_and_credentials_of_two_stores_do_not_open() {
    use crate::net::script::Script;
    use crate::net::url::Url;
    use crate::vault::Server;
    let server = Server { address: Url::parse("https://vault.example.com").unwrap(), namespace: None };
    let key = Key::VaultTransit(transit::Key::new("key", "app", "m", "transit", server).unwrap());
    let aws = crate::mint::settings::Deployment::example("https://api.github.com").credentials;
    let script = Script::new([]);
    let Err(Error::CredentialsMissing(why)) = Signer::open(&key, &aws, &script) else { panic!() };
    assert!(why.contains("hashivault"), "{why}");
    assert!(script.lines().is_empty(), "nothing sent");
}
