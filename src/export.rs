//! `siloscope export`: one fact kind's table (crates/facts) of a period, written to a new file for
//! analysts. It owns the analysis end, the team labels (the exported metrics' privacy floor) and
//! the file (never overwrites one); it derives no fact and encodes nothing itself (`facts::write`).

use std::path::Path;

pub use siloscope_facts::write::Format;
pub use siloscope_facts::{ColumnType, DataFrame, FactKind, TimeRange};

use crate::model::Ts;
use crate::signals::aggregate::TeamLabels;
use crate::signals::{Frame, SignalsConfig, analyze};
use crate::teams::Directory;

/// What to export: one kind over `range`, its states taken at `as_of`.
#[derive(Debug, Clone, Copy)]
pub struct ExportOptions {
    pub kind: FactKind,
    pub range: TimeRange,
    /// The export's end: the analysis runs up to it and the teams are folded as the metrics fold
    /// them then (`TeamLabels`).
    pub as_of: Ts,
    pub name_people: bool,
}

/// The table an export writes. The frame must be prepared (`Frame::prepare`).
pub fn table(frame: &Frame, dir: &Directory, cfg: &SignalsConfig, opts: &ExportOptions) -> Result<DataFrame, String> {
    if !frame.is_prepared() {
        return Err("internal error: the event frame was not prepared before the export".into());
    }
    let analysis = analyze(frame, dir, cfg, opts.as_of);
    let labels = TeamLabels::new(&analysis, dir, cfg, opts.as_of);
    let facts = siloscope_facts::Facts {
        analysis: &analysis,
        frame,
        dir,
        cfg,
        labels: &labels,
        as_of: opts.as_of,
        name_people: opts.name_people,
    };
    facts.table(opts.kind, opts.range).map_err(|e| format!("cannot build the {} table: {e}", opts.kind.as_str()))
}

/// The format an `--out` file's extension names (any case): `.parquet`, `.csv`, `.ndjson` or `.jsonl`.
pub fn format_of(out: &Path) -> Option<Format> {
    let ext = out.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "parquet" => Some(Format::Parquet),
        "csv" => Some(Format::Csv),
        "ndjson" | "jsonl" => Some(Format::Ndjson),
        _ => None,
    }
}

/// Refuses a file that exists already (before a long load, and again when creating it).
pub fn check_new(out: &Path) -> Result<(), String> {
    if out.symlink_metadata().is_ok() {
        return Err(format!(
            "{} exists already: export never overwrites a file; remove it or choose another --out",
            out.display()
        ));
    }
    Ok(())
}

/// Writes `df` to the new file `out`; a failed write leaves no file behind. Returns the rows.
pub fn write_new(
    df: &mut DataFrame,
    format: Format,
    out: &Path,
    progress: &mut dyn FnMut(usize),
) -> Result<usize, String> {
    use std::io::Write;
    check_new(out)?;
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(out).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{} exists already: export never overwrites a file", out.display())
        } else {
            format!("cannot create {}: {e}", out.display())
        }
    })?;
    let mut w = std::io::BufWriter::new(file);
    let result = siloscope_facts::write::write(df, format, &mut w, progress)
        .map_err(|e| e.to_string())
        .and_then(|rows| w.flush().map(|()| rows).map_err(|e| e.to_string()))
        .and_then(|rows| w.get_ref().sync_all().map(|()| rows).map_err(|e| e.to_string()));
    if let Err(e) = result {
        drop(w);
        let _ = std::fs::remove_file(out);
        return Err(format!("cannot write {}: {e}", out.display()));
    }
    result
}

/// The polars the tables are made with, for readers of `table` (tests, benchmarks).
pub use siloscope_facts::polars;
