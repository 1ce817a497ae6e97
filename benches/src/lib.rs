//! Shared helpers of the bench binaries: result records printed as a table or JSON lines.
#![forbid(unsafe_code)]
