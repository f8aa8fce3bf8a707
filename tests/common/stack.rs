//! The deployed chain on loopback, as the end-to-end tests run it:
//! `hls-sign serve` (CloudFront, the template's CloudFront Function, the
//! origin request policy) in front of the real `hls-edge-signer` bootstrap
//! under a local Lambda runtime (`cargo lambda watch --only-lambda-apis`,
//! which serves function URLs). The bootstrap fetches playlists back through
//! the emulator, signed, as deployed.
//!
//! Tools that are missing make the caller skip (with a note), unless
//! `HLS_REQUIRE_E2E` is set (CI), where they are failures.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::emulator::EmulatorProcess;

/// Whether `tool --version` (or `probe`) runs; a note and `false` when not,
/// or a panic when CI requires every tool.
pub fn have(tool: &str, probe: &[&str]) -> bool {
    let ok = Command::new(tool)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("HLS_REQUIRE_E2E").is_none(),
            "{tool} is required here"
        );
        println!("skipped: {tool} not installed");
    }
    ok
}

/// Whether headless Chromium can play here: node, Chromium and the npm
/// packages of `tests/e2e` (a note and `false` when not, a panic under CI).
pub fn players_ready() -> bool {
    let e2e = repo().join("tests/e2e");
    if !have("node", &["--version"]) || !have("/usr/bin/chromium", &["--version"]) {
        return false;
    }
    if ["playwright-core", "hls.js", "dashjs", "shaka-player"]
        .iter()
        .any(|package| !e2e.join("node_modules").join(package).is_dir())
    {
        assert!(
            std::env::var_os("HLS_REQUIRE_E2E").is_none(),
            "npm packages missing: npm ci --prefix tests/e2e"
        );
        println!("skipped: npm ci --prefix tests/e2e has not been run");
        return false;
    }
    true
}

/// `CARGO_TARGET_TMPDIR/<dir>/private.pem`: a fresh RSA key for a stack.
pub fn key_file(dir: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("private.pem");
    std::fs::write(
        &key,
        super::generated_key(hls_edge_signer::KeyAlgorithm::Rsa2048)
            .0
            .as_bytes(),
    )
    .unwrap();
    key
}

/// Where the function runs behind the emulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The real bootstrap binary under `cargo lambda watch`.
    Bootstrap,
    /// The handler inside the emulator (same adapter, same event).
    InProcess,
    /// The Lambda@Edge viewer-request trigger, inside the emulator.
    ViewerRequest,
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A process killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The local Lambda runtime with the real bootstrap connected to it.
pub struct LocalLambda {
    pub port: u16,
    _watch: Killed,
    bootstrap: Option<Killed>,
}

impl LocalLambda {
    /// Starts `cargo lambda watch --only-lambda-apis` on a free port, or
    /// `None` (after a note) without cargo-lambda.
    pub fn start_runtime() -> Option<LocalLambda> {
        if !have("cargo-lambda", &["lambda", "--version"]) {
            return None;
        }
        let port = free_port();
        let mut child = Killed(
            Command::new("cargo-lambda")
                .args(["lambda", "watch", "--only-lambda-apis", "--disable-cors"])
                .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
                .arg(port.to_string())
                .current_dir(repo())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("start cargo lambda watch"),
        );
        // cargo-lambda logs to standard output.
        let stdout = child.0.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && line.contains("starting Runtime server") {
                    let _ = ready_tx.send(());
                    sent = true;
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("cargo lambda watch did not start within 60 s");
        Some(LocalLambda {
            port,
            _watch: child,
            bootstrap: None,
        })
    }

    /// Starts the bootstrap binary against this runtime with `env` (the
    /// function's `HLS_*` configuration).
    pub fn start_bootstrap(&mut self, env: &[(&str, String)]) {
        let child = Command::new(env!("CARGO_BIN_EXE_hls-edge-signer"))
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt", self.port),
            )
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(repo())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the bootstrap");
        self.bootstrap = Some(Killed(child));
    }

    /// The function URL base of the function under this runtime.
    pub fn function_url(&self) -> String {
        format!("http://127.0.0.1:{}/lambda-url/_", self.port)
    }

    /// `cargo lambda invoke --data-file FILE`: the response JSON.
    pub fn invoke(&self, event: &Path) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = Command::new("cargo-lambda")
                .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
                .args(["--invoke-port", &self.port.to_string()])
                .arg("--data-file")
                .arg(event)
                .arg("_")
                .current_dir(repo())
                .output()
                .expect("run cargo lambda invoke");
            if out.status.success() {
                return serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                    panic!(
                        "{}: not JSON ({e}): {}",
                        event.display(),
                        String::from_utf8_lossy(&out.stdout)
                    )
                });
            }
            assert!(
                Instant::now() < deadline,
                "cargo lambda invoke {}: {}",
                event.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The emulator and, for [`Backend::Bootstrap`], the real function behind it.
pub struct Stack {
    pub emulator: EmulatorProcess,
    pub backend: Backend,
    _lambda: Option<LocalLambda>,
}

impl Stack {
    /// Starts the chain with `key` (PEM file, key pair id `key_pair_id`)
    /// serving `events/origin`. `Backend::Bootstrap` falls back to the
    /// in-process function (with a note) where cargo-lambda is missing.
    pub fn start(backend: Backend, key: &Path, key_pair_id: &str) -> Stack {
        Self::start_with(backend, key, key_pair_id, &[], &[])
    }

    /// [`Stack::start`] with more emulator arguments (`--live-origin …`)
    /// and the function's configuration as `HLS_*` variables (given to the
    /// bootstrap, and to the emulator's own handler as a `--config` file).
    pub fn start_with(
        backend: Backend,
        key: &Path,
        key_pair_id: &str,
        extra: &[&str],
        function_env: &[(&str, u64)],
    ) -> Stack {
        let key_arg = key.to_str().unwrap();
        let config = key.with_extension("config.json");
        let fields: serde_json::Map<String, serde_json::Value> = function_env
            .iter()
            .map(|(name, value)| {
                let field = match *name {
                    "HLS_TTL" => "ttl_seconds",
                    "HLS_BUCKET" => "bucket_seconds",
                    other => panic!("no config field for {other}"),
                };
                (field.to_owned(), (*value).into())
            })
            .collect();
        std::fs::write(&config, serde_json::Value::Object(fields).to_string()).unwrap();
        let config_arg = config.to_str().unwrap().to_owned();
        let mut args = vec![
            "--origin",
            "events/origin",
            "--key",
            key_arg,
            "--key-pair-id",
            key_pair_id,
            "--config",
            &config_arg,
        ];
        args.extend(extra);
        match backend {
            Backend::ViewerRequest => {
                args.extend(["--trigger", "viewer-request"]);
                let emulator = EmulatorProcess::start(&repo(), &args);
                Stack {
                    emulator,
                    backend,
                    _lambda: None,
                }
            }
            Backend::InProcess => Stack {
                emulator: EmulatorProcess::start(&repo(), &args),
                backend,
                _lambda: None,
            },
            Backend::Bootstrap => {
                let Some(mut lambda) = LocalLambda::start_runtime() else {
                    println!("note: the function runs in the emulator's process instead");
                    return Stack::start_with(
                        Backend::InProcess,
                        key,
                        key_pair_id,
                        extra,
                        function_env,
                    );
                };
                let function_url = lambda.function_url();
                args.extend(["--function-url", &function_url]);
                let emulator = EmulatorProcess::start(&repo(), &args);
                let mut env = vec![
                    ("HLS_KEY_FILE", key_arg.to_owned()),
                    ("HLS_KEY_PAIR_ID", key_pair_id.to_owned()),
                    ("HLS_DISTRIBUTION_ENDPOINT", emulator.base.clone()),
                ];
                env.extend(function_env.iter().map(|(k, v)| (*k, v.to_string())));
                lambda.start_bootstrap(&env);
                Stack {
                    emulator,
                    backend,
                    _lambda: Some(lambda),
                }
            }
        }
    }
}
