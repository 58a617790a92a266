//! The audit log: one JSON object a line, appended, never rewritten. Users in regulated work
//! keep it as the record of who asked what and which documents the answer cited.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl AuditLog {
    /// Opens `path` for appending (created owner-only if missing). The process never
    /// truncates or seeks it; `chattr +a` makes the file system enforce that as well.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options
            .open(path)
            .with_context(|| format!("opening the audit log {}", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }

    /// Appends `event` with the time and the client. One `write` per line, so that lines
    /// from concurrent requests never interleave.
    pub fn record(&self, client: &str, mut event: serde_json::Value) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        if let Some(object) = event.as_object_mut() {
            object.insert(
                "time".to_owned(),
                crate::report::utc_time(i64::try_from(now.as_millis()).unwrap_or(i64::MAX)).into(),
            );
            object.insert("client".to_owned(), client.into());
        }
        let mut line = event.to_string();
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
            // The answer was given; losing its record must at least be loud.
            tracing::error!("writing the audit log {}: {e}", self.path.display());
        }
    }
}
