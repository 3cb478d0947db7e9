//! The sources' network transport over TLS (rustls with ring): a server whose certificate a
//! private CA signed is refused under the system's roots and accepted once `SSL_CERT_FILE` names
//! that CA; a refused connection says so without naming a transport library. One test in this
//! binary, since it sets `SSL_CERT_FILE` for the process.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use siloscope::sources::http::{HttpRequest, Method, NetworkTransport, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A private test CA (valid until 2126) and a server certificate it signed for 127.0.0.1 and
/// localhost, with the server's key. Tests only.
const TEST_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBnzCCAUWgAwIBAgIUdkaaEe5MpALCaUAKW6rQsYyIyocwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRc2lsb3Njb3BlIHRlc3QgQ0EwIBcNMjYxMjAyMTYxMDA1WhgP
MjEyNjExMDgxNjEwMDVaMBwxGjAYBgNVBAMMEXNpbG9zY29wZSB0ZXN0IENBMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEag3kAMIT3PHawGNMoGHLVhqWLEN+YN3D
WYPA+8FAL4HJn1SeWAPMpSkrfEkmorLln8rimNIrpeAZlGguajH1m6NjMGEwHQYD
VR0OBBYEFNqAu7Jy+qwnJxycORf+nU8diqftMB8GA1UdIwQYMBaAFNqAu7Jy+qwn
JxycORf+nU8diqftMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgIEMAoG
CCqGSM49BAMCA0gAMEUCIFKgIvXexgEQyabsy/PV7rG8vu9F8ElO9lIlk0JS0j9a
AiEA7JDjP96cFj+pcLnuN+amqNukRLsFzKRvmpC8YlRiRDM=
-----END CERTIFICATE-----
";
const SERVER_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBwTCCAWigAwIBAgIUWf5IICPWQl8IGdLB0JZvJeRwFuwwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRc2lsb3Njb3BlIHRlc3QgQ0EwIBcNMjYxMjAyMTYxMDA1WhgP
MjEyNjExMDgxNjEwMDVaMCAxHjAcBgNVBAMMFXNpbG9zY29wZSB0ZXN0IHNlcnZl
cjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABE7nTLsiMUCUv0d7Hbz2ZXC5C4fC
J+jhuY7B5GWBynqPvEI12ao9bTPtCmQw68pBaI2vh644cOxb1j3gNjngXvGjgYEw
fzAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwDAYDVR0TAQH/BAIwADATBgNV
HSUEDDAKBggrBgEFBQcDATAdBgNVHQ4EFgQUSKRca+Ln6uj1nUunnC9+GdWN6Pww
HwYDVR0jBBgwFoAU2oC7snL6rCcnHJw5F/6dTx2Kp+0wCgYIKoZIzj0EAwIDRwAw
RAIgKTTr14S6aiz+4J1sFELJDv0NIUD5jw39iTJYfiBQvncCIAeQwocmMBHr/bL+
yzeO2tlerBL2t0pF2LVJ5ko/KSFJ
-----END CERTIFICATE-----
";
const SERVER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg4jUvry+yg1PLQDJj
0yzVqjwXjGrfo/dNqJdf8ncrPjWhRANCAARO50y7IjFAlL9Hex289mVwuQuHwifo
4bmOweRlgcp6j7xCNdmqPW0z7QpkMOvKQWiNr4euOHDsW9Y94DY54F7x
-----END PRIVATE KEY-----
";

/// An HTTPS server on loopback answering every request `200 ok`; handshakes that fail are dropped.
async fn https_server() -> String {
    let cert = CertificateDer::from_pem_slice(SERVER_CERT.as_bytes()).unwrap();
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}/ping", listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";
                let _ = tls.write_all(answer).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    url
}

fn get(url: &str) -> HttpRequest {
    HttpRequest { method: Method::Get, url: url.into(), headers: vec![], body: None, authorization: None }
}

fn names_no_library(message: &str) {
    for name in ["reqwest", "hyper", "octocrab"] {
        assert!(!message.to_ascii_lowercase().contains(name), "{message}");
    }
}

#[tokio::test]
async fn tls_is_verified_against_the_system_roots_or_the_ca_ssl_cert_file_names() {
    let url = https_server().await;
    let timeout = Duration::from_secs(5);

    // The system's roots do not know the private CA: the handshake is refused.
    // SAFETY (both `set_var` calls): this binary's only test, before any other thread reads it.
    unsafe { std::env::remove_var("SSL_CERT_FILE") };
    unsafe { std::env::remove_var("SSL_CERT_DIR") };
    if let Ok(system) = NetworkTransport::new(timeout) {
        let refused = system.send(&get(&url)).await.unwrap_err();
        assert!(refused.starts_with("cannot connect: ") && refused.contains("certificate"), "{refused}");
        names_no_library(&refused);
        eprintln!("untrusted CA: {refused}");
    }

    // With the CA named, the same server is trusted.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, TEST_CA).unwrap();
    unsafe { std::env::set_var("SSL_CERT_FILE", &ca) };
    let private = NetworkTransport::new(timeout).unwrap();
    let answer = private.send(&get(&url)).await.unwrap();
    assert_eq!((answer.status, answer.body.as_slice()), (200, b"ok".as_slice()));

    // A port nobody listens on: a plain description, no library's name.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let refused = private.send(&get(&format!("http://127.0.0.1:{port}/"))).await.unwrap_err();
    assert!(refused.starts_with("cannot connect: "), "{refused}");
    names_no_library(&refused);
    eprintln!("closed port: {refused}");
}
