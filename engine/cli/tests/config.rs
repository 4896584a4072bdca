//! Configuration of the binary: the command line wins over the environment
//! (`PEREGRINE_<NAME>`), the environment over the TOML file (`--config` or
//! `PEREGRINE_CONFIG`), the file over the defaults; every option can be given in the
//! file; unknown keys, unreadable files and bad values are clear errors; `--help` lists
//! every option. `--cert` and `--key` go together (one without the other is an error)
//! and follow the same layers, key by key (those cases need the engine's TLS and
//! `openssl`). A `.pfx` / `.p12` `--cert` takes `--cert-password` and no `--key`;
//! `--sni HOST=CERT,KEY` (an array in the file) and `--client-certificate-mode` with
//! `--client-ca` are checked and follow the layers too (the served certificate and who
//! is let in tell). The serving cases run on both backends; `--help` and `--version` do
//! not start a server and run once.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use common::tls::{self, Certs, KeyType, Leaf, NO_OPENSSL, TLS12};
use common::*;

/// Three unix socket URLs (file, env, command line) in one temp dir, and the config file.
struct Layers {
    dir: TempDir,
    file: PathBuf,
}

impl Layers {
    fn new(tag: &str, extra_toml: &str) -> Layers {
        let dir = TempDir::new(tag);
        let file = dir.join("peregrine.toml");
        let toml = format!(
            "urls = \"{}\"\nserver-header = \"from-file\"\n{extra_toml}",
            Layers::url_in(&dir, "file")
        );
        std::fs::write(&file, toml).unwrap();
        Layers { dir, file }
    }

    fn url_in(dir: &TempDir, layer: &str) -> String {
        format!(
            "http://unix:{}",
            dir.join(&format!("{layer}.sock")).display()
        )
    }

    fn url(&self, layer: &str) -> String {
        Layers::url_in(&self.dir, layer)
    }

    fn sock(&self, layer: &str) -> PathBuf {
        self.dir.join(&format!("{layer}.sock"))
    }
}

/// Start `cmd`, check it listens on exactly `url` and sends `Server: server`.
fn assert_serves_as(cmd: Command, url: &str, server: Option<&str>) {
    let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("did not start: {}", f.stderr));
    assert_eq!(s.urls, vec![url.to_string()], "{:?}", s.stdout);
    let r = s.connect(0).get("/plaintext");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("server"), server, "{}", r.raw_head);
    s.stop();
}

fn precedence(backend: Backend) {
    let l = Layers::new("layers", "threads = 1\nshutdown-timeout = \"5s\"\n");
    let file = l.file.display().to_string();

    // The file alone.
    let cmd = command(Some(backend), &["--config", &file]);
    assert_serves_as(cmd, &l.url("file"), Some("from-file"));

    // The file named by the environment.
    let mut cmd = command(Some(backend), &[]);
    cmd.env("PEREGRINE_CONFIG", &file);
    assert_serves_as(cmd, &l.url("file"), Some("from-file"));

    // The environment over the file.
    let mut cmd = command(Some(backend), &["--config", &file]);
    cmd.env("PEREGRINE_URLS", l.url("env"))
        .env("PEREGRINE_SERVER_HEADER", "from-env");
    assert_serves_as(cmd, &l.url("env"), Some("from-env"));

    // The command line over both.
    let cli = l.url("cli");
    let mut cmd = command(
        Some(backend),
        &[
            "--config",
            &file,
            "--urls",
            &cli,
            "--server-header",
            "from-cli",
        ],
    );
    cmd.env("PEREGRINE_URLS", l.url("env"))
        .env("PEREGRINE_SERVER_HEADER", "from-env");
    assert_serves_as(cmd, &cli, Some("from-cli"));

    // Mixed: the URL from the command line, the header from the environment.
    let mut cmd = command(Some(backend), &["--config", &file, "--urls", &cli]);
    cmd.env("PEREGRINE_SERVER_HEADER", "from-env");
    assert_serves_as(cmd, &cli, Some("from-env"));

    // Every socket file was removed when its server went away.
    for layer in ["file", "env", "cli"] {
        assert!(!l.sock(layer).exists(), "{layer}.sock was left behind");
    }
}
both_backends!(command_line_over_environment_over_file, precedence);

fn boolean_layers(backend: Backend) {
    let l = Layers::new("bools", "no-server-header = true\n");
    let file = l.file.display().to_string();
    // From the file.
    let cmd = command(Some(backend), &["--config", &file]);
    assert_serves_as(cmd, &l.url("file"), None);
    // The environment turns it back off.
    let mut cmd = command(Some(backend), &["--config", &file]);
    cmd.env("PEREGRINE_NO_SERVER_HEADER", "false");
    assert_serves_as(cmd, &l.url("file"), Some("from-file"));
    // And the command line on again.
    let mut cmd = command(Some(backend), &["--config", &file, "--no-server-header"]);
    cmd.env("PEREGRINE_NO_SERVER_HEADER", "false");
    assert_serves_as(cmd, &l.url("file"), None);
    // The environment alone, without a file.
    let mut cmd = command(Some(backend), &["--urls", &l.url("env")]);
    cmd.env("PEREGRINE_NO_SERVER_HEADER", "true");
    assert_serves_as(cmd, &l.url("env"), None);
}
both_backends!(boolean_options_follow_the_same_layers, boolean_layers);

fn every_key(backend: Backend) {
    let dir = TempDir::new("allkeys");
    let file = dir.join("all.toml");
    let sock = dir.join("all.sock");
    std::fs::write(
        &file,
        format!(
            r#"urls = "http://unix:{}"
threads = 1
backend = "{}"
unix-socket-mode = "0660"
shutdown-timeout = 7
server-header = "all-keys"
no-server-header = false
port-sharing = false
backlog = 128
no-pin = true
max-request-line-size = 1000
max-request-headers-total-size = 16384
max-request-header-count = 50
max-concurrent-connections = 100
max-concurrent-upgraded-connections = 10
tls-handshake-timeout = 5
sni = []
client-certificate-mode = "none"
log-level = "info"
"#,
            sock.display(),
            backend.arg()
        ),
    )
    .unwrap();
    // No --backend on the command line: the file's applies.
    let cmd = command(None, &["--config", &file.display().to_string()]);
    let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("did not start: {}", f.stderr));
    assert!(
        s.wait_stderr(&format!("using the {} backend", backend.arg()), IO_TIMEOUT),
        "{}",
        s.stderr()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let mut c = s.connect(0);
    let r = c.get("/plaintext");
    assert_eq!(r.header("server"), Some("all-keys"));
    // max-request-line-size = 1000 from the file.
    let long = format!("/plaintext?{}", "a".repeat(5000));
    c.send(get(&long));
    assert_eq!(c.read_response().status, 414);
}
both_backends!(every_option_can_be_set_in_the_file, every_key);

fn bad_file(backend: Backend, toml: &str) -> Finished {
    let dir = TempDir::new("badfile");
    let file = dir.join("bad.toml");
    std::fs::write(&file, toml).unwrap();
    let out = run_to_exit(
        Some(backend),
        &[
            "--config",
            &file.display().to_string(),
            "--urls",
            "http://127.0.0.1:0",
        ],
    );
    let line = out.assert_error("invalid config file");
    assert!(line.contains(&file.display().to_string()), "{line}");
    out
}

fn unknown_key(backend: Backend) {
    let out = bad_file(backend, "urls = \"http://127.0.0.1:0\"\nthread = 5\n");
    assert!(
        out.stderr.contains("unknown field `thread`"),
        "{}",
        out.stderr
    );
    // Flag spellings are not keys either.
    let out = bad_file(backend, "server_header = \"x\"\n");
    assert!(
        out.stderr.contains("unknown field `server_header`"),
        "{}",
        out.stderr
    );
}
both_backends!(unknown_key_in_the_file_is_an_error, unknown_key);

/// A configuration failure is one line `error: ...`; TOML errors come with a multi-line
/// snippet (the unknown key is named on the fifth line only).
fn unknown_key_one_line(backend: Backend) {
    let out = bad_file(backend, "urls = \"http://127.0.0.1:0\"\nthread = 5\n");
    let stderr = out.stderr.trim_end();
    assert_eq!(stderr.lines().count(), 1, "not one line:\n{stderr}");
    assert!(stderr.contains("unknown field `thread`"), "{stderr}");
}
both_backends!(config_file_errors_are_one_line, unknown_key_one_line);

fn bad_file_values(backend: Backend) {
    bad_file(backend, "threads = \"many\"\n");
    bad_file(backend, "urls = [\n");
    bad_file(backend, "no-server-header = \"yes\"\n");
    let dir = TempDir::new("missing");
    let missing = dir.path().join("nope.toml");
    let out = run_to_exit(Some(backend), &["--config", &missing.display().to_string()]);
    let line = out.assert_error("cannot read config file");
    assert!(line.contains("nope.toml"), "{line}");
    // A bad value in the file is reported like one on the command line.
    let dir = TempDir::new("badval");
    let file = dir.join("v.toml");
    std::fs::write(&file, "urls = \"http://localhost:0\"\n").unwrap();
    let out = run_to_exit(Some(backend), &["--config", &file.display().to_string()]);
    out.assert_error("Dynamic port binding is not supported");
    std::fs::write(
        &file,
        "urls = \"http://127.0.0.1:0\"\nshutdown-timeout = \"soon\"\n",
    )
    .unwrap();
    let out = run_to_exit(Some(backend), &["--config", &file.display().to_string()]);
    out.assert_error("invalid duration 'soon'");
}
both_backends!(bad_config_files_are_errors, bad_file_values);

fn bad_values(backend: Backend) {
    let url = ["--urls", "http://127.0.0.1:0"];
    let run = |extra: &[&str]| {
        let mut args = url.to_vec();
        args.extend_from_slice(extra);
        run_to_exit(Some(backend), &args)
    };
    run(&["--threads", "0"]).assert_error("--threads must be at least 1");
    run(&["--shutdown-timeout", "soon"]).assert_error("invalid duration 'soon'");
    run(&["--unix-socket-mode", "rw"]).assert_error("invalid unix socket mode");
    run(&["--max-request-line-size", "0"]).assert_error("max-request-line-size");
    run(&["--threads", "abc"]).assert_error("invalid value 'abc'");
    // From the environment as well.
    let mut cmd = command(Some(backend), &url);
    cmd.env("PEREGRINE_SHUTDOWN_TIMEOUT", "later");
    run_cmd_to_exit(cmd, EXIT_TIMEOUT).assert_error("invalid duration 'later'");
    // An empty URL list.
    run_to_exit(Some(backend), &["--urls", ";"]).assert_error("No URL prefix");
}
both_backends!(bad_option_values_are_errors, bad_values);

/// The connection limits take a number or "unlimited" in every layer, the command line
/// over the environment over the file (a bad value in a lower layer is never read); a
/// bad value is a one-line error. 0 is refused for connections but allowed for upgraded
/// connections (it refuses every upgrade, as Kestrel's).
fn connection_limits(backend: Backend) {
    let url = "http://127.0.0.1:0";
    let serves = |cmd: Command, what: &str| {
        let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("{what}: {}", f.stderr));
        assert_eq!(s.connect(0).get("/plaintext").status, 200, "{what}");
        s.stop();
    };
    for (flag, env) in [
        (
            "--max-concurrent-connections",
            "PEREGRINE_MAX_CONCURRENT_CONNECTIONS",
        ),
        (
            "--max-concurrent-upgraded-connections",
            "PEREGRINE_MAX_CONCURRENT_UPGRADED_CONNECTIONS",
        ),
    ] {
        let key = flag.trim_start_matches("--");
        for v in ["10", "unlimited"] {
            serves(command(Some(backend), &["--urls", url, flag, v]), flag);
            let mut cmd = command(Some(backend), &["--urls", url]);
            cmd.env(env, v);
            serves(cmd, env);
        }
        let dir = TempDir::new("connlimits");
        let good = dir.join("good.toml");
        let bad = dir.join("bad.toml");
        std::fs::write(&good, format!("urls = \"{url}\"\n{key} = 50\n")).unwrap();
        std::fs::write(&bad, format!("urls = \"{url}\"\n{key} = \"lots\"\n")).unwrap();
        let (good, bad) = (good.display().to_string(), bad.display().to_string());
        serves(command(Some(backend), &["--config", &good]), key);
        let expected = format!("--{key}: 'lots' is not a number of connections or 'unlimited'");
        run_to_exit(Some(backend), &["--config", &bad]).assert_error(&expected);
        // The command line and the environment over the file.
        serves(
            command(Some(backend), &["--config", &bad, flag, "unlimited"]),
            "command line over file",
        );
        let mut cmd = command(Some(backend), &["--config", &bad]);
        cmd.env(env, "20");
        serves(cmd, "environment over file");
        // The command line over the environment.
        let mut cmd = command(Some(backend), &["--urls", url, flag, "20"]);
        cmd.env(env, "lots");
        serves(cmd, "command line over environment");
        // Bad values.
        let mut cmd = command(Some(backend), &["--urls", url]);
        cmd.env(env, "lots");
        run_cmd_to_exit(cmd, EXIT_TIMEOUT).assert_error(&expected);
        run_to_exit(Some(backend), &["--urls", url, &format!("{flag}=-1")])
            .assert_error("'-1' is not a number of connections or 'unlimited'");
    }
    run_to_exit(
        Some(backend),
        &["--urls", url, "--max-concurrent-connections", "0"],
    )
    .assert_error("Maximum concurrent connections must be greater than 0.");
    serves(
        command(
            Some(backend),
            &["--urls", url, "--max-concurrent-upgraded-connections", "0"],
        ),
        "0 upgraded connections",
    );
}
both_backends!(
    connection_limits_take_numbers_or_unlimited,
    connection_limits
);

/// `--cert` and `--key` come together, each from whichever layer gives it; one without
/// the other is a one-line error naming what is missing, from any layer. (Checked before
/// anything is read or bound: the files need not exist.)
fn cert_needs_key(backend: Backend) {
    let url = ["--urls", "http://127.0.0.1:0"];
    let run = |extra: &[&str]| {
        let mut args = url.to_vec();
        args.extend_from_slice(extra);
        run_to_exit(Some(backend), &args)
    };
    let no_key = "--cert is given without --key";
    let no_cert = "--key is given without --cert";
    run(&["--cert", "/nowhere/cert.pem"]).assert_error(no_key);
    run(&["--key", "/nowhere/key.pem"]).assert_error(no_cert);
    let mut cmd = command(Some(backend), &url);
    cmd.env("PEREGRINE_CERT", "/nowhere/cert.pem");
    run_cmd_to_exit(cmd, EXIT_TIMEOUT).assert_error(no_key);
    let mut cmd = command(Some(backend), &url);
    cmd.env("PEREGRINE_KEY", "/nowhere/key.pem");
    run_cmd_to_exit(cmd, EXIT_TIMEOUT).assert_error(no_cert);
    let dir = TempDir::new("certkey");
    let file = dir.join("c.toml");
    std::fs::write(&file, "key = \"/nowhere/key.pem\"\n").unwrap();
    let file = file.display().to_string();
    run(&["--config", &file]).assert_error(no_cert);
}
both_backends!(cert_without_key_is_an_error, cert_needs_key);

/// `--tls-handshake-timeout` takes a duration in every layer; a bad one or 0 is a
/// one-line error. (Over plain http: the value is checked whether or not it is used.)
fn tls_handshake_timeout_values(backend: Backend) {
    let url = ["--urls", "http://127.0.0.1:0"];
    let mut args = url.to_vec();
    args.extend(["--tls-handshake-timeout", "soon"]);
    run_to_exit(Some(backend), &args)
        .assert_error("--tls-handshake-timeout: invalid duration 'soon'");
    let mut cmd = command(Some(backend), &url);
    cmd.env("PEREGRINE_TLS_HANDSHAKE_TIMEOUT", "0");
    run_cmd_to_exit(cmd, EXIT_TIMEOUT)
        .assert_error("--tls-handshake-timeout must be greater than 0");
    let dir = TempDir::new("hstimeout");
    let file = dir.join("t.toml");
    std::fs::write(&file, "tls-handshake-timeout = \"later\"\n").unwrap();
    let file = file.display().to_string();
    let mut args = url.to_vec();
    args.extend(["--config", &file]);
    run_to_exit(Some(backend), &args).assert_error("invalid duration 'later'");

    let serves = |cmd: Command, what: &str| {
        let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("{what}: {}", f.stderr));
        assert_eq!(s.connect(0).get("/plaintext").status, 200, "{what}");
        s.stop();
    };
    let mut args = url.to_vec();
    args.extend(["--tls-handshake-timeout", "5"]);
    serves(command(Some(backend), &args), "flag");
    let mut cmd = command(Some(backend), &url);
    cmd.env("PEREGRINE_TLS_HANDSHAKE_TIMEOUT", "2s");
    serves(cmd, "environment");
    // The command line over a bad value in the environment (never read).
    let mut args = url.to_vec();
    args.extend(["--tls-handshake-timeout", "500ms"]);
    let mut cmd = command(Some(backend), &args);
    cmd.env("PEREGRINE_TLS_HANDSHAKE_TIMEOUT", "soon");
    serves(cmd, "command line over environment");
}
both_backends!(
    tls_handshake_timeout_takes_a_duration,
    tls_handshake_timeout_values
);

/// The certificate follows the layers like every option (the command line over the
/// environment over the file), key by key: the served certificate says which one won.
/// `tls-handshake-timeout` from the file applies. Needs openssl (certificates) and the
/// engine's TLS.
fn certificate_layers(backend: Backend) {
    let Some(c) = Certs::generate("layers") else {
        return skip(NO_OPENSSL);
    };
    let [file, env, cli] = ["file", "env", "cli"].map(|n| c.issue(n, KeyType::EcP256));
    let p = |path: &Path| path.display().to_string();
    let toml = c.dir().join("tls.toml");
    std::fs::write(
        &toml,
        format!(
            "urls = \"https://127.0.0.1:0\"\ncert = \"{}\"\nkey = \"{}\"\ntls-handshake-timeout = 1\n",
            p(&file.cert),
            p(&file.key)
        ),
    )
    .unwrap();
    let toml = p(&toml);
    let served = |cmd: Command, want: &Leaf, what: &str| {
        let s =
            Server::spawn(cmd).unwrap_or_else(|f| panic!("{what}: did not start: {}", f.stderr));
        let got = s.connect_tls(0, &c).tls_peer_leaf();
        assert!(got == want.der, "{what}: another certificate was served");
        s
    };

    // The file alone; its handshake timeout (1 s) closes a silent client.
    let s = served(command(Some(backend), &["--config", &toml]), &file, "file");
    let t0 = std::time::Instant::now();
    let mut silent = s.connect(0);
    assert!(
        silent.eof_within(Duration::from_secs_f64(3.5)).is_some(),
        "tls-handshake-timeout = 1 from the file: a silent client is still open after {:?}",
        t0.elapsed()
    );
    s.stop();

    // The environment over the file.
    let mut cmd = command(Some(backend), &["--config", &toml]);
    cmd.env("PEREGRINE_CERT", &env.cert)
        .env("PEREGRINE_KEY", &env.key);
    served(cmd, &env, "environment over file").stop();

    // The command line over both.
    let mut cmd = command(
        Some(backend),
        &[
            "--config",
            &toml,
            "--cert",
            &p(&cli.cert),
            "--key",
            &p(&cli.key),
        ],
    );
    cmd.env("PEREGRINE_CERT", &env.cert)
        .env("PEREGRINE_KEY", &env.key);
    served(cmd, &cli, "command line over environment").stop();

    // Key by key: the certificate from the command line, its key from the environment.
    let mut cmd = command(
        Some(backend),
        &["--urls", "https://127.0.0.1:0", "--cert", &p(&cli.cert)],
    );
    cmd.env("PEREGRINE_KEY", &cli.key);
    served(cmd, &cli, "certificate and key from two layers").stop();
}
both_backends!(certificate_follows_the_layers, certificate_layers);

/// The PKCS#12 rules, checked before anything is read or bound (the files need not
/// exist): `--key` with a `.pfx` / `.p12` certificate, `--cert-password` with a PEM one,
/// and `--cert-password` without `--cert` are one-line errors, from any layer.
fn pkcs12_rules(backend: Backend) {
    let url = "http://127.0.0.1:0";
    let dir = TempDir::new("pfxrules");
    let toml = |name: &str, text: &str| {
        let f = dir.join(name);
        std::fs::write(&f, format!("urls = \"{url}\"\n{text}")).unwrap();
        f.display().to_string()
    };
    let with_key = "--key ('/nowhere/k.pem') is given with the PKCS#12 certificate";
    let with_pem = "--cert-password is given with the PEM certificate '/nowhere/c.pem'";
    let alone = "--cert-password is given without --cert";

    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["--urls", url];
        all.extend_from_slice(args);
        let mut cmd = command(Some(backend), &all);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_cmd_to_exit(cmd, EXIT_TIMEOUT)
    };
    for pfx in ["/nowhere/c.pfx", "/nowhere/C.P12"] {
        run(&["--cert", pfx, "--key", "/nowhere/k.pem"], &[]).assert_error(with_key);
        run(&["--cert", pfx], &[("PEREGRINE_KEY", "/nowhere/k.pem")]).assert_error(with_key);
    }
    let f = toml(
        "key.toml",
        "cert = \"/nowhere/c.pfx\"\nkey = \"/nowhere/k.pem\"\n",
    );
    run(&["--config", &f], &[]).assert_error(with_key);

    run(&["--cert", "/nowhere/c.pem", "--cert-password", "pw"], &[]).assert_error(with_pem);
    run(
        &["--cert", "/nowhere/c.pem", "--key", "/nowhere/k.pem"],
        &[("PEREGRINE_CERT_PASSWORD", "pw")],
    )
    .assert_error(with_pem);
    let f = toml("pw.toml", "cert-password = \"pw\"\n");
    run(
        &[
            "--config",
            &f,
            "--cert",
            "/nowhere/c.pem",
            "--key",
            "/nowhere/k.pem",
        ],
        &[],
    )
    .assert_error(with_pem);
    run(&["--config", &f], &[]).assert_error(alone);
    run(&["--cert-password", "pw"], &[]).assert_error(alone);
    // The password is not repeated in the error.
    let out = run(
        &["--cert", "/nowhere/c.pem", "--cert-password", "hunter2"],
        &[],
    );
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}
both_backends!(pkcs12_certificate_rules, pkcs12_rules);

/// A malformed `--sni` is a one-line error naming the expected form, from any layer; in
/// the file `sni` is an array of strings.
fn sni_values(backend: Backend) {
    let url = "http://127.0.0.1:0";
    let form = "expected HOST=CERT,KEY (e.g. api.example.com=/etc/tls/api.pem,/etc/tls/api.key)";
    for bad in [
        "api.test",
        "api.test=a.pem",
        "=a.pem,a.key",
        "a.test=a.pem,a.key,b.key",
    ] {
        let line = run_to_exit(Some(backend), &["--urls", url, "--sni", bad]).assert_error(form);
        assert!(line.contains(&format!("--sni '{bad}'")), "{line}");
    }
    let mut cmd = command(Some(backend), &["--urls", url]);
    cmd.env("PEREGRINE_SNI", "a.test=a.pem,a.key;b.test");
    run_cmd_to_exit(cmd, EXIT_TIMEOUT).assert_error("--sni 'b.test': expected HOST=CERT,KEY");
    let dir = TempDir::new("snivalues");
    let file = dir.join("sni.toml");
    std::fs::write(
        &file,
        format!("urls = \"{url}\"\nsni = [\"a.test:a.pem,a.key\"]\n"),
    )
    .unwrap();
    let file = file.display().to_string();
    run_to_exit(Some(backend), &["--config", &file])
        .assert_error("--sni 'a.test:a.pem,a.key': expected HOST=CERT,KEY");
    // A string where the array should be: the file's own one-line error.
    let out = bad_file(backend, "sni = \"a.test=a.pem,a.key\"\n");
    assert_eq!(out.stderr.trim_end().lines().count(), 1, "{}", out.stderr);
    // The engine checks the host name once the files are loaded (https only).
    let line = run_to_exit(
        Some(backend),
        &[
            "--urls",
            "https://127.0.0.1:0",
            "--sni",
            "a b=/nowhere/a.pem,/nowhere/a.key",
        ],
    )
    .assert_error("/nowhere/a.pem");
    assert!(line.contains("cannot read the certificate file"), "{line}");
}
both_backends!(malformed_sni_values_are_errors, sni_values);

/// `--client-certificate-mode` is none, allow or require in every layer; allow and
/// require need `--client-ca`, and a CA with mode none is refused (it would check
/// nothing). One-line errors.
fn client_certificate_values(backend: Backend) {
    let url = "http://127.0.0.1:0";
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["--urls", url];
        all.extend_from_slice(args);
        let mut cmd = command(Some(backend), &all);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_cmd_to_exit(cmd, EXIT_TIMEOUT)
    };
    let unknown = "--client-certificate-mode: unknown client certificate mode 'maybe': \
                   expected none, allow or require";
    run(&["--client-certificate-mode", "maybe"], &[]).assert_error(unknown);
    run(&[], &[("PEREGRINE_CLIENT_CERTIFICATE_MODE", "maybe")]).assert_error(unknown);
    let dir = TempDir::new("clientmode");
    let file = dir.join("m.toml");
    std::fs::write(&file, "client-certificate-mode = \"maybe\"\n").unwrap();
    let file = file.display().to_string();
    run(&["--config", &file], &[]).assert_error(unknown);

    for mode in ["allow", "require"] {
        run(&["--client-certificate-mode", mode], &[]).assert_error("needs --client-ca");
    }
    run(&[], &[("PEREGRINE_CLIENT_CERTIFICATE_MODE", "require")]).assert_error("needs --client-ca");
    run(&["--client-ca", "/nowhere/ca.pem"], &[]).assert_error(
        "--client-ca ('/nowhere/ca.pem') is given but --client-certificate-mode is none",
    );
    run(
        &["--client-certificate-mode", "none"],
        &[("PEREGRINE_CLIENT_CA", "/nowhere/ca.pem")],
    )
    .assert_error("--client-certificate-mode is none");
    // The command line over a bad value in the environment (never read); none serves.
    let s = Server::spawn(command(
        Some(backend),
        &["--urls", url, "--client-certificate-mode", "None"],
    ))
    .unwrap_or_else(|f| panic!("did not start: {}", f.stderr));
    assert_eq!(s.connect(0).get("/plaintext").status, 200);
    s.stop();
}
both_backends!(client_certificate_mode_values, client_certificate_values);

/// The TLS options of this round follow the layers too, each on its own: one file sets
/// them all (a PKCS#12 default certificate with a wrong password, an SNI certificate,
/// client certificates required); the environment corrects the password, replaces the
/// SNI list and relaxes the mode; the command line replaces both again. The served
/// certificates and who is let in tell which layer won.
fn tls_option_layers(backend: Backend) {
    let Some(c) = Certs::generate("tlslayers") else {
        return skip(NO_OPENSSL);
    };
    let pfx = c.pkcs12(&c.server, "server.pfx", "right");
    let [file_api, env_api, cli_api] =
        ["fileapi", "envapi", "cliapi"].map(|n| c.issue_for(n, &["api.test"]));
    let client = c.issue_client("client", "test client");
    let p = |path: &Path| path.display().to_string();
    let sni = |leaf: &Leaf| format!("api.test={},{}", p(&leaf.cert), p(&leaf.key));
    let toml = c.dir().join("tls.toml");
    std::fs::write(
        &toml,
        format!(
            "urls = \"https://127.0.0.1:0\"\ncert = \"{}\"\ncert-password = \"wrong\"\n\
             sni = [\"{}\"]\nclient-certificate-mode = \"require\"\nclient-ca = \"{}\"\n",
            p(&pfx),
            sni(&file_api),
            c.ca_arg()
        ),
    )
    .unwrap();
    let toml = p(&toml);
    let no_cert = c.client(TLS12, &["http/1.1"]);
    let with_cert = tls::client_config_with_cert(&c.ca, TLS12, &client);
    // Whether a TLS 1.2 client without a certificate gets through the handshake (on 1.2
    // a required certificate is refused within it).
    let lets_in_without_cert =
        |s: &Server| Client::try_tls_tcp(s.tcp_addr(0), no_cert.clone(), "localhost").is_ok();

    // The file alone: its password is wrong.
    run_to_exit(Some(backend), &["--config", &toml]).assert_error("wrong password");

    // The environment's password: the .pfx serves localhost, the file's SNI certificate
    // api.test, and a client certificate is required.
    let mut cmd = command(Some(backend), &["--config", &toml]);
    cmd.env("PEREGRINE_CERT_PASSWORD", "right");
    let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("did not start: {}", f.stderr));
    let mut t = s.connect_tls_with(0, with_cert.clone(), "localhost");
    assert!(
        t.tls_peer_leaf() == c.server.der,
        "not the .pfx certificate"
    );
    let j = t.get("/request").json();
    assert_eq!(
        j["tls"]["client_cert_subject"], "CN=test client, O=Peregrine",
        "{j}"
    );
    let api = s.connect_tls_with(0, with_cert.clone(), "api.test");
    assert!(
        api.tls_peer_leaf() == file_api.der,
        "not the file's SNI certificate"
    );
    assert!(
        !lets_in_without_cert(&s),
        "no client certificate, yet served"
    );
    s.stop();

    // The environment's SNI list and mode.
    let mut cmd = command(Some(backend), &["--config", &toml]);
    cmd.env("PEREGRINE_CERT_PASSWORD", "right")
        .env("PEREGRINE_SNI", sni(&env_api))
        .env("PEREGRINE_CLIENT_CERTIFICATE_MODE", "allow");
    let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("did not start: {}", f.stderr));
    let api = s.connect_tls_with(0, no_cert.clone(), "api.test");
    assert!(
        api.tls_peer_leaf() == env_api.der,
        "not the environment's SNI certificate"
    );
    assert!(
        lets_in_without_cert(&s),
        "mode allow from the environment did not apply"
    );
    s.stop();

    // The command line over both.
    let cli_sni = sni(&cli_api);
    let mut cmd = command(
        Some(backend),
        &[
            "--config",
            &toml,
            "--cert-password",
            "right",
            "--sni",
            &cli_sni,
            "--client-certificate-mode",
            "require",
        ],
    );
    cmd.env("PEREGRINE_CERT_PASSWORD", "wrong")
        .env("PEREGRINE_SNI", sni(&env_api))
        .env("PEREGRINE_CLIENT_CERTIFICATE_MODE", "allow");
    let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("did not start: {}", f.stderr));
    let api = s.connect_tls_with(0, with_cert, "api.test");
    assert!(
        api.tls_peer_leaf() == cli_api.der,
        "not the command line's SNI certificate"
    );
    assert!(
        !lets_in_without_cert(&s),
        "mode require from the command line did not apply"
    );
    s.stop();
}
both_backends!(tls_options_follow_the_layers, tls_option_layers);

/// Serialises the tests that use the fixed default port 5000.
static PORT_5000: Mutex<()> = Mutex::new(());

fn defaults_port(backend: Backend) {
    let _serial = PORT_5000.lock().unwrap_or_else(|p| p.into_inner());
    // Without --urls the default is http://localhost:5000; when 5000 is taken that is an
    // "address already in use" error naming it (which proves the default without
    // depending on the port being free).
    let held = match std::net::TcpListener::bind("127.0.0.1:5000") {
        Ok(l) => l,
        Err(e) => return skip(&format!("127.0.0.1:5000 is in use elsewhere ({e})")),
    };
    let out = run_to_exit(Some(backend), &[]);
    let line = out.assert_error("address already in use");
    assert!(line.contains("127.0.0.1:5000"), "{line}");
    drop(held);
}
both_backends!(default_url_is_localhost_5000, defaults_port);

/// The option names declared in `cli.rs`'s `Args`, as flags (`--unix-socket-mode`).
fn declared_flags() -> Vec<String> {
    let src = include_str!("../src/cli.rs");
    let start = src.find("pub struct Args {").expect("Args in cli.rs");
    let body = &src[start..];
    let body = &body[..body.find("\n}").unwrap()];
    body.lines()
        .filter_map(|l| l.trim().strip_prefix("pub "))
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim()))
        .map(|name| format!("--{}", name.replace('_', "-")))
        .collect()
}

#[test]
fn help_lists_every_option() {
    let out = run_cmd_to_exit(command(None, &["--help"]), EXIT_TIMEOUT);
    assert!(out.status.success(), "{}", out.stderr);
    let help = &out.stdout;
    let mut flags = declared_flags();
    assert!(
        flags.len() >= 15,
        "too few options found in cli.rs: {flags:?}"
    );
    flags.extend(["--help", "--version"].map(String::from));
    for flag in [
        "--urls",
        "--threads",
        "--backend",
        "--unix-socket-mode",
        "--shutdown-timeout",
        "--server-header",
        "--no-server-header",
        "--config",
    ] {
        assert!(flags.iter().any(|f| f == flag), "{flag} is not declared");
    }
    for flag in &flags {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(flag.as_str())
                    || l.contains(&format!(", {flag}"))),
            "--help does not list {flag}:\n{help}"
        );
        if !matches!(flag.as_str(), "--help" | "--version") {
            let env = format!(
                "PEREGRINE_{}",
                flag.trim_start_matches("--")
                    .replace('-', "_")
                    .to_uppercase()
            );
            assert!(help.contains(&env), "--help does not name {env}:\n{help}");
        }
    }
}

#[test]
fn version_is_printed() {
    let out = run_cmd_to_exit(command(None, &["--version"]), EXIT_TIMEOUT);
    assert!(out.status.success());
    assert_eq!(
        out.stdout.trim(),
        format!("peregrine {}", env!("CARGO_PKG_VERSION"))
    );
}
