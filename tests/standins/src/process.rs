//! Processes the tests start: killed when dropped, their address read from
//! their log.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A child process that is killed (and reaped) when dropped.
pub struct Owned(pub Child);

impl Drop for Owned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child in a process group of its own, every process of which is killed
/// (and the child reaped) when dropped: for programs that hand the work to
/// children of their own, as `jco serve` runs `node`.
#[cfg(unix)]
pub struct Group(Child);

#[cfg(unix)]
impl Group {
    /// Spawns `command` as the leader of a new process group.
    pub fn spawn(command: &mut Command) -> std::io::Result<Group> {
        use std::os::unix::process::CommandExt;
        command.process_group(0).spawn().map(Group)
    }
}

#[cfg(unix)]
impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

/// A server process and what it logged.
pub struct Served {
    /// The process.
    pub process: Owned,
    /// `127.0.0.1:PORT`, as it reported.
    pub authority: String,
    /// Every line of its stderr so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

/// Starts `command` with stderr piped, and waits (up to two minutes) for a
/// line `Serving HTTP on http://ADDRESS/`, as `wasmtime serve` and the host
/// example print.
pub fn serve(mut command: Command) -> Served {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("the server starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let log = Arc::new(Mutex::new(Vec::new()));
    let lines = log.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("Serving HTTP on http://") {
                let _ = tx.send(rest.trim_end_matches('/').to_owned());
            }
            lines.lock().unwrap().push(line);
        }
    });
    let process = Owned(child);
    let authority = rx.recv_timeout(Duration::from_secs(120)).expect("the server reports its address");
    Served { process, authority, log }
}

/// `wasmtime` (from `WASMTIME`, else the `PATH`; `make tools` installs it)
/// with `subcommand` and `env` handed to the component; the caller adds
/// options, the component and its arguments.
pub fn wasmtime(subcommand: &str, env: &[(String, String)]) -> Command {
    let mut command = Command::new(crate::tool("wasmtime", Some("WASMTIME"), "tools"));
    command.arg(subcommand);
    for (name, value) in env {
        command.arg("--env").arg(format!("{name}={value}"));
    }
    command
}

/// `wasmtime serve -S cli` of `wasm` on a port the OS picks, with `env`.
pub fn wasmtime_serve(wasm: &Path, env: &[(String, String)]) -> Served {
    let mut command = wasmtime("serve", env);
    command.args(["-S", "cli", "--addr", "127.0.0.1:0"]).arg(wasm);
    serve(command)
}

/// A free loopback port, picked by the OS (its listener is closed at once),
/// for a server started with a `--port` option.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits (up to 60 s) until `program` takes connections on loopback `port`.
pub fn listening(program: &str, port: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "{program} did not listen on port {port} within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `redis-server` (Debian's, `make tools`) on a loopback port the OS picked,
/// keeping nothing on disk: a real key-value store for the Spin build's
/// caches. Stops when dropped; `url` is `redis://127.0.0.1:PORT/`.
pub struct Redis {
    _process: Owned,
    /// Where it listens.
    pub url: String,
}

impl Redis {
    /// Starts it and waits until it takes connections.
    pub fn start() -> Redis {
        let port = free_port();
        let program = crate::tool("redis-server", Some("REDIS_SERVER"), "tools");
        let process = Owned(
            Command::new(program)
                .args([
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server starts"),
        );
        listening("redis-server", port);
        Redis { _process: process, url: format!("redis://127.0.0.1:{port}/") }
    }
}

/// tinyproxy (Debian's, `make tools`): a real forward proxy on a loopback
/// port the OS picked, logging every request it forwards, asking for
/// `user:password` when given. Stops when dropped (or with [`Proxy::stop`]).
pub struct Proxy {
    process: Option<Owned>,
    /// `http://127.0.0.1:PORT`, without credentials.
    pub url: String,
    log: std::path::PathBuf,
}

impl Proxy {
    /// Starts it, with `credentials` (`user:password`) if given.
    pub fn start(credentials: Option<&str>) -> Proxy {
        let port = free_port();
        let dir = crate::temp_dir("gakt-proxy");
        let log = dir.join("tinyproxy.log");
        let auth = credentials
            .and_then(|c| c.split_once(':'))
            .map_or(String::new(), |(user, password)| format!("BasicAuth {user} {password}\n"));
        let config = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogLevel Info\nLogFile \"{}\"\nMaxClients 50\n\
             Allow 127.0.0.1\nDisableViaHeader Yes\n{auth}",
            log.display()
        );
        std::fs::write(dir.join("tinyproxy.conf"), config).unwrap();
        let program = crate::tool("tinyproxy", Some("TINYPROXY"), "tools");
        let process = Owned(
            Command::new(program)
                .arg("-d")
                .arg("-c")
                .arg(dir.join("tinyproxy.conf"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("tinyproxy starts"),
        );
        listening("tinyproxy", port);
        Proxy { process: Some(process), url: format!("http://127.0.0.1:{port}"), log }
    }

    /// The requests it forwarded so far, one a line as it logged them
    /// (`GET http://HOST:PORT/PATH`, or `CONNECT HOST:PORT`).
    pub fn requests(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|line| line.split_once("Request (file descriptor ").map(|(_, rest)| rest))
            .filter_map(|rest| rest.split_once("): ").map(|(_, request)| request.trim().to_owned()))
            .collect()
    }

    /// Stops it: what it proxied is still in [`Proxy::requests`].
    pub fn stop(&mut self) {
        self.process = None;
    }
}
