//! The GitHub Action as the runner runs it: `node` on the files `action.yml`
//! names, inputs as `INPUT_<NAME>` variables with the defaults `action.yml`
//! declares, outputs and saved state in the `GITHUB_OUTPUT` and
//! `GITHUB_STATE` files, state handed to post as `STATE_<name>`; against
//! the stand-ins (KMS, STS, the runner's OIDC endpoint, GitHub).
//!
//! Node: see [`standins::runner::node`]. The harness is [`runner`], shared
//! with `parity.rs`.

mod runner;

use runner::{Job, action_dir, action_yml, assert_masked_first};
use serde_json::Value;
use standins::world::{APP_ID, World};

#[test]
fn action_yml_declares_a_javascript_action_with_described_inputs_and_outputs() {
    let yml = action_yml();
    assert_eq!(yml["runs"]["using"].as_str(), Some("node24"));
    for entry in ["main", "post"] {
        let file = action_dir().join(yml["runs"][entry].as_str().unwrap());
        assert!(file.exists(), "{} is committed", file.display());
    }
    let inputs = yml["inputs"].as_mapping().unwrap();
    for (name, spec) in inputs.iter().chain(yml["outputs"].as_mapping().unwrap()) {
        let description = spec["description"].as_str().unwrap_or_default();
        assert!(description.len() > 10, "{name:?} is described");
    }
    let default = |name: &str| inputs[name].get("default").and_then(|d| d.as_str());
    assert_eq!(default("skip-token-revoke"), Some("false"));
    assert_eq!(default("github-api-url"), Some("${{ github.api_url }}"));
    assert_eq!(default("audience"), Some("sts.amazonaws.com"));
    // `key` or its alias `kms-key-id`: the action says which is missing.
    assert_eq!(inputs["key"]["required"].as_bool(), Some(false));
    assert_eq!(inputs["kms-key-id"]["required"].as_bool(), Some(false));
    // Every input of actions/create-github-app-token v3 but `private-key`, and ours.
    for name in [
        "client-id",
        "app-id",
        "owner",
        "repositories",
        "skip-token-revoke",
        "github-api-url",
        "key",
        "kms-key-id",
        "aws-region",
        "gcp-workload-identity-provider",
        "gcp-service-account",
        "azure-tenant-id",
        "azure-client-id",
        "vault-addr",
        "vault-role",
        "vault-namespace",
        "role-to-assume",
        "role-session-name",
        "audience",
        "enterprise",
    ] {
        assert!(inputs.contains_key(name), "input {name}");
    }
    assert!(!inputs.contains_key("private-key"));
    let outputs: Vec<&str> = yml["outputs"].as_mapping().unwrap().keys().filter_map(|k| k.as_str()).collect();
    assert_eq!(outputs, ["token", "tokens", "installation-id", "app-slug", "expires-at"]);
}

#[test]
fn permission_inputs_are_the_components_permission_list() {
    let yml = action_yml();
    let declared: Vec<String> = yml["inputs"]
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(|k| k.as_str().filter(|k| k.starts_with("permission-")).map(str::to_owned))
        .collect();
    let known: Vec<String> = github_app_kms_token::github::names::KNOWN_PERMISSIONS
        .iter()
        .map(|p| action_tests::input_name(p))
        .collect();
    assert_eq!(declared, known);
    assert!(known.contains(&"permission-pull-requests".to_owned()));
    let text = std::fs::read_to_string(action_dir().join("action.yml")).unwrap();
    assert!(text.contains(&action_tests::permission_inputs()), "run `make action` to regenerate them");
}

/// The variables handed over, the input behind each field and the levels
/// are the component's own lists, as `make action` generates them.
#[test]
fn generated_js_is_the_components_lists() {
    let committed = std::fs::read_to_string(action_dir().join("src/generated.js")).unwrap();
    assert_eq!(committed, action_tests::generated_js(), "run `make action` to regenerate it");
    assert!(committed.contains(r#""GITHUB_REPOSITORY""#) && !committed.contains(r#""APP_ID""#));
}

/// The classic 40-character format (GHES), where the test below has
/// github.com's stateless one: masked, output, revoked the same.
#[test]
fn the_classic_token_format_is_handled_alike() {
    let world = World::start("");
    world.github.set_token_format(standins::github::TokenFormat::Classic);
    let mut job = Job::new(&world);
    let (main, post) = job.main_then_post();
    let token = world.github.issued()[0].token.clone();
    assert_eq!((token.len(), main.outputs["token"].as_str()), (40, token.as_str()));
    assert_masked_first(&main, &[&token]);
    post.ok();
    assert!(world.github.issued()[0].revoked);
}

#[test]
fn mints_with_static_keys_masks_the_token_and_revokes_it_in_post() {
    let world = World::start("");
    let mut job =
        Job::new(&world).with("permission-contents", "read").with("permission-pull-requests", "write");
    let (main, post) = job.main_then_post();
    let issued = world.github.issued();
    assert_eq!(issued.len(), 1);
    let token = issued[0].token.as_str();
    assert!(
        (500..600).contains(&token.len()) && token.contains('.'),
        "github.com's stateless format: {}",
        token.len()
    );
    assert_eq!(main.outputs["token"], token);
    assert_eq!(main.outputs["installation-id"], "1001");
    assert_eq!(main.outputs["app-slug"], standins::github::APP_SLUG);
    assert!(main.outputs["expires-at"].starts_with("20") && main.outputs["expires-at"].ends_with('Z'));
    assert_eq!(
        serde_json::from_str::<Value>(&main.outputs["tokens"]).unwrap(),
        serde_json::json!({"octo-org": token})
    );
    // No owner and no repositories: the current repository alone, as the official action.
    assert_eq!(issued[0].repositories, ["widgets"]);
    let permissions: Vec<String> = issued[0].permissions.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    assert_eq!(permissions, ["contents:read", "pull_requests:write"]);
    assert_masked_first(&main, &[token]);

    let post = post.ok();
    assert!(world.github.issued()[0].revoked, "post revoked the token");
    assert!(post.stdout.contains("Token revoked."), "{}", post.stdout);
    // Revoked already (a second post, say): a notice, not a failure.
    let again = job.run("post").ok();
    assert!(again.stdout.contains("::notice::The token was already revoked"), "{}", again.stdout);
    assert_masked_first(&post, &[]);
}

#[test]
fn mints_keyless_from_the_jobs_oidc_identity() {
    let world = World::start("");
    let job = Job::keyless(&world).with("owner", "octo-org").with("repositories", "widgets,\ndocs");
    let main = job.run("main").ok();
    assert_eq!(world.oidc.audiences(), ["sts.amazonaws.com"]);
    let issued = world.github.issued();
    assert_eq!(main.outputs["token"], issued[0].token);
    assert_eq!(issued[0].repositories, ["widgets", "docs"]);
    assert_masked_first(&main, &[&issued[0].token]);
}

/// A key in Vault: a `VAULT_TOKEN` in the job's environment, or the job's
/// OIDC identity logging in as `vault-role`; in a namespace.
#[test]
fn mints_with_a_key_in_vault() {
    use standins::vault::{Policy, ROLE};
    let world = World::start("");
    let namespace = "admin/platform";
    let vault = world.vault(Some(namespace));
    let vault_job = |env, keep: &[&str]| {
        Job::of(&world, env, keep)
            .without("kms-key-id")
            .without("aws-region")
            .with("key", "hashivault://github-app")
            .with("vault-addr", &vault.url())
            .with("vault-namespace", namespace)
    };
    let token = vault.token(Policy { read: true, sign: true });
    let mut job = vault_job(world.vault_env(&vault, Some(namespace), &token), &["VAULT_TOKEN"]);
    let (main, post) = job.main_then_post();
    let issued = world.github.issued();
    assert_eq!(main.ok().outputs["token"], issued[0].token);
    post.ok();
    assert!(world.github.issued()[0].revoked);
    assert_eq!((vault.signed(), vault.logins(), world.kms.signatures()), (1, 0, 0));

    let keyless = vault_job(
        world.vault_keyless_env(&vault, Some(namespace)),
        &["ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "VAULT_AUDIENCE"],
    )
    .with("vault-role", ROLE);
    let main = keyless.run("main").ok();
    assert_eq!(main.outputs["token"], world.github.issued()[1].token);
    assert_eq!((vault.signed(), vault.logins()), (2, 1));
    assert_eq!(world.oidc.audiences(), [standins::world::VAULT_AUDIENCE]);
    assert_masked_first(&main, &[&world.github.issued()[1].token]);
}

/// A key in Google Cloud KMS: an access token in the job's environment;
/// or the job's OIDC identity through `gcp-workload-identity-provider`
/// (Google's own STS, unreachable here: the request is what is checked).
#[test]
fn mints_with_a_key_in_google_cloud_kms() {
    use standins::google::{KEY_VERSION, PROVIDER, SERVICE_ACCOUNT};
    let world = World::start("");
    let google = world.google();
    let google_job = |env, keep: &[&str]| {
        Job::of(&world, env, keep)
            .without("kms-key-id")
            .without("aws-region")
            .with("key", &format!("gcpkms://{KEY_VERSION}"))
    };
    let mut job = google_job(
        world.google_env(&google, &google.token()),
        &["GOOGLE_OAUTH_ACCESS_TOKEN", "GOOGLE_KMS_ENDPOINT"],
    );
    let (main, post) = job.main_then_post();
    assert_eq!(main.ok().outputs["token"], world.github.issued()[0].token);
    post.ok();
    assert_eq!((google.signed(), world.kms.signatures()), (1, 0));

    let mut env = world.google_env(&google, "");
    env.extend(world.keyless_env().into_iter().filter(|(k, _)| k.starts_with("ACTIONS_ID_TOKEN")));
    let keyless = google_job(
        env,
        &["GOOGLE_KMS_ENDPOINT", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
    )
    .with("gcp-workload-identity-provider", PROVIDER)
    .with("gcp-service-account", SERVICE_ACCOUNT);
    let step = keyless.run("main");
    assert_eq!(
        world.oidc.audiences(),
        [format!("https://iam.googleapis.com/{PROVIDER}")],
        "as auth asks for it"
    );
    let errors = step.errors();
    assert!(
        errors.len() == 1
            && errors[0].starts_with("could not reach Google STS at https://sts.googleapis.com"),
        "{:?}",
        step.stdout
    );
    let bad =
        google_job(world.google_env(&google, ""), &[]).with("gcp-workload-identity-provider", "my-pool");
    let errors = bad.run("main").errors().iter().map(|e| e.to_string()).collect::<Vec<_>>();
    assert!(
        errors[0].starts_with("Input gcp-workload-identity-provider: must be projects/NUMBER"),
        "{errors:?}"
    );
}

/// A key in Azure Key Vault: the job's OIDC identity as the federated
/// credential of the app registration `azure-client-id` names.
#[test]
fn mints_with_a_key_in_azure_key_vault() {
    use standins::azure::{CLIENT_ID, TENANT};
    let world = World::start("");
    let azure = world.azure();
    let env: Vec<(String, String)> = world
        .azure_keyless_env(&azure)
        .into_iter()
        .filter(|(k, _)| k != "AZURE_TENANT_ID" && k != "AZURE_CLIENT_ID")
        .collect();
    let key = env.iter().find(|(k, _)| k == "KEY").map(|(_, v)| v.clone()).unwrap();
    let mut job = Job::of(
        &world,
        env,
        &["AZURE_AUTHORITY_HOST", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
    )
    .without("kms-key-id")
    .without("aws-region")
    .with("key", &key)
    .with("azure-tenant-id", TENANT)
    .with("azure-client-id", CLIENT_ID);
    let (main, post) = job.main_then_post();
    let main = main.ok();
    assert_eq!(main.outputs["token"], world.github.issued()[0].token);
    assert_masked_first(&main, &[&world.github.issued()[0].token]);
    post.ok();
    assert!(world.github.issued()[0].revoked);
    assert_eq!(world.oidc.audiences(), ["api://AzureADTokenExchange"]);
    assert_eq!((azure.issued(), azure.signed()), (1, 1));
}

#[test]
fn several_owners_get_a_token_each_from_one_signature() {
    let world = World::start("");
    let mut job = Job::new(&world)
        .with("owner", "octo-org\noctocat")
        .with("app-id", &APP_ID.to_string())
        .without("client-id");
    let (main, post) = job.main_then_post();
    let issued = world.github.issued();
    assert_eq!((issued.len(), world.kms.signatures()), (2, 1), "one KMS signature serves both");
    let tokens: Value = serde_json::from_str(&main.outputs["tokens"]).unwrap();
    assert_eq!(tokens, serde_json::json!({"octo-org": issued[0].token, "octocat": issued[1].token}));
    assert_eq!(main.outputs["token"], issued[0].token, "the first owner's");
    assert_masked_first(&main, &[&issued[0].token, &issued[1].token]);
    post.ok();
    assert!(world.github.issued().iter().all(|t| t.revoked), "post revoked both");
}

#[test]
fn skip_token_revoke_keeps_the_token() {
    let world = World::start("");
    let mut job = Job::new(&world).with("skip-token-revoke", "true");
    let (main, post) = job.main_then_post();
    assert!(!main.state.contains_key("tokens"), "nothing saved for post");
    assert!(post.ok().stdout.contains("skip-token-revoke"));
    assert!(!world.github.issued()[0].revoked);
}

#[test]
fn bad_inputs_are_errors_naming_the_input_and_nothing_is_sent() {
    let world = World::start("");
    let cases = [
        (Job::new(&world).without("kms-key-id"), "Input key: is required: a key reference"),
        (
            Job::new(&world).without("kms-key-id").with("key", "gcpkms://projects/p"),
            "Input aws-region: is for AWS KMS keys, and this key is in another store",
        ),
        (
            Job::new(&world).without("kms-key-id").without("aws-region").with("key", "gcpkms://projects/p"),
            "Input key: must name a key version",
        ),
        (
            Job::new(&world).with("key", "hashivault://github-app").without("aws-region"),
            "Input key: give key or kms-key-id, not both",
        ),
        (
            Job::new(&world)
                .without("kms-key-id")
                .without("aws-region")
                .with("key", "hashivault://github-app"),
            "Input vault-addr: is required for a hashivault:// key",
        ),
        (
            Job::new(&world)
                .without("kms-key-id")
                .without("aws-region")
                .with("key", "hashivault://github-app")
                .with("vault-addr", "http://vault.example.com"),
            "Input vault-addr: must be https://",
        ),
        (Job::new(&world).without("client-id"), "Input client-id: give exactly one of client-id and app-id"),
        (
            Job::new(&world).with("app-id", "4242"),
            "Input client-id: give exactly one of client-id and app-id",
        ),
        (
            Job::new(&world).with("permission-contents", "owner"),
            "Input permission-contents: must be read, write or admin",
        ),
        (Job::new(&world).with("owner", "-not-a-login"), "Input owner: must be a GitHub login"),
        (Job::new(&world).with("owner", "octo-org\n-bad"), "Input owner: must be a GitHub login"),
        (
            Job::new(&world).with("owner", "octo-org\nOcto-Org"),
            "Input owner: names octo-org twice: one token per installation",
        ),
        (Job::new(&world).with("kms-key-id", "my key"), "Input kms-key-id: must be a key id"),
        (
            Job::new(&world).with("github-api-url", "http://example.com/api/v3"),
            "Input github-api-url: must be https://",
        ),
        (
            Job::new(&world).with("owner", "a\nb").with("repositories", "x"),
            "Input repositories: x is a bare name, but there are several owners: write OWNER/x",
        ),
        (
            Job::new(&world).with("owner", "a\nb").with("repositories", "a/x, c/y"),
            "Input repositories: c/y: c is not among the owners",
        ),
        (
            Job::new(&world).with("owner", "a\nb").with("repositories", "a/x"),
            "Input repositories: names none of b's repositories",
        ),
        (
            Job::new(&world).with("owner", "octo-org").with("repositories", "octocat/hello-world"),
            "Input repositories: octocat/hello-world is not a repository of octo-org",
        ),
        (
            Job::new(&world).with("enterprise", "acme").with("owner", "octo-org"),
            "Input enterprise: cannot be combined with owner",
        ),
        (
            Job::new(&world).with("enterprise", "acme").with("repositories", "widgets"),
            "Input enterprise: cannot be combined with repositories",
        ),
        (
            Job::keyless(&world).with("role-to-assume", "arn:aws:iam::1:user/me"),
            "Input role-to-assume: must be an IAM role ARN",
        ),
        (Job::new(&world).with("skip-token-revoke", "yes"), "Input skip-token-revoke: must be true or false"),
    ];
    for (job, says) in cases {
        let step = job.run("main");
        assert_ne!(step.code, 0, "{says}");
        let errors = step.errors();
        assert!(errors.len() == 1 && errors[0].starts_with(says), "{says}: {:?}", step.stdout);
        assert!(step.outputs.is_empty() && step.state.is_empty());
    }
    let sent =
        world.kms.server().requests() + world.github.server().requests() + world.sts.server().requests();
    assert_eq!(sent, 0, "nothing was sent");
}

/// v3.2's `enterprise`: the enterprise's installation, its outputs, and
/// revocation in post, as for an owner.
#[test]
fn mints_for_an_enterprise() {
    let world = World::start("");
    let mut job =
        Job::new(&world).with("enterprise", "acme").with("permission-organization-administration", "read");
    let (main, post) = job.main_then_post();
    let issued = world.github.issued();
    assert_eq!((issued.len(), issued[0].installation_id), (1, 1003));
    assert_eq!(world.github.seen()[0].path, "/enterprises/acme/installation");
    assert_eq!(
        (main.outputs["installation-id"].as_str(), main.outputs["token"].as_str()),
        ("1003", issued[0].token.as_str())
    );
    assert_eq!(main.outputs["app-slug"], standins::github::APP_SLUG);
    assert_masked_first(&main, &[&issued[0].token]);
    post.ok();
    assert!(world.github.issued()[0].revoked);
}

/// v3.2's full names (`repositories: ${{ github.repository }}` works), and
/// beyond it several owners, each token scoped to its owner's full names,
/// all from one KMS signature.
#[test]
fn full_names_scope_each_owners_token() {
    let world = World::start("");
    Job::new(&world).with("repositories", "octo-org/widgets").run("main").ok();
    assert_eq!(world.github.issued()[0].repositories, ["widgets"], "the current owner's, by full name");

    let world = World::start("");
    let job = Job::new(&world)
        .with("owner", "octo-org\noctocat")
        .with("repositories", "octo-org/widgets, octocat/hello-world, Octo-Org/docs")
        .with("app-id", &APP_ID.to_string())
        .without("client-id");
    let main = job.run("main").ok();
    let issued = world.github.issued();
    assert_eq!((issued.len(), world.kms.signatures()), (2, 1));
    assert_eq!(
        (issued[0].repositories.as_slice(), issued[1].repositories.as_slice()),
        (["widgets", "docs"].map(String::from).as_slice(), ["hello-world".to_owned()].as_slice())
    );
    let tokens: Value = serde_json::from_str(&main.outputs["tokens"]).unwrap();
    assert_eq!(tokens, serde_json::json!({"octo-org": issued[0].token, "octocat": issued[1].token}));
}

/// Main fails after minting (here: the outputs file cannot be written):
/// the token was saved for post as soon as it was masked, and post revokes it.
#[test]
fn a_failure_after_minting_still_revokes_in_post() {
    let world = World::start("");
    let unwritable = standins::temp_dir("gakt-action"); // a folder, not a file
    let mut job = Job::new(&world);
    job.env.push(("GITHUB_OUTPUT".into(), unwritable.display().to_string()));
    let main = job.run("main");
    assert_ne!(main.code, 0, "writing the outputs failed");
    assert_eq!(world.github.issued().len(), 1, "a token was minted");
    job.state = main.state.clone();
    job.run("post").ok();
    assert!(world.github.issued()[0].revoked, "post revoked it");
}

/// A GitHub stand-in answering with workflow commands in every value it
/// sends: the component refuses the answer, and nothing of it reaches the
/// log or an output.
#[test]
fn a_hostile_answer_writes_no_workflow_command() {
    let injected = "\n::error title=Injected::pwned\n::stop-commands::ABC\n";
    let hostile = [
        serde_json::json!({"id": 1001, "app_slug": format!("kms{injected}")}),
        serde_json::json!({"id": 1001, "app_slug": "kms", "token": "ghs_x", "permissions": {},
            "repository_selection": "all", "expires_at": format!("2030-01-01T00:00:00Z{injected}")}),
        serde_json::json!({"id": 1001, "app_slug": "kms", "token": "ghs_x", "permissions": {},
            "repository_selection": "selected", "expires_at": "2030-01-01T00:00:00Z",
            "repositories": [{"name": format!("widgets{injected}")}]}),
    ];
    for body in hostile {
        let world = World::start("");
        let answer = standins::server::Response::json(201, "application/json", &body);
        // The same answer to the lookup and to the token request.
        world.github.server().inject(standins::server::Wire::Answer(answer), 2);
        let step = Job::new(&world).run("main");
        assert_ne!(step.code, 0);
        let commands: Vec<&str> = step.stdout.lines().filter(|l| l.starts_with("::")).collect();
        assert_eq!(commands.len(), 1, "{}", step.stdout);
        assert!(commands[0].starts_with("::error::unexpected answer from GitHub"), "{}", step.stdout);
        assert!(
            !step.stdout.contains("Injected") && !step.stdout.contains("stop-commands"),
            "{}",
            step.stdout
        );
        assert!(step.outputs.values().all(|v| !v.contains('\n')), "{:?}", step.outputs);
    }
}

#[test]
fn a_refusal_is_one_error_line_from_the_component() {
    let world = World::start("");
    let step = Job::new(&world).with("owner", "nobody").run("main");
    assert_ne!(step.code, 0);
    assert!(step.errors()[0].starts_with("GitHub refused the request: HTTP 404"), "{}", step.stdout);
}

/// The committed `dist/` needs nothing installed: a copy of the action with
/// no `node_modules` anywhere above it mints a token.
#[test]
fn runs_from_a_checkout_without_node_modules() {
    let world = World::start("");
    let checkout = standins::temp_dir("gakt-action").join("github-action");
    std::fs::create_dir_all(checkout.join("dist")).unwrap();
    std::fs::copy(action_dir().join("action.yml"), checkout.join("action.yml")).unwrap();
    for entry in std::fs::read_dir(action_dir().join("dist")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, checkout.join("dist").join(path.file_name().unwrap())).unwrap();
    }
    let mut job = Job::new(&world);
    job.action = checkout;
    let main = job.run("main").ok();
    assert_eq!(main.outputs["token"], world.github.issued()[0].token);
}

/// dist/ carries the licence of every runtime dependency bundled into it.
#[test]
fn dist_carries_the_licences_of_what_it_bundles() {
    let package: Value =
        serde_json::from_str(&std::fs::read_to_string(action_dir().join("package.json")).unwrap()).unwrap();
    let notices = std::fs::read_to_string(action_dir().join("dist/NOTICES.txt")).unwrap();
    for (name, version) in package["dependencies"].as_object().unwrap() {
        let heading = format!("\n{name} {}\nLicense: ", version.as_str().unwrap());
        assert!(notices.contains(&heading), "NOTICES.txt names {name}");
    }
    assert!(notices.contains("Permission is hereby granted")); // @actions/core's MIT text
}

/// Behind a proxy, as a self-hosted runner sets it (`HTTPS_PROXY`,
/// `HTTP_PROXY`, with credentials): every request the component makes goes
/// through it (the runner's OIDC token URL, STS, KMS, GitHub, and post's
/// revocation), and its credentials appear nowhere. (The stand-ins are
/// plain HTTP on loopback, so the requests take the `http_proxy` path: the
/// proxy sees each request, not a `CONNECT`.) Not built on Windows, where no
/// tinyproxy is packaged.
#[cfg(not(windows))]
#[test]
fn every_request_goes_through_the_runners_proxy() {
    let world = World::start("");
    let proxy = standins::process::Proxy::start(Some("runner:pr0xy-pa55word-42"));
    let with_credentials = proxy.url.replace("http://", "http://runner:pr0xy-pa55word-42@");
    let mut job = Job::keyless(&world);
    job.env.push(("HTTPS_PROXY".into(), with_credentials.clone()));
    job.env.push(("http_proxy".into(), with_credentials));
    let (main, post) = job.main_then_post();
    let post = post.ok();
    assert!(world.github.issued()[0].revoked);
    let requests = proxy.requests();
    let oidc = world.oidc.request_url();
    let oidc = oidc.split('/').take(3).collect::<Vec<_>>().join("/");
    for (service, url) in
        [("OIDC", oidc), ("STS", world.sts.url()), ("KMS", world.kms.url()), ("GitHub", world.github.url())]
    {
        assert!(
            requests.iter().any(|r| r.contains(url.trim_end_matches('/'))),
            "{service} ({url}) in {requests:?}"
        );
    }
    assert!(requests.iter().any(|r| r.starts_with("DELETE ")), "post's revocation: {requests:?}");
    for step in [&main, &post] {
        assert!(!format!("{}{}", step.stdout, step.stderr).contains("pr0xy-pa55word"), "{step:?}");
    }
}

/// `NO_PROXY` bypasses the proxy (here for the loopback stand-ins); with
/// the proxy gone, the error names it (without credentials) and nothing is minted.
#[cfg(not(windows))]
#[test]
fn no_proxy_bypasses_it_and_a_dead_proxy_is_named() {
    let world = World::start("");
    let mut proxy = standins::process::Proxy::start(None);
    let mut job = Job::new(&world);
    job.env.push(("HTTP_PROXY".into(), proxy.url.clone()));
    job.env.push(("NO_PROXY".into(), "localhost,127.0.0.1".into()));
    job.run("main").ok();
    assert_eq!(proxy.requests(), Vec::<String>::new(), "NO_PROXY: straight to the stand-ins");

    let world = World::start("");
    let mut job = Job::new(&world);
    job.env.push(("HTTP_PROXY".into(), proxy.url.replace("http://", "http://runner:pr0xy-pa55word-42@")));
    proxy.stop();
    let step = job.run("main");
    assert_ne!(step.code, 0);
    let error = step.errors().join("\n");
    assert!(error.contains(&format!("(through the proxy {})", proxy.url)), "{error}");
    assert!(!step.stdout.contains("pr0xy-pa55word") && !step.stderr.contains("pr0xy-pa55word"));
    assert!(world.github.issued().is_empty());
}

/// `NO_PROXY`'s forms, as Node 24 and curl read them: `*`, an address, an
/// address with its port; an entry that matches nothing leaves the proxy
/// in the way.
#[cfg(not(windows))]
#[test]
fn no_proxy_forms() {
    let world = World::start("");
    let ports: Vec<String> =
        [world.kms.authority(), world.github.authority()].iter().map(|a| a.to_string()).collect();
    let proxy = standins::process::Proxy::start(None);
    for (no_proxy, bypassed) in
        [("*", true), ("127.0.0.1", true), (ports.join(",").as_str(), true), ("example.com", false)]
    {
        let before = proxy.requests().len();
        let mut job = Job::new(&world);
        job.env.push(("HTTP_PROXY".into(), proxy.url.clone()));
        job.env.push(("NO_PROXY".into(), no_proxy.into()));
        job.run("main").ok();
        let proxied = proxy.requests().len() - before;
        assert_eq!(proxied == 0, bypassed, "NO_PROXY={no_proxy}: {proxied} requests through the proxy");
    }
}
