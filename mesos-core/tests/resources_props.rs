//! Property tests for the resources algebra: `a + b - b == a`, `contains` consistent
//! with subtraction, ranges normalization, no negative quantities, and parsing round
//! trips.

use proptest::prelude::*;

use mesos_core::resources::resource::{ranges, reservation, scalar, set};
use mesos_core::resources::values::{self, Span};
use mesos_core::resources::{Quantity, ResourceQuantities, Resources};
use mesos_core::v0::Resource;
use mesos_core::v0::resource::reservation_info::Type as ReservationType;

/// Scalars in thousandths, so that they are exact in Mesos's precision.
fn scalar_value() -> impl Strategy<Value = f64> {
    (1i64..100_000).prop_map(|millis| Quantity::from_millis(millis).as_f64())
}

fn span_list() -> impl Strategy<Value = Vec<(u64, u64)>> {
    prop::collection::vec((0u64..500, 0u64..20), 0..6)
        .prop_map(|pairs| pairs.into_iter().map(|(b, len)| (b, b + len)).collect())
}

fn role() -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(vec![None, Some("eng"), Some("ops")])
}

/// One valid resource: cpus/mem scalars, ports ranges or a zones set, maybe reserved.
fn resource() -> impl Strategy<Value = Resource> {
    let value = prop_oneof![
        (prop::sample::select(vec!["cpus", "mem"]), scalar_value())
            .prop_map(|(name, v)| scalar(name, v)),
        span_list().prop_map(|spans| {
            let mut normalized: Vec<Span> = spans.iter().map(|&(b, e)| Span::new(b, e)).collect();
            values::coalesce(&mut normalized);
            let bounds: Vec<(u64, u64)> = normalized.iter().map(|s| (s.begin, s.end)).collect();
            ranges("ports", &bounds)
        }),
        prop::collection::btree_set(prop::sample::select(vec!["a", "b", "c", "d"]), 0..4)
            .prop_map(|items| set("zones", &items.into_iter().collect::<Vec<_>>())),
    ];
    (value, role()).prop_map(|(mut r, role)| {
        if let Some(role) = role {
            r.reservations
                .push(reservation(ReservationType::Static, role, None));
        }
        r
    })
}

fn resources() -> impl Strategy<Value = Resources> {
    prop::collection::vec(resource(), 0..8).prop_map(Resources::from)
}

fn no_negative(resources: &Resources) -> bool {
    ResourceQuantities::from_resources(resources)
        .iter()
        .all(|(_, q)| q.is_positive())
        && resources
            .iter()
            .all(|r| r.scalar.is_none_or(|s| s.value > 0.0))
}

proptest! {
    #[test]
    fn add_then_subtract_is_identity(a in resources(), b in resources()) {
        // Ranges and sets are sets: adding what is already there and subtracting it
        // again removes it, so the identity holds for disjoint non-scalars.
        let b = b.filter(|r| r.scalar.is_some());
        prop_assert_eq!(&(&a + &b) - &b, a);
    }

    #[test]
    fn addition_commutes(a in resources(), b in resources()) {
        prop_assert_eq!(&a + &b, &b + &a);
    }

    #[test]
    fn sum_contains_its_parts(a in resources(), b in resources()) {
        let sum = &a + &b;
        prop_assert!(sum.contains(&a));
        prop_assert!(sum.contains(&b));
    }

    #[test]
    fn contains_is_consistent_with_subtraction(a in resources(), b in resources()) {
        if a.contains(&b) {
            // Taking out what is contained and putting it back gives the same.
            prop_assert_eq!(&(&a - &b) + &b, a.clone());
        }
        prop_assert!(a.contains(&(&a - &b)));
    }

    #[test]
    fn subtraction_never_goes_negative(a in resources(), b in resources()) {
        let diff = &a - &b;
        prop_assert!(no_negative(&diff));
        let qa = ResourceQuantities::from_resources(&a);
        let qd = ResourceQuantities::from_resources(&diff);
        prop_assert!(qa.contains(&qd));
    }

    #[test]
    fn equality_is_reflexive_and_order_free(list in prop::collection::vec(resource(), 0..8)) {
        let forward = Resources::from(list.clone());
        let mut reversed = list;
        reversed.reverse();
        prop_assert_eq!(forward.clone(), Resources::from(reversed));
        prop_assert_eq!(forward.clone(), forward);
    }

    #[test]
    fn ranges_normalize(spans in span_list()) {
        let mut list: Vec<Span> = spans.iter().map(|&(b, e)| Span::new(b, e)).collect();
        values::coalesce(&mut list);
        prop_assert!(values::is_normalized(&list));
        // Same elements as the input.
        for (b, e) in &spans {
            prop_assert!(values::contains(&list, &[Span::new(*b, *e)]));
        }
        let elements: u64 = {
            let mut seen = std::collections::BTreeSet::new();
            for (b, e) in &spans {
                seen.extend(*b..=*e);
            }
            seen.len() as u64
        };
        prop_assert_eq!(values::count(&list), elements);
    }

    #[test]
    fn range_union_and_difference(a in span_list(), b in span_list()) {
        let norm = |pairs: &[(u64, u64)]| {
            let mut v: Vec<Span> = pairs.iter().map(|&(b, e)| Span::new(b, e)).collect();
            values::coalesce(&mut v);
            v
        };
        let (a, b) = (norm(&a), norm(&b));
        let elems = |v: &[Span]| v.iter().flat_map(|s| s.begin..=s.end).collect::<std::collections::BTreeSet<_>>();
        let union = values::union(&a, &b);
        let diff = values::subtract(&a, &b);
        prop_assert!(values::is_normalized(&union));
        prop_assert!(values::is_normalized(&diff));
        let (ea, eb) = (elems(&a), elems(&b));
        prop_assert_eq!(elems(&union), ea.union(&eb).copied().collect());
        prop_assert_eq!(elems(&diff), ea.difference(&eb).copied().collect());
        prop_assert_eq!(values::contains(&a, &b), eb.is_subset(&ea));
    }

    #[test]
    fn scalar_sums_do_not_drift(values in prop::collection::vec(1i64..10_000, 1..50)) {
        let mut resources = Resources::new();
        for &millis in &values {
            resources += scalar("cpus", Quantity::from_millis(millis).as_f64());
        }
        let total: i64 = values.iter().sum();
        prop_assert_eq!(resources.get_scalar("cpus"), Some(Quantity::from_millis(total)));
        for &millis in &values {
            resources -= scalar("cpus", Quantity::from_millis(millis).as_f64());
        }
        prop_assert!(resources.is_empty());
    }

    #[test]
    fn text_form_round_trips(a in resources()) {
        // Display of unreserved/static resources is not the `--resources` form, so build
        // that form by hand and parse it back.
        let text: Vec<String> = a
            .iter()
            .map(|r| {
                let role = r.reservations.last().map(|x| format!("({})", x.role())).unwrap_or_default();
                let value = if let Some(s) = r.scalar {
                    Quantity::from_f64(s.value).to_string()
                } else if let Some(rs) = &r.ranges {
                    format!("[{}]", rs.range.iter().map(|x| format!("{}-{}", x.begin, x.end)).collect::<Vec<_>>().join(","))
                } else {
                    format!("{{{}}}", r.set.as_ref().unwrap().item.join(","))
                };
                format!("{}{role}:{value}", r.name)
            })
            .collect();
        let parsed = Resources::parse(&text.join(";"), "*").unwrap();
        prop_assert_eq!(parsed, a);
    }

    #[test]
    fn quantities_subtraction_is_non_negative(a in resources(), b in resources()) {
        let qa = ResourceQuantities::from_resources(&a);
        let qb = ResourceQuantities::from_resources(&b);
        let diff = &qa - &qb;
        prop_assert!(diff.iter().all(|(_, q)| q.is_positive()));
        prop_assert!(qa.contains(&diff));
        prop_assert_eq!(&(&qa + &qb) - &qb, qa);
    }
}
