//! One token per key store, side by side: the component embedded (an
//! instance per token from an `InstancePre`, as variant 3b), static
//! credentials, against each store's stand-in on loopback. What differs is
//! the store's requests: AWS KMS signs in one; Google Cloud KMS and Vault
//! read the key's public half first (one more); Azure also asks Entra ID for
//! an access token (two more). Round-robin, as the variants.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use standins::vault::Policy;
use standins::world::World;
use wasmtime_host::{Host, Installation};

use crate::stats::{Summary, ms, thread_cpu};
use crate::variants::token_request;

/// One store's figures.
pub struct Row {
    /// The store, as the key reference's scheme names it.
    pub store: &'static str,
    /// Requests to the store (and its identity service) per token.
    pub requests: f64,
    /// Wall time per token.
    pub wall: Summary,
    /// CPU of the calling thread per token.
    pub cpu: Summary,
}

/// A store: its scheme, the environment that points at it, and its
/// stand-in's request count.
type Store<'a> = (&'static str, Vec<(String, String)>, Box<dyn Fn() -> usize + 'a>);

/// Mints `runs` tokens (after `warm_up`) with each store.
pub fn run(world: &World, host: &Host, runs: usize, warm_up: usize) -> Vec<Row> {
    let google = world.google();
    let azure = world.azure();
    let vault = world.vault(None);
    let vault_token = vault.token(Policy { read: true, sign: true });
    let stores: Vec<Store<'_>> = vec![
        ("awskms", world.env(), Box::new(|| world.kms.server().requests())),
        ("gcpkms", world.google_env(&google, &google.token()), Box::new(|| google.server().requests())),
        ("azurekms", world.azure_env(&azure), Box::new(|| azure.server().requests())),
        ("hashivault", world.vault_env(&vault, None, &vault_token), Box::new(|| vault.server().requests())),
    ];
    let request = token_request(Installation::Id(1001));
    let mint = |env: &[(String, String)]| {
        let started = Instant::now();
        let mut instance = host.instance(env).expect("instantiates");
        let cpu = thread_cpu();
        instance.get_installation_token(&request).expect("no trap").expect("a token");
        (started.elapsed(), thread_cpu().saturating_sub(cpu))
    };
    for (_, env, _) in &stores {
        for _ in 0..warm_up {
            mint(env);
        }
    }
    let before: Vec<usize> = stores.iter().map(|(_, _, requests)| requests()).collect();
    let mut samples: Vec<(Vec<Duration>, Vec<Duration>)> = vec![Default::default(); stores.len()];
    for _ in 0..runs {
        for ((_, env, _), (wall, cpu)) in stores.iter().zip(&mut samples) {
            let (w, c) = mint(env);
            wall.push(w);
            cpu.push(c);
        }
    }
    stores
        .iter()
        .zip(before)
        .zip(samples)
        .map(|(((store, _, requests), before), (wall, cpu))| Row {
            store,
            requests: (requests() - before) as f64 / runs as f64,
            wall: Summary::of(&wall),
            cpu: Summary::of(&cpu),
        })
        .collect()
}

/// The table, with each store's difference from AWS KMS.
pub fn markdown(rows: &[Row], runs: usize) -> String {
    let aws = rows.iter().find(|r| r.store == "awskms").map_or(Duration::ZERO, |r| r.wall.median);
    let mut md = format!(
        "\n## Per key store ({runs} rounds; embedded, an instance per token; static credentials; stand-ins on loopback)\n\n\
         | store | requests to the store per token | median | p95 | CPU per token | median − AWS KMS's |\n|---|---|---|---|---|---|\n"
    );
    for row in rows {
        md.push_str(&format!(
            "| `{}` | {:.1} | {:.2} ms | {:.2} ms | {:.3} ms | {:+.2} ms |\n",
            row.store,
            row.requests,
            ms(row.wall.median),
            ms(row.wall.p95),
            ms(row.cpu.median),
            ms(row.wall.median) - ms(aws),
        ));
    }
    md
}

/// The rows as JSON.
pub fn json(rows: &[Row]) -> Value {
    rows.iter()
        .map(|row| {
            json!({"store": row.store, "requests_per_token": row.requests, "wall": row.wall.json(), "cpu": row.cpu.json()})
        })
        .collect()
}
