//! The words of a web-config YAML error without the values it quotes: serde's messages copy the
//! offending scalar (a bcrypt hash, an inline key, a whole file) into the text. Owns rewording
//! only; it keeps the position, the expected type and short key names, never a value.

use crate::config::secrets::looks_like_secret;

/// Longest error text kept: the position and what was expected fit easily.
const MAX_MESSAGE: usize = 300;

/// `error` as a message that names where and what, with every quoted value replaced.
pub fn describe(error: &serde_norway::Error) -> String {
    let mut text = without_values(&error.to_string());
    if text.chars().count() > MAX_MESSAGE {
        text = text.chars().take(MAX_MESSAGE).collect::<String>() + "…";
    }
    match error.location() {
        Some(at) if !text.contains(" at line ") => format!("line {} column {}: {text}", at.line(), at.column()),
        _ => text,
    }
}

/// Any message about the web config with the values that may be secrets removed even where
/// they are not quoted: bcrypt hashes and key material glued into a user name or a file name
/// (`prometheus$2y$10$…` when the `: ` was forgotten), tokens, credentials.
pub fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let dollar = word.find('$').is_some_and(|i| word.len() - i >= 12);
        if dollar || looks_like_secret(word) || crate::config::secrets::has_userinfo(word) {
            out.push_str(&format!("[a value of {} characters, not shown]", word.chars().count()));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in message.chars() {
        if c.is_whitespace() || "\"'`,;()[]{}".contains(c) {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Replaces `"…"` and `'…'` values with their length, and backticked ones (field names) when
/// long or secret-looking.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4 * MAX_MESSAGE));
    let mut chars = message.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let close = match c {
            '"' => '"',
            '`' => '`',
            _ => {
                out.push(c);
                continue;
            }
        };
        let rest = &message[i + 1..];
        let Some(end) = find_close(rest, close) else {
            out.push_str("[a value, not shown]");
            break;
        };
        let inner = &rest[..end];
        if close == '`' && inner.chars().count() <= 40 && !looks_like_secret(inner) {
            out.push('`');
            out.push_str(inner);
            out.push('`');
        } else {
            out.push_str(&format!("[a value of {} characters, not shown]", inner.chars().count()));
        }
        let skip_to = i + 1 + end + close.len_utf8();
        while chars.peek().is_some_and(|(j, _)| *j < skip_to) {
            chars.next();
        }
    }
    out
}

/// The end of a quoted value, skipping backslash escapes (serde quotes with Rust's `{:?}`).
fn find_close(s: &str, close: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            c if c == close && !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_go_field_names_stay() {
        assert_eq!(
            without_values("invalid type: string \"$2y$10$abc\\\"d\", expected a map; unknown field `basic_auth`"),
            "invalid type: string [a value of 13 characters, not shown], expected a map; unknown field `basic_auth`"
        );
    }
}
