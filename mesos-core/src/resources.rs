//! Resources math: the value type the allocator and agent compute with (filled in by issue 4).
