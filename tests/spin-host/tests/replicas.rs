//! The Spin build as platform teams run it: its settings and secrets from
//! Spin variables alone (`SPIN_VARIABLE_*`, as Spin's default provider reads
//! them, through `spin.toml`'s templates), and its caches in a key-value
//! store on a real Redis (Debian's `redis-server`, on loopback) shared by
//! two host processes, as two replicas of a SpinKube deployment share it.
//! Upstream calls are counted at the stand-ins, never timed.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use standins::client::{Answer, send};
use standins::process::{Redis, Served, free_port};
use standins::world::World;

/// The audience callers' tokens must carry.
const AUDIENCE: &str = "https://tokens.acme.example";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn policy(world: &World) -> String {
    json!({"rules": [{
        "issuer": world.oidc.issuer(),
        "claims": {"repository_owner": "octo-org"},
        "owner": "octo-org",
        "repositories": ["widgets", "docs"],
        "permissions": {"contents": "read"},
    }]})
    .to_string()
}

/// The Spin variables of a deployment against the stand-ins: everything
/// `world` points the component at, the policy, the audience and a cache key.
fn variables(world: &World, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let cache_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let mut settings = world.env();
    settings.extend(
        [("TRUST_POLICY", policy(world).as_str()), ("OIDC_AUDIENCE", AUDIENCE), ("CACHE_KEY", cache_key)]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    settings.into_iter().map(|(name, value)| (format!("SPIN_VARIABLE_{name}"), value)).collect()
}

/// One replica: the test host serving the Spin build with `variables`, and
/// nothing else in its environment, on `redis`.
fn replica(variables: &[(String, String)], redis: &str) -> Served {
    let wasm = root().join("dist/github-app-kms-token-spin.wasm");
    assert!(wasm.exists(), "{} is missing: run `make build`", wasm.display());
    let mut command = Command::new(env!("CARGO_BIN_EXE_spin-host"));
    command
        .arg("--manifest")
        .arg(root().join("spin.toml"))
        .arg("--wasm")
        .arg(wasm)
        .args(["--redis", redis])
        .env_clear()
        .envs(variables.iter().cloned());
    standins::process::serve(command)
}

fn post(replica: &Served, token: &str, body: &str) -> Answer {
    let bearer = format!("Bearer {token}");
    let headers = [("content-type", "application/json"), ("authorization", bearer.as_str())];
    send(&replica.authority, "POST", "/token", &headers, body.as_bytes()).expect("an answer")
}

/// What the stand-ins have seen so far: issuer fetches, KMS signatures,
/// installation lookups, mints.
fn upstream(world: &World) -> [usize; 4] {
    let seen = world.github.seen();
    let lookups = seen.iter().filter(|s| s.path.ends_with("/installation")).count();
    let mints = seen.iter().filter(|s| s.path.ends_with("/access_tokens")).count();
    [world.oidc.server().requests(), world.kms.signatures(), lookups, mints]
}

fn difference(after: [usize; 4], before: [usize; 4]) -> [usize; 4] {
    [0, 1, 2, 3].map(|i| after[i] - before[i])
}

/// The audit lines a replica wrote so far.
fn audit_lines(replica: &Served) -> Vec<Value> {
    let log = replica.log.lock().unwrap();
    log.iter().filter_map(|line| serde_json::from_str::<Value>(&line[line.find('{')?..]).ok()).collect()
}

/// The last audit line, waiting a moment for stderr.
fn last_audit(replica: &Served, count: usize) -> Value {
    for _ in 0..100 {
        if let Some(line) = audit_lines(replica).get(count - 1) {
            return line.clone();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no audit line {count}");
}

#[test]
fn a_second_replica_sharing_the_store_neither_fetches_nor_signs() {
    let (world, redis) = (World::start(""), Redis::start());
    let variables = variables(&world, &[]);
    let (a, b) = (replica(&variables, &redis.url), replica(&variables, &redis.url));
    let caller = world.oidc.id_token(AUDIENCE);

    let before = upstream(&world);
    let answer = post(&a, &caller, r#"{"repositories": ["widgets"]}"#);
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(
        difference(upstream(&world), before),
        [2, 1, 1, 1],
        "A: discovery and keys, a signature, a lookup, a mint"
    );
    assert_eq!(
        last_audit(&a, 1)["cache"],
        json!({"keys": "miss", "app_jwt": "miss", "installation": "miss"})
    );

    let before = upstream(&world);
    let answer = post(&b, &caller, r#"{"repositories": ["docs"]}"#);
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(difference(upstream(&world), before), [0, 0, 0, 1], "B: one mint, nothing else");
    assert_eq!(last_audit(&b, 1)["cache"], json!({"keys": "hit", "app_jwt": "hit", "installation": "hit"}));
    assert_eq!(world.github.issued()[1].repositories, ["docs"], "B mints exactly its grant");

    // The store holds nothing readable: every entry is sealed.
    let mut redis_cli = redis::Client::open(redis.url.as_str()).unwrap().get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut redis_cli).unwrap();
    assert!(keys.len() >= 3, "{keys:?}");
    for key in keys {
        let value: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut redis_cli).unwrap();
        let text = String::from_utf8_lossy(&value);
        assert!(!text.contains("eyJ") && !text.contains("ghs_") && !text.contains("1001"), "{key}: {text}");
        for secret in world.secrets() {
            assert_eq!(standins::leaked(&secret, &text), None, "{key}");
        }
    }
}

/// With tokens cached, a second caller of the same grant on the other
/// replica costs nothing upstream, and gets the same token.
#[test]
fn with_tokens_cached_a_warm_request_costs_nothing_upstream() {
    let (world, redis) = (World::start(""), Redis::start());
    let variables = variables(&world, &[("CACHE_TOKENS", "true")]);
    let (a, b) = (replica(&variables, &redis.url), replica(&variables, &redis.url));
    let caller = world.oidc.id_token(AUDIENCE);
    let first = post(&a, &caller, "{}");
    let before = upstream(&world);
    let second = post(&b, &caller, "{}");
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(difference(upstream(&world), before), [0, 0, 0, 0]);
    assert_eq!(first.json()["token"], second.json()["token"], "one token for one grant");
    assert_eq!(last_audit(&b, 1)["cache"]["token"], "hit");
}

/// A store that cannot be reached is no cache, never an error: every
/// request pays for everything, and is answered; the audit line shows each
/// lookup missed.
#[test]
fn a_store_that_fails_means_no_cache() {
    let world = World::start("");
    let gone = format!("redis://127.0.0.1:{}/", free_port());
    let a = replica(&variables(&world, &[]), &gone);
    let caller = world.oidc.id_token(AUDIENCE);
    for request in 1..=2 {
        let before = upstream(&world);
        let answer = post(&a, &caller, "{}");
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        assert_eq!(difference(upstream(&world), before), [2, 1, 1, 1]);
        // The cache was consulted (a cache key is set) and missed each time.
        let cache = &last_audit(&a, request)["cache"];
        for entry in ["keys", "app_jwt", "installation"] {
            assert_eq!(cache[entry], "miss", "{cache}");
        }
    }
}

/// Without a cache key nothing secret is cached, and the shared store is
/// not used at all (no entry could be told from a planted one).
#[test]
fn without_a_cache_key_the_shared_store_is_not_used() {
    let (world, redis) = (World::start(""), Redis::start());
    let variables: Vec<(String, String)> =
        variables(&world, &[]).into_iter().filter(|(k, _)| k != "SPIN_VARIABLE_CACHE_KEY").collect();
    let a = replica(&variables, &redis.url);
    let caller = world.oidc.id_token(AUDIENCE);
    for _ in 0..2 {
        let before = upstream(&world);
        assert_eq!(post(&a, &caller, "{}").status, 200);
        assert_eq!(difference(upstream(&world), before), [2, 1, 1, 1]);
    }
    let mut redis_cli = redis::Client::open(redis.url.as_str()).unwrap().get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut redis_cli).unwrap();
    assert_eq!(keys, Vec::<String>::new());
}
