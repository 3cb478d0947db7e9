//! Which config values may be secrets: credentials in URLs (`https://user:pass@host`), tokens
//! pasted where an environment variable's name belongs, and quoted values in error messages.
//! Owns the heuristics only; it never prints a value it judges secret, and reads no environment.

/// Why a URL is refused: it carries credentials (`user:password@` or a secret query parameter).
/// `None` when the URL holds none. The value itself is never part of the answer.
pub fn url_credentials(url: &str) -> Option<&'static str> {
    // `https:/user@host` (a slash lost) has its user info all the same.
    let (scheme, rest) = match url.split_once(':') {
        Some((s, r)) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
            (true, r.trim_start_matches('/'))
        }
        _ => url.split_once("://").map_or((false, url), |(_, r)| (true, r)),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if scheme && rest[..authority_end].contains('@') || has_userinfo(url) {
        return Some("a user name or password before `@`");
    }
    let query = rest[authority_end..].split_once('?').map(|(_, q)| q.split('#').next().unwrap_or(""));
    for pair in query.unwrap_or("").split('&') {
        let key = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
        if SECRET_QUERY_KEYS.contains(&key.as_str()) {
            return Some("a credential in its query string");
        }
    }
    None
}

/// `name:password@` anywhere, even in a mangled URL (`https:/me:pw@host`): an `@` with a `:`
/// between it and the `/` or space before it. A plain e-mail address has none.
pub fn has_userinfo(s: &str) -> bool {
    s.match_indices('@').any(|(i, _)| {
        let before = &s[..i];
        let word = before.rsplit(char::is_whitespace).next().unwrap_or("");
        // An identity (`email:alice@acme.io`) is an address, not a password.
        let word = word.strip_prefix("email:").or_else(|| word.strip_prefix("mailto:")).unwrap_or(word);
        word.rsplit('/').next().unwrap_or("").contains(':')
    })
}

const SECRET_QUERY_KEYS: &[&str] =
    &["token", "access_token", "private_token", "password", "passwd", "pwd", "api_key", "apikey", "key", "secret"];

/// The shape of an environment variable's name (`GITHUB_TOKEN`, `jira_token`).
pub fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Prefixes of well-known credential formats: GitHub, GitLab, Atlassian, Slack, JWTs, bcrypt,
/// PEM keys, HTTP authorization values.
const SECRET_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "gloas-",
    "glptt-",
    "gldt-",
    "ATATT",
    "ATCTT",
    "xoxb-",
    "xoxp-",
    "eyJ",
    "$2a$",
    "$2b$",
    "$2y$",
    "-----BEGIN",
    "Bearer ",
    "Basic ",
    "bearer ",
    "basic ",
];

/// Whether a value looks like a credential rather than a name, a path or a URL: a well-known
/// token prefix, or a long run of letters and digits mixed the way random tokens are (an
/// environment variable name in upper case with underscores is not).
pub fn looks_like_secret(s: &str) -> bool {
    // A file path is judged a component at a time: a directory such as a temporary one
    // (`/tmp/.tmp2T41CE/siloscope.key`) glued to the file name is not a token, a token used
    // as a file or directory name still is.
    let t = s.trim();
    if ["/", "./", "../", "~/"].iter().any(|p| t.starts_with(p)) && !t.contains("://") {
        return t.split('/').any(word_looks_like_secret);
    }
    word_looks_like_secret(s)
}

fn word_looks_like_secret(s: &str) -> bool {
    // A token with something glued to it (`,ghp_…`, `x =ghp_…`) is still a token.
    whole_secret(s)
        || s.split(|c: char| !(c.is_ascii_alphanumeric() || "-_+/=$".contains(c)))
            .any(|word| word.len() >= 8 && word.len() < s.trim().len() && whole_secret(word))
}

fn whole_secret(s: &str) -> bool {
    let s = s.trim();
    if SECRET_PREFIXES.iter().any(|p| s.starts_with(p)) {
        return true;
    }
    if s.len() < 16 || s.contains(char::is_whitespace) || s.contains("://") {
        return false;
    }
    let upper_env = s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if upper_env {
        return false;
    }
    let tokenish = s.chars().all(|c| c.is_ascii_alphanumeric() || "-_+/=".contains(c));
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let lower = s.chars().filter(char::is_ascii_lowercase).count();
    let upper = s.chars().filter(char::is_ascii_uppercase).count();
    // Random tokens mix classes densely; words and paths rarely have this many digits in them.
    // Mixed case with digits (base62 tokens), or a long run dense in digits (hex tokens); a
    // lower-case name with a number in it (`customfield_10400`) is neither.
    tokenish && digits >= 3 && (upper > 0 && lower > 0 || s.len() >= 32 && digits * 4 >= s.len())
}

/// A token pasted where a variable's name belongs (`token_env = "ghp_…"`).
pub fn pasted_token(s: &str) -> bool {
    looks_like_secret(s) && !s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Text of an error message with every quoted value that may be a secret replaced by a
/// description, and credentials in quoted URLs removed. Values in `"…"` and `` `…` `` quotes.
pub fn scrub_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`', '\'']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        out.push_str(&rest[..=start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find(quote) else {
            out.push_str(&shown(after));
            return out;
        };
        out.push_str(&shown(&after[..end]));
        out.push(quote);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A value as it may appear in a message: itself, or a description when it may be a secret.
pub fn shown(value: &str) -> String {
    if looks_like_secret(value) {
        return format!("[a value of {} characters that looks like a secret, not shown]", value.chars().count());
    }
    if url_credentials(value).is_some() {
        if value.starts_with("https://") || value.starts_with("http://") {
            return strip_userinfo(value);
        }
        return format!("[a value of {} characters with credentials in it, not shown]", value.chars().count());
    }
    value.to_string()
}

/// The URL with its `user:password@` part and query string replaced by `[redacted]`.
pub fn strip_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    // A mangled URL (`me#:pw@host`) has its password past the first `/`, `?` or `#`: cut at the
    // last `@` of a user-info part wherever it is.
    let (user, rest) = match rest.rfind('@') {
        Some(at) if has_userinfo(rest) => ("[redacted]@", &rest[at + 1..]),
        _ => ("", rest),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let user = if user.is_empty() && authority.contains('@') { "[redacted]@" } else { user };
    let path = tail.split('?').next().unwrap_or("");
    let query = if tail.contains('?') { "?[redacted]" } else { "" };
    format!("{scheme}{user}{host}{path}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls() {
        assert!(url_credentials("http://user:hunter2@host/x").is_some());
        assert!(url_credentials("https://me@example.com@host").is_some());
        assert!(url_credentials("https://gitlab.example.com/?private_token=abc").is_some());
        assert!(url_credentials("https://host/a@b").is_none());
        assert!(url_credentials("https://acme.atlassian.net").is_none());
        assert!(url_credentials("https:/?me:pw@host").is_some() && url_credentials("@").is_none());
        assert!(url_credentials("https:/Hunt3rpw@host/x").is_some());
        assert!(!has_userinfo("email:alice@acme.io") && has_userinfo("email:alice:pw@acme.io"));
        assert_eq!(
            scrub_quoted("before `@`; 'gitttps://me:pw@h'"),
            "before `@`; '[a value of 17 characters with credentials in it, not shown]'"
        );
        assert_eq!(strip_userinfo("http://u:p@h:1/x?token=t"), "http://[redacted]@h:1/x?[redacted]");
        assert_eq!(strip_userinfo("https://me#:pw@gitlab.example.com/x"), "https://[redacted]@gitlab.example.com/x");
    }

    #[test]
    fn secrets_and_names() {
        for s in [
            "ghp_CANARYtoken7f3a9c1e5b2d",
            "glpat-xxxxyyyyzzzz",
            "ATATT3xFfGF0abc",
            "a1B2c3D4e5F6g7H8i9",
            "$2y$10$abc",
            "0123456789abcdef0123456789abcdef01234567",
        ] {
            assert!(looks_like_secret(s) && pasted_token(s), "{s}");
        }
        for s in
            ["GITHUB_TOKEN", "JIRA_TOKEN_2024_PROD", "github_token", "my-project-name", "siloscope.db", "https://x/y"]
        {
            assert!(!pasted_token(s), "{s}");
        }
        // Temporary directories (random mixed case with digits) in a path are not tokens; a
        // token as a path component still is. Found when a test's temporary directory hid the
        // key file's path in a web-config error.
        for path in ["/tmp/.tmp2T41CE/siloscope.key", "/tmp/.tmpA1b2C3/s.db", "./certs/x9Y8z7W6/siloscope.crt"] {
            assert!(!looks_like_secret(path), "{path}");
        }
        assert!(looks_like_secret("/etc/siloscope/ghp_CANARYtoken7f3a9c1e5b2d"));
        assert!(looks_like_secret("/run/a1B2c3D4e5F6g7H8i9/key"));
        assert_eq!(
            scrub_quoted("found \"ghp_CANARYtoken7f3a9c1e5b2d\" and \"GITHUB\""),
            "found \"[a value of 27 characters that looks like a secret, not shown]\" and \"GITHUB\""
        );
    }
}
