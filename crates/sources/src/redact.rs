//! The one scrubber for text that leaves the process from a source (errors, log fields, header
//! values a server sent): every configured secret in every encoding a server may echo it in.
//! It owns matching only; it stores no secret outside itself and never prints what it removed.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use crate::sources::http::encode_component;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not scrubbed: they would blank out ordinary words.
const MIN_SECRET: usize = 4;

/// Every encoding of the registered secrets, lower-cased (matching ignores ASCII case).
#[derive(Default, Clone)]
pub struct Redactor {
    needles: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} forms)", self.needles.len())
    }
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Adds a credential as it is sent: a bare token, `Bearer …`, `token …` or `Basic <base64 of
    /// user:password>` (the pair, the password alone and the base64 are then all scrubbed).
    pub fn add(&mut self, secret: &str) {
        let secret = secret.trim();
        let lower = secret.to_ascii_lowercase();
        for scheme in ["bearer ", "token "] {
            if lower.starts_with(scheme) {
                return self.add(&secret[scheme.len()..]);
            }
        }
        if lower.starts_with("basic ") {
            let encoded = secret[6..].trim();
            if let Some(pair) = decode_any(encoded).and_then(|b| String::from_utf8(b).ok()) {
                if let Some((_, password)) = pair.split_once(':') {
                    self.add_value(password);
                }
                self.add_value(&pair);
            }
            self.add_value(encoded);
            return;
        }
        self.add_value(secret);
    }

    /// Adds one value with all its encodings.
    fn add_value(&mut self, value: &str) {
        if value.len() < MIN_SECRET {
            return;
        }
        let mut forms = vec![value.to_string()];
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            let b64 = engine.encode(value);
            forms.push(b64.clone());
            // A base64 text embedded further on ends its last full group early; the padding-free
            // prefix of whole groups is what any echo of it contains.
            let whole = b64.trim_end_matches('=').len() / 4 * 4;
            if whole >= 8 {
                forms.push(b64[..whole].to_string());
            }
        }
        let mut encoded = Vec::new();
        for f in &forms {
            for header in [f.clone(), format!("Bearer {f}"), format!("Basic {f}"), format!("token {f}")] {
                let once = encode_component(&header);
                encoded.push(encode_component(&once));
                encoded.push(once);
                encoded.push(header.replace(' ', "+"));
                encoded.push(json_escape(&header));
            }
        }
        forms.extend(encoded);
        for f in forms {
            let f = f.to_ascii_lowercase();
            if f.len() >= MIN_SECRET && !self.needles.contains(&f) {
                self.needles.push(f);
            }
        }
        // Longest first, so that the widest match wins when forms overlap.
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The text with every occurrence of every form replaced by `[redacted]`.
    pub fn scrub(&self, text: &str) -> String {
        if self.needles.is_empty() {
            return text.to_string();
        }
        let hay = text.to_ascii_lowercase();
        let mut cut = vec![false; text.len()];
        for n in &self.needles {
            let mut from = 0;
            while let Some(i) = hay[from..].find(n.as_str()) {
                let start = from + i;
                cut[start..start + n.len()].iter_mut().for_each(|c| *c = true);
                from = start + 1;
                while !hay.is_char_boundary(from) {
                    from += 1;
                }
            }
        }
        if !cut.contains(&true) {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut in_cut = false;
        for (i, ch) in text.char_indices() {
            if cut[i] {
                if !in_cut {
                    out.push_str(REDACTED);
                }
                in_cut = true;
            } else {
                in_cut = false;
                out.push(ch);
            }
        }
        out
    }
}

fn decode_any(encoded: &str) -> Option<Vec<u8>> {
    [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD].iter().find_map(|e| e.decode(encoded).ok())
}

fn json_escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted.trim_matches('"').replace('/', "\\/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_encoding_of_a_basic_pair_is_scrubbed() {
        let mut r = Redactor::new();
        let header = format!("Basic {}", STANDARD.encode("me@acme.io:ATATTs3cr3t+/tok=="));
        r.add(&header);
        let b64 = STANDARD.encode("me@acme.io:ATATTs3cr3t+/tok==");
        for leak in [
            "ATATTs3cr3t+/tok==".to_string(),
            "atatts3cr3t+/tok==".to_string(),
            b64.clone(),
            URL_SAFE_NO_PAD.encode("me@acme.io:ATATTs3cr3t+/tok=="),
            encode_component(&header),
            encode_component(&encode_component(&header)),
            header.replace(' ', "+"),
            json_escape(&b64),
            STANDARD.encode("ATATTs3cr3t+/tok=="),
        ] {
            let out = r.scrub(&format!("server said: {leak}!"));
            assert!(out.starts_with("server said: [redacted]") && out.ends_with('!'), "{leak} → {out}");
        }
    }

    #[test]
    fn bearer_tokens_any_case_and_unicode_around() {
        let mut r = Redactor::new();
        r.add("ghp_CANARYtoken7f3a9c1e5b2d");
        let out = r.scrub("é bearer GHP_canarytoken7F3A9C1E5B2D ü");
        assert_eq!(out, "é [redacted] ü");
        assert_eq!(r.scrub("nothing here"), "nothing here");
    }
}
