//! The master's HTTP APIs, served on the master process: [`scheduler`] is the v1 scheduler
//! API (`/api/v1/scheduler`). Handlers get `&mut MasterProcess` and read its `state`.

pub mod endpoints;
pub mod json_writer;
pub mod operator;
pub mod scheduler;
pub mod state_json;
