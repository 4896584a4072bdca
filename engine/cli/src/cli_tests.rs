//! Tests of the flag, environment and file layering (`cli.rs`).

use super::*;
use crate::tls_flags::SNI_FORM;
use peregrine::{ClientCertificateMode, Pkcs12Certificate, SniCertificate, TlsOptions};

#[test]
fn durations() {
    assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert!(parse_duration("soon").is_err());
    assert!(parse_duration("-1").is_err());
}

#[test]
fn file_layer_under_command_line() {
    let args = Args::parse_from(["peregrine", "--threads", "3"]);
    let file: FileConfig =
        toml::from_str("threads = 5\nurls = \"http://127.0.0.1:0\"\nshutdown-timeout = 7").unwrap();
    let o = options(&args, file).unwrap();
    assert_eq!(o.threads, 3);
    assert_eq!(o.urls.len(), 1);
    assert_eq!(o.shutdown_timeout, Duration::from_secs(7));
}

#[test]
fn proxy_protocol_is_a_switch() {
    let none = Args::parse_from(["peregrine"]);
    assert!(
        !options(&none, FileConfig::default())
            .unwrap()
            .proxy_protocol
    );
    let on = Args::parse_from(["peregrine", "--proxy-protocol"]);
    assert!(options(&on, FileConfig::default()).unwrap().proxy_protocol);
    let file: FileConfig = toml::from_str("proxy-protocol = true").unwrap();
    assert!(options(&none, file).unwrap().proxy_protocol);
    let off = Args::parse_from(["peregrine", "--proxy-protocol=false"]);
    let file: FileConfig = toml::from_str("proxy-protocol = true").unwrap();
    assert!(!options(&off, file).unwrap().proxy_protocol);
}

#[test]
fn connection_limits_take_numbers_or_unlimited() {
    let none = Args::parse_from(["peregrine"]);
    let o = options(&none, FileConfig::default()).unwrap();
    assert_eq!(o.max_concurrent_connections, None);
    assert_eq!(o.max_concurrent_upgraded_connections, None);

    let file: FileConfig =
        toml::from_str("max-concurrent-connections = 50\nmax-concurrent-upgraded-connections = 7")
            .unwrap();
    let o = options(&none, file).unwrap();
    assert_eq!(o.max_concurrent_connections, Some(50));
    assert_eq!(o.max_concurrent_upgraded_connections, Some(7));

    // The command line over the file; "unlimited" as a value, 0 allowed for upgrades.
    let args = Args::parse_from([
        "peregrine",
        "--max-concurrent-connections",
        "unlimited",
        "--max-concurrent-upgraded-connections",
        "0",
    ]);
    let file: FileConfig =
        toml::from_str("max-concurrent-connections = 50\nmax-concurrent-upgraded-connections = 7")
            .unwrap();
    let o = options(&args, file).unwrap();
    assert_eq!(o.max_concurrent_connections, None);
    assert_eq!(o.max_concurrent_upgraded_connections, Some(0));

    let args = Args::parse_from(["peregrine", "--max-concurrent-upgraded-connections=1"]);
    let file: FileConfig =
        toml::from_str("max-concurrent-upgraded-connections = \"unlimited\"").unwrap();
    let o = options(&args, file).unwrap();
    assert_eq!(o.max_concurrent_upgraded_connections, Some(1));

    let args = Args::parse_from(["peregrine", "--max-concurrent-upgraded-connections=lots"]);
    let e = options(&args, FileConfig::default()).unwrap_err();
    assert!(e.contains("'lots' is not a number of connections"), "{e}");
}

#[test]
fn certificate_and_key_come_together() {
    let none = Args::parse_from(["peregrine"]);
    let o = options(&none, FileConfig::default()).unwrap();
    assert_eq!(o.tls, None);

    let args = Args::parse_from(["peregrine", "--cert", "a.pem", "--key", "a.key"]);
    let o = options(&args, FileConfig::default()).unwrap();
    let want = TlsOptions {
        cert: "a.pem".into(),
        key: "a.key".into(),
    };
    assert_eq!(o.tls, Some(want.clone()));

    // One without the other is an error naming what is missing.
    let args = Args::parse_from(["peregrine", "--cert", "a.pem"]);
    let e = options(&args, FileConfig::default()).unwrap_err();
    assert!(e.starts_with("--cert is given without --key"), "{e}");
    let args = Args::parse_from(["peregrine", "--key", "a.key"]);
    let e = options(&args, FileConfig::default()).unwrap_err();
    assert!(e.starts_with("--key is given without --cert"), "{e}");
    let file: FileConfig = toml::from_str("key = \"f.key\"").unwrap();
    let e = options(&none, file).unwrap_err();
    assert!(e.starts_with("--key is given without --cert"), "{e}");

    // Each from its own layer: the command line over the file, key by key.
    let file: FileConfig = toml::from_str("cert = \"f.pem\"\nkey = \"f.key\"").unwrap();
    let o = options(&none, file).unwrap();
    assert_eq!(
        o.tls,
        Some(TlsOptions {
            cert: "f.pem".into(),
            key: "f.key".into()
        })
    );
    let args = Args::parse_from(["peregrine", "--cert", "a.pem", "--key", "a.key"]);
    let file: FileConfig = toml::from_str("cert = \"f.pem\"\nkey = \"f.key\"").unwrap();
    assert_eq!(options(&args, file).unwrap().tls, Some(want));
    let args = Args::parse_from(["peregrine", "--key", "a.key"]);
    let file: FileConfig = toml::from_str("cert = \"f.pem\"").unwrap();
    assert_eq!(
        options(&args, file).unwrap().tls,
        Some(TlsOptions {
            cert: "f.pem".into(),
            key: "a.key".into()
        })
    );
}

#[test]
fn tls_handshake_timeout_is_a_duration() {
    let none = Args::parse_from(["peregrine"]);
    let o = options(&none, FileConfig::default()).unwrap();
    assert_eq!(o.tls_handshake_timeout, Duration::from_secs(10));

    let file: FileConfig = toml::from_str("tls-handshake-timeout = 3").unwrap();
    let o = options(&none, file).unwrap();
    assert_eq!(o.tls_handshake_timeout, Duration::from_secs(3));

    let args = Args::parse_from(["peregrine", "--tls-handshake-timeout", "1m"]);
    let file: FileConfig = toml::from_str("tls-handshake-timeout = \"3s\"").unwrap();
    let o = options(&args, file).unwrap();
    assert_eq!(o.tls_handshake_timeout, Duration::from_secs(60));

    let args = Args::parse_from(["peregrine", "--tls-handshake-timeout", "soon"]);
    let e = options(&args, FileConfig::default()).unwrap_err();
    assert_eq!(
        e,
        "--tls-handshake-timeout: invalid duration 'soon': use seconds (30), 30s, 500ms or 2m"
    );
    let args = Args::parse_from(["peregrine", "--tls-handshake-timeout", "0"]);
    let e = options(&args, FileConfig::default()).unwrap_err();
    assert_eq!(e, "--tls-handshake-timeout must be greater than 0");
}

#[test]
fn pkcs12_certificates_take_a_password_and_no_key() {
    let none = Args::parse_from(["peregrine"]);
    for name in ["a.pfx", "a.p12", "A.PFX", "dir.pem/a.P12"] {
        let args = Args::parse_from(["peregrine", "--cert", name, "--cert-password", "pw"]);
        let o = options(&args, FileConfig::default()).unwrap();
        assert_eq!(o.tls, None, "{name}");
        assert_eq!(
            o.pkcs12,
            Some(Pkcs12Certificate {
                file: name.into(),
                password: "pw".into()
            }),
            "{name}"
        );
    }
    // No password: an empty one.
    let args = Args::parse_from(["peregrine", "--cert", "a.pfx"]);
    let o = options(&args, FileConfig::default()).unwrap();
    assert_eq!(o.pkcs12.map(|p| p.password), Some(String::new()));
    // The password from the file, the certificate from the command line.
    let file: FileConfig = toml::from_str("cert-password = \"f\"").unwrap();
    let o = options(&args, file).unwrap();
    assert_eq!(o.pkcs12.map(|p| p.password), Some("f".to_string()));

    let args = Args::parse_from(["peregrine", "--cert", "a.pfx", "--key", "a.key"]);
    let e = options(&args, FileConfig::default()).unwrap_err();
    assert!(
        e.starts_with("--key ('a.key') is given with the PKCS#12"),
        "{e}"
    );
    let args = Args::parse_from(["peregrine", "--cert", "a.pem", "--cert-password", "x"]);
    let e = options(&args, FileConfig::default()).unwrap_err();
    assert!(
        e.starts_with("--cert-password is given with the PEM certificate 'a.pem'"),
        "{e}"
    );
    let file: FileConfig = toml::from_str("cert-password = \"x\"").unwrap();
    let e = options(&none, file).unwrap_err();
    assert!(
        e.starts_with("--cert-password is given without --cert"),
        "{e}"
    );
    // A name that only contains .pfx is PEM.
    let args = Args::parse_from(["peregrine", "--cert", "a.pfx.pem"]);
    let e = options(&args, FileConfig::default()).unwrap_err();
    assert!(e.starts_with("--cert is given without --key"), "{e}");
}

#[test]
fn sni_values_are_host_cert_key() {
    let sni = |host: &str, cert: &str, key: &str| SniCertificate {
        host: host.into(),
        files: TlsOptions {
            cert: cert.into(),
            key: key.into(),
        },
    };
    let args = Args::parse_from([
        "peregrine",
        "--sni",
        "api.test=a.pem,a.key",
        "--sni",
        "*.wild.test=w.pem,w.key;b.test = b.pem , b.key",
    ]);
    let o = options(&args, FileConfig::default()).unwrap();
    assert_eq!(
        o.sni,
        vec![
            sni("api.test", "a.pem", "a.key"),
            sni("*.wild.test", "w.pem", "w.key"),
            sni("b.test", "b.pem", "b.key"),
        ]
    );
    // The command line's list replaces the file's.
    let file: FileConfig = toml::from_str("sni = [\"f.test=f.pem,f.key\"]").unwrap();
    assert_eq!(
        options(&args, file).unwrap().sni.len(),
        3,
        "the file's list was merged in"
    );
    let none = Args::parse_from(["peregrine"]);
    let file: FileConfig = toml::from_str("sni = [\"f.test=f.pem,f.key\"]").unwrap();
    assert_eq!(
        options(&none, file).unwrap().sni,
        vec![sni("f.test", "f.pem", "f.key")]
    );
    for bad in [
        "api.test",
        "api.test=a.pem",
        "=a.pem,a.key",
        "api.test=,a.key",
        "api.test=a.pem,",
        "api.test=a.pem,a.key,b.key",
    ] {
        let args = Args::parse_from(["peregrine", "--sni", bad]);
        let e = options(&args, FileConfig::default()).unwrap_err();
        assert_eq!(e, format!("--sni '{bad}': expected {SNI_FORM}"));
    }
}

#[test]
fn client_certificate_mode_needs_a_ca() {
    let none = Args::parse_from(["peregrine"]);
    let o = options(&none, FileConfig::default()).unwrap();
    assert_eq!(
        o.client_certificate_mode,
        ClientCertificateMode::NoCertificate
    );
    assert_eq!(o.client_ca, None);
    for (text, mode) in [
        ("allow", ClientCertificateMode::AllowCertificate),
        ("Require", ClientCertificateMode::RequireCertificate),
    ] {
        let args = Args::parse_from([
            "peregrine",
            "--client-certificate-mode",
            text,
            "--client-ca",
            "ca.pem",
        ]);
        let o = options(&args, FileConfig::default()).unwrap();
        assert_eq!(o.client_certificate_mode, mode);
        assert_eq!(o.client_ca, Some("ca.pem".into()));
    }
    let args = Args::parse_from(["peregrine", "--client-certificate-mode", "none"]);
    assert!(options(&args, FileConfig::default()).is_ok());
    // The mode from the command line, the CA from the file.
    let args = Args::parse_from(["peregrine", "--client-certificate-mode", "require"]);
    let file: FileConfig = toml::from_str("client-ca = \"f.pem\"").unwrap();
    assert_eq!(
        options(&args, file).unwrap().client_ca,
        Some("f.pem".into())
    );

    let e = options(&args, FileConfig::default()).unwrap_err();
    assert!(e.contains("needs --client-ca"), "{e}");
    let args = Args::parse_from(["peregrine", "--client-ca", "ca.pem"]);
    let e = options(&args, FileConfig::default()).unwrap_err();
    assert!(e.starts_with("--client-ca ('ca.pem') is given but"), "{e}");
    let args = Args::parse_from(["peregrine", "--client-certificate-mode", "maybe"]);
    let e = options(&args, FileConfig::default()).unwrap_err();
    assert_eq!(
        e,
        "--client-certificate-mode: unknown client certificate mode 'maybe': expected \
         none, allow or require"
    );
}

#[test]
fn urls_systemd_requires_passed_sockets() {
    use peregrine::SocketActivation;
    let none = Args::parse_from(["peregrine"]);
    let o = options(&none, FileConfig::default()).unwrap();
    assert_eq!(o.socket_activation, SocketActivation::Auto);
    let args = Args::parse_from(["peregrine", "--urls", "systemd"]);
    let o = options(&args, FileConfig::default()).unwrap();
    assert_eq!(o.socket_activation, SocketActivation::Required);
    assert!(o.urls.is_empty());
    let file: FileConfig = toml::from_str("urls = \"systemd\"").unwrap();
    let o = options(&none, file).unwrap();
    assert_eq!(o.socket_activation, SocketActivation::Required);
    // The command line's prefixes win over the file's "systemd".
    let args = Args::parse_from(["peregrine", "--urls", "http://127.0.0.1:0"]);
    let file: FileConfig = toml::from_str("urls = \"systemd\"").unwrap();
    let o = options(&args, file).unwrap();
    assert_eq!(o.socket_activation, SocketActivation::Auto);
}

#[test]
fn restart_timeout_is_a_positive_duration() {
    let none = Args::parse_from(["peregrine"]);
    let o = options(&none, FileConfig::default()).unwrap();
    assert_eq!(o.restart_timeout, Duration::from_secs(30));
    let file: FileConfig = toml::from_str("restart-timeout = 5").unwrap();
    assert_eq!(
        options(&none, file).unwrap().restart_timeout,
        Duration::from_secs(5)
    );
    let args = Args::parse_from(["peregrine", "--restart-timeout", "0"]);
    let e = options(&args, FileConfig::default()).unwrap_err();
    assert_eq!(e, "--restart-timeout must be greater than 0");
}

#[test]
fn unknown_file_keys_are_errors() {
    assert!(toml::from_str::<FileConfig>("thread = 5").is_err());
}
