//! The config toolkit: a checker that walks a TOML document with its spans and collects every
//! problem with file:line:column, what is wrong and how to fix it, plus the value parsers it
//! needs (durations, dates, UTC offsets). The config's own sections and each source's `config.rs`
//! check with it, so a source checks its keys without depending on the whole config. It knows no
//! section and no source, opens nothing, and never echoes a secret value back (`secrets`).
//! It uses only toml, chrono, strsim and the model's time units, so it can become a crate alone.

use std::fmt;
use std::ops::Range;

use chrono::{DateTime, NaiveDate, NaiveTime};
use toml::Spanned;
pub use toml::de::{DeTable, DeValue};
use toml::value::{Datetime, Offset};

use crate::model::{DAY, HOUR, MINUTE, Ts};

pub mod secrets;

/// A value of the document with its byte span.
pub type Value<'i> = Spanned<DeValue<'i>>;

/// Any configured duration (signal windows, stall times, bounce windows): ten years.
pub const MAX_DURATION: Ts = 3650 * DAY;

/// Keys whose inline string value would put a secret in the config file.
const SECRET_KEYS: &[&str] = &["token", "password", "private_key"];

/// Every problem found in a config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors {
    pub problems: Vec<ConfigProblem>,
}

/// One problem. `line` and `column` are 1-based; 0 means the file as a whole (unreadable).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigProblem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}; fix: {}", self.file, self.message, self.hint)
        } else {
            write!(f, "{}:{}:{}: {}; fix: {}", self.file, self.line, self.column, self.message, self.hint)
        }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Parses `90s`, `5m`, `2h`, `2d`, `1w` and sums like `1d12h` (spaces between parts allowed).
pub fn parse_duration(s: &str) -> Result<Ts, String> {
    let text = s.trim();
    if text.is_empty() {
        return Err("the duration is empty".into());
    }
    let mut total: Ts = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("expected a number at \"{rest}\""));
        }
        let amount: Ts = rest[..digits].parse().map_err(|_| format!("\"{}\" is too large", &rest[..digits]))?;
        rest = &rest[digits..];
        let unit_len: usize = rest.chars().take_while(|c| c.is_alphabetic()).map(char::len_utf8).sum();
        let unit = &rest[..unit_len];
        let seconds_per_unit = match unit {
            "s" => 1,
            "m" => MINUTE,
            "h" => HOUR,
            "d" => DAY,
            "w" => 7 * DAY,
            "" => return Err(format!("{amount} has no unit")),
            other => return Err(format!("unknown unit \"{other}\"")),
        };
        total = amount
            .checked_mul(seconds_per_unit)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(|| format!("\"{text}\" is too long"))?;
        rest = rest[unit_len..].trim_start();
    }
    Ok(total)
}

/// Parses `2025-06-01` (midnight UTC) or an RFC 3339 time (`2025-06-01T09:30:00+02:00`).
pub fn parse_date(s: &str) -> Result<Ts, String> {
    let text = s.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(NaiveTime::MIN).and_utc().timestamp());
    }
    DateTime::parse_from_rfc3339(text).map(|t| t.timestamp()).map_err(|_| {
        format!("\"{text}\" is neither a date like 2025-06-01 nor an RFC 3339 time like 2025-06-01T09:00:00Z")
    })
}

/// A TOML date or date-time literal (`until = 2025-06-01`) as epoch seconds.
pub fn toml_datetime_to_ts(dt: &Datetime) -> Result<Ts, String> {
    let Some(d) = dt.date else {
        return Err(format!("{dt} is a time of day without a date"));
    };
    let date = NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
        .ok_or_else(|| format!("{dt} is not a calendar date"))?;
    let (time, offset) = match (dt.time, dt.offset) {
        (None, _) => (NaiveTime::MIN, 0),
        (Some(_), None) => return Err(format!("{dt} has a time but no UTC offset")),
        (Some(t), Some(o)) => {
            let time = NaiveTime::from_hms_nano_opt(
                u32::from(t.hour),
                u32::from(t.minute),
                u32::from(t.second.unwrap_or(0)),
                t.nanosecond.unwrap_or(0),
            )
            .ok_or_else(|| format!("{dt} is not a valid time"))?;
            let offset = match o {
                Offset::Z => 0,
                Offset::Custom { minutes } => Ts::from(minutes) * MINUTE,
            };
            (time, offset)
        }
    };
    Ok(date.and_time(time).and_utc().timestamp() - offset)
}

/// A duration as people write it back: `3650d`, `7d`, `90s`.
pub fn human(seconds: Ts) -> String {
    if seconds % DAY == 0 {
        format!("{}d", seconds / DAY)
    } else if seconds % 3600 == 0 {
        format!("{}h", seconds / 3600)
    } else if seconds % 60 == 0 {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// Collects problems while walking the spanned document.
pub struct Checker<'t> {
    /// The document's text, for line and column numbers.
    pub text: &'t str,
    /// The file as problems name it.
    pub file: String,
    pub problems: Vec<ConfigProblem>,
}

impl<'t> Checker<'t> {
    pub fn new(text: &'t str, file: String) -> Self {
        Checker { text, file, problems: Vec::new() }
    }

    pub fn report(&mut self, span: Range<usize>, message: impl Into<String>, hint: impl Into<String>) {
        let (line, column) = line_column(self.text, span.start);
        self.problems.push(ConfigProblem {
            file: self.file.clone(),
            line,
            column,
            // A value quoted back may be a token pasted in the wrong place: never echo one.
            message: secrets::scrub_quoted(&message.into()),
            hint: secrets::scrub_quoted(&hint.into()),
        });
    }

    /// Every problem, in file order.
    pub fn finish(mut self) -> ConfigErrors {
        self.problems.sort_by_key(|p| (p.line, p.column));
        ConfigErrors { problems: self.problems }
    }

    // --- generic checks -----------------------------------------------------------------------

    /// Reports keys of `table` not in `known`, suggesting the closest known key.
    pub fn known_keys(&mut self, table: &DeTable<'_>, path: &str, known: &[&str]) {
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            if known.contains(&name) || is_inline_secret(name, value) {
                continue; // inline secrets get their own, more useful, problem
            }
            let hint = match closest(name, known) {
                Some(close) => format!("did you mean `{close}`?"),
                None if known.is_empty() => "remove it".to_string(),
                None => format!("remove it; keys allowed here: {}", known.join(", ")),
            };
            self.report(key.span(), format!("unknown key `{}`", join(path, name)), hint);
        }
    }

    /// Reports every `token` / `password` / `private_key` holding an inline string, anywhere.
    pub fn inline_secrets(&mut self, table: &DeTable<'_>, path: &str) {
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            let full = join(path, name);
            if is_inline_secret(name, value) {
                self.report(
                    key.span(),
                    format!("`{full}` holds a secret inline in the config file"),
                    format!(
                        "delete the value and say where to read it: `{name}_env = \"VAR\"` (an environment variable) or `{name}_file = \"path\"` (a file)"
                    ),
                );
            }
            match value.get_ref() {
                DeValue::Table(inner) => self.inline_secrets(inner, &full),
                DeValue::Array(items) => {
                    for item in items.iter() {
                        if let DeValue::Table(inner) = item.get_ref() {
                            self.inline_secrets(inner, &full);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    pub fn wrong_type(&mut self, value: &Value<'_>, path: &str, expected: &str, example: &str) {
        self.wrong_type_of(value, &format!("`{path}`"), expected, example);
    }

    /// Like `wrong_type`, for a subject already phrased (`every entry of `x``).
    pub fn wrong_type_of(&mut self, value: &Value<'_>, subject: &str, expected: &str, example: &str) {
        self.report(
            value.span(),
            format!("{subject} must be {expected}, found {}", describe(value.get_ref())),
            format!("write it like `{example}`"),
        );
    }

    /// False (and reported, without the value) when a URL carries credentials.
    pub fn url_without_credentials(&mut self, value: &Value<'_>, path: &str, url: &str, credential: &str) -> bool {
        let Some(what) = secrets::url_credentials(url) else { return true };
        self.report(
            value.span(),
            format!(
                "`{path}` holds credentials ({what}); they would be sent to every page, printed in errors and stored with every item's link (the value is not shown)"
            ),
            format!(
                "write the URL without them, like \"{}\", and give the credential by reference: `{credential}` (or `token_file = \"path\"`); change that password if the file was shared",
                secrets::strip_userinfo(url).replace("[redacted]@", "").replace("?[redacted]", "")
            ),
        );
        false
    }

    pub fn missing(&mut self, entry: &Value<'_>, path: &str, example: &str) {
        self.report(entry.span(), format!("`{path}` is missing"), format!("add `{example}`"));
    }

    pub fn table<'a, 'i>(&mut self, value: &'a Value<'i>, path: &str, example: &str) -> Option<&'a DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.wrong_type(value, path, "a table", example);
                None
            }
        }
    }

    /// Elements of an array of tables (`[[teams]]` or `teams = [{ … }]`) that are tables.
    pub fn tables<'a, 'i>(
        &mut self,
        value: &'a Value<'i>,
        path: &str,
        example: &str,
    ) -> Vec<(&'a Value<'i>, &'a DeTable<'i>)> {
        let DeValue::Array(items) = value.get_ref() else {
            self.report(
                value.span(),
                format!("`{path}` must be an array of tables, found {}", describe(value.get_ref())),
                format!("write each entry as its own `{example}` block (double brackets)"),
            );
            return Vec::new();
        };
        let mut tables = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(t) => tables.push((item, t)),
                _ => self.report(
                    item.span(),
                    format!("every entry of `{path}` must be a table, found {}", describe(item.get_ref())),
                    format!("write each entry as its own `{example}` block"),
                ),
            }
        }
        tables
    }

    pub fn string(&mut self, value: &Value<'_>, path: &str, example: &str) -> Option<String> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.wrong_type(value, path, "a string", example);
                None
            }
        }
    }

    /// A string with something in it besides whitespace; returned trimmed.
    pub fn nonempty_string(&mut self, value: &Value<'_>, path: &str, example: &str) -> Option<String> {
        let s = self.string(value, path, example)?;
        if s.trim().is_empty() {
            self.report(value.span(), format!("`{path}` is empty"), format!("write it like `{example}`"));
            return None;
        }
        Some(s.trim().to_string())
    }

    pub fn boolean(&mut self, value: &Value<'_>, path: &str, example: &str) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(value, path, "true or false", example);
                None
            }
        }
    }

    pub fn integer(&mut self, value: &Value<'_>, path: &str, min: i128, max: i128, example: &str) -> Option<i128> {
        let DeValue::Integer(i) = value.get_ref() else {
            self.wrong_type(value, path, "a whole number", example);
            return None;
        };
        match i128::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                // Upper bounds of u32 / u64 mean "no real limit": only the minimum is worth saying.
                let range = if max >= i128::from(u32::MAX) {
                    format!("at least {min}")
                } else {
                    format!("from {min} to {max}")
                };
                self.report(
                    value.span(),
                    format!("`{path}` must be a whole number {range}, found {i}"),
                    format!("use a whole number {range}, like `{example}`"),
                );
                None
            }
        }
    }

    pub fn u32_at_least(&mut self, value: &Value<'_>, path: &str, min: u32, example: &str) -> Option<u32> {
        self.integer(value, path, i128::from(min), i128::from(u32::MAX), example).and_then(|n| u32::try_from(n).ok())
    }

    /// A finite, non-negative number; integers are accepted.
    pub fn non_negative_number(&mut self, value: &Value<'_>, path: &str, example: &str) -> Option<f64> {
        let n = match value.get_ref() {
            DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix()).ok().map(|n| n as f64),
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            _ => {
                self.wrong_type(value, path, "a number", example);
                return None;
            }
        };
        match n {
            Some(n) if n.is_finite() && n >= 0.0 => Some(n),
            _ => {
                self.report(
                    value.span(),
                    format!("`{path}` must be a finite number of zero or more, found {}", describe(value.get_ref())),
                    format!("write it like `{example}`"),
                );
                None
            }
        }
    }

    /// A share between 0 and 1 (`0.9`); a percentage written as `90` is refused with the fix.
    pub fn share(&mut self, value: &Value<'_>, path: &str, example: &str) -> Option<f64> {
        let n = self.non_negative_number(value, path, example)?;
        if n > 1.0 {
            self.report(
                value.span(),
                format!("`{path}` is {n}, above 1"),
                format!("write a share between 0 and 1, like `{example}` for 95%"),
            );
            return None;
        }
        Some(n)
    }

    /// A positive duration written as a string (`"2d"`).
    pub fn duration(&mut self, value: &Value<'_>, path: &str, example: &str) -> Option<Ts> {
        let text = match value.get_ref() {
            DeValue::String(s) => s.as_ref(),
            DeValue::Integer(i) => {
                self.report(
                    value.span(),
                    format!("`{path}` must be a duration string with a unit, found the bare number {i}"),
                    format!("add a unit and quotes, e.g. `\"{i}s\"`, `\"{i}m\"` or `\"{i}d\"` (like `{example}`)"),
                );
                return None;
            }
            _ => {
                self.wrong_type(value, path, "a duration string", example);
                return None;
            }
        };
        match parse_duration(text) {
            Ok(0) => {
                self.report(
                    value.span(),
                    format!("`{path}` must be longer than zero"),
                    format!("write it like `{example}`"),
                );
                None
            }
            Ok(seconds) if seconds > MAX_DURATION => {
                self.report(
                    value.span(),
                    format!("`{path}` is longer than {}, the longest duration a setting may take", human(MAX_DURATION)),
                    format!("use at most {}, like `{example}`", human(MAX_DURATION)),
                );
                None
            }
            Ok(seconds) => Some(seconds),
            Err(why) => {
                self.report(
                    value.span(),
                    format!("`{path}` is not a valid duration: {why}"),
                    format!(
                        "use a number and a unit (s, m, h, d, w), combinations like \"1d12h\" too; e.g. `{example}`"
                    ),
                );
                None
            }
        }
    }

    /// A date string (`"2025-06-01"`, RFC 3339) or a TOML date / offset date-time literal.
    pub fn date(&mut self, value: &Value<'_>, path: &str, example: &str) -> Option<Ts> {
        let parsed = match value.get_ref() {
            DeValue::String(s) => parse_date(s),
            DeValue::Datetime(dt) => toml_datetime_to_ts(dt),
            _ => {
                self.wrong_type(value, path, "a date", example);
                return None;
            }
        };
        match parsed {
            Ok(ts) => Some(ts),
            Err(why) => {
                self.report(
                    value.span(),
                    format!("`{path}` is not a valid date: {why}"),
                    format!("write a date like `{example}` (midnight UTC) or an RFC 3339 time with an offset"),
                );
                None
            }
        }
    }

    /// An array of strings; bad elements are reported one by one and left out.
    pub fn strings(&mut self, value: &Value<'_>, path: &str, example: &str) -> Option<Vec<(String, Range<usize>)>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(value, path, "an array of strings", example);
            return None;
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) if !s.trim().is_empty() => out.push((s.trim().to_string(), item.span())),
                DeValue::String(_) => {
                    self.report(item.span(), format!("`{path}` holds an empty string"), "remove the empty entry")
                }
                _ => self.wrong_type_of(item, &format!("every entry of `{path}`"), "a string", example),
            }
        }
        Some(out)
    }

    pub fn strings_lowercase(&mut self, value: &Value<'_>, path: &str, example: &str) -> Option<Vec<String>> {
        self.strings(value, path, example).map(|v| v.into_iter().map(|(s, _)| s.to_ascii_lowercase()).collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Small parsers and text helpers.

/// `+01:00`, `-05:30`, `Z` or `UTC` as seconds east of UTC.
pub fn parse_utc_offset(text: &str) -> Result<Ts, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return Ok(0);
    }
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(format!("\"{t}\" does not start with + or -")),
    };
    let (h, m) = rest.split_once(':').ok_or_else(|| format!("\"{t}\" is not ±HH:MM"))?;
    let hours: Ts = parse_two_digits(h).ok_or_else(|| format!("\"{t}\" is not ±HH:MM"))?;
    let minutes: Ts = parse_two_digits(m).ok_or_else(|| format!("\"{t}\" is not ±HH:MM"))?;
    if hours > 18 || minutes > 59 || (hours == 18 && minutes > 0) {
        return Err(format!("\"{t}\" is outside -18:00..+18:00"));
    }
    Ok(sign * (hours * HOUR + minutes * MINUTE))
}

/// Exactly two ASCII digits.
pub fn parse_two_digits(s: &str) -> Option<Ts> {
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// A `token` / `password` / `private_key` key holding a string.
pub fn is_inline_secret(key: &str, value: &Value<'_>) -> bool {
    SECRET_KEYS.contains(&key) && value.get_ref().is_str()
}

/// `path.key`, or `key` at the root.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// What a value is, as an error says it was found (strings cut at 40 characters).
pub fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => {
            let shown: String = s.chars().take(40).collect();
            let more = if s.chars().count() > 40 { "…" } else { "" };
            format!("the string \"{shown}{more}\"")
        }
        DeValue::Integer(i) => format!("the number {i}"),
        DeValue::Float(f) => format!("the number {f}"),
        DeValue::Boolean(b) => format!("{b}"),
        DeValue::Datetime(d) => format!("the date-time {d}"),
        DeValue::Array(_) => "an array".to_string(),
        DeValue::Table(_) => "a table".to_string(),
    }
}

/// The known word closest to `word` within edit distance 2, ignoring case.
pub fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let word = word.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (strsim::levenshtein(&word, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}
