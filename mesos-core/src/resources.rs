//! Resources math: the value type the allocator and agent compute with.
//!
//! Work in progress: the fixed-point scalar, the value algebra and quantities.

pub mod quantities;
pub mod scalar;
pub mod values;

pub use quantities::{QuantitiesError, ResourceQuantities};
pub use scalar::Quantity;
