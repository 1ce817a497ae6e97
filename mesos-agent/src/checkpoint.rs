//! Checkpoint files under `<work_dir>/meta` (upstream `src/slave/state.cpp` and stout's
//! `protobuf::write`/`read`): each message is stored as a 4-byte length followed by its
//! protobuf bytes. Whole files are written atomically (a temporary file in the same
//! directory, synced, then renamed over the old one); status update streams are appended
//! record by record and synced.
//!
//! Reading tells apart a *truncated* file (the agent died while appending: the partial tail
//! is cut off and reading goes on, as upstream does) from a *corrupt* one (a record that does
//! not decode), which is an error the caller handles according to `--strict`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use prost::Message;
use thiserror::Error;

/// Why a checkpoint could not be written or read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The file system failed.
    #[error("cannot access checkpoint {}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A record that does not decode, or a whole-file checkpoint cut short.
    #[error("corrupt checkpoint {}: {reason}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    }
}

fn frame(message: &impl Message) -> Vec<u8> {
    let body = message.encode_to_vec();
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Writes `bytes` to `path` atomically, creating parent directories.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.tmp"));
    let write = || -> io::Result<()> {
        let mut file = File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        File::open(dir)?.sync_all()
    };
    write().map_err(io_error(path))
}

/// Checkpoints one protobuf message to `path` atomically.
pub fn write_message(path: &Path, message: &impl Message) -> Result<(), CheckpointError> {
    write_bytes(path, &frame(message))
}

/// Reads a message written by [`write_message`]; `Ok(None)` if the file does not exist.
pub fn read_message<M: Message + Default>(path: &Path) -> Result<Option<M>, CheckpointError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_error(path)(error)),
    };
    let corrupt = |reason: String| CheckpointError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    if bytes.len() < 4 {
        return Err(corrupt(format!(
            "{} bytes, too short for a record",
            bytes.len()
        )));
    }
    let size = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")) as usize;
    if bytes.len() - 4 != size {
        return Err(corrupt(format!(
            "the record says {size} bytes but {} follow",
            bytes.len() - 4
        )));
    }
    M::decode(&bytes[4..])
        .map(Some)
        .map_err(|error| corrupt(format!("cannot decode: {error}")))
}

/// Appends one record to a stream file, creating it (and its directories), and syncs it.
pub fn append_message(path: &Path, message: &impl Message) -> Result<(), CheckpointError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_error(path))?;
    file.write_all(&frame(message)).map_err(io_error(path))?;
    file.sync_data().map_err(io_error(path))
}

/// The records of a stream file, and whether a partial record at its end was cut off.
#[derive(Debug)]
pub struct Records<M> {
    /// The records, in order.
    pub records: Vec<M>,
    /// A partial last record (the agent died while writing it) was found and truncated.
    pub truncated: bool,
}

/// Reads a stream written by [`append_message`]. A partial last record is truncated away
/// (the file is shortened to its last whole record); a record that does not decode is
/// [`CheckpointError::Corrupt`]. A missing file has no records.
pub fn read_records<M: Message + Default>(path: &Path) -> Result<Records<M>, CheckpointError> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut file) => {
            file.read_to_end(&mut bytes).map_err(io_error(path))?;
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Ok(Records {
                records: Vec::new(),
                truncated: false,
            });
        }
        Err(error) => return Err(io_error(path)(error)),
    }
    let mut records = Vec::new();
    let mut offset = 0;
    let mut truncated = false;
    while offset < bytes.len() {
        if bytes.len() - offset < 4 {
            truncated = true;
            break;
        }
        let size =
            u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes")) as usize;
        if bytes.len() - offset - 4 < size {
            truncated = true;
            break;
        }
        let record = M::decode(&bytes[offset + 4..offset + 4 + size]).map_err(|error| {
            CheckpointError::Corrupt {
                path: path.to_owned(),
                reason: format!("record at byte {offset} cannot be decoded: {error}"),
            }
        })?;
        records.push(record);
        offset += 4 + size;
    }
    if truncated {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_error(path))?;
        file.set_len(offset as u64).map_err(io_error(path))?;
        file.sync_all().map_err(io_error(path))?;
    }
    Ok(Records { records, truncated })
}

/// Writes a text file (a pid, a marker) atomically.
pub fn write_text(path: &Path, text: &str) -> Result<(), CheckpointError> {
    write_bytes(path, text.as_bytes())
}

/// Reads a text file; `Ok(None)` if it does not exist.
pub fn read_text(path: &Path) -> Result<Option<String>, CheckpointError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error(path)(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesos_core::v0::TaskId;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "mesos-agent-checkpoint-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn id(value: &str) -> TaskId {
        TaskId {
            value: value.to_owned(),
        }
    }

    #[test]
    fn messages_round_trip_and_replace_atomically() {
        let dir = temp_dir("message");
        let path = dir.join("a/b/task.info");
        assert!(read_message::<TaskId>(&path).unwrap().is_none());
        write_message(&path, &id("one")).unwrap();
        write_message(&path, &id("two")).unwrap();
        assert_eq!(read_message::<TaskId>(&path).unwrap(), Some(id("two")));
        // A file cut short is corrupt, and says so.
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let error = read_message::<TaskId>(&path).unwrap_err();
        assert!(error.to_string().contains("corrupt checkpoint"), "{error}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn streams_truncate_a_partial_tail_and_reject_garbage() {
        let dir = temp_dir("stream");
        let path = dir.join("task.updates");
        for value in ["a", "b", "c"] {
            append_message(&path, &id(value)).unwrap();
        }
        let whole = fs::read(&path).unwrap();
        fs::write(&path, &whole[..whole.len() - 2]).unwrap();
        let read = read_records::<TaskId>(&path).unwrap();
        assert!(read.truncated);
        assert_eq!(read.records, vec![id("a"), id("b")]);
        // The tail is gone: appending continues cleanly.
        append_message(&path, &id("d")).unwrap();
        let read = read_records::<TaskId>(&path).unwrap();
        assert!(!read.truncated);
        assert_eq!(read.records, vec![id("a"), id("b"), id("d")]);
        // A record whose bytes are not a message is corrupt.
        let mut garbage = fs::read(&path).unwrap();
        garbage.extend_from_slice(&[3, 0, 0, 0, 0xff, 0xff, 0xff]);
        fs::write(&path, &garbage).unwrap();
        let error = read_records::<TaskId>(&path).unwrap_err();
        assert!(matches!(error, CheckpointError::Corrupt { .. }), "{error}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
