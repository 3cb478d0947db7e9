//! Text taken from a tracker's API (team names, people's names, item titles, keys and URLs) made
//! safe to show on every surface: pages, reports, metric labels. It owns only these checks; it
//! escapes nothing for a format (each renderer escapes for its own) and never drops a character
//! silently: a neutralised character is shown by its code point.

use std::borrow::Cow;

/// Characters that must never go out raw: NUL and every other control character (C0, DEL, C1,
/// line and paragraph separators) and the bidirectional controls that reorder what a reader
/// sees (embeddings, overrides, isolates and the direction marks).
fn hostile(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// The text with each hostile character replaced by its code point in brackets (`[U+202E]`), so
/// a reader sees that it was there; the text itself when there is none (no copy).
pub fn neutralize(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hostile) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if hostile(c) {
            out.push_str(&format!("[U+{:04X}]", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The URL when it may become a link: an absolute `http` or `https` URL (scheme in any case) with
/// a host, and no whitespace, control, bidirectional or markup-breaking character in it. Anything
/// else (`javascript:`, `data:`, relative, scheme-less) is never linked.
pub fn link_url(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return None;
    };
    let host_ok = rest.split(['/', '?', '#']).next().is_some_and(|h| !h.is_empty());
    let clean = !url.chars().any(|c| hostile(c) || c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | '`'));
    (host_ok && clean).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_characters_are_shown_by_code_point() {
        assert!(matches!(neutralize("payments"), Cow::Borrowed("payments")));
        assert_eq!(neutralize("pay\u{202E}stnem"), "pay[U+202E]stnem");
        assert_eq!(neutralize("a\0b\nc\u{7F}\u{85}"), "a[U+0000]b[U+000A]c[U+007F][U+0085]");
        assert_eq!(neutralize("\u{2066}x\u{2069}\u{200F}"), "[U+2066]x[U+2069][U+200F]");
        // Ordinary non-ASCII text stays as it is.
        assert_eq!(neutralize("Zahlungsverkehr – Überweisungen 支払い"), "Zahlungsverkehr – Überweisungen 支払い");
    }

    #[test]
    fn only_http_and_https_urls_become_links() {
        for good in ["https://github.com/acme/web/pull/7", "http://jira.local:8080/browse/PAY-1", "HTTPS://x.io/a?b#c"]
        {
            assert_eq!(link_url(good), Some(good), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            " javascript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "//evil.example/x",
            "/relative",
            "https://",
            "https:///path",
            "https://x.io/\n<javascript:alert(1)>",
            "https://x.io/\u{202E}gpj.exe",
            "https://x.io/a b",
            "https://x.io/\"onmouseover=alert(1)",
            "",
        ] {
            assert_eq!(link_url(bad), None, "{bad:?}");
        }
    }
}
