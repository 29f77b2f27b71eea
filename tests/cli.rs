//! The `wasi:cli/run` command line through the real `wasmtime run`, against
//! the stand-ins: commands, flags, formats, environment fallbacks, exit
//! status, and what hostile answers can make it print.

mod common;

use common::{Env, assert_no_secret, env_with, wasm_path, with};
use serde_json::{Value, json};
use standins::process::wasmtime;
use standins::server::{Response, Wire};
use standins::world::World;

/// What a run printed and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(env: &Env, args: &[&str]) -> Run {
    run_with(env, &[], args)
}

/// `wasmtime run -S http [WASMTIME_ARGS] --env ... component.wasm ARGS`.
fn run_with(env: &Env, wasmtime_args: &[&str], args: &[&str]) -> Run {
    let mut command = wasmtime("run", env);
    command.args(["-S", "http"]).args(wasmtime_args);
    let output = command.arg(wasm_path()).args(args).output().expect("wasmtime runs");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    // stdout carries the token on success, by design; nothing else may.
    let texts =
        if run.code == 0 { vec![run.stderr.clone()] } else { vec![run.stdout.clone(), run.stderr.clone()] };
    assert_no_secret(env, &texts);
    run
}

fn ok(run: Run) -> Run {
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    run
}

fn json(run: Run) -> Value {
    serde_json::from_str(&ok(run).stdout).expect("one JSON object on stdout")
}

/// Both token formats (github.com's stateless one, about 520 characters
/// with `_`, `-` and `.`; GHES's 40 characters): printed alone, revoked.
#[test]
fn token_format_prints_the_token_alone() {
    use standins::github::TokenFormat;
    for (format, length) in [(TokenFormat::Stateless, 500..600), (TokenFormat::Classic, 40..41)] {
        let world = World::start("");
        world.github.set_token_format(format);
        let out = ok(run(&world.env(), &["--owner", "octo-org", "--repositories", "widgets"]));
        let token = world.github.issued()[0].token.clone();
        assert_eq!(out.stdout, format!("{token}\n"), "TOKEN=$(wasmtime run ...) works");
        assert!(length.contains(&token.len()), "{format:?}: {}", token.len());
        assert_eq!(world.github.issued()[0].repositories, ["widgets"]);
        ok(run(&env_with(&world, &[("GITHUB_TOKEN", Some(&token))]), &["revoke"]));
        assert!(world.github.issued()[0].revoked, "{format:?}");
    }
}

#[test]
fn json_format_describes_the_token() {
    let world = World::start("");
    let v = json(run(
        &world.env(),
        &[
            "token",
            "--owner=octo-org",
            "--repositories",
            "widgets,docs",
            "--permission",
            "contents=read",
            "--format",
            "json",
        ],
    ));
    let issued = &world.github.issued()[0];
    assert_eq!(v["token"], issued.token.as_str());
    assert_eq!(v["installation_id"], 1001);
    assert_eq!(v["permissions"], serde_json::json!({"contents": "read"}));
    assert_eq!(v["repository_selection"], "selected");
    assert_eq!(v["repositories"], serde_json::json!(["widgets", "docs"]));
    assert_eq!(v["app_slug"], standins::github::APP_SLUG);
    assert!(v["expires_at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn several_owners_share_one_kms_signature() {
    let world = World::start("");
    let v = json(run(&world.env(), &["--owner", "octo-org", "--owner", "octocat", "--format", "json"]));
    assert_eq!(v["octo-org"]["installation_id"], 1001);
    assert_eq!(v["octocat"]["installation_id"], 1002);
    assert_eq!(world.kms.signatures(), 1, "one App JWT serves every owner");
    assert_eq!(world.github.issued().len(), 2);

    let refused = run(&world.env(), &["--owner", "octo-org", "--owner", "octocat"]);
    assert_eq!(refused.code, 1);
    assert!(refused.stderr.contains("several owners need --format json"), "{}", refused.stderr);
}

/// Full names (`--repository OWNER/NAME`): the installation's own, and with
/// several owners each token gets its owner's; `--enterprise` the
/// enterprise's installation.
#[test]
fn full_names_and_enterprises() {
    let world = World::start("");
    let args = ["--owner", "octo-org", "--owner", "octocat", "--repository", "octocat/hello-world"];
    let v = json(run(
        &world.env(),
        &[&args[..], &["--repository", "octo-org/docs", "--format", "json"]].concat(),
    ));
    assert_eq!(
        (v["octo-org"]["repositories"].clone(), v["octocat"]["repositories"].clone()),
        (json!(["docs"]), json!(["hello-world"]))
    );
    let bare = run(
        &world.env(),
        &["--owner", "octo-org", "--owner", "octocat", "--repository", "docs", "--format", "json"],
    );
    assert!(
        bare.stderr.starts_with("error: invalid --repositories (repositories): docs is a bare name"),
        "{}",
        bare.stderr
    );
    // An owner none of the names is for would get a token for all its repositories.
    let widened = run(
        &world.env(),
        &["--owner", "octo-org", "--owner", "octocat", "--repository", "octo-org/docs", "--format", "json"],
    );
    assert!(widened.stderr.contains("names none of octocat's repositories"), "{}", widened.stderr);
    assert_ne!(widened.code, 0);
    let foreign = run(&world.env(), &["--owner", "octo-org", "--repository", "octocat/hello-world"]);
    assert!(
        foreign.stderr.contains("octocat/hello-world is not a repository of octo-org"),
        "{}",
        foreign.stderr
    );
    let enterprise = json(run(&world.env(), &["--enterprise", "acme", "--format", "json"]));
    assert_eq!(enterprise["installation_id"], 1003);
    assert_eq!(world.kms.signatures(), 2, "nothing sent for the refusals");
}

#[test]
fn environment_fallbacks_and_flags_winning() {
    let world = World::start("");
    // A workflow sets GITHUB_REPOSITORY: its owner's installation, for the current repository alone.
    let workflow = env_with(&world, &[("GITHUB_REPOSITORY", Some("octo-org/gadgets"))]);
    ok(run(&workflow, &[]));
    assert_eq!(world.github.issued()[0].repositories, ["gadgets"]);
    assert_eq!(world.github.seen()[0].path, "/users/octo-org/installation");

    ok(run(&env_with(&world, &[("OWNER", Some("octo-org")), ("REPOSITORIES", Some("widgets, docs"))]), &[]));
    assert_eq!(world.github.issued()[1].repositories, ["widgets", "docs"]);

    ok(run(&env_with(&world, &[("INSTALLATION_ID", Some("1002"))]), &[]));
    assert_eq!(world.github.issued()[2].installation_id, 1002);

    // A flag wins over its variable.
    ok(run(&env_with(&world, &[("OWNER", Some("octo-org"))]), &["--owner", "octocat"]));
    assert_eq!(world.github.issued()[3].installation_id, 1002);
    let other = env_with(&world, &[("APP_ID", Some("1"))]);
    ok(run(&other, &["--app-id", &standins::world::APP_ID.to_string(), "--owner", "octocat"]));
}

#[test]
fn jwt_command_prints_a_verifiable_jwt() {
    let world = World::start("");
    let out = ok(run(&world.env(), &["jwt"]));
    let claims =
        standins::github::verify_rs256(&world.kms.public_key(), out.stdout.trim()).expect("verifies");
    assert_eq!(claims["iss"], standins::world::APP_ID);
    let v = json(run(&world.env(), &["jwt", "--format", "json"]));
    assert_eq!(v["expires_at"].as_u64().unwrap() - v["issued_at"].as_u64().unwrap(), 600);
}

#[test]
fn revoke_takes_the_flag_or_github_token_and_tolerates_a_dead_token() {
    let world = World::start("");
    let token = ok(run(&world.env(), &["--owner", "octocat"])).stdout.trim().to_owned();
    let out = ok(run(&world.env(), &["revoke", "--token", &token]));
    assert!(out.stderr.contains("revoked"));
    assert!(world.github.issued()[0].revoked);
    let again = ok(run(&env_with(&world, &[("GITHUB_TOKEN", Some(&token))]), &["revoke"]));
    assert!(again.stderr.contains("already revoked or has expired"), "{}", again.stderr);
    assert!(!again.stderr.contains(&token));

    let missing = run(&world.env(), &["revoke"]);
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("--token"));
}

#[test]
fn installations_follows_pagination() {
    let world = World::start("");
    let v = json(run(&world.env(), &["installations"]));
    let ids: Vec<u64> = v.as_array().unwrap().iter().map(|i| i["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1001, 1002, 1003], "three installations over two pages");
    let pages = world.github.seen().iter().filter(|s| s.path == "/app/installations").count();
    assert_eq!(pages, 2);
}

#[test]
fn help_documents_every_flag_and_variable() {
    let out = ok(run(&Vec::new(), &["help"]));
    for word in [
        "token",
        "jwt",
        "revoke",
        "installations",
        "--app-id",
        "--key",
        "gcpkms://",
        "azurekms://",
        "hashivault://",
        "--kms-key-id",
        "--region",
        "--installation-id",
        "--owner",
        "--repositories",
        "--permission",
        "--github-api-url",
        "--format",
        "--token",
        "--help",
        "--version",
    ] {
        assert!(out.stdout.contains(word), "help does not mention {word}");
    }
    // Every variable the component reads, but the broker's own (docs/broker.md).
    let broker = ["TRUST_POLICY", "OIDC_AUDIENCE", "CACHE_KEY", "CACHE_TOKENS"];
    for variable in github_app_kms_token::env::VARIABLES.iter().filter(|v| !broker.contains(&v.name)) {
        assert!(out.stdout.contains(variable.name), "help does not mention {}", variable.name);
    }
    assert_eq!(ok(run(&Vec::new(), &["--help"])).stdout, out.stdout);
    assert_eq!(
        ok(run(&Vec::new(), &["--version"])).stdout,
        format!("github-app-kms-token {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_failure_exits_1_with_one_line_usage_errors_included() {
    let world = World::start("");
    for args in [&["--frobnicate"][..], &["mint"], &["--permission", "contents=owner"], &["--format", "yaml"]]
    {
        let out = run(&world.env(), args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.starts_with("error: ") && out.stdout.is_empty());
        assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    }
    let cases = [
        (
            "no app id",
            env_with(&world, &[("APP_ID", None)]),
            vec!["--owner", "octo-org"],
            "error: invalid --app-id (app-id): is required",
        ),
        (
            "an owner with a leading dash",
            world.env(),
            vec!["--owner", "-bad"],
            "error: invalid --owner (installation.owner): must be a GitHub login",
        ),
        (
            "an owner without the App",
            world.env(),
            vec!["--owner", "nobody"],
            "error: GitHub refused the request: HTTP 404",
        ),
        (
            "one owner named twice",
            world.env(),
            vec!["--owner", "octo-org", "--owner", "Octo-Org", "--format", "json"],
            "error: invalid --owner (installation.owner): names octo-org twice: one token per installation",
        ),
        (
            "a wrong AWS secret",
            env_with(&world, &[("AWS_SECRET_ACCESS_KEY", Some("0123456789abcdef0123"))]),
            vec!["--owner", "octo-org"],
            "error: the credentials were refused: HTTP 400 InvalidSignatureException",
        ),
    ];
    for (name, env, args, says) in cases {
        let out = run(&env, &args);
        assert_eq!(out.code, 1, "{name}: {args:?}");
        assert!(out.stderr.starts_with(says), "{name}: {args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{name}: one line: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{name}");
    }
}

#[test]
fn keyless_credentials_from_the_runners_oidc_token() {
    let world = World::start("");
    let out = ok(run(&world.keyless_env(), &["--owner", "octo-org"]));
    assert_eq!(out.stdout.trim(), world.github.issued()[0].token);
    assert_eq!(world.oidc.audiences(), ["sts.amazonaws.com"]);
    let assumed = world.sts.assumed();
    assert_eq!(assumed.len(), 1);
    assert_eq!((assumed[0].session_name.as_str(), assumed[0].duration.as_str()), ("gha-4242-3", "900"));
    assert_eq!(
        world.kms.signers(),
        [assumed[0].access_key_id.clone()],
        "KMS was signed for with STS's credentials"
    );
}

#[test]
fn access_keys_take_precedence_over_oidc() {
    let world = World::start("");
    let mut env = world.keyless_env();
    env.extend(
        world.env().into_iter().filter(|(k, _)| k.starts_with("AWS_ACCESS") || k.starts_with("AWS_SE")),
    );
    ok(run(&env, &["--owner", "octo-org"]));
    assert!(world.sts.assumed().is_empty() && world.oidc.audiences().is_empty());
    assert_eq!(world.kms.signers(), std::slice::from_ref(&world.credential.access_key_id));
}

#[test]
fn keyless_credentials_from_a_web_identity_token_file() {
    let world = World::start("");
    let folder = standins::temp_dir("gakt");
    std::fs::write(folder.join("token"), world.oidc.id_token("sts.amazonaws.com")).unwrap();
    let mut env: Env = world
        .keyless_env()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("ACTIONS_ID_TOKEN") && !k.starts_with("GITHUB_RUN"))
        .collect();
    env.push(("AWS_WEB_IDENTITY_TOKEN_FILE".into(), "/var/run/identity/token".into()));
    let preopen = format!("{}::/var/run/identity", folder.display());
    ok(run_with(&env, &["--dir", &preopen], &["--owner", "octo-org"]));
    assert_eq!(world.sts.assumed()[0].session_name, "github-app-kms-token");

    // Without the preopen the file cannot be read: a clear error, not a trap.
    let out = run(&env, &["--owner", "octo-org"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("could not read AWS_WEB_IDENTITY_TOKEN_FILE /var/run/identity/token"),
        "{}",
        out.stderr
    );
    std::fs::remove_dir_all(folder).unwrap();
}

#[test]
fn keyless_failures_say_which_source_and_why() {
    let world = World::start("");
    let cases = [
        (
            env_with(&world, &[("AWS_ACCESS_KEY_ID", None), ("AWS_SECRET_ACCESS_KEY", None)]),
            "error: no credentials for the key store: tried 1.",
        ),
        (
            with(&world.keyless_env(), &[("ACTIONS_ID_TOKEN_REQUEST_TOKEN", Some("wrong-request-token"))]),
            r#"error: the credentials were refused: HTTP 401: the GitHub Actions OIDC endpoint refused the ID token request: {"message":"bad request token [redacted]"}"#,
        ),
        (
            with(&world.keyless_env(), &[("STS_AUDIENCE", Some("not-sts"))]),
            "error: AWS STS refused the web identity: HTTP 400 InvalidIdentityToken: Incorrect token audience",
        ),
        (
            with(&world.keyless_env(), &[("AWS_ROLE_ARN", Some("arn:aws:iam::111122223333:role/other"))]),
            "error: AWS STS refused the web identity: HTTP 403 AccessDenied",
        ),
        (
            with(&world.keyless_env(), &[("ROLE_SESSION_NAME", Some("no spaces allowed"))]),
            "error: invalid ROLE_SESSION_NAME",
        ),
    ];
    for (env, says) in cases {
        let out = run(&env, &["--owner", "octo-org"]);
        assert_eq!(out.code, 1, "{says}");
        assert!(out.stderr.starts_with(says), "{says}\n{}", out.stderr);
    }
    assert!(world.github.issued().is_empty());
}

#[test]
fn every_setting_has_a_flag() {
    let world = World::start("/api/v3");
    // Nothing in the environment but credentials and the KMS endpoint: flags say the rest.
    let env: Env = world
        .env()
        .into_iter()
        .filter(|(k, _)| {
            k.starts_with("AWS_ACCESS") || k.starts_with("AWS_SE") || k == "AWS_ENDPOINT_URL_KMS"
        })
        .collect();
    let app_id = standins::world::APP_ID.to_string();
    let v = json(run(
        &env,
        &[
            "token",
            "--app-id",
            &app_id,
            "--kms-key-id",
            world.kms.key_id(),
            "--region",
            standins::world::REGION,
            "--github-api-url",
            &world.github.url(),
            "--installation-id",
            "1001",
            "--permission",
            "issues=write",
            "--format",
            "json",
        ],
    ));
    assert_eq!(v["installation_id"], 1001);
    assert!(v.get("app_slug").is_none(), "no lookup for an id, so no slug");
    assert_eq!(world.github.seen()[0].path, "/api/v3/app/installations/1001/access_tokens");
}

#[test]
fn oidc_takes_precedence_over_a_token_file() {
    let world = World::start("");
    let env = with(&world.keyless_env(), &[("AWS_WEB_IDENTITY_TOKEN_FILE", Some("/nonexistent/token"))]);
    ok(run(&env, &["--owner", "octo-org"]));
    assert_eq!(world.oidc.audiences().len(), 1, "the runner's token was used, the file never read");
}

#[test]
fn role_to_assume_and_session_name_aliases() {
    let world = World::start("");
    let env = with(
        &world.keyless_env(),
        &[
            ("AWS_ROLE_ARN", None),
            ("ROLE_TO_ASSUME", Some(standins::world::ROLE_ARN)),
            ("ROLE_SESSION_NAME", Some("loses")),
            ("AWS_ROLE_SESSION_NAME", Some("deploy-42")),
        ],
    );
    ok(run(&env, &["--owner", "octo-org"]));
    assert_eq!(world.sts.assumed()[0].session_name, "deploy-42", "AWS_ROLE_SESSION_NAME comes first");
}

#[test]
fn several_owners_are_all_or_nothing() {
    let world = World::start("");
    let out = run(&world.env(), &["--owner", "octo-org", "--owner", "nobody", "--format", "json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.is_empty());
    let issued = world.github.issued();
    assert_eq!(issued.len(), 1);
    assert!(issued[0].revoked, "the token minted before the failure was revoked, not left live");
}

#[test]
fn faults_report_attempts_and_keep_the_timeout_flag() {
    let world = World::start("");
    world.kms.set_fault(Some(standins::kms::Fault {
        status: 400,
        code: "ThrottlingException".into(),
        message: "Rate exceeded".into(),
    }));
    let throttled = run(&world.env(), &["--installation-id", "1001"]);
    assert_eq!(throttled.code, 1);
    assert!(
        throttled.stderr.contains("ThrottlingException") && throttled.stderr.contains("(3 attempts)"),
        "{}",
        throttled.stderr
    );
    world.kms.set_fault(None);

    // `--timeout` wins over TOKEN_TIMEOUT_SECONDS.
    world.kms.server().inject(standins::server::Wire::Hang, 10);
    let env = with(&world.env(), &[("TOKEN_TIMEOUT_SECONDS", Some("600"))]);
    let started = std::time::Instant::now();
    let hung = run(&env, &["--installation-id", "1001", "--timeout", "1"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "the 1 s deadline was kept");
    assert_eq!(hung.code, 1);
    assert!(hung.stderr.contains("timed out waiting for AWS KMS"), "{}", hung.stderr);
    let zero = run(&env, &["--timeout", "0"]);
    assert_eq!(zero.code, 1);
    assert!(
        zero.stderr.starts_with("error: --timeout takes a whole number of seconds from 1 to 3600"),
        "{}",
        zero.stderr
    );
}

/// Plain `http://` to anything but this machine is refused before anything
/// is sent: the App JWT, a web identity token or the runner's request token
/// would cross the network in clear text.
#[test]
fn plain_http_endpoints_are_refused_before_anything_is_sent() {
    let world = World::start("");
    for (var, url) in [
        ("GITHUB_API_URL", "http://example.com/api/v3"),
        ("AWS_ENDPOINT_URL_KMS", "http://kms.example.com"),
        ("AWS_ENDPOINT_URL", "http://10.1.2.3:4566"),
    ] {
        let env = env_with(&world, &[("AWS_ENDPOINT_URL_KMS", None), (var, Some(url))]);
        let out = run(&env, &["--installation-id", "1001"]);
        assert_eq!(out.code, 1);
        assert_eq!(
            out.stderr,
            format!(
                "error: invalid {var}: must be https:// (http:// only to a loopback host: localhost, 127.0.0.1, [::1])\n"
            )
        );
    }
    let keyless = with(
        &world.keyless_env(),
        &[("ACTIONS_ID_TOKEN_REQUEST_URL", Some("http://pipelines.example/idtoken?api-version=2.0"))],
    );
    let out = run(&keyless, &["--installation-id", "1001"]);
    assert!(
        out.stderr.starts_with("error: invalid ACTIONS_ID_TOKEN_REQUEST_URL: must be https://"),
        "{}",
        out.stderr
    );
    let sts = with(&world.keyless_env(), &[("AWS_ENDPOINT_URL_STS", Some("http://sts.example.com"))]);
    let out = run(&sts, &["--installation-id", "1001"]);
    assert!(
        out.stderr.starts_with("error: invalid AWS_ENDPOINT_URL_STS: must be https://"),
        "{}",
        out.stderr
    );
    assert_eq!(
        world.kms.server().requests() + world.github.server().requests() + world.sts.server().requests(),
        0
    );
}

/// Under GitHub Actions a line that starts with `::` is a workflow command,
/// and a `\r` starts a line: whatever a server answers, no line the command
/// line prints can start with `::`.
#[test]
fn service_answers_cannot_forge_workflow_commands() {
    let world = World::start("");
    let forged = "Bad credentials\r::error title=Injected::pwned\n::warning::spoofed-by-server\u{1b}[2K";
    let github = Response::json(
        401,
        "application/json",
        &json!({"message": forged, "documentation_url": "https://docs.github.com\r::error::docs"}),
    );
    world.github.server().inject(Wire::Answer(github), 1);
    let kms = Response::json(
        400,
        "application/x-amz-json-1.1",
        &json!({"__type": "AccessDeniedException\r::error::code", "message": "denied\u{1b}]0;title\u{7}\n::notice::x"}),
    );
    let mut outputs = Vec::new();
    let out = run(&world.env(), &["--installation-id", "1001"]);
    assert!(
        out.stderr.starts_with("error: GitHub refused the request: HTTP 401: Bad credentials"),
        "{}",
        out.stderr
    );
    outputs.push(out);
    world.kms.server().inject(Wire::Answer(kms), 1);
    let out = run(&world.env(), &["--installation-id", "1001"]);
    assert!(
        out.stderr
            .starts_with("error: AWS KMS refused to sign: HTTP 400 AccessDeniedException: denied]0;title"),
        "{}",
        out.stderr
    );
    outputs.push(out);
    for out in outputs {
        assert_eq!(out.code, 1);
        for line in out.stderr.split(['\n', '\r']).chain(out.stdout.split(['\n', '\r'])) {
            assert!(!line.starts_with("::"), "a forged workflow command: {line:?}");
        }
        assert!(!out.stderr.contains('\u{1b}'), "no escape sequence: {:?}", out.stderr);
        assert_eq!(out.stderr.matches('\n').count(), 1, "one line: {:?}", out.stderr);
    }
}
