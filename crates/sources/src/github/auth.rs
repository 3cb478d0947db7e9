//! GitHub credentials: a token read from an environment variable or a file, or a GitHub App
//! (app id + private key → RS256 JWT → installation token, renewed before it expires).
//! Owns loading and renewing secrets; never puts a secret or key material into a message.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::Value;

use crate::mutex::lock;
use crate::sources::http::{ApiClient, Budget, HttpError, HttpRequest, Method, Secret, parse_time};

/// An installation token is renewed when it has less than this left (GitHub gives one hour).
pub const RENEW_BEFORE: i64 = 5 * 60;

/// Reads a token from `env` (an environment variable name) or `file`, trimmed. Errors name the
/// variable or file, never the value.
pub fn load_token(env: Option<&str>, file: Option<&Path>, source: &str) -> Result<Secret, String> {
    let value = match (env, file) {
        (Some(var), _) => std::env::var(var).map_err(|_| {
            format!("source {source:?}: environment variable {var} (sources.token_env) is not set; export the GitHub token in it")
        })?,
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            format!("source {source:?}: cannot read the token file {} (sources.token_file): {e}", path.display())
        })?,
        (None, None) => return Err(format!("source {source:?}: no token_env or token_file configured")),
    };
    let value = value.trim();
    if value.is_empty() {
        return Err(format!("source {source:?}: the configured token is empty"));
    }
    Ok(Secret::new(value))
}

/// A GitHub App: signs JWTs with its private key and holds the current installation token.
pub struct AppAuth {
    app_id: u64,
    key: RsaKeyPair,
    installation_id: Mutex<Option<u64>>,
    /// (token, expires at).
    cached: Mutex<Option<(Secret, i64)>>,
    key_file: PathBuf,
}

impl std::fmt::Debug for AppAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppAuth")
            .field("app_id", &self.app_id)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

impl AppAuth {
    /// Loads the app's private key (PEM, PKCS#1 as GitHub issues it, or PKCS#8).
    pub fn load(app_id: u64, key_file: &Path, installation_id: Option<u64>, source: &str) -> Result<AppAuth, String> {
        let text = std::fs::read_to_string(key_file).map_err(|e| {
            format!(
                "source {source:?}: cannot read the GitHub App private key {} (sources.private_key_file): {e}",
                key_file.display()
            )
        })?;
        let invalid = || {
            format!(
                "source {source:?}: {} is not an RSA private key in PEM form; download a new key from the GitHub App's settings",
                key_file.display()
            )
        };
        let key = match PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|_| invalid())? {
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            _ => return Err(invalid()),
        }
        .map_err(|_| invalid())?;
        Ok(AppAuth {
            app_id,
            key,
            installation_id: Mutex::new(installation_id),
            cached: Mutex::new(None),
            key_file: key_file.to_path_buf(),
        })
    }

    /// The app's public key (DER, PKCS#1 `RSAPublicKey`), for verifying its JWTs in tests.
    pub fn public_key_der(&self) -> Vec<u8> {
        use ring::signature::KeyPair;
        self.key.public_key().as_ref().to_vec()
    }

    /// A JWT for the app: issued a minute in the past (clock drift), valid for nine minutes.
    pub fn jwt(&self, now: i64) -> Result<Secret, String> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"iat":{},"exp":{},"iss":"{}"}}"#, now - 60, now + 9 * 60, self.app_id));
        let signing_input = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), signing_input.as_bytes(), &mut signature)
            .map_err(|_| "signing the GitHub App JWT failed".to_string())?;
        Ok(Secret::new(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))))
    }

    /// The current installation token, renewed when less than `RENEW_BEFORE` is left. Without a
    /// configured installation id, the installation on `org` (or `owner/repo`) is looked up.
    pub async fn token(&self, client: &ApiClient, api_url: &str, lookup: &str) -> Result<Secret, HttpError> {
        let now = client.clock().now() as i64;
        if let Some((token, expires)) = lock(&self.cached).clone()
            && expires - now > RENEW_BEFORE
        {
            return Ok(token);
        }
        let jwt = self.jwt(now).map_err(|m| HttpError { kind: "http", status: None, message: m })?;
        client.register_secret(&jwt);
        let api = api_url.trim_end_matches('/');
        let known = *lock(&self.installation_id);
        let id = match known {
            Some(id) => id,
            None => {
                let path = if lookup.contains('/') {
                    format!("{api}/repos/{lookup}/installation")
                } else {
                    format!("{api}/orgs/{lookup}/installation")
                };
                let request = HttpRequest {
                    method: Method::Get,
                    url: path,
                    headers: rest_headers(),
                    body: None,
                    authorization: Some(jwt.clone()),
                };
                let (_, v) = client.send_json(&request, Budget::Rest, false).await?;
                v.get("id").and_then(Value::as_u64).ok_or_else(|| HttpError {
                    kind: "malformed",
                    status: None,
                    message: format!("the GitHub App installation on {lookup} has no id; set installation_id"),
                })?
            }
        };
        *lock(&self.installation_id) = Some(id);
        let request = HttpRequest {
            method: Method::Post,
            url: format!("{api}/app/installations/{id}/access_tokens"),
            headers: rest_headers(),
            body: Some(b"{}".to_vec()),
            authorization: Some(jwt),
        };
        let (_, v) = client.send_json(&request, Budget::Rest, false).await?;
        let token = v.get("token").and_then(Value::as_str).filter(|t| !t.is_empty()).ok_or_else(|| HttpError {
            kind: "malformed",
            status: None,
            message: format!("GitHub returned no installation token for installation {id}"),
        })?;
        let expires = v.get("expires_at").and_then(Value::as_str).and_then(parse_time).unwrap_or(now + 3600);
        let token = Secret::new(token);
        client.register_secret(&token);
        tracing::debug!(target: "siloscope::sources::github::auth", installation = id, expires_at = expires, "renewed the GitHub App installation token");
        *lock(&self.cached) = Some((token.clone(), expires));
        Ok(token)
    }

    /// Forgets the cached token (after GitHub rejected it).
    pub fn invalidate(&self) {
        *lock(&self.cached) = None;
    }
}

/// Headers of every REST request.
pub fn rest_headers() -> Vec<(String, String)> {
    vec![("accept".into(), "application/vnd.github+json".into()), ("x-github-api-version".into(), "2022-11-28".into())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_an_rsa_private_key_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-key.pem");
        for text in [
            "",
            "ghp_0123456789abcdef\n",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n",
        ] {
            std::fs::write(&path, text).unwrap();
            let e = AppAuth::load(1, &path, None, "gh").unwrap_err();
            assert_eq!(
                e,
                format!(
                    "source \"gh\": {} is not an RSA private key in PEM form; download a new key from the GitHub App's settings",
                    path.display()
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn load_errors_name_the_place_never_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.pem");
        std::fs::write(
            &path,
            "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END RSA PRIVATE KEY-----\n",
        )
        .unwrap();
        let e = AppAuth::load(1, &path, None, "gh").unwrap_err();
        assert!(e.contains("bad.pem") && e.contains("not an RSA private key") && !e.contains("c2VjcmV0"), "{e}");
        let e = load_token(Some("SILOSCOPE_TEST_UNSET_VARIABLE_XYZ"), None, "gh").unwrap_err();
        assert!(e.contains("SILOSCOPE_TEST_UNSET_VARIABLE_XYZ") && e.contains("is not set"), "{e}");
        let tok = dir.path().join("tok");
        std::fs::write(&tok, "  ghp_abc\n").unwrap();
        assert_eq!(load_token(None, Some(&tok), "gh").unwrap().expose(), "ghp_abc");
    }
}
