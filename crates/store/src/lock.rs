//! The writer's lock on a SQLite store: `<store>.lock`, held exclusively (an OS file lock, freed
//! by the kernel when the process dies, so it is never stale) for as long as the store is open
//! for writing, and naming its holder. It guards only against a second writing siloscope; it
//! never touches the database file, and readers (report, teams, backfill) never take it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::StoreError;

/// Held while the value lives.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
    path: PathBuf,
}

/// The lock file of the store at `store`: the same name with `.lock` appended.
pub fn lock_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl StoreLock {
    /// Takes the lock of the store at `store`, or says who holds it.
    pub fn acquire(store: &Path) -> Result<StoreLock, StoreError> {
        let label = store.display().to_string();
        let path = lock_path(store);
        let fail = |problem: String, fix: &str| StoreError::Open { store: label.clone(), problem, fix: fix.into() };
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(|e| {
            fail(
                format!("cannot open its lock file {}: {e}", path.display()),
                "make the store's directory writable by the user running siloscope, or point [store] path elsewhere",
            )
        })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() { "another process".to_string() } else { holder.to_string() };
                return Err(fail(
                    format!(
                        "it is in use by another siloscope ({who}; lock file {}): two writers would each \
                         undercount",
                        path.display()
                    ),
                    "stop the other siloscope first (report, teams and backfill may run alongside it), or point \
                     [store] path at another file",
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(fail(
                    format!("cannot lock its lock file {}: {e}", path.display()),
                    "keep the store on a local file system that supports file locks",
                ));
            }
        }
        // Ours now: say who holds it, for the next one to read.
        let started = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
        let note = format!("pid {}, started at {started}\n", std::process::id());
        let _ =
            file.set_len(0).and_then(|()| file.seek(SeekFrom::Start(0))).and_then(|_| file.write_all(note.as_bytes()));
        Ok(StoreLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_and_the_lock_is_freed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.db");
        let first = StoreLock::acquire(&store).unwrap();
        assert_eq!(first.path(), dir.path().join("s.db.lock"));
        let err = StoreLock::acquire(&store).unwrap_err().to_string();
        assert!(err.contains(&format!("pid {}", std::process::id())) && err.contains("started at"), "{err}");
        assert!(err.contains("s.db.lock") && err.contains("fix: stop the other siloscope"), "{err}");
        drop(first);
        let again = StoreLock::acquire(&store).expect("free once the first holder is gone");
        drop(again);
    }
}
