//! Fixtures for the package suite: a real OCI registry (Debian's `docker-registry`, the
//! CNCF distribution registry) on a free loopback port, with or without htpasswd auth;
//! publishers with ECDSA P-256 keys; and publishing a guest the way `switchyard plugin pack |
//! sign | push` does.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use switchyard::cli::package::{self as pkg, PACK_TAG, PackOptions};
use switchyard::config::PackageLimits;
use switchyard::package::layout::PackageBlobs;
use switchyard::package::registry::parse_reference;
use switchyard::package::sign::{self, SignatureEntry};
use switchyard::package::store::Layout;

/// The user and password of every auth-enabled test registry.
pub const USER: &str = "switchyard";
pub const PASSWORD: &str = "registry-test-password";

/// The docker-style credentials file every test's registry client reads
/// (`SWITCHYARD_REGISTRY_AUTH_FILE`): set once for the whole test binary, its content
/// rewritten per registry, so no test changes the environment while another reads it.
fn auth_file() -> &'static Path {
    static INIT: Once = Once::new();
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let path = PATH.get_or_init(|| std::env::temp_dir().join(format!("switchyard-auth-{}.json", std::process::id())));
    INIT.call_once(|| {
        std::fs::write(path, r#"{"auths": {}}"#).unwrap();
        // SAFETY: set once, before any registry client of this process reads it (every test
        // reaches a registry only through `Registry::start`, which calls this first).
        unsafe { std::env::set_var("SWITCHYARD_REGISTRY_AUTH_FILE", path) };
    });
    path
}

static AUTH_LOCK: Mutex<()> = Mutex::new(());

/// Records `user:password` for `host` in the credentials file.
pub fn set_credentials(host: &str, user: &str, password: &str) {
    use base64::Engine as _;
    let _guard = AUTH_LOCK.lock().unwrap();
    let path = auth_file();
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    config["auths"][host] = serde_json::json!({ "auth": auth });
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, config.to_string()).unwrap();
    std::fs::rename(tmp, path).unwrap();
}

/// A running registry; stopped when dropped.
pub struct Registry {
    pub addr: SocketAddr,
    pub storage: PathBuf,
    config: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry on a free loopback port; with `auth`, it wants [`USER`]/[`PASSWORD`]
    /// (bcrypt htpasswd), which the credentials file then holds.
    pub fn start(auth: bool) -> Registry {
        auth_file();
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        let port = crate::proxy::closed_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            storage.display()
        );
        if auth {
            let htpasswd = dir.path().join("htpasswd");
            let out =
                Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]).output().expect("htpasswd (apache2-utils)");
            assert!(out.status.success(), "htpasswd: {}", String::from_utf8_lossy(&out.stderr));
            std::fs::write(&htpasswd, out.stdout).unwrap();
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: switchyard-test\n    path: {}\n",
                htpasswd.display()
            ));
            set_credentials(&addr.to_string(), USER, PASSWORD);
        }
        let config = dir.path().join("config.yml");
        std::fs::write(&config, yaml).unwrap();
        let mut registry = Registry { addr, storage, config, child: None, _dir: dir };
        registry.resume();
        registry
    }

    /// `HOST:PORT/repo:tag` on this registry, with the `oci://` scheme.
    pub fn source(&self, repo_tag: &str) -> String {
        format!("oci://{}/{repo_tag}", self.addr)
    }

    /// Stops the registry process (its storage stays): an outage.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and storage.
    pub fn resume(&mut self) {
        assert!(self.child.is_none());
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (apt-get install docker-registry)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(self.addr).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start on {}", self.addr);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Overwrites the stored bytes of blob `digest`: what a compromised registry serves.
    pub fn tamper_blob(&self, digest: &str) {
        let hex = digest.strip_prefix("sha256:").unwrap();
        let path = self.storage.join(format!("docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]));
        let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A signing key pair in a temporary directory.
pub struct Publisher {
    pub name: String,
    pub key: PathBuf,
    pub public: PathBuf,
    _dir: tempfile::TempDir,
}

impl Publisher {
    /// A key pair made by `switchyard plugin keygen`.
    pub fn new(name: &str) -> Publisher {
        let dir = tempfile::tempdir().unwrap();
        let (key, public, _) = pkg::keygen(&dir.path().join(name)).unwrap();
        Publisher { name: name.to_string(), key, public, _dir: dir }
    }

    /// A key pair made by openssl (SEC1 private key, SPKI public key): a tool we did not write.
    pub fn openssl(name: &str) -> Publisher {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join(format!("{name}.pem"));
        let public = dir.path().join(format!("{name}.pub"));
        run("openssl", &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key.to_str().unwrap()]);
        run("openssl", &["ec", "-in", key.to_str().unwrap(), "-pubout", "-out", public.to_str().unwrap()]);
        Publisher { name: name.to_string(), key, public, _dir: dir }
    }

    /// The `[trust.publishers.NAME]` table trusting this key for `names`.
    pub fn trust_table(&self, names: &[&str], extra: &str) -> String {
        format!(
            "[trust.publishers.{}]\nkey = {:?}\nnames = {:?}\nmax_deadline_ms = 2000\n{extra}\n",
            self.name,
            self.public.display().to_string(),
            names
        )
    }
}

fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A package directory built from `component` (as `switchyard plugin pack` does).
pub struct Package {
    pub dir: tempfile::TempDir,
    pub digest: String,
}

impl Package {
    /// Packs `component` as `name` `version`, asking for `limits`.
    pub fn pack(component: &str, name: &str, version: &str, limits: PackageLimits) -> Package {
        Self::pack_with(component, PackOptions { limits, ..options(name, version) })
    }

    pub fn pack_with(component: &str, options: PackOptions) -> Package {
        let dir = tempfile::tempdir().unwrap();
        let digest = pkg::pack(Path::new(component), &options, dir.path()).unwrap();
        Package { dir, digest }
    }

    /// A package whose Switchyard manifest is `edit`ed after packing, bypassing `pack`'s
    /// own checks: how a lying manifest is made.
    pub fn pack_lying(
        component: &str,
        name: &str,
        version: &str,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> Package {
        let honest = Self::pack(component, name, version, PackageLimits::default());
        let layout = Layout::existing(honest.dir.path()).unwrap();
        let image = layout.get(&honest.digest, 1 << 16).unwrap();
        let parts = switchyard::package::layout::parts(&image).unwrap();
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&layout.get(&parts.manifest.digest, 1 << 16).unwrap()).unwrap();
        edit(&mut manifest);
        let manifest: switchyard::package::PackageManifest = serde_json::from_value(manifest).unwrap();
        let wasm = std::fs::read(component).unwrap();
        let facts = switchyard::package::wasm::inspect(&wasm, &Default::default()).unwrap();
        let blobs = PackageBlobs::pack(wasm, &manifest, &facts);
        let dir = tempfile::tempdir().unwrap();
        let out = Layout::open(dir.path()).unwrap();
        for blob in [&blobs.config, &blobs.wasm, &blobs.switchyard_manifest, &blobs.manifest] {
            out.put(blob).unwrap();
        }
        out.tag(PACK_TAG, &blobs.digest(), blobs.manifest.len()).unwrap();
        Package { dir, digest: blobs.digest() }
    }

    /// Signs it with `publisher`'s key (naming the key).
    pub fn sign(self, publisher: &Publisher) -> Package {
        pkg::sign(self.dir.path(), &publisher.key, "test/identity", true).unwrap();
        self
    }

    /// Signs it with `openssl dgst -sha256 -sign` over the simple-signing payload, naming no key.
    pub fn sign_with_openssl(self, publisher: &Publisher) -> Package {
        use base64::Engine as _;
        let payload = sign::payload("test/identity", &self.digest);
        let payload_file = self.dir.path().join("payload.json");
        std::fs::write(&payload_file, &payload).unwrap();
        let der = run(
            "openssl",
            &["dgst", "-sha256", "-sign", publisher.key.to_str().unwrap(), payload_file.to_str().unwrap()],
        );
        let signature = base64::engine::general_purpose::STANDARD.encode(der);
        self.add_signature(SignatureEntry { payload, signature: Some(signature), key_id: None })
    }

    /// Adds a raw signature entry (made by hand: empty, over another digest, …).
    pub fn add_signature(self, entry: SignatureEntry) -> Package {
        let layout = Layout::existing(self.dir.path()).unwrap();
        pkg::add_signature(&layout, &self.digest, entry).unwrap();
        self
    }

    /// Pushes it (and its signatures) to `source` (`oci://…`).
    pub async fn push(&self, source: &str) {
        let reference = parse_reference(source.strip_prefix("oci://").unwrap()).unwrap();
        pkg::push(self.dir.path(), &reference).await.unwrap_or_else(|e| panic!("push {source}: {e}"));
    }

    /// The component layer's digest.
    pub fn wasm_digest(&self) -> String {
        let layout = Layout::existing(self.dir.path()).unwrap();
        let image = layout.get(&self.digest, 1 << 16).unwrap();
        switchyard::package::layout::parts(&image).unwrap().wasm.digest
    }
}

/// Pack options for `name` `version`.
pub fn options(name: &str, version: &str) -> PackOptions {
    PackOptions {
        name: name.to_string(),
        version: version.to_string(),
        description: "a test package".into(),
        license: "Apache-2.0".into(),
        source_url: "https://example.invalid/src".into(),
        ..Default::default()
    }
}
