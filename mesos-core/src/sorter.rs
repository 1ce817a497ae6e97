//! The DRF sorter behind the hierarchical allocator (filled in by issue 4).
