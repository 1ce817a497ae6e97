//! Archive extraction (upstream `extract` in `src/launcher/fetcher.cpp`), by file name as
//! upstream decides: `.tar`, `.tgz`/`.tar.gz`, `.tbz2`/`.tar.bz2`, `.txz`/`.tar.xz` and
//! `.zip` unpack into the destination directory; a bare `.gz` is decompressed into the
//! destination under its name without `.gz`; anything else is not an archive.
//!
//! Entries cannot land outside the destination: the `tar` crate skips `..` components and
//! checks that each entry's parent resolves inside it, and zip entries are taken by their
//! enclosed (sanitised) names.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use tracing::info;

enum Kind {
    Tar,
    TarGz,
    TarBz2,
    TarXz,
    Zip,
    Gz,
}

fn kind(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let ends = |suffix: &str| name.ends_with(suffix);
    if ends(".tar") {
        Some(Kind::Tar)
    } else if ends(".tgz") || ends(".tar.gz") {
        Some(Kind::TarGz)
    } else if ends(".tbz2") || ends(".tar.bz2") {
        Some(Kind::TarBz2)
    } else if ends(".txz") || ends(".tar.xz") {
        Some(Kind::TarXz)
    } else if ends(".zip") {
        Some(Kind::Zip)
    } else if ends(".gz") {
        Some(Kind::Gz)
    } else {
        None
    }
}

/// True if `path`'s name is one [`extract`] unpacks.
pub fn is_archive(path: &Path) -> bool {
    kind(path).is_some()
}

/// Unpacks `source` into `destination` when its name says it is an archive. `Ok(false)`
/// when it is not one; an error when it is and cannot be unpacked.
pub fn extract(source: &Path, destination: &Path) -> Result<bool, String> {
    let Some(kind) = kind(source) else {
        return Ok(false);
    };
    let failed = |error: &dyn std::fmt::Display| {
        format!(
            "Failed to extract archive '{}' to '{}': {error}",
            source.display(),
            destination.display()
        )
    };
    let file = File::open(source).map_err(|e| failed(&e))?;
    let reader = BufReader::new(file);
    let result = match kind {
        Kind::Tar => untar(reader, destination),
        Kind::TarGz => untar(flate2::read::MultiGzDecoder::new(reader), destination),
        Kind::TarBz2 => untar(bzip2::read::MultiBzDecoder::new(reader), destination),
        Kind::TarXz => untar(lzma_rust2::XzReader::new(reader, true), destination),
        Kind::Zip => unzip(source, destination),
        Kind::Gz => gunzip(reader, source, destination).map_err(|e| e.to_string()),
    };
    result.map_err(|e| failed(&e))?;
    info!(source = %source.display(), destination = %destination.display(), "extracted");
    Ok(true)
}

fn untar(reader: impl Read, destination: &Path) -> Result<(), String> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    // Ownership stays with the agent; the fetcher chowns to the task's user afterwards.
    archive.set_preserve_ownerships(false);
    archive.unpack(destination).map_err(|e| e.to_string())
}

fn unzip(source: &Path, destination: &Path) -> Result<(), String> {
    let file = File::open(source).map_err(|e| e.to_string())?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| e.to_string())?;
    archive.extract(destination).map_err(|e| e.to_string())
}

fn gunzip(reader: impl Read, source: &Path, destination: &Path) -> std::io::Result<()> {
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    let mut decoder = flate2::read::MultiGzDecoder::new(reader);
    let mut out = File::create(destination.join(stem))?;
    std::io::copy(&mut decoder, &mut out)?;
    Ok(())
}
