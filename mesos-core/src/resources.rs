//! Resources math: [`Resources`], the value type the allocator and agent compute with,
//! over the protobuf [`Resource`] (Mesos `include/mesos/resources.hpp`,
//! `src/common/resources.cpp`).
//!
//! A `Resources` is a bag of `Resource` objects in which *addable* resources (same
//! name, type, reservations, allocation, disk, revocability, provider and sharedness;
//! see [`resource::addable`]) are always combined into one. Invariants of every entry:
//!
//! * valid ([`resource::validate`]) and in the post-reservation-refinement format
//!   (see [`format`](mod@format)): resources are upgraded on the way in;
//! * not empty: zero scalars, empty ranges and empty sets are dropped;
//! * scalars hold the canonical `f64` of a fixed-point value ([`Quantity`]);
//! * ranges are normalized (sorted, coalesced), so arithmetic is a linear merge;
//! * shared resources (persistent volumes with `shared` set) are counted: adding the
//!   same shared volume twice keeps one object with count 2.
//!
//! Subtraction never produces negative quantities: a resource whose scalar would go
//! negative is removed, as upstream does. Invalid resources are ignored by `+=`/`-=`
//! (use [`Resources::try_add`] to see the error).
//!
//! Entries are reference counted and copied on write, so filtering
//! ([`Resources::unreserved`], [`Resources::allocatable_to`], …) and cloning are cheap.
//!
//! Submodules: [`scalar`] (fixed point), [`values`] (ranges and sets, text form of a
//! value), [`quantities`] ([`ResourceQuantities`]), [`resource`] (rules for one
//! `Resource`), [`format`](mod@format) (reservation formats), [`parse`] (the agent's `--resources`
//! text and JSON), [`attributes`] (the agent's `--attributes`).

pub mod attributes;
pub mod format;
pub mod parse;
pub mod quantities;
pub mod resource;
pub mod scalar;
pub mod values;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::sync::Arc;

use thiserror::Error;

use crate::v0::resource::{AllocationInfo, ReservationInfo};
use crate::v0::value::{self, Range};
use crate::v0::{Resource, resource::disk_info::source::Type as SourceType};

pub use attributes::{AttributeError, Attributes};
pub use format::{FormatError, ResourceFormat, convert_resource_format, upgrade_resource};
pub use parse::ParseError;
pub use quantities::{QuantitiesError, ResourceQuantities};
pub use resource::ResourceError;
pub use scalar::Quantity;

/// One entry of a [`Resources`]: a resource and, if shared, how many copies.
#[derive(Debug, Clone)]
struct Entry {
    resource: Resource,
    /// `Some(n)` for shared resources: `n` copies of the same object.
    shared_count: Option<i64>,
}

impl Entry {
    /// Wraps a valid resource, normalizing its format and value.
    fn new(mut resource: Resource) -> Entry {
        upgrade_resource(&mut resource);
        normalize_value(&mut resource);
        let shared_count = resource.shared.is_some().then_some(1);
        Entry {
            resource,
            shared_count,
        }
    }

    fn is_empty(&self) -> bool {
        self.shared_count.is_some_and(|n| n <= 0) || resource::is_empty(&self.resource)
    }

    fn contains(&self, that: &Entry) -> bool {
        match (self.shared_count, that.shared_count) {
            (None, None) => resource::contains(&self.resource, &that.resource),
            (Some(mine), Some(theirs)) => {
                mine >= theirs && resource::resource_eq(&self.resource, &that.resource)
            }
            _ => false,
        }
    }

    /// Adds `that`, which must be addable.
    fn add(&mut self, that: &Entry) {
        match (&mut self.shared_count, that.shared_count) {
            (Some(mine), Some(theirs)) => *mine += theirs,
            _ => add_value(&mut self.resource, &that.resource),
        }
    }

    /// Subtracts `that`, which must be subtractable.
    fn subtract(&mut self, that: &Entry) {
        match (&mut self.shared_count, that.shared_count) {
            (Some(mine), Some(theirs)) => *mine -= theirs,
            _ => subtract_value(&mut self.resource, &that.resource),
        }
    }

    fn is_negative(&self) -> bool {
        self.shared_count.is_some_and(|n| n < 0)
            || (resource::value_type(&self.resource) == Some(value::Type::Scalar)
                && resource::scalar_of(&self.resource) < Quantity::ZERO)
    }
}

/// Puts the value in canonical form: fixed-point scalar, normalized ranges.
fn normalize_value(resource: &mut Resource) {
    if let Some(s) = &mut resource.scalar {
        s.value = scalar::round_scalar(s.value);
    }
    if let Some(r) = &mut resource.ranges {
        values::coalesce(&mut r.range);
    }
}

fn add_value(left: &mut Resource, right: &Resource) {
    match resource::value_type(left) {
        Some(value::Type::Scalar) => {
            let sum = resource::scalar_of(left) + resource::scalar_of(right);
            left.scalar = Some(value::Scalar {
                value: sum.as_f64(),
            });
        }
        Some(value::Type::Ranges) => {
            let l = left.ranges.get_or_insert_with(Default::default);
            let r = right.ranges.as_ref().map_or(&[][..], |r| &r.range);
            l.range = values::union(&l.range, r);
        }
        Some(value::Type::Set) => {
            let l = left.set.get_or_insert_with(Default::default);
            let r = right.set.as_ref().map_or(&[][..], |s| &s.item);
            values::set_add(&mut l.item, r);
        }
        _ => {}
    }
}

fn subtract_value(left: &mut Resource, right: &Resource) {
    match resource::value_type(left) {
        Some(value::Type::Scalar) => {
            let diff = resource::scalar_of(left) - resource::scalar_of(right);
            left.scalar = Some(value::Scalar {
                value: diff.as_f64(),
            });
        }
        Some(value::Type::Ranges) => {
            let l = left.ranges.get_or_insert_with(Default::default);
            let r = right.ranges.as_ref().map_or(&[][..], |r| &r.range);
            l.range = values::subtract(&l.range, r);
        }
        Some(value::Type::Set) => {
            let l = left.set.get_or_insert_with(Default::default);
            let r = right.set.as_ref().map_or(&[][..], |s| &s.item);
            values::set_subtract(&mut l.item, r);
        }
        _ => {}
    }
}

/// A bag of resources with Mesos's arithmetic. See the [module docs](self).
#[derive(Clone, Default)]
pub struct Resources {
    entries: Vec<Arc<Entry>>,
}

/// Why a [`ResourceConversion`] could not be applied.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ConversionError {
    /// The resources do not contain what the conversion consumes.
    #[error("{resources} does not contain {consumed}")]
    NotContained {
        /// The resources the conversion was applied to.
        resources: Resources,
        /// What it consumes.
        consumed: Resources,
    },
    /// A reservation cannot be pushed onto these resources.
    #[error(transparent)]
    Invalid(#[from] ResourceError),
}

/// Takes out `consumed` and puts back `converted` (upstream `ResourceConversion`): the
/// building block of offer operations such as RESERVE or CREATE.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceConversion {
    /// What the conversion takes out.
    pub consumed: Resources,
    /// What it puts back.
    pub converted: Resources,
}

impl ResourceConversion {
    /// A conversion from `consumed` to `converted`.
    pub fn new(consumed: Resources, converted: Resources) -> ResourceConversion {
        ResourceConversion {
            consumed,
            converted,
        }
    }

    /// Applies the conversion to `resources`.
    pub fn apply(&self, resources: &Resources) -> Result<Resources, ConversionError> {
        if !resources.contains(&self.consumed) {
            return Err(ConversionError::NotContained {
                resources: resources.clone(),
                consumed: self.consumed.clone(),
            });
        }
        let mut result = resources - &self.consumed;
        result += &self.converted;
        Ok(result)
    }
}

impl Resources {
    /// No resources.
    pub const fn new() -> Resources {
        Resources {
            entries: Vec::new(),
        }
    }

    /// Parses the agent's `--resources` text (`cpus:4;mem:4096;ports:[31000-32000]`,
    /// `cpus(role):2`, `{a,b}` sets) or a JSON array of `Resource` objects, validates the
    /// result and rejects what may not be given on a command line (see
    /// [`parse::parse`]). Resources without a role get `default_role` (usually `*`).
    pub fn parse(text: &str, default_role: &str) -> Result<Resources, ParseError> {
        parse::parse(text, default_role)
    }

    /// The number of resource objects (shared copies count once).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no resources.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The resource objects.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            inner: self.entries.iter(),
        }
    }

    /// The resource objects with their counts (1 for non-shared resources).
    pub fn iter_counted(&self) -> impl Iterator<Item = (&Resource, usize)> + '_ {
        self.entries.iter().map(|e| {
            (
                &e.resource,
                e.shared_count
                    .map_or(1, |n| usize::try_from(n).unwrap_or(0)),
            )
        })
    }

    /// The resource objects as a `Vec`, e.g. for a repeated protobuf field.
    pub fn to_vec(&self) -> Vec<Resource> {
        self.iter().cloned().collect()
    }

    /// Adds a resource after validating it; invalid resources are rejected with the
    /// reason. Zero resources are accepted and ignored.
    pub fn try_add(&mut self, resource: Resource) -> Result<(), ResourceError> {
        resource::validate(&resource)?;
        self.add_entry(Entry::new(resource));
        Ok(())
    }

    fn add_entry(&mut self, entry: Entry) {
        if entry.is_empty() {
            return;
        }
        for existing in &mut self.entries {
            if resource::addable(&existing.resource, &entry.resource) {
                Arc::make_mut(existing).add(&entry);
                return;
            }
        }
        self.entries.push(Arc::new(entry));
    }

    fn add_shared_entry(&mut self, entry: &Arc<Entry>) {
        if entry.is_empty() {
            return;
        }
        for existing in &mut self.entries {
            if resource::addable(&existing.resource, &entry.resource) {
                Arc::make_mut(existing).add(entry);
                return;
            }
        }
        self.entries.push(Arc::clone(entry));
    }

    fn subtract_entry(&mut self, entry: &Entry) {
        if entry.is_empty() {
            return;
        }
        let found = self
            .entries
            .iter()
            .position(|existing| resource::subtractable(&existing.resource, &entry.resource));
        if let Some(i) = found {
            let existing = Arc::make_mut(&mut self.entries[i]);
            existing.subtract(entry);
            if existing.is_negative() || existing.is_empty() {
                self.entries.swap_remove(i);
            }
        }
    }

    fn contains_entry(&self, entry: &Entry) -> bool {
        self.entries.iter().any(|e| e.contains(entry))
    }

    /// Whether these resources are a superset of `that`.
    pub fn contains(&self, that: &Resources) -> bool {
        // Persistent volumes are distinct objects that never combine, so each one in
        // `that` must be matched by a distinct one here: take matched ones out.
        let mut remaining: Option<Resources> = None;
        for entry in &that.entries {
            let haystack = remaining.as_ref().unwrap_or(self);
            if !haystack.contains_entry(entry) {
                return false;
            }
            if resource::is_persistent_volume(&entry.resource) {
                remaining
                    .get_or_insert_with(|| self.clone())
                    .subtract_entry(entry);
            }
        }
        true
    }

    /// Whether these resources contain the (valid) resource `that`.
    pub fn contains_resource(&self, that: &Resource) -> bool {
        resource::validate(that).is_ok() && self.contains_entry(&Entry::new(that.clone()))
    }

    /// Whether the quantities here cover `quantities`: a scalar counts its value, ranges
    /// the number of elements, a set the number of items.
    pub fn contains_quantities(&self, quantities: &ResourceQuantities) -> bool {
        let have = ResourceQuantities::from_resources(self);
        have.contains(quantities)
    }

    /// How many copies of `that` there are: 0 or 1 for non-shared resources.
    pub fn count(&self, that: &Resource) -> usize {
        self.entries
            .iter()
            .find(|e| resource::resource_eq(&e.resource, that))
            .map_or(0, |e| {
                e.shared_count
                    .map_or(1, |n| usize::try_from(n).unwrap_or(0))
            })
    }

    /// Marks every resource as allocated to `role`, replacing any allocation.
    pub fn allocate(&mut self, role: &str) {
        for entry in &mut self.entries {
            if resource::allocation_role(&entry.resource) != Some(role) {
                Arc::make_mut(entry).resource.allocation_info = Some(AllocationInfo {
                    role: Some(role.to_owned()),
                });
            }
        }
    }

    /// Clears the allocation of every resource.
    pub fn unallocate(&mut self) {
        let before = std::mem::take(&mut self.entries);
        for mut entry in before {
            if entry.resource.allocation_info.is_some() {
                Arc::make_mut(&mut entry).resource.allocation_info = None;
            }
            // Resources that differed only by allocation now combine.
            self.add_shared_entry(&entry);
        }
    }

    /// The resources for which `predicate` holds.
    pub fn filter(&self, mut predicate: impl FnMut(&Resource) -> bool) -> Resources {
        Resources {
            entries: self
                .entries
                .iter()
                .filter(|e| predicate(&e.resource))
                .cloned()
                .collect(),
        }
    }

    /// The reserved resources, by (last) reservation role.
    pub fn reservations(&self) -> HashMap<String, Resources> {
        let mut result: HashMap<String, Resources> = HashMap::new();
        for entry in &self.entries {
            if let Some(role) = resource::reservation_role(&entry.resource) {
                result
                    .entry(role.to_owned())
                    .or_default()
                    .entries
                    .push(Arc::clone(entry));
            }
        }
        result
    }

    /// The reserved resources; only those reserved to `role` if given.
    pub fn reserved(&self, role: Option<&str>) -> Resources {
        self.filter(|r| resource::is_reserved(r, role))
    }

    /// The resources `role` may be allocated: unreserved, or reserved to `role` or an
    /// ancestor.
    pub fn allocatable_to(&self, role: &str) -> Resources {
        self.filter(|r| resource::is_allocatable_to(r, role))
    }

    /// The resources allocated to `role` or its descendants.
    pub fn allocated_to_role_subtree(&self, role: &str) -> Resources {
        self.filter(|r| resource::is_allocated_to_role_subtree(r, role))
    }

    /// The resources reserved to `role` or its descendants.
    pub fn reserved_to_role_subtree(&self, role: &str) -> Resources {
        self.filter(|r| resource::is_reserved_to_role_subtree(r, role))
    }

    /// The unreserved resources.
    pub fn unreserved(&self) -> Resources {
        self.filter(resource::is_unreserved)
    }

    /// The persistent volumes.
    pub fn persistent_volumes(&self) -> Resources {
        self.filter(resource::is_persistent_volume)
    }

    /// The revocable resources.
    pub fn revocable(&self) -> Resources {
        self.filter(resource::is_revocable)
    }

    /// The non-revocable resources.
    pub fn non_revocable(&self) -> Resources {
        self.filter(|r| !resource::is_revocable(r))
    }

    /// The shared resources.
    pub fn shared(&self) -> Resources {
        self.filter(resource::is_shared)
    }

    /// The non-shared resources.
    pub fn non_shared(&self) -> Resources {
        self.filter(|r| !resource::is_shared(r))
    }

    /// The resources of the given name.
    pub fn named(&self, name: &str) -> Resources {
        self.filter(|r| r.name == name)
    }

    /// The scalar resources.
    pub fn scalars(&self) -> Resources {
        self.filter(|r| resource::value_type(r) == Some(value::Type::Scalar))
    }

    /// Disks of the given source type.
    pub fn disks(&self, source_type: SourceType) -> Resources {
        self.filter(|r| resource::is_disk(r, source_type))
    }

    /// The allocated resources by allocation role; unallocated ones are left out.
    pub fn allocations(&self) -> HashMap<String, Resources> {
        let mut result: HashMap<String, Resources> = HashMap::new();
        for entry in &self.entries {
            if let Some(role) = resource::allocation_role(&entry.resource) {
                result
                    .entry(role.to_owned())
                    .or_default()
                    .entries
                    .push(Arc::clone(entry));
            }
        }
        result
    }

    /// These resources with `reservation` pushed onto every reservation stack; fails if
    /// the result is invalid (e.g. not a refinement of the current reservation).
    pub fn push_reservation(
        &self,
        reservation: &ReservationInfo,
    ) -> Result<Resources, ResourceError> {
        let mut result = Resources::new();
        for entry in &self.entries {
            let mut e = Entry::clone(entry);
            e.resource.reservations.push(reservation.clone());
            resource::validate(&e.resource)?;
            result.add_entry(e);
        }
        Ok(result)
    }

    /// These resources with the last reservation popped; fails if any is unreserved.
    pub fn pop_reservation(&self) -> Result<Resources, ResourceError> {
        let mut result = Resources::new();
        for entry in &self.entries {
            let mut e = Entry::clone(entry);
            if e.resource.reservations.pop().is_none() {
                return Err(ResourceError::InvalidReservation {
                    reason: format!(
                        "cannot pop the reservation of unreserved '{}'",
                        e.resource.name
                    ),
                });
            }
            result.add_entry(e);
        }
        Ok(result)
    }

    /// These resources with every reservation removed (combining what then matches).
    pub fn to_unreserved(&self) -> Resources {
        let mut result = Resources::new();
        for entry in &self.entries {
            if resource::is_unreserved(&entry.resource) {
                result.add_shared_entry(entry);
            } else {
                let mut e = Entry::clone(entry);
                e.resource.reservations.clear();
                result.add_entry(e);
            }
        }
        result
    }

    /// These resources with reservations and allocation removed, combining what then
    /// matches: the amounts by name, keeping disk, revocable and shared identity.
    pub fn flatten(&self) -> Resources {
        let mut result = Resources::new();
        for entry in &self.entries {
            let mut e = Entry::clone(entry);
            e.resource.reservations.clear();
            e.resource.allocation_info = None;
            result.add_entry(e);
        }
        result
    }

    /// Only the scalar resources, stripped of everything but name, type and value
    /// (upstream `createStrippedScalarQuantity`).
    pub fn create_stripped_scalar_quantity(&self) -> Resources {
        let mut result = Resources::new();
        for entry in &self.entries {
            if resource::value_type(&entry.resource) == Some(value::Type::Scalar) {
                let stripped = resource::scalar(
                    &entry.resource.name,
                    resource::scalar_of(&entry.resource).as_f64(),
                );
                result.add_entry(Entry::new(stripped));
            }
        }
        result
    }

    /// Applies a conversion (see [`ResourceConversion::apply`]).
    pub fn apply(&self, conversion: &ResourceConversion) -> Result<Resources, ConversionError> {
        conversion.apply(self)
    }

    /// The sum of the scalars named `name` (all roles), if any.
    pub fn get_scalar(&self, name: &str) -> Option<Quantity> {
        let mut found = false;
        let total = self
            .iter()
            .filter(|r| r.name == name && resource::value_type(r) == Some(value::Type::Scalar))
            .inspect(|_| found = true)
            .map(resource::scalar_of)
            .sum();
        found.then_some(total)
    }

    /// The union of the ranges named `name` (all roles), normalized, if any.
    pub fn get_ranges(&self, name: &str) -> Option<Vec<Range>> {
        let mut result: Option<Vec<Range>> = None;
        for r in self.iter().filter(|r| r.name == name) {
            if let Some(ranges) = &r.ranges {
                let acc = result.get_or_insert_with(Vec::new);
                *acc = values::union(acc, &ranges.range);
            }
        }
        result
    }

    /// The union of the sets named `name` (all roles), if any.
    pub fn get_set(&self, name: &str) -> Option<Vec<String>> {
        let mut result: Option<Vec<String>> = None;
        for r in self.iter().filter(|r| r.name == name) {
            if let Some(set) = &r.set {
                values::set_add(result.get_or_insert_with(Vec::new), &set.item);
            }
        }
        result
    }

    /// The names of the resources, sorted.
    pub fn names(&self) -> BTreeSet<&str> {
        self.iter().map(|r| r.name.as_str()).collect()
    }

    /// The value type of each name.
    pub fn types(&self) -> BTreeMap<&str, value::Type> {
        self.iter()
            .filter_map(|r| resource::value_type(r).map(|t| (r.name.as_str(), t)))
            .collect()
    }

    /// Total `cpus`.
    pub fn cpus(&self) -> Option<f64> {
        self.get_scalar("cpus").map(Quantity::as_f64)
    }

    /// Total `gpus`.
    pub fn gpus(&self) -> Option<f64> {
        self.get_scalar("gpus").map(Quantity::as_f64)
    }

    /// Total `mem`, in megabytes.
    pub fn mem(&self) -> Option<f64> {
        self.get_scalar("mem").map(Quantity::as_f64)
    }

    /// Total `disk`, in megabytes.
    pub fn disk(&self) -> Option<f64> {
        self.get_scalar("disk").map(Quantity::as_f64)
    }

    /// All `ports` ranges.
    pub fn ports(&self) -> Option<Vec<Range>> {
        self.get_ranges("ports")
    }

    /// The sum of many resources (as upstream, ranges and sets of different agents merge,
    /// which is only meaningful for scalars).
    pub fn sum<'a>(all: impl IntoIterator<Item = &'a Resources>) -> Resources {
        let mut result = Resources::new();
        for r in all {
            result += r;
        }
        result
    }
}

impl ResourceQuantities {
    /// The scalar quantities of `resources`, by name; non-scalar resources are ignored.
    pub fn from_scalar_resources(resources: &Resources) -> ResourceQuantities {
        let mut result = ResourceQuantities::new();
        for r in resources.iter() {
            if resource::value_type(r) == Some(value::Type::Scalar) {
                result.add_quantity(&r.name, resource::scalar_of(r));
            }
        }
        result
    }

    /// The quantity of one scalar resource (empty for a non-scalar one).
    pub fn from_scalar_resource(resource: &Resource) -> ResourceQuantities {
        let mut result = ResourceQuantities::new();
        if resource::value_type(resource) == Some(value::Type::Scalar) {
            result.add_quantity(&resource.name, resource::scalar_of(resource));
        }
        result
    }

    /// The quantities of `resources`: scalars by value, ranges by number of elements,
    /// sets by number of items.
    pub fn from_resources(resources: &Resources) -> ResourceQuantities {
        let mut result = ResourceQuantities::new();
        for r in resources.iter() {
            let q = match resource::value_type(r) {
                Some(value::Type::Scalar) => resource::scalar_of(r),
                Some(value::Type::Ranges) => {
                    let n = values::count(r.ranges.as_ref().map_or(&[][..], |x| &x.range));
                    Quantity::from_units(i64::try_from(n).unwrap_or(i64::MAX / 1000))
                }
                Some(value::Type::Set) => Quantity::from_units(
                    r.set
                        .as_ref()
                        .map_or(0, |s| i64::try_from(s.item.len()).unwrap_or(0)),
                ),
                _ => Quantity::ZERO,
            };
            result.add_quantity(&r.name, q);
        }
        result
    }
}

/// Iterator over the resource objects of a [`Resources`].
#[derive(Clone)]
pub struct Iter<'a> {
    inner: std::slice::Iter<'a, Arc<Entry>>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Resource;
    fn next(&mut self) -> Option<&'a Resource> {
        self.inner.next().map(|e| &e.resource)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Resources {
    type Item = &'a Resource;
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl From<Resource> for Resources {
    fn from(resource: Resource) -> Resources {
        let mut result = Resources::new();
        result += resource;
        result
    }
}

impl From<Vec<Resource>> for Resources {
    fn from(resources: Vec<Resource>) -> Resources {
        resources.into_iter().collect()
    }
}

impl From<&[Resource]> for Resources {
    fn from(resources: &[Resource]) -> Resources {
        resources.iter().cloned().collect()
    }
}

impl From<Resources> for Vec<Resource> {
    fn from(resources: Resources) -> Vec<Resource> {
        resources
            .entries
            .into_iter()
            .map(|e| Arc::try_unwrap(e).map_or_else(|e| e.resource.clone(), |e| e.resource))
            .collect()
    }
}

/// Invalid resources are ignored.
impl FromIterator<Resource> for Resources {
    fn from_iter<I: IntoIterator<Item = Resource>>(iter: I) -> Resources {
        let mut result = Resources::new();
        result.extend(iter);
        result
    }
}

/// Invalid resources are ignored.
impl Extend<Resource> for Resources {
    fn extend<I: IntoIterator<Item = Resource>>(&mut self, iter: I) {
        for r in iter {
            *self += r;
        }
    }
}

/// Mesos equality: each contains the other.
impl PartialEq for Resources {
    fn eq(&self, other: &Resources) -> bool {
        self.contains(other) && other.contains(self)
    }
}

/// Invalid resources are ignored.
impl AddAssign<Resource> for Resources {
    fn add_assign(&mut self, rhs: Resource) {
        if resource::validate(&rhs).is_ok() {
            self.add_entry(Entry::new(rhs));
        }
    }
}

/// Invalid resources are ignored.
impl AddAssign<&Resource> for Resources {
    fn add_assign(&mut self, rhs: &Resource) {
        *self += rhs.clone();
    }
}

impl AddAssign<&Resources> for Resources {
    fn add_assign(&mut self, rhs: &Resources) {
        if self.entries.is_empty() {
            self.entries = rhs.entries.clone();
            return;
        }
        for entry in &rhs.entries {
            self.add_shared_entry(entry);
        }
    }
}

impl AddAssign<Resources> for Resources {
    fn add_assign(&mut self, rhs: Resources) {
        *self += &rhs;
    }
}

/// Invalid resources are ignored.
impl SubAssign<&Resource> for Resources {
    fn sub_assign(&mut self, rhs: &Resource) {
        if resource::validate(rhs).is_ok() {
            self.subtract_entry(&Entry::new(rhs.clone()));
        }
    }
}

impl SubAssign<Resource> for Resources {
    fn sub_assign(&mut self, rhs: Resource) {
        *self -= &rhs;
    }
}

impl SubAssign<&Resources> for Resources {
    fn sub_assign(&mut self, rhs: &Resources) {
        for entry in &rhs.entries {
            self.subtract_entry(entry);
        }
    }
}

impl SubAssign<Resources> for Resources {
    fn sub_assign(&mut self, rhs: Resources) {
        *self -= &rhs;
    }
}

macro_rules! binary_ops {
    ($rhs:ty) => {
        impl Add<$rhs> for &Resources {
            type Output = Resources;
            fn add(self, rhs: $rhs) -> Resources {
                let mut result = self.clone();
                result += rhs;
                result
            }
        }
        impl Add<$rhs> for Resources {
            type Output = Resources;
            fn add(mut self, rhs: $rhs) -> Resources {
                self += rhs;
                self
            }
        }
        impl Sub<$rhs> for &Resources {
            type Output = Resources;
            fn sub(self, rhs: $rhs) -> Resources {
                let mut result = self.clone();
                result -= rhs;
                result
            }
        }
        impl Sub<$rhs> for Resources {
            type Output = Resources;
            fn sub(mut self, rhs: $rhs) -> Resources {
                self -= rhs;
                self
            }
        }
    };
}

binary_ops!(&Resources);
binary_ops!(Resources);
binary_ops!(&Resource);
binary_ops!(Resource);

/// Writes one resource as upstream does: `cpus(reservations: [(STATIC,eng)]):2`,
/// `disk[MOUNT:/mnt,id1:data]<SHARED>:100`, `ports:[31000-32000]`, `zones:{a, b}`.
pub fn fmt_resource(resource: &Resource, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str(&resource.name)?;
    if let Some(role) = resource::allocation_role(resource) {
        write!(f, "(allocated: {role})")?;
    }
    if !resource.reservations.is_empty() {
        f.write_str("(reservations: [")?;
        for (i, r) in resource.reservations.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "({},{}", r.r#type().as_str_name(), r.role())?;
            if let Some(principal) = &r.principal {
                write!(f, ",{principal}")?;
            }
            if let Some(labels) = &r.labels {
                f.write_str(",{")?;
                for (j, label) in labels.labels.iter().enumerate() {
                    if j > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&label.key)?;
                    if let Some(v) = &label.value {
                        write!(f, ": {v}")?;
                    }
                }
                f.write_str("}")?;
            }
            f.write_str(")")?;
        }
        f.write_str("])")?;
    }
    if let Some(disk) = &resource.disk {
        f.write_str("[")?;
        if let Some(source) = &disk.source {
            f.write_str(source.r#type().as_str_name())?;
            let root = source
                .mount
                .as_ref()
                .and_then(|m| m.root.as_ref())
                .or_else(|| source.path.as_ref().and_then(|p| p.root.as_ref()));
            if let Some(root) = root {
                write!(f, ":{root}")?;
            }
        }
        if let Some(p) = &disk.persistence {
            if disk.source.is_some() {
                f.write_str(",")?;
            }
            f.write_str(&p.id)?;
        }
        if let Some(volume) = &disk.volume {
            write!(f, ":{}", volume.container_path)?;
        }
        f.write_str("]")?;
    }
    if resource.revocable.is_some() {
        f.write_str("{REV}")?;
    }
    if resource.shared.is_some() {
        f.write_str("<SHARED>")?;
    }
    f.write_str(":")?;
    match resource::value_type(resource) {
        Some(value::Type::Scalar) => write!(f, "{}", resource::scalar_of(resource)),
        Some(value::Type::Ranges) => {
            f.write_str("[")?;
            for (i, r) in resource.ranges.iter().flat_map(|r| &r.range).enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}-{}", r.begin, r.end)?;
            }
            f.write_str("]")
        }
        Some(value::Type::Set) => {
            write!(
                f,
                "{{{}}}",
                resource
                    .set
                    .iter()
                    .flat_map(|s| &s.item)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        _ => f.write_str("?"),
    }
}

/// A `Display` adapter for one [`Resource`] (see [`fmt_resource`]).
#[derive(Debug, Clone, Copy)]
pub struct DisplayResource<'a>(pub &'a Resource);

impl fmt::Display for DisplayResource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_resource(self.0, f)
    }
}

/// `cpus:4; mem:1024; ports:[31000-32000]`, `{}` when empty; shared copies as `<n>`.
impl fmt::Display for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("{}");
        }
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            fmt_resource(&entry.resource, f)?;
            if let Some(n) = entry.shared_count {
                write!(f, "<{n}>")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Resources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Resources({self})")
    }
}
