//! `--web.external-url`: the URL under which siloscope is reachable (behind a reverse proxy, say),
//! as Prometheus' flag of that name. Its path is the prefix every route is served under, and every
//! link siloscope writes is absolute from it. Owns parsing and joining; serves nothing.

use std::net::SocketAddr;

/// An absolute http(s) URL without query or fragment; `prefix` is its path without the final `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalUrl {
    /// Scheme, host and port: `https://siloscope.acme.io`.
    origin: String,
    /// `""` or `/siloscope` (never ending in `/`).
    prefix: String,
}

impl ExternalUrl {
    /// Parses the flag's value; the error says what to pass instead.
    pub fn parse(text: &str) -> Result<ExternalUrl, String> {
        let bad = |why: &str| {
            format!(
                "invalid --web.external-url {text:?}: {why}; expected an absolute URL such as https://siloscope.acme.io/siloscope"
            )
        };
        let url = url::Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("it must not hold a user name or password"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad("it must not have a query or a fragment"));
        }
        let Some(host) = url.host_str() else { return Err(bad("it has no host")) };
        let origin = match url.port() {
            Some(port) => format!("{}://{host}:{port}", url.scheme()),
            None => format!("{}://{host}", url.scheme()),
        };
        let prefix = url.path().trim_end_matches('/').to_string();
        Ok(ExternalUrl { origin, prefix })
    }

    /// Without the flag: the listener's own address (as Prometheus derives it), `https` with TLS.
    /// An unspecified address (0.0.0.0, [::]) becomes the machine's host name.
    pub fn derived(local: SocketAddr, tls: bool) -> ExternalUrl {
        let scheme = if tls { "https" } else { "http" };
        let host = if local.ip().is_unspecified() {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
                .unwrap_or_else(|| "localhost".into())
        } else if local.is_ipv6() {
            format!("[{}]", local.ip())
        } else {
            local.ip().to_string()
        };
        ExternalUrl { origin: format!("{scheme}://{host}:{}", local.port()), prefix: String::new() }
    }

    /// The path prefix the routes are served under: `""` or `/siloscope`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The absolute URL of `path` (starting with `/`) and an already encoded query (may be empty).
    pub fn join(&self, path: &str, query: &str) -> String {
        let q = if query.is_empty() { String::new() } else { format!("?{query}") };
        format!("{}{}{path}{q}", self.origin, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_the_prefix_and_links_are_absolute() {
        let u = ExternalUrl::parse("https://proxy.acme.io/siloscope/").unwrap();
        assert_eq!(u.prefix(), "/siloscope");
        assert_eq!(
            u.join("/handoffs", "to_team=payments"),
            "https://proxy.acme.io/siloscope/handoffs?to_team=payments"
        );
        let u = ExternalUrl::parse("http://10.0.0.1:9731").unwrap();
        assert_eq!((u.prefix(), u.join("/handoffs", "").as_str()), ("", "http://10.0.0.1:9731/handoffs"));
        for bad in ["ftp://x/", "/siloscope", "https://u:p@x/", "https://x/?a=b", "https://x/#f", "x"] {
            assert!(ExternalUrl::parse(bad).unwrap_err().contains("--web.external-url"), "{bad}");
        }
        let d = ExternalUrl::derived("127.0.0.1:9731".parse().unwrap(), true);
        assert_eq!(d.join("/handoffs", ""), "https://127.0.0.1:9731/handoffs");
    }
}
