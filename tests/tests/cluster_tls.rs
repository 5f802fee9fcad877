//! `rediss://` against a real TLS `redis-server` (API.md §11): a CA and certificates made
//! by the test (rcgen); the server verified against a private CA (`.cluster_tls_ca`), a
//! client certificate when the server asks for one (`.cluster_tls_client`), and a server
//! the CA did not sign, or whose certificate has expired, refused at once, by name.

#[macro_use]
mod cluster_common;

use atasker::{ClusterError, Priority, Supervisor, TaskError};
use cluster_common::*;
use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
    KeyUsagePurpose,
};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

remote_task! {
    /// Returns `n + 1`.
    fn inc(n: u64) -> u64 {
        n + 1
    }
}

/// Kills the node when the test ends, whatever happened.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        kill9(&mut self.0);
    }
}

/// A test CA (PEM) and a certificate it signed, with its key.
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

/// A CA named `name`, a server certificate for 127.0.0.1 (valid now, or `expired`), and a
/// client certificate, all signed by that CA.
fn make_pki(name: &str, expired: bool) -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name.push(DnType::CommonName, name);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let signed = |names: Vec<String>, expired: bool| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        if expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &ca).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        server: signed(vec!["127.0.0.1".into(), "localhost".into()], expired),
        client: signed(vec!["atasker-client".into()], false),
        ca: ca.pem(),
    }
}

/// A `redis-server` with a TLS port (beside its plain one, which the tests look through),
/// serving `pki`'s server certificate; with `clients`, it asks clients for a certificate
/// `pki`'s CA signed. Returns the server and its `rediss://` URL.
fn tls_server(pki: &Pki, clients: bool) -> (RedisServer, String) {
    let dir = tempdir();
    let write = |file: &str, pem: &str| -> String {
        let path = dir.join(file);
        std::fs::write(&path, pem).unwrap();
        path.to_string_lossy().into_owned()
    };
    let (cert, key, ca) = (
        write("server.crt", &pki.server.0),
        write("server.key", &pki.server.1),
        write("ca.crt", &pki.ca),
    );
    let port = free_port().to_string();
    let auth = if clients { "yes" } else { "no" };
    let redis = RedisServer::start_with(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
        "--tls-auth-clients",
        auth,
    ]);
    (redis, format!("rediss://127.0.0.1:{port}/0"))
}

/// A fresh directory for this test's files.
fn tempdir() -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("atasker-tls-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A producer on `url` whose server is verified against `ca`.
fn producer_with_ca(url: &str, ca: &str) -> &'static Supervisor {
    Box::leak(Box::new(
        Supervisor::builder()
            .name("tls-producer")
            .cluster(url)
            .cluster_tls_ca(ca.as_bytes())
            .node_timeout(Duration::from_secs(3))
            .build()
            .unwrap(),
    ))
}

/// The file `name` in a fresh directory, holding `pem`.
fn pem_file(name: &str, pem: &str) -> PathBuf {
    let path = tempdir().join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

/// A zero set-up node on `url` with `env` (the TLS files) added.
fn tls_node(url: &str, env: &[(&str, &Path)]) -> Child {
    let mut cmd = self_command("zero_setup_node_never_runs_main");
    cmd.env("ATASKER_NODE", url)
        .env("ATASKER_NODE_TIMEOUT", "3");
    for (k, v) in env {
        cmd.env(k, v);
    }
    spawn(&mut cmd)
}

/// `t`'s result within `SOON`.
fn result(mut t: atasker::Task<u64>) -> Result<u64, TaskError> {
    t.wait_timeout(SOON * 2).expect("a result within SOON")
}

#[test]
fn a_producer_and_a_node_talk_over_tls_verified_against_a_private_ca() {
    let pki = make_pki("atasker test CA", false);
    let (_redis, url) = tls_server(&pki, false);
    let sup = producer_with_ca(&url, &pki.ca);
    let ca = pem_file("ca.crt", &pki.ca);
    let _node = Reaped(tls_node(&url, &[("ATASKER_NODE_TLS_CA", &ca)]));
    let opts = on(sup, Priority::Normal, None);
    assert_eq!(result(inc(opts, 41)), Ok(42));
}

#[test]
fn a_server_the_ca_did_not_sign_is_refused_at_once_by_name() {
    let pki = make_pki("atasker test CA", false);
    let other = make_pki("another CA", false);
    let (_redis, url) = tls_server(&pki, false);
    let sup = producer_with_ca(&url, &other.ca);
    let started = Instant::now();
    let got = result(inc(on(sup, Priority::Normal, None), 1));
    let Err(TaskError::Cluster(text)) = got else {
        panic!("{got:?}");
    };
    assert!(text.contains("certificate"), "{text}");
    assert!(started.elapsed() < SOON, "said at once, not after retries");
    let e = sup.serve_cluster().unwrap_err();
    assert!(
        matches!(&e, ClusterError::Refused(t) if t.contains("certificate")),
        "{e:?}"
    );
    // A zero set-up node with that CA exits 2 with one line that says so.
    let ca = pem_file("ca.crt", &other.ca);
    let mut node = Reaped(tls_node(&url, &[("ATASKER_NODE_TLS_CA", &ca)]));
    let status = wait_exit(&mut node.0, SOON * 2).expect("the node exits");
    assert_eq!(status.code(), Some(2));
}

#[test]
fn an_expired_server_certificate_is_refused_at_once_by_name() {
    let pki = make_pki("atasker test CA", true);
    let (_redis, url) = tls_server(&pki, false);
    let sup = producer_with_ca(&url, &pki.ca);
    let started = Instant::now();
    let got = result(inc(on(sup, Priority::Normal, None), 1));
    let Err(TaskError::Cluster(text)) = got else {
        panic!("{got:?}");
    };
    assert!(text.contains("expired"), "{text}");
    assert!(started.elapsed() < SOON, "said at once, not after retries");
}

#[test]
fn a_server_that_asks_for_a_client_certificate_gets_one() {
    let pki = make_pki("atasker test CA", false);
    let (_redis, url) = tls_server(&pki, true);
    // Without one: refused at once.
    let without = producer_with_ca(&url, &pki.ca);
    let started = Instant::now();
    let got = result(inc(on(without, Priority::Normal, None), 1));
    assert!(matches!(&got, Err(TaskError::Cluster(_))), "{got:?}");
    assert!(started.elapsed() < SOON, "said at once, not after retries");
    // With one: a producer and a node.
    let with: &'static Supervisor = Box::leak(Box::new(
        Supervisor::builder()
            .name("tls-client")
            .cluster(&url)
            .cluster_tls_ca(pki.ca.as_bytes())
            .cluster_tls_client(pki.client.0.as_bytes(), pki.client.1.as_bytes())
            .node_timeout(Duration::from_secs(3))
            .build()
            .unwrap(),
    ));
    let files = [
        ("ATASKER_NODE_TLS_CA", pem_file("ca.crt", &pki.ca)),
        (
            "ATASKER_NODE_TLS_CERT",
            pem_file("client.crt", &pki.client.0),
        ),
        (
            "ATASKER_NODE_TLS_KEY",
            pem_file("client.key", &pki.client.1),
        ),
    ];
    let env: Vec<(&str, &Path)> = files.iter().map(|(k, p)| (*k, p.as_path())).collect();
    let _node = Reaped(tls_node(&url, &env));
    assert_eq!(result(inc(on(with, Priority::Normal, None), 1)), Ok(2));
}
