//! `Resources` arithmetic, filters and reservations, after upstream
//! `src/tests/resources_tests.cpp`.

use mesos_core::resources::resource::{self, ranges, reservation, scalar, set};
use mesos_core::resources::{Quantity, ResourceConversion, ResourceQuantities, Resources};
use mesos_core::v0::Resource;
use mesos_core::v0::resource::disk_info::{Persistence, Source, source};
use mesos_core::v0::resource::reservation_info::Type as ReservationType;
use mesos_core::v0::resource::{AllocationInfo, DiskInfo, SharedInfo};
use mesos_core::v0::value::Range;

fn r(text: &str) -> Resources {
    Resources::parse(text, "*").unwrap()
}

fn reserved(mut resource: Resource, kind: ReservationType, role: &str) -> Resource {
    resource
        .reservations
        .push(reservation(kind, role, Some("principal")));
    resource
}

fn persistent_volume(size: f64, role: &str, id: &str) -> Resource {
    let mut disk = reserved(scalar("disk", size), ReservationType::Dynamic, role);
    disk.disk = Some(DiskInfo {
        persistence: Some(Persistence {
            id: id.into(),
            principal: None,
        }),
        ..DiskInfo::default()
    });
    disk
}

#[test]
fn scalar_addition_is_exact() {
    let mut total = Resources::new();
    for _ in 0..1000 {
        total += scalar("cpus", 0.1);
    }
    assert_eq!(total.cpus(), Some(100.0));
    for _ in 0..999 {
        total -= scalar("cpus", 0.1);
    }
    assert_eq!(total.cpus(), Some(0.1));
    total -= scalar("cpus", 0.1);
    assert!(total.is_empty());
    assert_eq!((r("cpus:0.1") + r("cpus:0.2")), r("cpus:0.3"));
}

#[test]
fn combining_like_resources() {
    let total = r("cpus:1;mem:5") + r("cpus:2;mem:10;disk:3");
    assert_eq!(total.len(), 3);
    assert_eq!(total.cpus(), Some(3.0));
    assert_eq!(total.mem(), Some(15.0));
    assert_eq!(total.disk(), Some(3.0));
    // Different reservations do not combine.
    let mixed = total.clone() + Resources::parse("cpus(eng):1", "*").unwrap();
    assert_eq!(mixed.len(), 4);
    assert_eq!(mixed.get_scalar("cpus"), Some(Quantity::from_units(4)));
}

#[test]
fn subtraction_never_goes_negative() {
    let left = r("cpus:1;mem:5");
    let result = &left - &r("cpus:2;mem:1");
    assert_eq!(result, r("mem:4"));
    assert_eq!(result.cpus(), None);
    // Subtracting what is not there leaves the left side alone.
    assert_eq!(&left - &r("disk:5"), left);
}

#[test]
fn zero_and_invalid_resources_are_ignored() {
    let mut resources = Resources::new();
    resources += scalar("cpus", 0.0);
    resources += scalar("cpus", -1.0);
    resources += scalar("cpus", 0.0001);
    resources += Resource {
        name: String::new(),
        ..scalar("x", 1.0)
    };
    assert!(resources.is_empty());
    assert!(resources.try_add(scalar("cpus", -1.0)).is_err());
    assert!(resources.try_add(scalar("cpus", 0.0)).is_ok());
    assert!(resources.is_empty());
}

#[test]
fn ranges_merge_and_split() {
    let a = Resources::from(ranges("ports", &[(20000, 40000)]));
    let b = Resources::from(ranges("ports", &[(30000, 50000), (10000, 20000)]));
    assert_eq!(
        (&a + &b).ports().unwrap(),
        vec![Range {
            begin: 10000,
            end: 50000
        }]
    );

    let c = &a - &Resources::from(ranges("ports", &[(25000, 26000), (30000, 30000)]));
    assert_eq!(
        c.ports().unwrap(),
        vec![
            Range {
                begin: 20000,
                end: 24999
            },
            Range {
                begin: 26001,
                end: 29999
            },
            Range {
                begin: 30001,
                end: 40000
            }
        ]
    );
    let back = &c + &Resources::from(ranges("ports", &[(25000, 26000), (30000, 30000)]));
    assert_eq!(back, a);

    // Adjacent ranges coalesce on the way in.
    let d = Resources::from(ranges("ports", &[(1, 2), (3, 4), (6, 6)]));
    assert_eq!(
        d.ports().unwrap(),
        vec![Range { begin: 1, end: 4 }, Range { begin: 6, end: 6 }]
    );
    // Overlapping ranges inside one resource are invalid.
    assert!(Resources::from(ranges("ports", &[(1, 5), (3, 4)])).is_empty());
    // Subtracting everything removes the resource.
    assert!((&a - &a).is_empty());
}

#[test]
fn ranges_containment() {
    let a = Resources::from(ranges("ports", &[(1, 10), (20, 30)]));
    assert!(a.contains(&Resources::from(ranges("ports", &[(2, 3), (20, 30)]))));
    assert!(!a.contains(&Resources::from(ranges("ports", &[(9, 21)]))));
    assert!(!a.contains(&Resources::from(ranges("other", &[(1, 1)]))));
}

#[test]
fn sets() {
    let a = Resources::from(set("zones", &["a", "b"]));
    let b = Resources::from(set("zones", &["b", "c"]));
    assert_eq!((&a + &b).get_set("zones").unwrap(), vec!["a", "b", "c"]);
    assert_eq!((&a - &b).get_set("zones").unwrap(), vec!["a"]);
    assert!(a.contains(&Resources::from(set("zones", &["b"]))));
    assert!(!a.contains(&b));
    assert_eq!(a, Resources::from(set("zones", &["b", "a"])));
    assert!(Resources::from(set("zones", &["a", "a"])).is_empty());
}

#[test]
fn containment() {
    let big = r("cpus:4;mem:1024;ports:[31000-32000]");
    assert!(big.contains(&r("cpus:1;mem:1024")));
    assert!(big.contains(&Resources::new()));
    assert!(!big.contains(&r("cpus:5")));
    assert!(!big.contains(&r("disk:1")));
    // Reserved resources are not contained in unreserved ones, nor the other way.
    let reserved_cpus = Resources::parse("cpus(eng):1", "*").unwrap();
    assert!(!big.contains(&reserved_cpus));
    assert!(!reserved_cpus.contains(&r("cpus:1")));
    assert!(big.contains_resource(&scalar("cpus", 2.0)));
    assert!(!big.contains_resource(&scalar("cpus", -2.0)));
    assert!(
        big.contains_quantities(&ResourceQuantities::from_string("cpus:4;ports:1001").unwrap())
    );
    assert!(!big.contains_quantities(&ResourceQuantities::from_string("ports:1002").unwrap()));
}

#[test]
fn equality_is_semantic() {
    assert_eq!(r("cpus:1;mem:2"), r("mem:2;cpus:1"));
    assert_eq!(r("cpus:1;cpus:1"), r("cpus:2"));
    assert_ne!(r("cpus:1"), r("cpus:1.001"));
    assert_eq!(r("cpus:1"), r("cpus:1.0001"));
}

#[test]
fn reservations_and_filters() {
    let cpus_eng = reserved(scalar("cpus", 2.0), ReservationType::Static, "eng");
    let cpus_web = reserved(
        reserved(scalar("cpus", 1.0), ReservationType::Dynamic, "eng"),
        ReservationType::Dynamic,
        "eng/web",
    );
    let mem_ops = reserved(scalar("mem", 64.0), ReservationType::Dynamic, "ops");
    let all = r("cpus:4;mem:128") + cpus_eng.clone() + cpus_web.clone() + mem_ops.clone();

    assert_eq!(all.unreserved(), r("cpus:4;mem:128"));
    assert_eq!(all.reserved(Some("eng")), Resources::from(cpus_eng.clone()));
    assert_eq!(all.reserved(None).len(), 3);
    let by_role = all.reservations();
    assert_eq!(by_role.len(), 3);
    assert_eq!(by_role["eng/web"], Resources::from(cpus_web.clone()));

    // eng/web may use unreserved, eng's and its own.
    let allocatable = all.allocatable_to("eng/web");
    assert_eq!(
        allocatable.get_scalar("cpus"),
        Some(Quantity::from_units(7))
    );
    assert_eq!(allocatable.mem(), Some(128.0));
    // eng may not use eng/web's refinement.
    assert_eq!(
        all.allocatable_to("eng").get_scalar("cpus"),
        Some(Quantity::from_units(6))
    );
    assert_eq!(all.reserved_to_role_subtree("eng").len(), 2);
    assert!(resource::is_dynamically_reserved(&mem_ops));
    assert!(!resource::is_dynamically_reserved(&cpus_eng));
    assert!(resource::has_refined_reservations(&cpus_web));

    let unreserved = all.to_unreserved();
    assert_eq!(unreserved, r("cpus:7;mem:192"));
    assert_eq!(unreserved.len(), 2);
    assert_eq!(all.flatten(), unreserved);
}

#[test]
fn push_and_pop_reservation() {
    let base = r("cpus:1;mem:10");
    let eng = reservation(ReservationType::Dynamic, "eng", None);
    let pushed = base.push_reservation(&eng).unwrap();
    assert_eq!(pushed.reserved(Some("eng")), pushed);
    let web = reservation(ReservationType::Dynamic, "eng/web", None);
    let refined = pushed.push_reservation(&web).unwrap();
    assert_eq!(refined.reserved(Some("eng/web")).len(), 2);
    // A refinement must be a strict subrole.
    assert!(
        pushed
            .push_reservation(&reservation(ReservationType::Dynamic, "ops", None))
            .is_err()
    );
    assert_eq!(refined.pop_reservation().unwrap(), pushed);
    assert_eq!(pushed.pop_reservation().unwrap(), base);
    assert!(base.pop_reservation().is_err());
}

#[test]
fn allocation_info() {
    let mut resources = r("cpus:1;mem:10");
    resources.allocate("eng");
    assert_eq!(resources.allocations()["eng"], resources);
    assert_eq!(resources.allocated_to_role_subtree("eng").len(), 2);
    assert!(resources.allocated_to_role_subtree("ops").is_empty());
    // Allocated and unallocated resources do not combine or compare equal.
    assert_ne!(resources, r("cpus:1;mem:10"));
    let mut other = r("cpus:1");
    other.allocate("ops");
    let mut both = &resources + &other;
    assert_eq!(both.len(), 3);
    both.unallocate();
    assert_eq!(both, r("cpus:2;mem:10"));
    assert_eq!(both.len(), 2);
    assert_eq!(
        resources.iter().next().unwrap().allocation_info,
        Some(AllocationInfo {
            role: Some("eng".into())
        })
    );
}

#[test]
fn revocable_and_shared_filters() {
    let mut rev = scalar("cpus", 2.0);
    rev.revocable = Some(Default::default());
    let mut shared = persistent_volume(10.0, "eng", "v1");
    shared.shared = Some(SharedInfo::default());
    let all = r("cpus:1") + rev.clone() + shared.clone();
    assert_eq!(all.revocable(), Resources::from(rev));
    assert_eq!(all.non_revocable().len(), 2);
    assert_eq!(all.shared(), Resources::from(shared.clone()));
    assert_eq!(all.non_shared().len(), 2);
    assert_eq!(all.persistent_volumes().len(), 1);
    assert_eq!(all.get_scalar("cpus"), Some(Quantity::from_units(3)));
}

#[test]
fn persistent_volumes_stay_distinct() {
    let v1 = persistent_volume(10.0, "eng", "v1");
    let v2 = persistent_volume(10.0, "eng", "v2");
    let both = Resources::from(v1.clone()) + v2.clone();
    assert_eq!(both.len(), 2);
    // The same volume twice does not combine into 20 MB.
    let twice = Resources::from(v1.clone()) + v1.clone();
    assert_eq!(twice.len(), 2);
    assert!(twice.contains(&(Resources::from(v1.clone()) + v1.clone())));
    assert!(!Resources::from(v1.clone()).contains(&twice));
    // Only an identical volume subtracts.
    assert!((&both - &Resources::from(v1.clone())).contains_resource(&v2));
    let mut shrunk = v1.clone();
    shrunk.scalar = Some(mesos_core::v0::value::Scalar { value: 5.0 });
    assert_eq!(
        &Resources::from(v1.clone()) - &Resources::from(shrunk),
        Resources::from(v1)
    );
}

#[test]
fn shared_resources_are_counted() {
    let mut v = persistent_volume(10.0, "eng", "v1");
    v.shared = Some(SharedInfo::default());
    let mut resources = Resources::from(v.clone());
    resources += v.clone();
    resources += v.clone();
    assert_eq!(resources.len(), 1);
    assert_eq!(resources.count(&v), 3);
    assert_eq!(resources.get_scalar("disk"), Some(Quantity::from_units(10)));
    assert!(resources.contains(&(Resources::from(v.clone()) + v.clone())));
    resources -= v.clone();
    assert_eq!(resources.count(&v), 2);
    resources -= &(Resources::from(v.clone()) + v.clone());
    assert!(resources.is_empty());
    // Shared and non-shared versions never mix.
    let mut plain = v.clone();
    plain.shared = None;
    assert!(!Resources::from(v.clone()).contains(&Resources::from(plain.clone())));
    assert_eq!((Resources::from(v) + plain).len(), 2);
    assert_eq!(resources.to_string(), "{}");
}

#[test]
fn mount_disks_do_not_combine() {
    let mut mount = scalar("disk", 100.0);
    mount.disk = Some(DiskInfo {
        source: Some(Source {
            r#type: source::Type::Mount as i32,
            mount: Some(source::Mount {
                root: Some("/mnt/a".into()),
            }),
            ..Source::default()
        }),
        ..DiskInfo::default()
    });
    let twice = Resources::from(mount.clone()) + mount.clone();
    assert_eq!(twice.len(), 2);
    // A MOUNT disk cannot be split.
    let mut part = mount.clone();
    part.scalar = Some(mesos_core::v0::value::Scalar { value: 50.0 });
    assert!(!Resources::from(mount.clone()).contains_resource(&part));
    assert!((&Resources::from(mount.clone()) - &Resources::from(mount)).is_empty());
}

#[test]
fn conversions() {
    let total = r("cpus:2;disk:100");
    let mut volume = scalar("disk", 40.0);
    volume.disk = Some(DiskInfo {
        persistence: Some(Persistence {
            id: "id".into(),
            principal: None,
        }),
        ..DiskInfo::default()
    });
    let create = ResourceConversion::new(
        Resources::from(scalar("disk", 40.0)),
        Resources::from(volume.clone()),
    );
    let after = total.apply(&create).unwrap();
    assert_eq!(after.persistent_volumes(), Resources::from(volume));
    assert_eq!(after.get_scalar("disk"), Some(Quantity::from_units(100)));
    let too_big = ResourceConversion::new(r("disk:200"), Resources::new());
    assert!(total.apply(&too_big).is_err());
}

#[test]
fn quantities_from_resources() {
    let resources = r("cpus:2;mem:10;ports:[1-10,20-29];zones:{a,b,c}")
        + Resources::parse("cpus(eng):1", "*").unwrap();
    assert_eq!(
        ResourceQuantities::from_scalar_resources(&resources),
        ResourceQuantities::from_string("cpus:3;mem:10").unwrap()
    );
    assert_eq!(
        ResourceQuantities::from_resources(&resources),
        ResourceQuantities::from_string("cpus:3;mem:10;ports:20;zones:3").unwrap()
    );
    assert_eq!(
        resources.create_stripped_scalar_quantity(),
        r("cpus:3;mem:10")
    );
}

#[test]
fn display_matches_upstream() {
    let resources = Resources::parse("cpus(eng):2;ports:[1-2,4-5]", "*").unwrap();
    assert_eq!(
        resources.to_string(),
        "cpus(reservations: [(STATIC,eng)]):2; ports:[1-2, 4-5]"
    );
    assert_eq!(r("zones:{a,b}").to_string(), "zones:{a, b}");
}

#[test]
fn names_types_and_vec_round_trip() {
    let resources = r("cpus:1;ports:[1-2];zones:{a}");
    assert_eq!(
        resources.names().into_iter().collect::<Vec<_>>(),
        vec!["cpus", "ports", "zones"]
    );
    assert_eq!(resources.types().len(), 3);
    let list: Vec<Resource> = resources.clone().into();
    assert_eq!(Resources::from(list), resources);
    assert_eq!(Resources::sum([&resources, &resources]).cpus(), Some(2.0));
}
