//! Writes a fact table to a file for analysts: Parquet (polars' own encoder, snappy pages, the
//! Arrow schema in the footer), CSV (RFC 4180, a header row, empty for null) or NDJSON (one JSON
//! object a line, null for null). Times are RFC 3339 UTC in the text formats. It writes what the
//! table holds and nothing else; the caller picks the file and refuses to overwrite one.

use std::io::Write;

use polars::prelude::{CompatLevel, DataFrame, DataType, PolarsError, PolarsResult, SchemaExt};
use polars_parquet::write::{
    CompressionOptions, FileWriter, RowGroupIterator, StatisticsOptions, Version, WriteOptions, get_dtype_encoding,
};

/// The file formats of `siloscope export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
    Ndjson,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Parquet, Format::Csv, Format::Ndjson];
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }
    pub fn parse(s: &str) -> Option<Format> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// Rows per Parquet row group (and per progress report of the text formats).
pub const ROWS_PER_GROUP: usize = 256 * 1024;

/// Writes `df` to `out` in `format`; `progress` is told the rows written so far. Returns the rows.
pub fn write(
    df: &mut DataFrame,
    format: Format,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(usize),
) -> PolarsResult<usize> {
    match format {
        Format::Parquet => parquet(df, out, progress),
        Format::Csv | Format::Ndjson => text(df, format, out, progress),
    }
}

fn io(e: std::io::Error) -> PolarsError {
    PolarsError::IO { error: e.into(), msg: None }
}

fn parquet(df: &mut DataFrame, out: &mut dyn Write, progress: &mut dyn FnMut(usize)) -> PolarsResult<usize> {
    let options = WriteOptions {
        statistics: StatisticsOptions::default(),
        version: Version::V1,
        compression: CompressionOptions::Snappy,
        data_page_size: None,
    };
    let height = df.height();
    df.rechunk_mut();
    let schema = df.schema().to_arrow(CompatLevel::newest());
    let encodings = || schema.iter_values().map(|f| get_dtype_encoding(&f.dtype)).collect();
    let mut writer = FileWriter::try_new(out, schema.clone(), options)?;
    let mut offset = 0;
    while offset < height {
        let mut group = df.slice(offset as i64, ROWS_PER_GROUP);
        group.rechunk_mut();
        let rows = group.height();
        let batches = group.iter_chunks(CompatLevel::newest(), false).map(Ok).collect::<Vec<_>>();
        for row_group in RowGroupIterator::try_new(batches.into_iter(), &schema, options, encodings())? {
            writer.write(rows as u64, row_group?)?;
        }
        offset += rows;
        progress(offset.min(height));
    }
    writer.end(None)?;
    Ok(height)
}

/// A column as the text writers read it.
enum Cells<'a> {
    Text(&'a polars::prelude::StringChunked),
    Int(&'a polars::prelude::Int64Chunked),
    /// Datetime(ms): its physical milliseconds.
    Time(polars::prelude::Int64Chunked),
    Flag(&'a polars::prelude::BooleanChunked),
}

fn text(
    df: &mut DataFrame,
    format: Format,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(usize),
) -> PolarsResult<usize> {
    df.rechunk_mut();
    let names: Vec<String> = df.get_column_names().iter().map(|n| n.to_string()).collect();
    let mut cells = Vec::with_capacity(names.len());
    for c in df.columns() {
        let s = c.as_materialized_series();
        cells.push(match s.dtype() {
            DataType::String => Cells::Text(s.str()?),
            DataType::Int64 => Cells::Int(s.i64()?),
            DataType::Boolean => Cells::Flag(s.bool()?),
            DataType::Datetime(polars::prelude::TimeUnit::Milliseconds, None) => {
                Cells::Time(s.to_physical_repr().i64()?.clone())
            }
            other => {
                return Err(PolarsError::ComputeError(
                    format!("column {} of type {other} cannot be written", s.name()).into(),
                ));
            }
        });
    }
    // Keys of the NDJSON objects, escaped once.
    let keys: Vec<String> = names.iter().map(|n| serde_json::to_string(n).unwrap_or_default()).collect();
    let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
    if format == Format::Csv {
        let header: Vec<String> = names.iter().map(|n| csv_field(n)).collect();
        writeln!(w, "{}", header.join(",")).map_err(io)?;
    }
    let height = df.height();
    let mut line = String::with_capacity(256);
    for row in 0..height {
        line.clear();
        if format == Format::Ndjson {
            line.push('{');
        }
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            if format == Format::Ndjson {
                line.push_str(&keys[i]);
                line.push(':');
            }
            let json = format == Format::Ndjson;
            match c {
                Cells::Text(ca) => match ca.get(row) {
                    Some(v) if json => line.push_str(&serde_json::to_string(v).unwrap_or_default()),
                    Some(v) => line.push_str(&csv_field(v)),
                    None if json => line.push_str("null"),
                    None => {}
                },
                Cells::Int(ca) => match ca.get(row) {
                    Some(v) => line.push_str(&v.to_string()),
                    None if json => line.push_str("null"),
                    None => {}
                },
                Cells::Flag(ca) => match ca.get(row) {
                    Some(v) => line.push_str(if v { "true" } else { "false" }),
                    None if json => line.push_str("null"),
                    None => {}
                },
                Cells::Time(ca) => match ca.get(row) {
                    Some(ms) if json => {
                        line.push('"');
                        line.push_str(&rfc3339(ms));
                        line.push('"');
                    }
                    Some(ms) => line.push_str(&rfc3339(ms)),
                    None if json => line.push_str("null"),
                    None => {}
                },
            }
        }
        if format == Format::Ndjson {
            line.push('}');
        }
        line.push('\n');
        w.write_all(line.as_bytes()).map_err(io)?;
        if (row + 1) % ROWS_PER_GROUP == 0 {
            progress(row + 1);
        }
    }
    w.flush().map_err(io)?;
    progress(height);
    Ok(height)
}

/// A CSV field (RFC 4180): quoted when it holds a comma, a quote, a line break, leading or
/// trailing space, or is empty (an empty field is null). A text starting with `=`, `+`, `-`, `@`
/// or a tab gets a leading `'`, so a spreadsheet shows it instead of running it as a formula.
pub fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t']) { format!("'{v}") } else { v.to_string() };
    let quote = v.is_empty()
        || v.contains([',', '"', '\n', '\r'])
        || v.starts_with(char::is_whitespace)
        || v.ends_with(char::is_whitespace);
    if quote { format!("\"{}\"", v.replace('"', "\"\"")) } else { v }
}

/// Milliseconds since the epoch as RFC 3339 UTC: seconds, and milliseconds only when there are some.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, sod % 3600 / 60, sod % 60);
    if millis == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{millis:03}Z")
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_782_898_200_000), "2026-07-01T09:30:00Z");
        assert_eq!(rfc3339(951_782_400_500), "2000-02-29T00:00:00.500Z");
        assert_eq!(rfc3339(-1000), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("acme/api#12"), "acme/api#12");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field(""), "\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
        assert_eq!(csv_field(" pad"), "\" pad\"");
    }
}
