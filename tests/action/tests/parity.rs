//! The official action's own tests as a second opinion: every case of
//! `actions/create-github-app-token`'s `tests/` folder (v3.1.1, and the
//! cases v3.2 added for `enterprise`, full names and retries) that applies
//! to this Action, run the same way against it, through the runner's
//! contract ([`runner`]) and the stand-ins. Each test is named after the
//! official test file and quotes what that file checks.
//!
//! The official tests mock HTTP and snapshot the log. These assert what a
//! user sees instead: the exit code, the `::error::` line (our wording, so
//! they check that it names the input), the outputs, the state saved for
//! post and post's revocation, and what the GitHub stand-in was asked and
//! minted (installation, repositories, permissions, attempts).
//! `docs/parity.md` lists every official case: kept here, or left out and why.
//!
//! The official tests run as `actions/create-github-app-token` with owner
//! `actions`; here the job's repository is `octo-org/widgets`, so its
//! owner's installation is 1001 (widgets, gadgets, docs), `octocat`'s is
//! 1002 and the enterprise `acme`'s 1003.

mod runner;

use runner::{Job, Step, assert_masked_first};
use serde_json::{Value, json};
use standins::github::{APP_SLUG, Fault, Issued};
use standins::server::{Response, Wire};
use standins::world::{APP_ID, World};

/// The one token the stand-in minted.
fn the_token(world: &World) -> Issued {
    let issued = world.github.issued();
    assert_eq!(issued.len(), 1, "one token minted: {issued:?}");
    issued.into_iter().next().unwrap()
}

/// What the GitHub stand-in answered, in order: `METHOD path status`.
fn github_saw(world: &World) -> Vec<String> {
    world.github.seen().iter().map(|s| format!("{} {} {}", s.method, s.path, s.status)).collect()
}

/// The permissions a token was minted with, as `name:level`.
fn permissions(token: &Issued) -> Vec<String> {
    token.permissions.iter().map(|(name, level)| format!("{name}:{level}")).collect()
}

/// Main minted one token for `installation_id`, as the official action
/// would: masked before anything else could print it; output with its
/// installation and the App's slug; saved for post with its expiry; and a
/// line saying for whom and for what, with no error.
fn assert_minted(main: &Step, world: &World, installation_id: u64) -> Issued {
    let token = the_token(world);
    assert_eq!(token.installation_id, installation_id);
    assert_eq!(main.outputs["token"], token.token);
    assert_eq!(main.outputs["installation-id"], installation_id.to_string());
    assert_eq!(main.outputs["app-slug"], APP_SLUG);
    let saved: Value = serde_json::from_str(&main.state["tokens"]).unwrap();
    assert_eq!(saved, json!([{"token": token.token, "expiresAt": main.outputs["expires-at"]}]));
    assert_masked_first(main, &[&token.token]);
    assert_eq!(main.errors(), Vec::<&str>::new());
    let said = format!("(installation {installation_id}): ");
    assert!(
        main.stdout.lines().any(|l| l.starts_with("A token for ") && l.contains(&said)),
        "{}",
        main.stdout
    );
    token
}

/// Main failed before sending anything: a non-zero exit, one `::error::`
/// line that names each of `names`, no output, no state, no request to any
/// stand-in. The line, for more checks.
fn assert_refused_before_sending(step: &Step, world: &World, names: &[&str]) -> String {
    assert_ne!(step.code, 0, "{}", step.stdout);
    let errors = step.errors();
    assert_eq!(errors.len(), 1, "one error line: {}", step.stdout);
    for name in names {
        assert!(errors[0].contains(name), "the error names {name}: {}", errors[0]);
    }
    assert!(step.outputs.is_empty() && step.state.is_empty(), "{step:?}");
    let sent = world.kms.server().requests()
        + world.github.server().requests()
        + world.sts.server().requests()
        + world.oidc.server().requests();
    assert_eq!(sent, 0, "nothing was sent");
    errors[0].to_owned()
}

/// A GitHub error on the installation lookups (`…/installation`).
fn lookup_fault(status: u16, message: &str) -> Fault {
    Fault { path_suffix: "/installation".into(), status, message: message.into(), retry_after: None }
}

// ---------------------------------------------------------------------------
// main, v3.1.1

/// `action-deprecated-inputs.test.js`: `app-id` is deprecated in favour of
/// `client-id` ("Use 'client-id' instead."), which the runner shows as a
/// warning when a workflow sets it; `client-id` is not. Here `action.yml`
/// as the runner reads it says the same.
#[test]
fn action_deprecated_inputs() {
    let yml = runner::action_yml();
    let deprecation = |input: &str| yml["inputs"][input]["deprecationMessage"].as_str().map(str::to_owned);
    assert_eq!(deprecation("app-id").as_deref(), Some("Use 'client-id' instead."));
    let others =
        yml["inputs"].as_mapping().unwrap().keys().filter_map(|k| k.as_str()).filter(|k| *k != "app-id");
    let deprecated: Vec<&str> = others.filter(|input| deprecation(input).is_some()).collect();
    assert!(deprecated.is_empty(), "{deprecated:?}");
}

/// `main-app-id-fallback.test.js`: "Verify `main` falls back to `app-id`
/// when `client-id` is not set" (`client-id` empty, `app-id` set; a token).
/// Here: a token, signed with the App ID as the JWT's issuer.
#[test]
fn main_app_id_fallback() {
    let world = World::start("");
    let main = Job::new(&world).with("client-id", "").with("app-id", &APP_ID.to_string()).run("main").ok();
    assert_minted(&main, &world, 1001);
    let jwt = &world.github.jwts()[0];
    let claims = standins::github::verify_rs256(&world.kms.public_key(), jwt).expect("a valid App JWT");
    assert_eq!(claims["iss"], json!(APP_ID), "the App ID, as a number");
}

/// `main-client-id-precedence.test.js`: "Verify `client-id` takes
/// precedence when both `client-id` and `app-id` are set". A deliberate
/// difference: this Action refuses both, naming them, before anything is
/// sent (two identities for one App, one of them silently ignored, is a
/// mistake to point out). Stricter than the official action.
#[test]
fn main_client_id_precedence() {
    let world = World::start("");
    let step = Job::new(&world).with("app-id", &APP_ID.to_string()).run("main");
    let error = assert_refused_before_sending(&step, &world, &["client-id", "app-id"]);
    assert!(error.starts_with("Input client-id: give exactly one of client-id and app-id"), "{error}");
}

/// `main-custom-github-api-url.test.js`: "Verify that main works with a
/// custom GitHub API URL passed as `github-api-url` input" (GHES's
/// `https://github.acme-inc.com/api/v3`, owner and repositories the current
/// ones: every request under `/api/v3`). Here the stand-in serves under
/// `/api/v3`: the lookup, the token request and post's revocation all go
/// there, and the token is the current repository's.
#[test]
fn main_custom_github_api_url() {
    let world = World::start("/api/v3");
    assert!(world.github.url().ends_with("/api/v3"));
    let mut job = Job::new(&world).with("owner", "octo-org").with("repositories", "widgets");
    let (main, post) = job.main_then_post();
    let token = assert_minted(&main, &world, 1001);
    assert_eq!(token.repositories, ["widgets"]);
    post.ok();
    assert!(world.github.issued()[0].revoked);
    assert_eq!(
        github_saw(&world),
        [
            "GET /api/v3/users/octo-org/installation 200",
            "POST /api/v3/app/installations/1001/access_tokens 201",
            "DELETE /api/v3/installation/token 204",
        ]
    );
}

/// `main-missing-client-and-app-id.test.js`: "Verify `main` exits with an
/// error when neither `client-id` nor `app-id` is set". Here: the step
/// fails, its error naming both inputs, and nothing is sent.
#[test]
fn main_missing_client_and_app_id() {
    let world = World::start("");
    let step = Job::new(&world).with("client-id", "").with("app-id", "").run("main");
    assert_refused_before_sending(&step, &world, &["client-id", "app-id"]);
}

/// `main-missing-owner.test.js`: "Verify `main` exits with an error when
/// `GITHUB_REPOSITORY_OWNER` is missing" (`GITHUB_REPOSITORY` set). Wider
/// here: the owner is `GITHUB_REPOSITORY`'s, so the token is minted for the
/// current repository as it would be with the variable set. (No runner
/// leaves it out; the official action checks it for its own default.)
#[test]
fn main_missing_owner() {
    let world = World::start("");
    let mut job = Job::new(&world);
    job.env.retain(|(name, _)| name != "GITHUB_REPOSITORY_OWNER");
    let main = job.run("main").ok();
    let token = assert_minted(&main, &world, 1001);
    assert_eq!(token.repositories, ["widgets"], "the current repository alone");
}

/// `main-missing-repository.test.js`: "Verify `main` exits with an error
/// when `GITHUB_REPOSITORY` is missing". Here too when no `owner` is given
/// (the default needs it): the error names the `owner` input and
/// `GITHUB_REPOSITORY`, and nothing is sent. Wider: with `owner` given, it
/// is not needed, and a token is minted.
#[test]
fn main_missing_repository() {
    let world = World::start("");
    let mut job = Job::new(&world);
    job.env.retain(|(name, _)| name != "GITHUB_REPOSITORY");
    let step = job.run("main");
    assert_refused_before_sending(&step, &world, &["Input owner", "GITHUB_REPOSITORY"]);

    let main = job.with("owner", "octo-org").run("main").ok();
    assert_minted(&main, &world, 1001);
}

/// `main-repo-skew.test.js`: "Verify `main` retry when the clock has
/// drifted": the lookup answers 401 "'Issued at' claim ('iat') must be an
/// Integer ..." with a `Date` header 30 s off; the JWT is made again with
/// the difference accounted for, and the lookup (2 in all) and the token
/// request succeed. Here GitHub's clock (its JWT checks and its `Date`)
/// runs 2 minutes behind this machine's: the first JWT's `iat` is in
/// GitHub's future, the lookup refuses it once, the JWT is signed again
/// from GitHub's time (a second KMS signature), and the token is minted.
#[test]
fn main_repo_skew() {
    let world = World::start("");
    world.github.set_clock(-120, -120);
    let main = Job::new(&world).with("owner", "octo-org").with("repositories", "gadgets").run("main").ok();
    let token = assert_minted(&main, &world, 1001);
    assert_eq!(token.repositories, ["gadgets"]);
    assert_eq!(
        github_saw(&world),
        [
            "GET /users/octo-org/installation 401",
            "GET /users/octo-org/installation 200",
            "POST /app/installations/1001/access_tokens 201",
        ]
    );
    assert_eq!(world.kms.signatures(), 2, "signed again with GitHub's time");
}

/// `main-token-get-owner-set-fail-response.test.js`: "Verify retries work
/// when getting a token for a user or organization fails on the first
/// attempt" (owner set, another than the current; the owner's lookup
/// answers 500 "GitHub API not available" once, then the installation: 2
/// lookups, a token for all its repositories). Here the same, for `octocat`.
#[test]
fn main_token_get_owner_set_fail_response() {
    let world = World::start("");
    world.github.set_fault_times(lookup_fault(500, "GitHub API not available"), 1);
    let main = Job::new(&world).with("owner", "octocat").run("main").ok();
    let token = assert_minted(&main, &world, 1002);
    assert_eq!(token.repositories, Vec::<String>::new(), "all the owner's repositories");
    assert_eq!(
        github_saw(&world),
        [
            "GET /users/octocat/installation 500",
            "GET /users/octocat/installation 200",
            "POST /app/installations/1002/access_tokens 201",
        ]
    );
    assert!(main.stdout.contains("A token for octocat (installation 1002): "), "{}", main.stdout);
}

/// `main-token-get-owner-set-repo-fail-response.test.js`: "Verify `main`
/// retry when the GitHub API returns a 500 error" (owner and a repository
/// set; the lookup answers 500 once: 2 lookups, a token scoped to the
/// repository). Here the same, for `octo-org`'s `gadgets`.
#[test]
fn main_token_get_owner_set_repo_fail_response() {
    let world = World::start("");
    world.github.set_fault_times(lookup_fault(500, "GitHub API not available"), 1);
    let main = Job::new(&world).with("owner", "octo-org").with("repositories", "gadgets").run("main").ok();
    let token = assert_minted(&main, &world, 1001);
    assert_eq!(token.repositories, ["gadgets"]);
    assert_eq!(
        github_saw(&world),
        [
            "GET /users/octo-org/installation 500",
            "GET /users/octo-org/installation 200",
            "POST /app/installations/1001/access_tokens 201",
        ]
    );
}

/// `main-token-get-owner-set-repo-set-to-many.test.js`: "Verify `main`
/// successfully obtains a token when the `owner` and `repositories` inputs
/// are set (and the latter is a list of repos)", with "intentional
/// unnecessary whitespace" (` create-github-app-token, toolkit  ,checkout`):
/// the token request names exactly the three. Here the same list of
/// `octo-org`'s three.
#[test]
fn main_token_get_owner_set_repo_set_to_many() {
    let world = World::start("");
    let job = Job::new(&world).with("owner", "octo-org").with("repositories", " widgets, gadgets  ,docs");
    let main = job.run("main").ok();
    let token = assert_minted(&main, &world, 1001);
    assert_eq!(token.repositories, ["widgets", "gadgets", "docs"]);
    assert!(main.stdout.contains("(installation 1001): widgets, gadgets, docs, until "), "{}", main.stdout);
}

/// `main-token-get-owner-set-repo-set-to-many-newline.test.js`: the same,
/// one a line with blank lines and whitespace
/// (`\n create-github-app-token\ntoolkit \n\n checkout \n`).
#[test]
fn main_token_get_owner_set_repo_set_to_many_newline() {
    let world = World::start("");
    let job =
        Job::new(&world).with("owner", "octo-org").with("repositories", "\n widgets\ngadgets \n\n docs \n");
    let main = job.run("main").ok();
    let token = assert_minted(&main, &world, 1001);
    assert_eq!(token.repositories, ["widgets", "gadgets", "docs"]);
}

/// `main-token-get-owner-set-repo-set-to-one.test.js`: "Verify `main`
/// successfully obtains a token when the `owner` and `repositories` inputs
/// are set (and the latter is a single repo)".
#[test]
fn main_token_get_owner_set_repo_set_to_one() {
    let world = World::start("");
    let main = Job::new(&world).with("owner", "octo-org").with("repositories", "widgets").run("main").ok();
    let token = assert_minted(&main, &world, 1001);
    assert_eq!(token.repositories, ["widgets"]);
}

/// `main-token-get-owner-set-repo-unset.test.js`: "Verify `main`
/// successfully obtains a token when the `owner` input is set, and the
/// `repositories` input isn't set" (the owner's installation by
/// `GET /users/{owner}/installation`; the token request names no
/// repositories: all of them).
#[test]
fn main_token_get_owner_set_repo_unset() {
    let world = World::start("");
    let main = Job::new(&world).with("owner", "octo-org").run("main").ok();
    let token = assert_minted(&main, &world, 1001);
    assert_eq!(token.repositories, Vec::<String>::new(), "not narrowed: all of the owner's");
    assert_eq!(
        permissions(&token),
        ["contents:write", "issues:write", "metadata:read", "pull_requests:write"],
        "no permission-* input: the installation's own"
    );
    assert_eq!(
        github_saw(&world),
        ["GET /users/octo-org/installation 200", "POST /app/installations/1001/access_tokens 201"]
    );
}

/// `main-token-get-owner-unset-repo-set.test.js`: "Verify `main`
/// successfully obtains a token when the `owner` input is not set, but the
/// `repositories` input is set" (the current owner's repositories). Here
/// with `docs`, not the current repository, so that the default (the
/// current repository alone) cannot pass for it.
#[test]
fn main_token_get_owner_unset_repo_set() {
    let world = World::start("");
    let main = Job::new(&world).with("repositories", "docs").run("main").ok();
    let token = assert_minted(&main, &world, 1001);
    assert_eq!(token.repositories, ["docs"]);
    assert!(
        main.stdout.contains("A token for octo-org (installation 1001): docs, until "),
        "{}",
        main.stdout
    );
}

/// `main-token-get-owner-unset-repo-unset.test.js`: "Verify `main`
/// successfully obtains a token when neither the `owner` nor `repositories`
/// input is set" (the current repository alone).
#[test]
fn main_token_get_owner_unset_repo_unset() {
    let world = World::start("");
    let main = Job::new(&world).run("main").ok();
    let token = assert_minted(&main, &world, 1001);
    assert_eq!(token.repositories, ["widgets"]);
    assert!(
        main.stdout.contains("A token for octo-org (installation 1001): widgets, until "),
        "{}",
        main.stdout
    );
}

/// `main-token-permissions-set.test.js`: "Verify `main` successfully sets
/// permissions" (`permission-issues: write`, `permission-pull-requests:
/// read`: the token request asks for exactly those, for the current
/// repository). Every other `permission-*` input is set to "" as the
/// runner sets it, and is not asked for.
#[test]
fn main_token_permissions_set() {
    let world = World::start("");
    let job = Job::new(&world).with("permission-issues", "write").with("permission-pull-requests", "read");
    let main = job.run("main").ok();
    let token = assert_minted(&main, &world, 1001);
    assert_eq!(permissions(&token), ["issues:write", "pull_requests:read"]);
    assert_eq!(token.repositories, ["widgets"]);
}

// ---------------------------------------------------------------------------
// main, v3.2

/// `main-enterprise-token-success.test.js`: "Verify `main` successfully
/// generates enterprise token with basic functionality" (`enterprise` set:
/// `GET /enterprises/{enterprise}/installation`, then its token). Here the
/// token is also revoked by post, as an owner's.
#[test]
fn main_enterprise_token_success() {
    let world = World::start("");
    let mut job = Job::new(&world).with("enterprise", "acme");
    let (main, post) = job.main_then_post();
    let token = assert_minted(&main, &world, 1003);
    assert_eq!(token.repositories, Vec::<String>::new());
    post.ok();
    assert_eq!(
        github_saw(&world),
        [
            "GET /enterprises/acme/installation 200",
            "POST /app/installations/1003/access_tokens 201",
            "DELETE /installation/token 204",
        ]
    );
    assert!(world.github.issued()[0].revoked);
}

/// `main-enterprise-token-with-permissions.test.js`: "Verify `main`
/// successfully generates enterprise token with specific permissions".
/// Here with `permission-organization-administration: read`, the
/// permission the stand-in's enterprise installation holds: exactly that
/// is asked for.
#[test]
fn main_enterprise_token_with_permissions() {
    let world = World::start("");
    let job =
        Job::new(&world).with("enterprise", "acme").with("permission-organization-administration", "read");
    let main = job.run("main").ok();
    let token = assert_minted(&main, &world, 1003);
    assert_eq!(permissions(&token), ["organization_administration:read"]);
}

/// `main-enterprise-installation-not-found.test.js`: "Verify `main`
/// handles when no enterprise installation is found" (v3.2: the lookup's
/// 404 is an error, not retried). Here: one lookup, a failed step whose
/// error says GitHub's 404 and what it means, nothing minted or saved.
#[test]
fn main_enterprise_installation_not_found() {
    let world = World::start("");
    let step = Job::new(&world).with("enterprise", "globex").run("main");
    assert_ne!(step.code, 0);
    let errors = step.errors();
    assert_eq!(errors.len(), 1, "{}", step.stdout);
    assert!(errors[0].contains("HTTP 404") && errors[0].contains("not installed"), "{}", errors[0]);
    assert!(errors[0].ends_with("(1 attempt)"), "{}", errors[0]);
    assert_eq!(github_saw(&world), ["GET /enterprises/globex/installation 404"]);
    assert!(world.github.issued().is_empty() && step.state.is_empty() && step.outputs.is_empty());
}

/// `main-enterprise-fail-response.test.js`: "Verify enterprise installation
/// lookup retries when the GitHub API returns a 500 error" (500 once, then
/// the installation: 2 lookups, a token).
#[test]
fn main_enterprise_fail_response() {
    let world = World::start("");
    world.github.set_fault_times(lookup_fault(500, "GitHub API not available"), 1);
    let main = Job::new(&world).with("enterprise", "acme").run("main").ok();
    assert_minted(&main, &world, 1003);
    assert_eq!(
        github_saw(&world),
        [
            "GET /enterprises/acme/installation 500",
            "GET /enterprises/acme/installation 200",
            "POST /app/installations/1003/access_tokens 201",
        ]
    );
}

/// `main-enterprise-mutual-exclusivity-owner.test.js`: "Verify `main`
/// exits with an error when `enterprise` is used with `owner` input".
/// Here: the error names both inputs; nothing is sent.
#[test]
fn main_enterprise_mutual_exclusivity_owner() {
    let world = World::start("");
    let step = Job::new(&world).with("enterprise", "acme").with("owner", "octo-org").run("main");
    assert_refused_before_sending(&step, &world, &["Input enterprise", "owner"]);
}

/// `main-enterprise-mutual-exclusivity-repositories.test.js`: "Verify
/// `main` exits with an error when `enterprise` is used with `repositories`
/// input". Here: the error names both inputs; nothing is sent.
#[test]
fn main_enterprise_mutual_exclusivity_repositories() {
    let world = World::start("");
    let step =
        Job::new(&world).with("enterprise", "acme").with("repositories", "widgets,gadgets").run("main");
    assert_refused_before_sending(&step, &world, &["Input enterprise", "repositories"]);
}

/// `main-token-get-owner-set-repo-non-current-full-name.test.js`: "Verify
/// `main` normalizes full repository names before installation lookup and
/// token scoping" (owner `actions`, `actions/toolkit,checkout`: a token for
/// `toolkit` and `checkout`). Here `octo-org/gadgets,docs`, neither the
/// current repository. And as v3.2 refuses a full name whose owner is not
/// the owner, so does this Action, naming the input, before sending anything.
#[test]
fn main_token_get_owner_set_repo_non_current_full_name() {
    let world = World::start("");
    let job = Job::new(&world).with("owner", "octo-org").with("repositories", "octo-org/gadgets,docs");
    let main = job.run("main").ok();
    let token = assert_minted(&main, &world, 1001);
    assert_eq!(token.repositories, ["gadgets", "docs"]);

    let world = World::start("");
    let job = Job::new(&world).with("owner", "octo-org").with("repositories", "octocat/hello-world,docs");
    let error = assert_refused_before_sending(&job.run("main"), &world, &["Input repositories"]);
    assert!(error.contains("octocat/hello-world is not a repository of octo-org"), "{error}");
}

/// v3.2, "owner installation client errors are not retried" (so its pull
/// request #263 describes the test; v3.1.1 retried any error of the owner's
/// lookup, 4 attempts). Here: an owner the App is not installed on (404)
/// and a lookup GitHub forbids (403, no rate limit), each asked once, the
/// step failed with GitHub's status in its error.
#[test]
fn main_owner_installation_client_errors_are_not_retried() {
    let world = World::start("");
    let step = Job::new(&world).with("owner", "nobody").run("main");
    assert_ne!(step.code, 0);
    assert!(step.errors()[0].starts_with("GitHub refused the request: HTTP 404"), "{}", step.stdout);
    assert_eq!(github_saw(&world), ["GET /users/nobody/installation 404"]);

    let world = World::start("");
    world.github.set_fault(Some(lookup_fault(403, "Resource not accessible by integration")));
    let step = Job::new(&world).with("owner", "octocat").run("main");
    assert_ne!(step.code, 0);
    assert!(step.errors()[0].contains("HTTP 403"), "{}", step.stdout);
    assert!(step.errors()[0].ends_with("(1 attempt)"), "{}", step.stdout);
    assert_eq!(github_saw(&world), ["GET /users/octocat/installation 403"]);
    assert!(world.github.issued().is_empty() && step.state.is_empty());
}

/// v3.2, "transient network errors are retried during token creation" (so
/// pull request #263 describes the test). Here the first answer to the
/// lookup is bytes that are not HTTP, then a closed connection: the lookup
/// is sent again and the token minted (3 requests reached the stand-in,
/// 2 were answered).
#[test]
fn main_transient_network_errors_are_retried() {
    let world = World::start("");
    world.github.server().inject(Wire::Garbage, 1);
    let main = Job::new(&world).run("main").ok();
    assert_minted(&main, &world, 1001);
    assert_eq!(world.github.server().requests(), 3);
    assert_eq!(
        github_saw(&world),
        ["GET /users/octo-org/installation 200", "POST /app/installations/1001/access_tokens 201"]
    );
}

/// The same v3.2 case with another network error: the connection closed
/// half-way through the answer's body. Retried, as the component retries it
/// under wasmtime (`tests/faults.rs`); under Node the Action's bundle hands
/// the shim's failure to the component as `HTTP-response-incomplete`
/// (`src/bundle/shim-http.js`), where the shim alone threw past the retry.
#[test]
fn main_transient_network_errors_are_retried_when_the_body_is_cut() {
    let world = World::start("");
    world.github.server().inject(Wire::CloseMidBody, 1);
    let main = Job::new(&world).run("main").ok();
    assert_minted(&main, &world, 1001);
    assert_eq!(world.github.server().requests(), 3);
}

// ---------------------------------------------------------------------------
// post

/// The state main saves for post, as the runner hands it back in
/// `STATE_tokens`: the tokens, each with its expiry.
fn saved(token: &str, expires_at: i64) -> String {
    json!([{"token": token, "expiresAt": standins::time::rfc3339(expires_at)}]).to_string()
}

/// `post-token-set.test.js`: a token saved, not expired:
/// `DELETE /installation/token` authenticated by the token ("Token
/// revoked"). Here with the state main saved: one DELETE presenting that
/// token (as `Bearer`, where theirs says `token`: GitHub takes both), the
/// token revoked, a line saying so, exit 0.
#[test]
fn post_token_set() {
    let world = World::start("");
    let mut job = Job::new(&world);
    let (main, post) = job.main_then_post();
    let token = assert_minted(&main, &world, 1001).token;
    let post = post.ok();
    assert!(world.github.issued()[0].revoked);
    assert!(post.stdout.lines().any(|l| l == "Token revoked."), "{}", post.stdout);
    let deletes: Vec<_> = world.github.seen().into_iter().filter(|s| s.method == "DELETE").collect();
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].path, "/installation/token");
    let authorization = deletes[0].headers.iter().find(|(name, _)| name == "authorization").unwrap();
    assert_eq!(authorization.1, format!("Bearer {token}"));
    assert_masked_first(&post, &[]);
}

/// `post-revoke-token-fail-response.test.js`: a token saved (`secret123`,
/// an hour from expiry); the DELETE answers 401: a warning ("Token
/// revocation failed"), the step does not fail. Here the same state; GitHub
/// answers 401 (it never issued that token): asked once, a notice that it
/// was already revoked or expired, exit 0, and the token nowhere in the log.
#[test]
fn post_revoke_token_fail_response() {
    let world = World::start("");
    let mut job = Job::new(&world);
    job.state.insert("tokens".into(), saved("secret123", standins::time::now() + 3600));
    let post = job.run("post").ok();
    assert_eq!(github_saw(&world), ["DELETE /installation/token 401"]);
    let commands: Vec<&str> = post.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(commands, ["::notice::The token was already revoked or had expired: nothing to do."]);
    assert!(!post.stdout.contains("secret123") && !post.stderr.contains("secret123"));
}

/// The rest of `post-revoke-token-fail-response.test.js`'s rule: any
/// failure to revoke is a warning, never a failed job (the token expires
/// within the hour anyway). Here GitHub answers 500 to every attempt: a
/// `::warning::` naming the failure, exit 0, the token nowhere in the log.
#[test]
fn post_revoke_token_fail_response_other_than_401_warns() {
    let world = World::start("");
    let mut job = Job::new(&world);
    job.state.insert("tokens".into(), saved("secret123", standins::time::now() + 3600));
    let unavailable = Response::json(500, "application/json", &json!({"message": "Server Error"}));
    world.github.server().inject(Wire::Answer(unavailable), 10);
    let post = job.run("post").ok();
    assert_eq!(world.github.server().requests(), 3, "retried, as any request");
    let commands: Vec<&str> = post.stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(commands.len(), 1, "{commands:?}");
    assert!(commands[0].starts_with("::warning::Token revocation failed: "), "{commands:?}");
    assert!(commands[0].contains("500"), "{commands:?}");
    assert!(!post.stdout.contains("secret123") && !post.stderr.contains("secret123"));
}

/// `post-token-expired.test.js`: a token saved that expired an hour ago:
/// no request ("Token expired, skipping token revocation"). Here main mints
/// a real token, and the state handed to post says it expired an hour ago:
/// no request, the token left alone, a line saying why, exit 0.
#[test]
fn post_token_expired() {
    let world = World::start("");
    let mut job = Job::new(&world);
    let main = job.run("main").ok();
    let token = assert_minted(&main, &world, 1001).token;
    let sent = world.github.server().requests();
    job.state.insert("tokens".into(), saved(&token, standins::time::now() - 3600));
    let post = job.run("post").ok();
    assert_eq!(world.github.server().requests(), sent, "no request");
    assert!(!world.github.issued()[0].revoked);
    assert!(
        post.stdout.contains("expired at") && post.stdout.contains("nothing to revoke"),
        "{}",
        post.stdout
    );
    assert!(!post.stdout.contains(&token));
}

/// `post-token-skipped.test.js`: `skip-token-revoke: true`: no request
/// ("Token revocation was skipped"). Theirs reads the input in post; this
/// Action's main saves nothing to revoke when it is set (the runner gives
/// both steps the same inputs, so a runner cannot tell them apart). Here
/// main then post, as the runner runs them: nothing saved, no DELETE, the
/// token still valid, a line naming `skip-token-revoke`, exit 0.
#[test]
fn post_token_skipped() {
    let world = World::start("");
    let mut job = Job::new(&world).with("skip-token-revoke", "true");
    let (main, post) = job.main_then_post();
    the_token(&world);
    assert!(!main.state.contains_key("tokens"), "nothing saved for post");
    assert!(main.stdout.contains("skip-token-revoke is set"), "{}", main.stdout);
    let post = post.ok();
    assert!(post.stdout.contains("skip-token-revoke"), "{}", post.stdout);
    assert!(world.github.seen().iter().all(|s| s.method != "DELETE"));
    assert!(!world.github.issued()[0].revoked);
}

/// `post-token-unset.test.js`: no token saved: nothing to do ("Token is not
/// set"). Here: post with no state, no request, a line saying so, exit 0.
#[test]
fn post_token_unset() {
    let world = World::start("");
    let post = Job::new(&world).run("post").ok();
    assert_eq!(world.github.server().requests(), 0);
    assert!(post.stdout.contains("No token to revoke"), "{}", post.stdout);
    assert!(post.errors().is_empty());
}
