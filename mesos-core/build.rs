//! Build script: compiles `proto/**/*.proto` into Rust with prost.
//!
//! Needs nothing installed on the machine: `protox` (a protobuf compiler
//! written in Rust) parses the files into a `FileDescriptorSet`, which
//! `prost-build` turns into code. The encoded descriptor set is written to
//! `$OUT_DIR/mesos_descriptor_set.bin` too, so the JSON mapper can walk
//! messages by reflection.

use std::error::Error;
use std::path::{Path, PathBuf};

/// ID messages that get a total order (handy as map keys), in both the v0
/// (`mesos`) and v1 (`mesos.v1`) packages where they exist.
const ORDERED_IDS: &[&str] = &[
    "FrameworkID",
    "OfferID",
    "SlaveID",
    "AgentID",
    "TaskID",
    "ExecutorID",
    "ContainerID",
    "ResourceProviderID",
    "OperationID",
];

fn main() -> Result<(), Box<dyn Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    println!("cargo:rerun-if-changed={}", root.display());

    let mut files = Vec::new();
    collect_protos(&root, &root, &mut files)?;
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }

    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&files)?;
    // With source info, our `.proto` comments become rustdoc on the types.
    let descriptors = compiler.file_descriptor_set();

    // The embedded copy (for reflection) needs no comments.
    let mut embedded = descriptors.clone();
    for file in &mut embedded.file {
        file.source_code_info = None;
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("mesos_descriptor_set.bin"),
        prost::Message::encode_to_vec(&embedded),
    )?;

    let mut config = prost_build::Config::new();
    config
        .enable_type_names()
        .btree_map(["."])
        .include_file("_includes.rs");
    for package in ["mesos", "mesos.v1"] {
        for id in ORDERED_IDS {
            config.type_attribute(format!(".{package}.{id}"), "#[derive(PartialOrd, Ord)]");
        }
        // prost leaves Eq and Hash off recursive messages.
        config.type_attribute(format!(".{package}.ContainerID"), "#[derive(Eq, Hash)]");
    }
    config.compile_fds(descriptors)?;
    Ok(())
}

/// Every `.proto` file below `dir`, as a path relative to `root`.
fn collect_protos(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(root, &path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(
                path.strip_prefix(root)
                    .expect("walked below the root")
                    .to_path_buf(),
            );
        }
    }
    Ok(())
}
