//! A farm's credentials and server configuration (`stateless farm init`), and a local
//! `nats-server` for tests and benchmarks.
//!
//! Each role has an NKey: the server knows only the public keys, a client proves it holds the
//! seed by signing the server's nonce, so no secret crosses the network. The coordinator may
//! publish jobs and use the JetStream API; a worker may only read its jobs, ack them and
//! publish proofs; a client without a key is refused.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::files::{FileError, write_atomic};

use super::JOBS_STREAM;

/// The file of the coordinator's NKey seed in a farm directory.
pub const COORDINATOR_CREDENTIALS: &str = "coordinator.nk";
/// The file of the workers' NKey seed in a farm directory.
pub const WORKER_CREDENTIALS: &str = "worker.nk";
/// The server configuration in a farm directory.
pub const SERVER_CONFIG: &str = "nats.conf";

/// The public keys of a farm's two roles.
#[derive(Clone, Debug)]
pub struct FarmKeys {
    /// The coordinator's public NKey.
    pub coordinator: String,
    /// The workers' public NKey.
    pub worker: String,
}

/// Writes a new farm's credentials into `dir` (`coordinator.nk`, `worker.nk`, each an NKey
/// seed, readable by the owner only) and a `nats.conf` that listens on `listen`, keeps
/// JetStream's files in `store_dir` and admits the two keys with their permissions. Returns
/// the public keys.
pub fn init_farm(dir: &Path, listen: &str, store_dir: &Path) -> Result<FarmKeys, FileError> {
    let coordinator = nkeys::KeyPair::new_user();
    let worker = nkeys::KeyPair::new_user();
    for (file, pair) in [
        (COORDINATOR_CREDENTIALS, &coordinator),
        (WORKER_CREDENTIALS, &worker),
    ] {
        let seed = pair.seed().unwrap_or_default();
        let path = dir.join(file);
        write_atomic(&path, format!("{seed}\n").as_bytes())?;
        restrict(&path)?;
    }
    let keys = FarmKeys {
        coordinator: coordinator.public_key(),
        worker: worker.public_key(),
    };
    write_atomic(
        &dir.join(SERVER_CONFIG),
        server_config(&keys, listen, store_dir).as_bytes(),
    )?;
    Ok(keys)
}

/// Makes `path` readable by its owner only (a seed is a secret).
fn restrict(path: &Path) -> Result<(), FileError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        FileError::Io {
            what: "restricting",
            path: path.to_path_buf(),
            source,
        }
    })
}

/// A `nats-server` configuration for a farm: JetStream with file storage in `store_dir`,
/// listening on `listen`, admitting exactly `keys` with each role's permissions.
pub fn server_config(keys: &FarmKeys, listen: &str, store_dir: &Path) -> String {
    let store = store_dir.display();
    let (coordinator, worker) = (&keys.coordinator, &keys.worker);
    format!(
        r#"# A proving farm's server (docs/FARM.md), written by `stateless farm init`.
listen: "{listen}"
# A job carries a blob with its Merkle witness.
max_payload: 8MB
jetstream {{
  store_dir: "{store}"
}}
authorization {{
  users: [
    # The coordinator (`stateless prove --farm`): publishes jobs, manages the streams, reads
    # proofs and the delivery advisories.
    {{
      nkey: "{coordinator}"
      permissions: {{
        publish: {{ allow: ["stateless.jobs.>", "$JS.API.>"] }}
        subscribe: {{ allow: ["_INBOX.>", "$JS.EVENT.ADVISORY.>"] }}
      }}
    }}
    # Workers (`stateless worker`): read and ack jobs, publish proofs; nothing else.
    {{
      nkey: "{worker}"
      permissions: {{
        publish: {{ allow: [
          "stateless.results.>",
          "$JS.API.INFO",
          "$JS.API.STREAM.INFO.{JOBS_STREAM}",
          "$JS.API.CONSUMER.INFO.{JOBS_STREAM}.>",
          "$JS.API.CONSUMER.MSG.NEXT.{JOBS_STREAM}.>",
          "$JS.ACK.{JOBS_STREAM}.>"
        ] }}
        subscribe: {{ allow: ["_INBOX.>"] }}
      }}
    }}
  ]
}}
"#
    )
}

/// A `nats-server` of its own on 127.0.0.1 (a free port), with a farm's credentials and
/// JetStream files in a directory: for tests and benchmarks. Killed when dropped.
pub struct LocalNats {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

/// The `nats-server` program: `$NATS_SERVER`, or `nats-server` on the `PATH`.
pub fn nats_server_program() -> PathBuf {
    std::env::var_os("NATS_SERVER").map_or_else(|| PathBuf::from("nats-server"), PathBuf::from)
}

/// Whether `nats-server` can be run here.
pub fn nats_server_available() -> bool {
    Command::new(nats_server_program())
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl LocalNats {
    /// Initializes a farm in `dir` listening on a free port and starts its server.
    pub fn start(dir: &Path) -> std::io::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        init_farm(dir, &format!("127.0.0.1:{port}"), &dir.join("jetstream"))
            .map_err(std::io::Error::other)?;
        let mut server = Self {
            dir: dir.to_path_buf(),
            port,
            child: None,
        };
        server.run()?;
        Ok(server)
    }

    fn run(&mut self) -> std::io::Result<()> {
        let log = std::fs::File::create(self.dir.join("nats.log"))?;
        let child = Command::new(nats_server_program())
            .arg("-c")
            .arg(self.dir.join(SERVER_CONFIG))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if started.elapsed() > Duration::from_secs(20) {
                return Err(std::io::Error::other(format!(
                    "nats-server did not listen on port {} (see {})",
                    self.port,
                    self.dir.join("nats.log").display()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The server's address.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The coordinator's credentials file.
    pub fn coordinator_credentials(&self) -> PathBuf {
        self.dir.join(COORDINATOR_CREDENTIALS)
    }

    /// The workers' credentials file.
    pub fn worker_credentials(&self) -> PathBuf {
        self.dir.join(WORKER_CREDENTIALS)
    }

    /// Kills the server (SIGKILL: what it wrote is in its files, unsynced or not).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// Starts the server again on the same port, with the same files.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.kill();
        self.run()
    }
}

impl Drop for LocalNats {
    fn drop(&mut self) {
        self.kill();
    }
}
