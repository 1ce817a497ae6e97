//! Criterion bench: `Resources` arithmetic on agents with many ranges and reservations.
//!
//! The agent has unreserved cpus/mem/disk, the same reserved to 32 roles (some refined),
//! and `ports` fragmented into 500 ranges; allocations take a slice of each. Run with
//! `cargo bench -p benches --bench resources -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mesos_core::resources::resource::{ranges, reservation, scalar};
use mesos_core::resources::{ResourceQuantities, Resources};
use mesos_core::v0::Resource;
use mesos_core::v0::resource::reservation_info::Type as ReservationType;

const ROLES: usize = 32;
const PORT_RANGES: u64 = 500;

fn reserved(mut r: Resource, role: usize) -> Resource {
    r.reservations.push(reservation(
        ReservationType::Dynamic,
        &format!("role{role}"),
        Some("p"),
    ));
    if role.is_multiple_of(4) {
        r.reservations.push(reservation(
            ReservationType::Dynamic,
            &format!("role{role}/sub"),
            None,
        ));
    }
    r
}

/// An agent: unreserved and per-role cpus/mem/disk, and fragmented ports.
fn agent_total() -> Resources {
    let mut total = Resources::new();
    let ports: Vec<(u64, u64)> = (0..PORT_RANGES)
        .map(|i| (10_000 + i * 10, 10_000 + i * 10 + 4))
        .collect();
    total += ranges("ports", &ports);
    for name in ["cpus", "mem", "disk"] {
        total += scalar(name, 64.0);
        for role in 0..ROLES {
            total += reserved(scalar(name, 8.0), role);
        }
    }
    total
}

/// What a framework of `role` holds: some of its reserved resources, some unreserved,
/// and every other port range.
fn allocation(role: usize) -> Resources {
    let mut a = Resources::new();
    let ports: Vec<(u64, u64)> = (0..PORT_RANGES)
        .step_by(2)
        .map(|i| (10_000 + i * 10, 10_000 + i * 10 + 2))
        .collect();
    a += ranges("ports", &ports);
    for name in ["cpus", "mem", "disk"] {
        a += scalar(name, 1.5);
        a += reserved(scalar(name, 2.25), role);
    }
    a
}

fn bench(c: &mut Criterion) {
    let total = agent_total();
    let alloc = allocation(ROLES / 2);
    let allocated = &total - &alloc;
    assert!(total.contains(&alloc));
    assert_eq!(&allocated + &alloc, total);

    let mut group = c.benchmark_group("resources");
    group.bench_function("add (agent + allocation)", |b| {
        b.iter(|| black_box(&allocated) + black_box(&alloc))
    });
    group.bench_function("subtract (agent - allocation)", |b| {
        b.iter(|| black_box(&total) - black_box(&alloc))
    });
    group.bench_function("contains (agent ⊇ allocation)", |b| {
        b.iter(|| black_box(&total).contains(black_box(&alloc)))
    });
    group.bench_function("equals (agent == agent)", |b| {
        let copy = Resources::from(total.to_vec());
        b.iter(|| black_box(&total) == black_box(&copy))
    });
    group.bench_function("allocatable_to + quantities", |b| {
        b.iter(|| {
            let mine = black_box(&total).allocatable_to("role4/sub");
            ResourceQuantities::from_scalar_resources(&mine)
        })
    });
    group.bench_function("sum of 32 allocations", |b| {
        let allocations: Vec<Resources> = (0..ROLES).map(allocation).collect();
        b.iter(|| Resources::sum(black_box(&allocations)))
    });
    group.bench_function("parse --resources", |b| {
        let text = "cpus:16;mem:65536;disk:1048576;ports:[31000-32000,33000-34000];gpus:2;\
                    cpus(eng):4;mem(eng):8192;zones:{a,b,c}";
        b.iter(|| Resources::parse(black_box(text), "*").unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
