//! Local stand-ins of AWS KMS, Google Cloud KMS, Azure Key Vault, Vault and the
//! GitHub API, for tests and `make demo`.
//!
//! They check what the real services check: the KMS stand-in verifies every
//! SigV4 signature with the known secret and signs with a real RSA key; the
//! GitHub stand-in verifies the App JWT with that key's public half. Both
//! listen on 127.0.0.1 on ports the OS picks, and stop when dropped.

pub mod azure;
pub mod client;
pub mod github;
pub mod google;
pub mod keystore;
pub mod kms;
pub mod oidc;
pub mod process;
pub mod runner;
pub mod server;
pub mod sigv4;
pub mod sts;
pub mod time;
pub mod vault;
pub mod world;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use rand::RngCore;
use rsa::RsaPrivateKey;

/// An external program a test starts: from `env_var` when that is set (a
/// path, or a name looked up on the `PATH`), else `name` (a path, or a name
/// looked up on the `PATH`). Where it is missing, panics with one line
/// naming the make target that installs it, e.g.
/// ``wasmtime is missing: run `make tools` (or set WASMTIME)``.
pub fn tool(name: &str, env_var: Option<&str>, make_target: &str) -> PathBuf {
    let set = env_var.and_then(|var| Some((var, std::env::var_os(var).filter(|v| !v.is_empty())?)));
    let wanted = set.as_ref().map_or(OsStr::new(name), |(_, value)| value.as_os_str());
    if let Some(found) = find_program(wanted) {
        return found;
    }
    let program = Path::new(name).file_name().map_or(name.into(), |n| n.to_string_lossy());
    match (env_var, set) {
        (_, Some((var, value))) => panic!(
            "{program} is missing: {var}={} is not a program (run `make {make_target}`, or set {var} to one)",
            value.to_string_lossy()
        ),
        (Some(var), None) => panic!("{program} is missing: run `make {make_target}` (or set {var})"),
        (None, None) => panic!("{program} is missing: run `make {make_target}`"),
    }
}

/// `program` if it is a path to a file, else the first file of that name
/// in a folder of the `PATH` (with the `PATHEXT` extensions on Windows).
fn find_program(program: &OsStr) -> Option<PathBuf> {
    let path = Path::new(program);
    if path.components().count() > 1 {
        return is_program(path).then(|| path.to_owned());
    }
    let extensions: Vec<String> = if cfg!(windows) {
        let pathext = std::env::var("PATHEXT").unwrap_or_else(|_| ".EXE;.CMD;.BAT;.COM".into());
        std::iter::once(String::new()).chain(pathext.split(';').map(str::to_owned)).collect()
    } else {
        vec![String::new()]
    };
    let folders = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&folders).find_map(|folder| {
        extensions.iter().find_map(|ext| {
            let mut file = folder.join(program).into_os_string();
            file.push(ext);
            let file = PathBuf::from(file);
            is_program(&file).then_some(file)
        })
    })
}

/// A file this process may execute.
fn is_program(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

/// The SHA-256 of `data`, hex-encoded.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha256(data))
}

/// A new folder under the system's temporary folder, named `prefix-` and
/// random hex.
pub fn temp_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", random_hex(6)));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

/// `n` random bytes, hex-encoded.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A failure to inject: on every matching request, or on the next few only.
pub struct Injected<F>(Mutex<Option<(F, Option<usize>)>>);

impl<F: Clone> Default for Injected<F> {
    fn default() -> Self {
        Injected(Mutex::new(None))
    }
}

impl<F: Clone> Injected<F> {
    /// Fails every matching request from now on (`None` heals).
    pub fn set(&self, fault: Option<F>) {
        *self.0.lock().unwrap() = fault.map(|f| (f, None));
    }

    /// Fails the next `times` matching requests, then heals.
    pub fn set_times(&self, fault: F, times: usize) {
        *self.0.lock().unwrap() = (times > 0).then_some((fault, Some(times)));
    }

    /// The fault for a request, if it `applies`; counts it.
    pub fn take(&self, applies: impl Fn(&F) -> bool) -> Option<F> {
        let mut slot = self.0.lock().unwrap();
        let (fault, left) = slot.as_mut().filter(|(f, _)| applies(f))?;
        let fault = fault.clone();
        if let Some(left) = left {
            *left -= 1;
            if *left == 0 {
                *slot = None;
            }
        }
        Some(fault)
    }
}

static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records a secret the stand-ins handed out or saw (credentials, JWTs, the
/// signatures that end them, installation tokens), for leak checks.
pub fn remember(secret: &str) {
    SECRETS.lock().unwrap().push(secret.to_owned());
}

/// Every secret recorded so far in this process.
pub fn remembered() -> Vec<String> {
    SECRETS.lock().unwrap().clone()
}

/// The length of the pieces [`leaked`] looks for: a cut or a truncation
/// must not leave even part of a secret behind.
pub const LEAK_PIECE: usize = 16;

/// The first piece of `secret` that appears in `text`: any
/// [`LEAK_PIECE`]-character piece of it, or the whole of a shorter one.
pub fn leaked<'a>(secret: &'a str, text: &str) -> Option<&'a str> {
    let bytes = secret.len().min(LEAK_PIECE);
    (0..=secret.len() - bytes)
        .filter(|&at| secret.is_char_boundary(at) && secret.is_char_boundary(at + bytes))
        .map(|at| &secret[at..at + bytes])
        .find(|piece| text.contains(piece))
}

/// A fresh RSA-2048 key, generated once per process (generation takes a moment).
pub fn rsa_key() -> RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("RSA key generation")).clone()
}

/// Another fresh RSA-2048 key, once per process: the OIDC issuer's.
pub fn issuer_key() -> RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("RSA key generation")).clone()
}

/// The `rsa` crate the stand-ins use, for tests that handle keys themselves.
pub use rsa;

#[cfg(test)]
mod tests {
    use super::*;

    /// What `tool` panics with.
    fn missing(name: &str, env_var: Option<&str>, make_target: &str) -> String {
        let panic = std::panic::catch_unwind(|| tool(name, env_var, make_target)).expect_err("a panic");
        panic.downcast_ref::<String>().cloned().expect("a message")
    }

    #[test]
    fn a_missing_tool_is_one_line_naming_its_make_target() {
        assert_eq!(
            missing("gakt-no-such-program", Some("GAKT_NO_SUCH_VARIABLE"), "tools"),
            "gakt-no-such-program is missing: run `make tools` (or set GAKT_NO_SUCH_VARIABLE)"
        );
        assert_eq!(
            missing("/nowhere/bin/jco", None, "build-tools"),
            "jco is missing: run `make build-tools`"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_tool_is_found_on_the_path_or_where_it_is_named() {
        let sh = tool("sh", Some("GAKT_NO_SUCH_VARIABLE"), "tools");
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
        assert_eq!(tool(sh.to_str().unwrap(), None, "tools"), sh);
    }
}
