//! Role names: validation and the hierarchy of roles (filled in by issue 4).
