//! One `Resource`: Mesos's equality, addability, containment and validation rules, and
//! the predicates on reservations, volumes and allocation (Mesos `src/common/resources.cpp`).
//!
//! Unless said otherwise these functions expect a resource in the
//! "post-reservation-refinement" format: the reservation state is the `reservations`
//! stack, and the deprecated `role`/`reservation` fields are unset (see
//! [`format`](super::format) for conversions).

use thiserror::Error;

use crate::roles::{self, RoleError};
use crate::v0::resource::disk_info::source::Type as SourceType;
use crate::v0::resource::reservation_info::Type as ReservationType;
use crate::v0::resource::{DiskInfo, ReservationInfo};
use crate::v0::value::{self, Range};
use crate::v0::{Labels, Resource};

use super::scalar::Quantity;
use super::values::{self, Interval};

impl Interval for Range {
    fn begin(&self) -> u64 {
        self.begin
    }
    fn end(&self) -> u64 {
        self.end
    }
    fn new(begin: u64, end: u64) -> Range {
        Range { begin, end }
    }
}

/// Why a `Resource` is invalid (upstream `Resources::validate`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ResourceError {
    /// The name is empty.
    #[error("empty resource name")]
    EmptyName,
    /// The type is not a known `Value.Type`.
    #[error("invalid resource type {0}")]
    InvalidType(i32),
    /// The type is TEXT, which resources do not support.
    #[error("unsupported resource type TEXT")]
    TextType,
    /// The value field matching the type is missing, or another one is set.
    #[error("invalid {kind} resource: exactly the matching value field must be set")]
    MismatchedValue {
        /// `scalar`, `ranges` or `set`.
        kind: &'static str,
    },
    /// A scalar is negative, or non-zero but rounds to zero or below.
    #[error("invalid scalar resource: value <= 0")]
    NonPositiveScalar,
    /// A scalar is NaN or infinite.
    #[error("invalid scalar resource: value is not finite")]
    NonFiniteScalar,
    /// A range has `begin > end`.
    #[error("invalid ranges resource: begin > end")]
    InvertedRange,
    /// Two ranges overlap.
    #[error("invalid ranges resource: overlapping ranges")]
    OverlappingRanges,
    /// A set has a duplicate item.
    #[error("invalid set resource: duplicated elements")]
    DuplicateSetItem,
    /// `disk` info on a resource not named `disk`.
    #[error("disk info should not be set for {name} resource")]
    DiskInfoOnNonDisk {
        /// The resource name.
        name: String,
    },
    /// A disk source of an unknown type, or BLOCK/RAW with a path or mount.
    #[error("invalid disk source: {reason}")]
    InvalidDiskSource {
        /// What is wrong.
        reason: &'static str,
    },
    /// A role name is invalid.
    #[error(transparent)]
    Role(#[from] RoleError),
    /// The pre-refinement `reservation` field is inconsistent.
    #[error("invalid reservation: {reason}")]
    InvalidReservation {
        /// What is wrong.
        reason: String,
    },
    /// Refined reservations are not a chain of strict subroles, or a refinement is STATIC.
    #[error("invalid refined reservation: {reason}")]
    InvalidRefinement {
        /// What is wrong.
        reason: String,
    },
    /// The pre- and post-refinement fields disagree.
    #[error("invalid resource format: {reason}")]
    InvalidFormat {
        /// What is wrong.
        reason: String,
    },
    /// `shared` on anything but a persistent volume.
    #[error("only persistent volumes can be shared (resource {name})")]
    InvalidShared {
        /// The resource name.
        name: String,
    },
}

/// The resource's `Value.Type`, if it is a known one.
pub fn value_type(resource: &Resource) -> Option<value::Type> {
    value::Type::try_from(resource.r#type).ok()
}

/// Labels compared as multisets, as upstream (`type_utils.cpp`).
pub fn labels_eq(left: &Labels, right: &Labels) -> bool {
    let (l, r) = (&left.labels, &right.labels);
    l.len() == r.len()
        && l.iter().all(|label| {
            l.iter().filter(|x| *x == label).count() == r.iter().filter(|x| *x == label).count()
        })
}

fn opt_labels_eq(left: Option<&Labels>, right: Option<&Labels>) -> bool {
    match (left, right) {
        (None, None) => true,
        (Some(l), Some(r)) => labels_eq(l, r),
        _ => false,
    }
}

/// Reservation equality: type, role, principal and labels (unset type/role read as
/// their defaults, as upstream's getters do).
pub fn reservation_eq(left: &ReservationInfo, right: &ReservationInfo) -> bool {
    left.r#type() == right.r#type()
        && left.role() == right.role()
        && left.principal == right.principal
        && opt_labels_eq(left.labels.as_ref(), right.labels.as_ref())
}

fn reservations_eq(left: &[ReservationInfo], right: &[ReservationInfo]) -> bool {
    left.len() == right.len() && left.iter().zip(right).all(|(l, r)| reservation_eq(l, r))
}

/// Disk equality: source and persistence ID; the `volume` (how the disk is mounted in a
/// container) is ignored, as upstream.
pub fn disk_eq(left: &DiskInfo, right: &DiskInfo) -> bool {
    let source_eq = match (&left.source, &right.source) {
        (None, None) => true,
        (Some(l), Some(r)) => {
            l.r#type == r.r#type
                && l.path == r.path
                && l.mount == r.mount
                && l.vendor == r.vendor
                && l.id == r.id
                && opt_labels_eq(l.metadata.as_ref(), r.metadata.as_ref())
                && l.profile == r.profile
        }
        _ => false,
    };
    let persistence_eq = match (&left.persistence, &right.persistence) {
        (None, None) => true,
        (Some(l), Some(r)) => l.id == r.id,
        _ => false,
    };
    source_eq && persistence_eq
}

/// Everything but the value: name, type, allocation, reservations, disk, revocable,
/// provider and shared (upstream `compareResourceMetadata`).
pub fn metadata_eq(left: &Resource, right: &Resource) -> bool {
    left.name == right.name
        && left.r#type == right.r#type
        && left.allocation_info == right.allocation_info
        && reservations_eq(&left.reservations, &right.reservations)
        && match (&left.disk, &right.disk) {
            (None, None) => true,
            (Some(l), Some(r)) => disk_eq(l, r),
            _ => false,
        }
        && left.revocable.is_some() == right.revocable.is_some()
        && left.provider_id == right.provider_id
        && left.shared.is_some() == right.shared.is_some()
}

/// The scalar value of a resource in fixed point (zero if unset).
pub fn scalar_of(resource: &Resource) -> Quantity {
    Quantity::from_f64(resource.scalar.map_or(0.0, |s| s.value))
}

fn ranges_of(resource: &Resource) -> &[Range] {
    resource.ranges.as_ref().map_or(&[], |r| &r.range)
}

fn items_of(resource: &Resource) -> &[String] {
    resource.set.as_ref().map_or(&[], |s| &s.item)
}

/// Mesos equality of two resources: same metadata and the same value (scalars compared
/// in fixed point, ranges and sets as sets).
pub fn resource_eq(left: &Resource, right: &Resource) -> bool {
    if !metadata_eq(left, right) {
        return false;
    }
    match value_type(left) {
        Some(value::Type::Scalar) => scalar_of(left) == scalar_of(right),
        Some(value::Type::Ranges) => values::ranges_eq(ranges_of(left), ranges_of(right)),
        Some(value::Type::Set) => values::set_eq(items_of(left), items_of(right)),
        _ => false,
    }
}

/// The metadata that both addability and subtractability require to match (disk and
/// sharedness are checked by the callers).
fn compatible(left: &Resource, right: &Resource) -> bool {
    left.name == right.name
        && left.r#type == right.r#type
        && left.allocation_info == right.allocation_info
        && reservations_eq(&left.reservations, &right.reservations)
        && left.revocable.is_some() == right.revocable.is_some()
        && left.provider_id == right.provider_id
}

/// Whether two resources can be combined into one (upstream `addable`): same name,
/// type, allocation, reservations, revocability and provider; shared resources only if
/// equal; disks only if identical, not MOUNT/BLOCK, not RAW with an ID, and not
/// persistent volumes (which are distinct objects).
pub fn addable(left: &Resource, right: &Resource) -> bool {
    if left.shared.is_some() != right.shared.is_some() {
        return false;
    }
    if left.shared.is_some() {
        return resource_eq(left, right);
    }
    if !compatible(left, right) {
        return false;
    }
    match (&left.disk, &right.disk) {
        (None, None) => true,
        (Some(l), Some(r)) => {
            if !disk_eq(l, r) {
                return false;
            }
            if let Some(source) = &l.source {
                match source.r#type() {
                    SourceType::Path => {}
                    SourceType::Mount | SourceType::Block => return false,
                    SourceType::Raw if source.id.is_some() => return false,
                    SourceType::Raw => {}
                    SourceType::Unknown => return false,
                }
            }
            l.persistence.is_none()
        }
        _ => false,
    }
}

/// Whether `right` can be subtracted from `left` leaving one resource (upstream
/// `subtractable`). Sets and ranges subtract even without containment.
pub fn subtractable(left: &Resource, right: &Resource) -> bool {
    if left.shared.is_some() != right.shared.is_some() {
        return false;
    }
    if left.shared.is_some() {
        return resource_eq(left, right);
    }
    if !compatible(left, right) {
        return false;
    }
    match (&left.disk, &right.disk) {
        (None, None) => true,
        (Some(l), Some(r)) => {
            if !disk_eq(l, r) {
                return false;
            }
            if let Some(source) = &l.source {
                match source.r#type() {
                    SourceType::Path => {}
                    SourceType::Mount | SourceType::Block => {
                        if !resource_eq(left, right) {
                            return false;
                        }
                    }
                    SourceType::Raw => {
                        if source.id.is_some() && !resource_eq(left, right) {
                            return false;
                        }
                    }
                    SourceType::Unknown => return false,
                }
            }
            l.persistence.is_none() || resource_eq(left, right)
        }
        _ => false,
    }
}

/// Whether `left` contains `right` (same identity, and at least as much of it).
pub fn contains(left: &Resource, right: &Resource) -> bool {
    if !subtractable(left, right) {
        return false;
    }
    match value_type(left) {
        Some(value::Type::Scalar) => scalar_of(right) <= scalar_of(left),
        Some(value::Type::Ranges) => {
            let (l, r) = (ranges_of(left), ranges_of(right));
            if values::is_normalized(l) && values::is_normalized(r) {
                values::contains(l, r)
            } else {
                let (mut l, mut r) = (l.to_vec(), r.to_vec());
                values::coalesce(&mut l);
                values::coalesce(&mut r);
                values::contains(&l, &r)
            }
        }
        Some(value::Type::Set) => values::set_contains(items_of(left), items_of(right)),
        _ => false,
    }
}

/// Whether the resource holds nothing: a zero scalar, no ranges, an empty set.
pub fn is_empty(resource: &Resource) -> bool {
    match value_type(resource) {
        Some(value::Type::Scalar) => scalar_of(resource).is_zero(),
        Some(value::Type::Ranges) => ranges_of(resource).is_empty(),
        Some(value::Type::Set) => items_of(resource).is_empty(),
        _ => false,
    }
}

/// Whether the resource is a persistent volume (disk with a persistence ID).
pub fn is_persistent_volume(resource: &Resource) -> bool {
    resource
        .disk
        .as_ref()
        .is_some_and(|d| d.persistence.is_some())
}

/// Whether the resource is a disk with a source of the given type.
pub fn is_disk(resource: &Resource, source_type: SourceType) -> bool {
    resource
        .disk
        .as_ref()
        .and_then(|d| d.source.as_ref())
        .is_some_and(|s| s.r#type() == source_type)
}

/// The role the resource is reserved to (the last of its reservations), if reserved.
pub fn reservation_role(resource: &Resource) -> Option<&str> {
    resource.reservations.last().map(|r| r.role())
}

/// Whether the resource is unreserved.
pub fn is_unreserved(resource: &Resource) -> bool {
    resource.reservations.is_empty()
}

/// Whether the resource is reserved; to `role` if given.
pub fn is_reserved(resource: &Resource, role: Option<&str>) -> bool {
    match reservation_role(resource) {
        None => false,
        Some(reserved) => role.is_none_or(|role| role == reserved),
    }
}

/// Whether the resource's last reservation is dynamic.
pub fn is_dynamically_reserved(resource: &Resource) -> bool {
    resource
        .reservations
        .last()
        .is_some_and(|r| r.r#type() == ReservationType::Dynamic)
}

/// Whether the resource is revocable.
pub fn is_revocable(resource: &Resource) -> bool {
    resource.revocable.is_some()
}

/// Whether the resource is shared.
pub fn is_shared(resource: &Resource) -> bool {
    resource.shared.is_some()
}

/// Whether `role` may be allocated the resource: it is unreserved, or reserved to
/// `role` or one of its ancestors.
pub fn is_allocatable_to(resource: &Resource, role: &str) -> bool {
    match reservation_role(resource) {
        None => true,
        Some(reserved) => role == reserved || roles::is_strict_subrole_of(role, reserved),
    }
}

/// The role the resource is allocated to, if any.
pub fn allocation_role(resource: &Resource) -> Option<&str> {
    resource
        .allocation_info
        .as_ref()
        .and_then(|a| a.role.as_deref())
}

/// Whether the resource is allocated to `role` or one of its descendants.
pub fn is_allocated_to_role_subtree(resource: &Resource, role: &str) -> bool {
    let allocated = allocation_role(resource).unwrap_or("");
    roles::is_subrole_or_self(allocated, role)
}

/// Whether the resource is reserved to `role` or one of its descendants.
pub fn is_reserved_to_role_subtree(resource: &Resource, role: &str) -> bool {
    reservation_role(resource).is_some_and(|reserved| roles::is_subrole_or_self(reserved, role))
}

/// Whether the resource has more than one reservation (refined reservations).
pub fn has_refined_reservations(resource: &Resource) -> bool {
    resource.reservations.len() > 1
}

/// Whether the resource comes from a resource provider.
pub fn has_resource_provider(resource: &Resource) -> bool {
    resource.provider_id.is_some()
}

/// Validates a resource as upstream `Resources::validate`: a name, a supported type with
/// exactly its value set, a positive scalar, well-formed non-overlapping ranges, a set
/// without duplicates, disk info only on `disk`, valid roles, reservations in either
/// format and consistent, and sharing only for persistent volumes.
#[allow(deprecated)] // `Resource.role` is deprecated but part of the format we validate.
pub fn validate(resource: &Resource) -> Result<(), ResourceError> {
    if resource.name.is_empty() {
        return Err(ResourceError::EmptyName);
    }
    let has = (
        resource.scalar.is_some(),
        resource.ranges.is_some(),
        resource.set.is_some(),
    );
    match value_type(resource) {
        None => return Err(ResourceError::InvalidType(resource.r#type)),
        Some(value::Type::Text) => return Err(ResourceError::TextType),
        Some(value::Type::Scalar) => {
            if has != (true, false, false) {
                return Err(ResourceError::MismatchedValue { kind: "scalar" });
            }
            let v = resource.scalar.map_or(0.0, |s| s.value);
            if !v.is_finite() {
                return Err(ResourceError::NonFiniteScalar);
            }
            if v != 0.0 && !Quantity::from_f64(v).is_positive() {
                return Err(ResourceError::NonPositiveScalar);
            }
        }
        Some(value::Type::Ranges) => {
            if has != (false, true, false) {
                return Err(ResourceError::MismatchedValue { kind: "ranges" });
            }
            let ranges = ranges_of(resource);
            if ranges.iter().any(|r| r.begin > r.end) {
                return Err(ResourceError::InvertedRange);
            }
            if !values::is_normalized(ranges) {
                let mut sorted = ranges.to_vec();
                sorted.sort_unstable_by_key(|r| r.begin);
                if sorted.windows(2).any(|w| w[1].begin <= w[0].end) {
                    return Err(ResourceError::OverlappingRanges);
                }
            }
        }
        Some(value::Type::Set) => {
            if has != (false, false, true) {
                return Err(ResourceError::MismatchedValue { kind: "set" });
            }
            let items = items_of(resource);
            let mut seen = std::collections::HashSet::with_capacity(items.len());
            if !items.iter().all(|item| seen.insert(item.as_str())) {
                return Err(ResourceError::DuplicateSetItem);
            }
        }
    }

    if let Some(disk) = &resource.disk {
        if resource.name != "disk" {
            return Err(ResourceError::DiskInfoOnNonDisk {
                name: resource.name.clone(),
            });
        }
        if let Some(source) = &disk.source {
            match SourceType::try_from(source.r#type) {
                Ok(SourceType::Path | SourceType::Mount) => {}
                Ok(SourceType::Block | SourceType::Raw) => {
                    if source.mount.is_some() {
                        return Err(ResourceError::InvalidDiskSource {
                            reason: "mount should not be set for BLOCK or RAW disk source",
                        });
                    }
                    if source.path.is_some() {
                        return Err(ResourceError::InvalidDiskSource {
                            reason: "path should not be set for BLOCK or RAW disk source",
                        });
                    }
                }
                Ok(SourceType::Unknown) | Err(_) => {
                    return Err(ResourceError::InvalidDiskSource {
                        reason: "unsupported disk source type",
                    });
                }
            }
        }
    }

    if resource.reservations.is_empty() {
        // The "pre-reservation-refinement" format.
        roles::validate(resource.role())?;
        if let Some(reservation) = &resource.reservation {
            if reservation.r#type.is_some() {
                return Err(ResourceError::InvalidReservation {
                    reason: "'Resource.ReservationInfo.type' must not be set for the \
                             'Resource.reservation' field"
                        .into(),
                });
            }
            if reservation.role.is_some() {
                return Err(ResourceError::InvalidReservation {
                    reason: "'Resource.ReservationInfo.role' must not be set for the \
                             'Resource.reservation' field"
                        .into(),
                });
            }
            if resource.role() == roles::DEFAULT_ROLE {
                return Err(ResourceError::InvalidReservation {
                    reason: "role \"*\" cannot be dynamically reserved".into(),
                });
            }
        }
    } else {
        // The "post-reservation-refinement" format.
        for reservation in &resource.reservations {
            if reservation.r#type.is_none() {
                return Err(ResourceError::InvalidReservation {
                    reason: "'Resource.ReservationInfo.type' field must be set".into(),
                });
            }
            let Some(role) = reservation.role.as_deref() else {
                return Err(ResourceError::InvalidReservation {
                    reason: "'Resource.ReservationInfo.role' field must be set".into(),
                });
            };
            roles::validate(role)?;
            if role == roles::DEFAULT_ROLE {
                return Err(ResourceError::InvalidReservation {
                    reason: "role \"*\" cannot be reserved".into(),
                });
            }
        }
        for pair in resource.reservations.windows(2) {
            let (ancestor, descendant) = (pair[0].role(), &pair[1]);
            if descendant.r#type() == ReservationType::Static {
                return Err(ResourceError::InvalidRefinement {
                    reason: "a refined reservation cannot be STATIC".into(),
                });
            }
            if !roles::is_strict_subrole_of(descendant.role(), ancestor) {
                return Err(ResourceError::InvalidRefinement {
                    reason: format!(
                        "role '{}' is not a refinement of '{ancestor}'",
                        descendant.role()
                    ),
                });
            }
        }
        if let [reservation] = &resource.reservations[..] {
            if resource
                .role
                .as_deref()
                .is_some_and(|role| role != reservation.role())
            {
                return Err(ResourceError::InvalidFormat {
                    reason: format!(
                        "'Resource.role' field with '{}' does not match the role '{}' in \
                         'Resource.reservations'",
                        resource.role(),
                        reservation.role()
                    ),
                });
            }
            match reservation.r#type() {
                ReservationType::Static => {
                    if resource.reservation.is_some() {
                        return Err(ResourceError::InvalidFormat {
                            reason: "'Resource.reservation' must not be set if the single \
                                     reservation in 'Resource.reservations' is STATIC"
                                .into(),
                        });
                    }
                }
                ReservationType::Dynamic => {
                    if resource.role.is_some() != resource.reservation.is_some() {
                        return Err(ResourceError::InvalidFormat {
                            reason: "'Resource.role' and 'Resource.reservation' must either \
                                     be both set or both not set if the single reservation \
                                     in 'Resource.reservations' is DYNAMIC"
                                .into(),
                        });
                    }
                    if let Some(pre) = &resource.reservation {
                        if pre.principal() != reservation.principal() {
                            return Err(ResourceError::InvalidFormat {
                                reason: "'Resource.reservation.principal' does not match the \
                                         principal in 'Resource.reservations'"
                                    .into(),
                            });
                        }
                        let empty = Labels::default();
                        if !labels_eq(
                            pre.labels.as_ref().unwrap_or(&empty),
                            reservation.labels.as_ref().unwrap_or(&empty),
                        ) {
                            return Err(ResourceError::InvalidFormat {
                                reason: "'Resource.reservation.labels' does not match the \
                                         labels in 'Resource.reservations'"
                                    .into(),
                            });
                        }
                    }
                }
                ReservationType::Unknown => {
                    return Err(ResourceError::InvalidReservation {
                        reason: "unsupported 'Resource.ReservationInfo.Type'".into(),
                    });
                }
            }
        } else {
            if resource.role.is_some() {
                return Err(ResourceError::InvalidFormat {
                    reason: "'Resource.role' must not be set if there is more than one \
                             reservation in 'Resource.reservations'"
                        .into(),
                });
            }
            if resource.reservation.is_some() {
                return Err(ResourceError::InvalidFormat {
                    reason: "'Resource.reservation' must not be set if there is more than \
                             one reservation in 'Resource.reservations'"
                        .into(),
                });
            }
        }
    }

    if resource.shared.is_some() && (resource.name != "disk" || !is_persistent_volume(resource)) {
        return Err(ResourceError::InvalidShared {
            name: resource.name.clone(),
        });
    }
    Ok(())
}

/// Builds an unreserved scalar resource, e.g. `scalar("cpus", 4.0)`.
pub fn scalar(name: &str, value: f64) -> Resource {
    Resource {
        name: name.to_owned(),
        r#type: value::Type::Scalar as i32,
        scalar: Some(value::Scalar { value }),
        ..Resource::default()
    }
}

/// Builds an unreserved ranges resource, e.g. `ranges("ports", &[(31000, 32000)])`.
pub fn ranges(name: &str, bounds: &[(u64, u64)]) -> Resource {
    Resource {
        name: name.to_owned(),
        r#type: value::Type::Ranges as i32,
        ranges: Some(value::Ranges {
            range: bounds
                .iter()
                .map(|&(begin, end)| Range { begin, end })
                .collect(),
        }),
        ..Resource::default()
    }
}

/// Builds an unreserved set resource, e.g. `set("zones", &["a", "b"])`.
pub fn set(name: &str, items: &[&str]) -> Resource {
    Resource {
        name: name.to_owned(),
        r#type: value::Type::Set as i32,
        set: Some(value::Set {
            item: items.iter().map(|s| (*s).to_owned()).collect(),
        }),
        ..Resource::default()
    }
}

/// A reservation of the given type to `role`.
pub fn reservation(kind: ReservationType, role: &str, principal: Option<&str>) -> ReservationInfo {
    ReservationInfo {
        r#type: Some(kind as i32),
        role: Some(role.to_owned()),
        principal: principal.map(str::to_owned),
        labels: None,
    }
}
