//! Conversions between the reservation formats of `Resource` (upstream
//! `convertResourceFormat` in `src/common/resources_utils.cpp`).
//!
//! * *pre-reservation-refinement*: `role` (default `*`) plus an optional `reservation`
//!   (set for dynamic reservations, with principal and labels but no type or role).
//!   Frameworks without the RESERVATION_REFINEMENT capability and old agents speak it.
//! * *post-reservation-refinement*: the `reservations` stack, each with type and role,
//!   refinements last; `role` and `reservation` unset. Our canonical form: everything in
//!   [`Resources`](super::Resources) is in it.
//! * *endpoint*: both at once (the stack, and `role`/`reservation` for a single
//!   reservation), as the v0 JSON endpoints show them.

use thiserror::Error;

use crate::roles::DEFAULT_ROLE;
use crate::v0::Resource;
use crate::v0::resource::ReservationInfo;
use crate::v0::resource::reservation_info::Type as ReservationType;

/// The reservation format to convert a `Resource` to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceFormat {
    /// `role` + `reservation` only; no refined reservations possible.
    PreReservationRefinement,
    /// The `reservations` stack only (canonical).
    PostReservationRefinement,
    /// The stack, plus `role`/`reservation` when there is at most one reservation.
    Endpoint,
}

/// Why a resource cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Refined reservations cannot be expressed in the pre-refinement format.
    #[error("cannot downgrade resource '{name}' containing refined reservations")]
    RefinedReservations {
        /// The resource name.
        name: String,
    },
}

/// Converts `resource` to `format`.
///
/// Converting to the post-refinement format accepts any of the three formats.
/// Converting to the pre-refinement or endpoint format expects the post-refinement
/// format; pre-refinement fails on refined reservations (the resource is unchanged).
#[allow(deprecated)] // `Resource.role` is deprecated but this is where it is handled.
pub fn convert_resource_format(
    resource: &mut Resource,
    format: ResourceFormat,
) -> Result<(), FormatError> {
    match format {
        ResourceFormat::PreReservationRefinement | ResourceFormat::Endpoint => {
            match resource.reservations.len() {
                0 => {
                    resource.role = Some(DEFAULT_ROLE.to_owned());
                    resource.reservation = None;
                }
                1 => {
                    let source = &resource.reservations[0];
                    resource.reservation =
                        (source.r#type() == ReservationType::Dynamic).then(|| ReservationInfo {
                            r#type: None,
                            role: None,
                            principal: source.principal.clone(),
                            labels: source.labels.clone(),
                        });
                    resource.role = Some(source.role().to_owned());
                    if format == ResourceFormat::PreReservationRefinement {
                        resource.reservations.clear();
                    }
                }
                _ => {
                    if format == ResourceFormat::PreReservationRefinement {
                        return Err(FormatError::RefinedReservations {
                            name: resource.name.clone(),
                        });
                    }
                    resource.role = None;
                    resource.reservation = None;
                }
            }
        }
        ResourceFormat::PostReservationRefinement => {
            if !resource.reservations.is_empty() {
                // Already post-refinement, or the endpoint format.
                resource.role = None;
                resource.reservation = None;
                return Ok(());
            }
            let role = resource
                .role
                .take()
                .unwrap_or_else(|| DEFAULT_ROLE.to_owned());
            if role == DEFAULT_ROLE {
                resource.reservation = None;
                return Ok(());
            }
            let reservation = match resource.reservation.take() {
                None => ReservationInfo {
                    r#type: Some(ReservationType::Static as i32),
                    role: Some(role),
                    principal: None,
                    labels: None,
                },
                Some(pre) => ReservationInfo {
                    r#type: Some(ReservationType::Dynamic as i32),
                    role: Some(role),
                    principal: pre.principal,
                    labels: pre.labels,
                },
            };
            resource.reservations.push(reservation);
        }
    }
    Ok(())
}

/// Converts any format to the canonical post-refinement format (upstream
/// `upgradeResource`).
pub fn upgrade_resource(resource: &mut Resource) {
    convert_resource_format(resource, ResourceFormat::PostReservationRefinement)
        .expect("converting to the post-refinement format cannot fail");
}

/// Upgrades every resource of a list.
pub fn upgrade_resources(resources: &mut [Resource]) {
    resources.iter_mut().for_each(upgrade_resource);
}

/// Converts a post-refinement resource to the pre-refinement format, for frameworks and
/// agents without RESERVATION_REFINEMENT (upstream `downgradeResource`).
pub fn downgrade_resource(resource: &mut Resource) -> Result<(), FormatError> {
    convert_resource_format(resource, ResourceFormat::PreReservationRefinement)
}

/// Downgrades every resource of a list; on error the list may be partly converted.
pub fn downgrade_resources(resources: &mut [Resource]) -> Result<(), FormatError> {
    resources.iter_mut().try_for_each(downgrade_resource)
}

#[cfg(test)]
#[allow(deprecated)]
mod tests {
    use super::*;
    use crate::resources::resource::{reservation, scalar};

    #[test]
    fn upgrade_static_and_dynamic() {
        let mut r = scalar("cpus", 1.0);
        r.role = Some("eng".into());
        upgrade_resource(&mut r);
        assert_eq!(r.role, None);
        assert_eq!(
            r.reservations,
            vec![reservation(ReservationType::Static, "eng", None)]
        );

        let mut r = scalar("cpus", 1.0);
        r.role = Some("eng".into());
        r.reservation = Some(ReservationInfo {
            principal: Some("p".into()),
            ..Default::default()
        });
        upgrade_resource(&mut r);
        assert_eq!(r.reservation, None);
        assert_eq!(
            r.reservations,
            vec![reservation(ReservationType::Dynamic, "eng", Some("p"))]
        );

        let mut r = scalar("cpus", 1.0);
        r.role = Some("*".into());
        upgrade_resource(&mut r);
        assert_eq!(r, scalar("cpus", 1.0));
    }

    #[test]
    fn downgrade_and_endpoint() {
        let mut r = scalar("cpus", 1.0);
        r.reservations
            .push(reservation(ReservationType::Dynamic, "eng", Some("p")));
        let post = r.clone();

        let mut endpoint = post.clone();
        convert_resource_format(&mut endpoint, ResourceFormat::Endpoint).unwrap();
        assert_eq!(endpoint.role.as_deref(), Some("eng"));
        assert_eq!(
            endpoint.reservation.as_ref().unwrap().principal.as_deref(),
            Some("p")
        );
        assert_eq!(endpoint.reservations.len(), 1);

        downgrade_resource(&mut r).unwrap();
        assert_eq!(r.role.as_deref(), Some("eng"));
        assert!(r.reservations.is_empty());
        upgrade_resource(&mut r);
        assert_eq!(r, post);

        let mut unreserved = scalar("mem", 1.0);
        downgrade_resource(&mut unreserved).unwrap();
        assert_eq!(unreserved.role.as_deref(), Some("*"));

        let mut refined = post.clone();
        refined
            .reservations
            .push(reservation(ReservationType::Dynamic, "eng/web", None));
        assert!(downgrade_resource(&mut refined.clone()).is_err());
        convert_resource_format(&mut refined, ResourceFormat::Endpoint).unwrap();
        assert_eq!(refined.role, None);
    }
}
