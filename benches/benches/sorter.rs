//! Criterion bench: the DRF sorter with 10,000 agents and 1,000 clients, as the
//! allocator uses it every allocation cycle (after upstream `BENCHMARK_FullSort`).
//!
//! Clients are 100 roles of 10 frameworks each (`role42/fw7`, a two-level tree) or
//! 1,000 flat roles; each holds allocations on 10 agents. Measured: `sort()` on a clean
//! tree (the common case), `sort()` after a change that dirties the tree (full re-sort),
//! `allocated()` on a clean tree (incremental re-positioning), `update()` and an
//! `unallocated()` + `allocated()` round trip. Run with
//! `cargo bench -p benches --bench sorter -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mesos_core::resources::resource::reservation;
use mesos_core::resources::{ResourceQuantities, Resources};
use mesos_core::sorter::{DrfSorter, RandomSorter, Sorter};
use mesos_core::v0::resource::reservation_info::Type as ReservationType;

const AGENTS: u32 = 10_000;
const CLIENTS: usize = 1_000;
const AGENTS_PER_CLIENT: u32 = 10;

fn clients(hierarchical: bool) -> Vec<String> {
    (0..CLIENTS)
        .map(|i| {
            if hierarchical {
                format!("role{}/fw{}", i / 10, i % 10)
            } else {
                format!("role{i}")
            }
        })
        .collect()
}

/// A small task: varying so that clients get distinct shares.
fn task(i: usize) -> Resources {
    Resources::parse(
        &format!("cpus:{};mem:{};disk:100", 1 + i % 4, 256 * (1 + i % 7)),
        "*",
    )
    .unwrap()
}

fn setup<S: Sorter<u32>>(mut sorter: S, hierarchical: bool) -> (S, Vec<String>) {
    let total = ResourceQuantities::from_string("cpus:32;mem:131072;disk:1048576").unwrap();
    for agent in 0..AGENTS {
        sorter.add_agent(agent, total.clone());
    }
    let clients = clients(hierarchical);
    for (i, client) in clients.iter().enumerate() {
        sorter.add(client);
        sorter.activate(client);
        for k in 0..AGENTS_PER_CLIENT {
            let agent = (i as u32 * 7 + k * 997) % AGENTS;
            for _ in 0..=(i % 3) {
                sorter.allocated(client, &agent, &task(i));
            }
        }
    }
    sorter.sort();
    (sorter, clients)
}

fn bench_drf(c: &mut Criterion, hierarchical: bool) {
    let label = if hierarchical {
        "drf 100x10 roles"
    } else {
        "drf 1000 roles"
    };
    let mut group = c.benchmark_group(format!("sorter/{label}/10000 agents"));
    let (mut sorter, clients) = setup(DrfSorter::new(), hierarchical);

    group.bench_function("sort (clean)", |b| b.iter(|| black_box(sorter.sort())));

    group.bench_function("sort (dirty: agent re-added)", |b| {
        let total = ResourceQuantities::from_string("cpus:32;mem:131072;disk:1048576").unwrap();
        b.iter(|| {
            sorter.remove_agent(&0);
            sorter.add_agent(0, total.clone());
            black_box(sorter.sort())
        })
    });

    let small = Resources::parse("cpus:0.1;mem:32", "*").unwrap();
    let mut next = 0usize;
    group.bench_function("allocated (clean tree)", |b| {
        b.iter(|| {
            let client = &clients[next % CLIENTS];
            next += 1;
            sorter.allocated(client, &((next as u32 * 13) % AGENTS), black_box(&small));
        })
    });
    sorter.sort();

    group.bench_function("allocated + sort, 1000 allocations (one cycle)", |b| {
        b.iter(|| {
            for i in 0..CLIENTS {
                let order = sorter.sort();
                let client = &order[i % order.len()];
                sorter.allocated(client, &(i as u32 % AGENTS), black_box(&small));
            }
        })
    });

    // `update()`: reserve an allocated task to its role and back, as RESERVE/UNRESERVE do.
    let client = clients[5].clone();
    let agent = 5 * 7 % AGENTS;
    let plain = task(5);
    let role = client.split('/').next().unwrap().to_owned();
    let reserved = plain
        .push_reservation(&reservation(ReservationType::Dynamic, &role, None))
        .unwrap();
    let mut flip = false;
    group.bench_function("update (reserve/unreserve)", |b| {
        b.iter(|| {
            let (old, new) = if flip {
                (&reserved, &plain)
            } else {
                (&plain, &reserved)
            };
            flip = !flip;
            sorter.update(&client, &agent, old, new);
        })
    });
    if flip {
        sorter.update(&client, &agent, &reserved, &plain);
    }

    group.bench_function("unallocated + allocated", |b| {
        b.iter(|| {
            sorter.unallocated(&client, &agent, &plain);
            sorter.allocated(&client, &agent, &plain);
        })
    });
    group.finish();
}

fn bench_random(c: &mut Criterion) {
    let mut group = c.benchmark_group("sorter/random 100x10 roles/10000 agents");
    let (mut sorter, _) = setup(RandomSorter::new(), true);
    group.bench_function("sort", |b| b.iter(|| black_box(sorter.sort())));
    group.finish();
}

fn bench(c: &mut Criterion) {
    bench_drf(c, true);
    bench_drf(c, false);
    bench_random(c);
}

criterion_group!(benches, bench);
criterion_main!(benches);
