//! TLS for the integration tests:
//!
//! - [`Certs`]: certificates made afresh for each test with the `openssl` command line, in
//!   a temp dir removed afterwards: a CA (ECDSA P-256), a server certificate for
//!   `localhost` and `127.0.0.1` signed by it (ECDSA P-256, key in PKCS#8), the same key
//!   in SEC1, a key that is not the certificate's, a malformed PEM file; more
//!   certificates on demand ([`Certs::issue`], RSA ones with their key in PKCS#1 too;
//!   [`Certs::issue_for`] other host names, [`Certs::issue_client`] client
//!   certificates, [`Certs::pkcs12`] a `.pfx` of a certificate).
//!   Without `openssl` the tests that need it skip, saying so.
//! - a rustls client ([`client_config`], [`Client::tls`], [`Server::connect_tls`]): the
//!   harness's [`Client`] over TLS, so every request and response helper works the same;
//!   reads stay bounded by the socket timeouts, and a `close_notify` is told apart from a
//!   bare close ([`Client::read_to_close_notify`]); [`client_config_with_cert`] presents a
//!   client certificate.
//! - [`s_client`]: `openssl s_client` run to its end with a request on its stdin.
//! - [`client_hello`]: a ClientHello record built by hand (a chosen legacy version, no
//!   TLS 1.3 extensions), to cut short, stall or refuse at the byte level.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, SupportedProtocolVersion};

use super::{wait_exit, Client, Finished, Server, Sock, TempDir};

/// What a test that needs `openssl` prints when it skips.
pub const NO_OPENSSL: &str =
    "the openssl command line is not installed (apt-get install openssl); TLS test skipped";

/// TLS 1.2 and 1.3, what the server accepts.
pub const ALL_VERSIONS: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
/// TLS 1.2 only.
pub const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
/// TLS 1.3 only.
pub const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// Whether `openssl version` runs (checked once).
pub fn openssl_available() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        Command::new("openssl")
            .arg("version")
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The key algorithm of a certificate made by [`Certs::issue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// ECDSA on P-256.
    EcP256,
    /// RSA, 2048 bits.
    Rsa2048,
}

/// A server certificate and its key.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// The chain file: the leaf, then the CA (PEM).
    pub cert: PathBuf,
    /// The private key, PKCS#8 (`BEGIN PRIVATE KEY`).
    pub key: PathBuf,
    /// The leaf certificate (DER), to compare with what a client was served.
    pub der: Vec<u8>,
}

/// Certificates for one test, in a temp dir removed on drop.
pub struct Certs {
    dir: TempDir,
    /// The CA certificate (PEM) clients trust.
    pub ca: PathBuf,
    ca_key: PathBuf,
    config: PathBuf,
    serial: AtomicU32,
    /// The server certificate: ECDSA P-256 for `localhost` and `127.0.0.1`, key PKCS#8.
    pub server: Leaf,
    /// The server's key in SEC1 (`BEGIN EC PRIVATE KEY`).
    pub key_sec1: PathBuf,
    /// A P-256 key (PKCS#8) that is not the server certificate's.
    pub other_key: PathBuf,
    /// A file that looks like PEM but whose contents are not DER in base64.
    pub malformed: PathBuf,
}

/// The `openssl req` / `x509` configuration: a CA, and server certificates that rustls'
/// verifier (webpki) accepts: v3, the names in subjectAltName, serverAuth.
const OPENSSL_CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

impl Certs {
    /// Make the CA, the server certificate and the key variants; `None` when `openssl` is
    /// not installed (the caller skips). Panics, with openssl's stderr, if a step fails.
    pub fn generate(tag: &str) -> Option<Certs> {
        if !openssl_available() {
            return None;
        }
        let dir = TempDir::new(&format!("tls-{tag}"));
        let config = dir.path().join("openssl.cnf");
        std::fs::write(&config, OPENSSL_CONFIG).unwrap();
        let ca_key = dir.path().join("ca.key");
        let ca = dir.path().join("ca.pem");
        gen_key(&ca_key, KeyType::EcP256);
        openssl(&[
            "req",
            "-config",
            &s(&config),
            "-x509",
            "-new",
            "-key",
            &s(&ca_key),
            "-subj",
            "/CN=Peregrine test CA",
            "-days",
            "2",
            "-extensions",
            "ca",
            "-out",
            &s(&ca),
        ]);
        let mut certs = Certs {
            ca,
            ca_key,
            config,
            serial: AtomicU32::new(1),
            server: Leaf {
                cert: PathBuf::new(),
                key: PathBuf::new(),
                der: Vec::new(),
            },
            key_sec1: dir.path().join("server-sec1.key"),
            other_key: dir.path().join("other.key"),
            malformed: dir.path().join("malformed.pem"),
            dir,
        };
        certs.server = certs.issue("server", KeyType::EcP256);
        openssl(&[
            "ec",
            "-in",
            &s(&certs.server.key),
            "-out",
            &s(&certs.key_sec1),
        ]);
        expect_pem_label(&certs.key_sec1, "EC PRIVATE KEY");
        gen_key(&certs.other_key, KeyType::EcP256);
        std::fs::write(
            &certs.malformed,
            "-----BEGIN CERTIFICATE-----\nThis is not base64 DER!\n-----END CERTIFICATE-----\n\
             -----BEGIN PRIVATE KEY-----\nNor this.\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        Some(certs)
    }

    /// The temp dir the files are in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A new server certificate for `localhost` and `127.0.0.1` signed by the CA, with a
    /// key of its own (`name.pem` with the chain, `name.key` in PKCS#8).
    pub fn issue(&self, name: &str, key_type: KeyType) -> Leaf {
        let subject = format!("/CN=localhost/O=Peregrine test {name}");
        self.sign(name, key_type, &subject, &s(&self.config), "server")
    }

    /// A server certificate (ECDSA P-256) for the DNS names `names` (`*.example.test`
    /// for a wildcard), subject `CN=<first name>, O=Peregrine test <name>`.
    pub fn issue_for(&self, name: &str, names: &[&str]) -> Leaf {
        let san: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
        let ext = self.dir.path().join(format!("{name}.ext"));
        std::fs::write(
            &ext,
            format!(
                "[ext]\nbasicConstraints = critical, CA:FALSE\n\
                 keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n\
                 subjectAltName = {}\n",
                san.join(", ")
            ),
        )
        .unwrap();
        let subject = format!("/CN={}/O=Peregrine test {name}", names[0]);
        self.sign(name, KeyType::EcP256, &subject, &s(&ext), "ext")
    }

    /// A client certificate (ECDSA P-256, `clientAuth`) with the subject
    /// `CN=<cn>, O=Peregrine`.
    pub fn issue_client(&self, name: &str, cn: &str) -> Leaf {
        let ext = self.dir.path().join(format!("{name}.ext"));
        std::fs::write(
            &ext,
            "[ext]\nbasicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n",
        )
        .unwrap();
        let subject = format!("/CN={cn}/O=Peregrine");
        self.sign(name, KeyType::EcP256, &subject, &s(&ext), "ext")
    }

    /// `leaf`'s chain and key in a PKCS#12 file `name` (in the temp dir) protected by
    /// `password`, as `openssl pkcs12 -export` writes it (OpenSSL 3: PBES2 / AES-256).
    pub fn pkcs12(&self, leaf: &Leaf, name: &str, password: &str) -> PathBuf {
        let out = self.dir.path().join(name);
        openssl(&[
            "pkcs12",
            "-export",
            "-in",
            &s(&leaf.cert),
            "-inkey",
            &s(&leaf.key),
            "-passout",
            &format!("pass:{password}"),
            "-out",
            &s(&out),
        ]);
        out
    }

    /// Sign a new key's certificate with the CA: `subject`, the extensions of section
    /// `section` in the file `extfile`.
    fn sign(
        &self,
        name: &str,
        key_type: KeyType,
        subject: &str,
        extfile: &str,
        section: &str,
    ) -> Leaf {
        let key = self.dir.path().join(format!("{name}.key"));
        let csr = self.dir.path().join(format!("{name}.csr"));
        let leaf = self.dir.path().join(format!("{name}-leaf.pem"));
        let chain = self.dir.path().join(format!("{name}.pem"));
        gen_key(&key, key_type);
        openssl(&[
            "req",
            "-config",
            &s(&self.config),
            "-new",
            "-key",
            &s(&key),
            "-subj",
            subject,
            "-out",
            &s(&csr),
        ]);
        let serial = self.serial.fetch_add(1, Ordering::SeqCst) + 1;
        openssl(&[
            "x509",
            "-req",
            "-in",
            &s(&csr),
            "-CA",
            &s(&self.ca),
            "-CAkey",
            &s(&self.ca_key),
            "-set_serial",
            &serial.to_string(),
            "-days",
            "2",
            "-extfile",
            extfile,
            "-extensions",
            section,
            "-out",
            &s(&leaf),
        ]);
        let mut pem = std::fs::read(&leaf).unwrap();
        pem.extend(std::fs::read(&self.ca).unwrap());
        std::fs::write(&chain, pem).unwrap();
        let der = CertificateDer::from_pem_file(&leaf)
            .unwrap_or_else(|e| panic!("read {}: {e:?}", leaf.display()))
            .to_vec();
        Leaf {
            cert: chain,
            key,
            der,
        }
    }

    /// `key` (PKCS#8, RSA) rewritten in PKCS#1 (`BEGIN RSA PRIVATE KEY`), beside it.
    pub fn to_pkcs1(&self, key: &Path) -> PathBuf {
        let out = key.with_extension("pkcs1.key");
        openssl(&["rsa", "-in", &s(key), "-traditional", "-out", &s(&out)]);
        expect_pem_label(&out, "RSA PRIVATE KEY");
        out
    }

    /// `--cert CHAIN --key KEY` for the server certificate.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--cert".into(),
            s(&self.server.cert),
            "--key".into(),
            s(&self.server.key),
        ]
    }

    /// The CA path as text (for curl's and openssl's `-CAfile`).
    pub fn ca_arg(&self) -> String {
        s(&self.ca)
    }

    /// A client configuration trusting the CA: `versions`, ALPN `alpn` (none if empty).
    pub fn client(
        &self,
        versions: &[&'static SupportedProtocolVersion],
        alpn: &[&str],
    ) -> Arc<ClientConfig> {
        client_config(&self.ca, versions, alpn)
    }
}

/// A path as a command-line argument.
fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Run `openssl args`; panics with its output if it fails.
pub fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new private key in PKCS#8.
fn gen_key(path: &Path, key_type: KeyType) {
    let opt = match key_type {
        KeyType::EcP256 => ["EC", "ec_paramgen_curve:P-256"],
        KeyType::Rsa2048 => ["RSA", "rsa_keygen_bits:2048"],
    };
    openssl(&[
        "genpkey",
        "-algorithm",
        opt[0],
        "-pkeyopt",
        opt[1],
        "-out",
        &s(path),
    ]);
    expect_pem_label(path, "PRIVATE KEY");
}

/// Check that a PEM file starts with `-----BEGIN <label>-----` (the key format is what
/// the test is about).
fn expect_pem_label(path: &Path, label: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("-----BEGIN {label}-----"),
        "{} is not in the expected format",
        path.display()
    );
}

/// A rustls client configuration trusting the CA in `ca` (PEM), offering `versions` and
/// the ALPN protocols `alpn` (none when empty).
pub fn client_config(
    ca: &Path,
    versions: &[&'static SupportedProtocolVersion],
    alpn: &[&str],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("read the CA file") {
        roots
            .add(cert.expect("a CA certificate"))
            .expect("add the CA to the roots");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(config)
}

/// [`client_config`] that also presents `leaf` (its chain and key) as the client's
/// certificate when the server asks for one.
pub fn client_config_with_cert(
    ca: &Path,
    versions: &[&'static SupportedProtocolVersion],
    leaf: &Leaf,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("read the CA file") {
        roots
            .add(cert.expect("a CA certificate"))
            .expect("add the CA to the roots");
    }
    let chain = CertificateDer::pem_file_iter(&leaf.cert)
        .expect("read the client chain")
        .collect::<Result<Vec<_>, _>>()
        .expect("the client chain");
    let key = PrivateKeyDer::from_pem_file(&leaf.key).expect("the client key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("the client certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

impl Client {
    /// Handshake over a connected `transport` (TCP or unix, with its timeouts set) as
    /// `server_name` (a host name is sent as SNI and checked against the certificate; an
    /// IP address is only checked). Errors are the handshake's: a refusal, an alert, a
    /// close, a timeout.
    pub fn tls(
        transport: Sock,
        config: Arc<ClientConfig>,
        server_name: &str,
    ) -> io::Result<Client> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut conn = ClientConnection::new(config, name).map_err(io::Error::other)?;
        let mut transport = transport;
        while conn.is_handshaking() {
            conn.complete_io(&mut transport)?;
        }
        while conn.wants_write() {
            conn.write_tls(&mut transport)?;
        }
        Ok(Client::new(Sock::Tls(Box::new(rustls::StreamOwned::new(
            conn, transport,
        )))))
    }

    /// Connect over TCP (panics if that fails) and handshake as `server_name`: the
    /// handshake's error if it fails.
    pub fn try_tls_tcp(
        addr: SocketAddr,
        config: Arc<ClientConfig>,
        server_name: &str,
    ) -> io::Result<Client> {
        Client::tls(Client::tcp(addr).sock, config, server_name)
    }

    /// Connect over TCP and handshake as `server_name`; panics if either fails.
    pub fn tls_tcp(addr: SocketAddr, config: Arc<ClientConfig>, server_name: &str) -> Client {
        let transport = Client::tcp(addr).sock;
        Client::tls(transport, config, server_name)
            .unwrap_or_else(|e| panic!("TLS handshake with {addr} as {server_name}: {e}"))
    }

    /// Connect to a unix socket and handshake as `server_name`; panics if either fails.
    pub fn tls_unix(path: &Path, config: Arc<ClientConfig>, server_name: &str) -> Client {
        let transport = Client::unix(path).sock;
        Client::tls(transport, config, server_name).unwrap_or_else(|e| {
            panic!(
                "TLS handshake over {} as {server_name}: {e}",
                path.display()
            )
        })
    }

    /// The TLS connection's state (version, cipher suite, ALPN, the server's
    /// certificates); panics on a cleartext client.
    pub fn tls_conn(&self) -> &ClientConnection {
        match &self.sock {
            Sock::Tls(s) => &s.conn,
            _ => panic!("not a TLS client"),
        }
    }

    /// The negotiated version as the server reports it (`TLSv1.2`, `TLSv1.3`).
    pub fn tls_version(&self) -> &'static str {
        match self.tls_conn().protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            other => panic!("unexpected TLS version {other:?}"),
        }
    }

    /// The negotiated cipher suite's name (`TLS13_AES_128_GCM_SHA256`).
    pub fn tls_cipher(&self) -> String {
        let suite = self
            .tls_conn()
            .negotiated_cipher_suite()
            .expect("a negotiated cipher suite")
            .suite();
        suite
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{suite:?}"))
    }

    /// The leaf certificate the server sent (DER).
    pub fn tls_peer_leaf(&self) -> Vec<u8> {
        self.tls_conn()
            .peer_certificates()
            .and_then(|c| c.first())
            .expect("the server sent a certificate")
            .to_vec()
    }

    /// Read until the server ends the TLS session; returns what arrived before. Panics if
    /// the connection closes without a `close_notify` alert first, on an error, or after
    /// [`IO_TIMEOUT`].
    pub fn read_to_close_notify(&mut self) -> Vec<u8> {
        assert!(matches!(self.sock, Sock::Tls(_)), "not a TLS client");
        loop {
            match self.fill() {
                // rustls returns end-of-stream only once close_notify has arrived.
                Ok(0) => return std::mem::take(&mut self.buf),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => panic!(
                    "the server closed the connection without close_notify (buffered: {:?})",
                    String::from_utf8_lossy(&self.buf)
                ),
                Err(e) => panic!(
                    "waiting for close_notify: {e} (buffered: {:?})",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }
}

impl Server {
    /// A TLS client (TLS 1.2 or 1.3, ALPN `http/1.1`, trusting `certs`' CA) connected to
    /// the `i`th printed address as `localhost`.
    pub fn connect_tls(&self, i: usize, certs: &Certs) -> Client {
        self.connect_tls_with(i, certs.client(ALL_VERSIONS, &["http/1.1"]), "localhost")
    }

    /// A TLS client with `config`, as `server_name`, connected to the `i`th address.
    pub fn connect_tls_with(
        &self,
        i: usize,
        config: Arc<ClientConfig>,
        server_name: &str,
    ) -> Client {
        if self.is_unix(i) {
            Client::tls_unix(&self.unix_path(i), config, server_name)
        } else {
            Client::tls_tcp(self.tcp_addr(i), config, server_name)
        }
    }
}

/// Run `openssl s_client ARGS` to its end with `input` on its stdin (then closed; pass
/// `-ign_eof` to keep reading until the server closes), bounded by `timeout`.
pub fn s_client(args: &[&str], input: &[u8], timeout: Duration) -> Finished {
    let mut child = Command::new("openssl")
        .arg("s_client")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl s_client");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // A thread of its own: s_client may not read its stdin before the handshake ends.
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    });
    let status = wait_exit(&mut child, timeout);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let _ = feeder.join();
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let status = status.unwrap_or_else(|| {
        panic!(
            "openssl s_client {} did not exit within {timeout:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            args.join(" ")
        )
    });
    Finished {
        status,
        stdout,
        stderr,
    }
}

/// One TLS record of type handshake holding a ClientHello with `legacy_version`
/// (0x0303 for TLS 1.2, 0x0302 for TLS 1.1) and no `supported_versions` extension (so it
/// offers that version and nothing above), SNI `server_name`, ECDHE suites with AES-GCM,
/// ChaCha20 and (for old versions) AES-CBC, groups X25519 and P-256.
pub fn client_hello(legacy_version: u16, server_name: &str) -> Vec<u8> {
    fn u16be(v: usize) -> [u8; 2] {
        (v as u16).to_be_bytes()
    }
    fn ext(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
        out.extend(kind.to_be_bytes());
        out.extend(u16be(body.len()));
        out.extend(body);
    }
    let suites: [u16; 11] = [
        0xc02b, 0xc02c, 0xc02f, 0xc030, 0xcca9, 0xcca8, // ECDHE, AEAD (TLS 1.2)
        0xc009, 0xc013, 0xc00a, 0xc014, // ECDHE, AES-CBC-SHA (TLS 1.0 / 1.1)
        0x00ff, // TLS_EMPTY_RENEGOTIATION_INFO_SCSV
    ];
    let mut exts = Vec::new();
    let name = server_name.as_bytes();
    let mut sni = Vec::new();
    sni.extend(u16be(name.len() + 3));
    sni.push(0); // host_name
    sni.extend(u16be(name.len()));
    sni.extend(name);
    ext(&mut exts, 0x0000, &sni);
    ext(&mut exts, 0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17]); // x25519, secp256r1
    ext(&mut exts, 0x000b, &[1, 0]); // uncompressed points
    ext(
        &mut exts,
        0x000d,
        // ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256, ecdsa_sha1, rsa_sha1
        &[
            0, 10, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x02, 0x03, 0x02, 0x01,
        ],
    );
    ext(&mut exts, 0x0017, &[]); // extended_master_secret

    let mut hello = Vec::new();
    hello.extend(legacy_version.to_be_bytes());
    hello.extend((0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(11))); // random
    hello.push(0); // no session id
    hello.extend(u16be(suites.len() * 2));
    for cs in suites {
        hello.extend(cs.to_be_bytes());
    }
    hello.extend([1, 0]); // compression: null
    hello.extend(u16be(exts.len()));
    hello.extend(exts);

    let mut handshake = vec![1u8]; // client_hello
    handshake.extend(&(hello.len() as u32).to_be_bytes()[1..]);
    handshake.extend(hello);

    let mut record = vec![0x16, 0x03, 0x01];
    record.extend(u16be(handshake.len()));
    record.extend(handshake);
    record
}
