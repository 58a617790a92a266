//! One writer per store: an advisory lock on `<store>/dossier.lock`.
//!
//! The lock is the operating system's (`flock` on Unix) on an open file, so it dies with the
//! process that holds it: a writer killed with SIGKILL leaves no stale lock behind, and the
//! next writer takes over at once. The file's text (pid and command of the holder) is only
//! there to name the holder in the message a second writer gets.
//!
//! An object store (`s3://…`) has no lock: `flock` guards one machine's files, and writers to
//! one bucket may be on many machines. There every commit is a conditional put of the next
//! manifest version, so of two writers racing for one version exactly one wins; LanceDB
//! rebases the loser's append or delete onto the winner's version and retries. The
//! documents-row-last order keeps each batch invisible until its own last commit, whichever
//! process wins, and `Store::optimize` holds back what only a lock made safe.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::{Result, StoreError};

/// The file, inside the store directory, that writers lock.
pub const LOCK_FILE: &str = "dossier.lock";

/// Held while a process writes to a store; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct WriteLock {
    file: File,
    path: PathBuf,
}

/// Who holds a lock, as its file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    pub command: String,
}

impl WriteLock {
    /// Takes the write lock of the store at `uri`. With `wait`, blocks until the holder is
    /// done (calling `on_wait` once with the holder first); without, a held lock is
    /// `StoreError::Locked`. Object-store URIs have no lock file: `Ok(None)` (see the
    /// module's doc).
    pub fn acquire(
        uri: &str,
        command: &str,
        wait: bool,
        on_wait: impl FnOnce(&Holder),
    ) -> Result<Option<Self>> {
        let Some(dir) = crate::local_dir(uri) else {
            return Ok(None);
        };
        std::fs::create_dir_all(dir)?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = read_holder(&mut file);
                if !wait {
                    return Err(StoreError::Locked {
                        uri: uri.to_owned(),
                        command: holder.command,
                        pid: holder.pid,
                    });
                }
                on_wait(&holder);
                file.lock()?;
            }
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        write!(file, "{}\n{}\n", std::process::id(), command)?;
        file.flush()?;
        Ok(Some(Self { file, path }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WriteLock {
    fn drop(&mut self) {
        // Leave the file (removing it would race with a waiter that has it open); empty it so
        // that nobody reads a finished pid as a holder.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

fn read_holder(file: &mut File) -> Holder {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    let mut lines = text.lines();
    let pid = lines.next().and_then(|l| l.trim().parse().ok());
    let command = lines
        .next()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .unwrap_or("writer")
        .to_owned();
    Holder { pid, command }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid_and_a_released_lock_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let uri = dir.path().to_str().unwrap();
        let first = WriteLock::acquire(uri, "ingest", false, |_| {})
            .unwrap()
            .unwrap();
        // A second open file description conflicts even within one process.
        match WriteLock::acquire(uri, "rm", false, |_| {}) {
            Err(StoreError::Locked { pid, command, .. }) => {
                assert_eq!(pid, Some(std::process::id()));
                assert_eq!(command, "ingest");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        let again = WriteLock::acquire(uri, "rm", false, |_| {}).unwrap();
        assert!(again.is_some());
    }
}
