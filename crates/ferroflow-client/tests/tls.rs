//! MLflow's TLS variables against a real TLS server (`openssl s_server` with a throwaway
//! CA made by `openssl`): trusting a CA bundle, skipping verification, and presenting a
//! client certificate. The server answers every request with its HTML status page, so a
//! finished handshake shows as a decode error and a refused one as a transport error.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferroflow_client::{Client, ClientConfig, Error};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate (cert + key in one
/// file, as MLFLOW_TRACKING_CLIENT_CERT_PATH takes it), all signed by the CA. Each has an
/// extension, which makes it an X.509 v3 certificate, the only version webpki accepts.
fn certificates(dir: &Path) {
    let ca = "-x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=test-ca";
    openssl(dir, &["req"].into_iter().chain(ca.split(' ')).collect::<Vec<_>>());
    for (name, extension) in [("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")] {
        std::fs::write(dir.join(format!("{name}.ext")), format!("{extension}\n")).unwrap();
        let request = format!("req -newkey rsa:2048 -nodes -keyout {name}.key -out {name}.csr -subj /CN={name}");
        openssl(dir, &request.split(' ').collect::<Vec<_>>());
        let sign = format!(
            "x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out {name}.pem -days 1 -extfile {name}.ext"
        );
        openssl(dir, &sign.split(' ').collect::<Vec<_>>());
    }
    let bundle = [
        std::fs::read_to_string(dir.join("client.pem")).unwrap(),
        std::fs::read_to_string(dir.join("client.key")).unwrap(),
    ]
    .concat();
    std::fs::write(dir.join("client-bundle.pem"), bundle).unwrap();
}

struct TlsServer {
    child: Child,
    uri: String,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tls_server(dir: &Path, require_client_cert: bool) -> TlsServer {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = Command::new("openssl");
    command
        .args([
            "s_server",
            "-quiet",
            "-www",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            "server.pem",
            "-key",
            "server.key",
        ])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if require_client_cert {
        command.args(["-Verify", "1", "-CAfile", "ca.pem"]);
    }
    let child = command.spawn().expect("start openssl s_server");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "openssl s_server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    TlsServer { child, uri: format!("https://127.0.0.1:{port}") }
}

fn config(uri: &str, vars: &[(&str, String)]) -> ClientConfig {
    let mut vars = vars.to_vec();
    vars.push(("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0".into()));
    ClientConfig::from_lookup(Some(uri), |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())).unwrap()
}

async fn outcome(config: ClientConfig) -> Error {
    Client::new(config).unwrap().get_experiment("1").await.unwrap_err()
}

fn have_openssl() -> bool {
    let found = Command::new("openssl").arg("version").output().is_ok();
    if !found {
        eprintln!("SKIPPED: no openssl command to make certificates and a TLS server with");
    }
    found
}

#[tokio::test]
async fn server_certificates_are_verified_against_the_given_ca_or_not_at_all() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let server = tls_server(dir.path(), false);
    let ca = dir.path().join("ca.pem").display().to_string();

    let untrusted = outcome(config(&server.uri, &[])).await;
    assert!(matches!(&untrusted, Error::Transport { .. }), "an unknown CA is refused: {untrusted}");
    let trusted = outcome(config(&server.uri, &[("MLFLOW_TRACKING_SERVER_CERT_PATH", ca)])).await;
    assert!(matches!(&trusted, Error::Decode { .. }), "the handshake completes with the CA: {trusted}");
    let insecure = outcome(config(&server.uri, &[("MLFLOW_TRACKING_INSECURE_TLS", "true".into())])).await;
    assert!(matches!(&insecure, Error::Decode { .. }), "verification skipped: {insecure}");
    let missing = ClientConfig { server_cert_path: Some("/no/such/ca.pem".into()), ..config(&server.uri, &[]) };
    assert!(matches!(Client::new(missing), Err(Error::Config(_))));
}

#[tokio::test]
async fn a_client_certificate_is_presented_when_the_server_asks_for_one() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let server = tls_server(dir.path(), true);
    let ca = ("MLFLOW_TRACKING_SERVER_CERT_PATH", dir.path().join("ca.pem").display().to_string());
    let without = outcome(config(&server.uri, std::slice::from_ref(&ca))).await;
    assert!(matches!(&without, Error::Transport { .. }), "no client certificate, no connection: {without}");
    let client_cert = ("MLFLOW_TRACKING_CLIENT_CERT_PATH", dir.path().join("client-bundle.pem").display().to_string());
    let with = outcome(config(&server.uri, &[ca, client_cert])).await;
    assert!(matches!(&with, Error::Decode { .. }), "{with}");
}
