//! Examples of the workspace: each program lives in `src/bin/`.
#![forbid(unsafe_code)]
