//! Text helpers every tracker's parser shares: what a comment's text says that the signals read
//! (team handles mentioned as `@org/team`). Pure functions over untrusted text; no source owns them.

/// Team handles mentioned as `@org/team` in a text, lower-cased, without duplicates.
pub fn team_mentions(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out: Vec<String> = Vec::new();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.';
    for (i, _) in text.match_indices('@') {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'`' || bytes[i - 1] == b'/') {
            continue; // an e-mail address or code
        }
        let org_end = (i + 1..bytes.len())
            .find(|&j| !(bytes[j].is_ascii_alphanumeric() || bytes[j] == b'-'))
            .unwrap_or(bytes.len());
        if org_end == i + 1 || org_end >= bytes.len() || bytes[org_end] != b'/' {
            continue;
        }
        let team_end = (org_end + 1..bytes.len()).find(|&j| !word(bytes[j])).unwrap_or(bytes.len());
        let team = text[org_end + 1..team_end].trim_end_matches('.');
        if team.is_empty() {
            continue;
        }
        let handle = format!("{}/{}", &text[i + 1..org_end], team).to_ascii_lowercase();
        if !out.contains(&handle) {
            out.push(handle);
        }
    }
    out
}
