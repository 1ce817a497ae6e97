//! Running closures on a process's state: `dispatch`, `call`, `defer`, and the lifecycle
//! free functions (`spawn`, `terminate`, `wait`, `send`).
//!
//! A dispatched closure is an event like any other: it runs on the process's state,
//! serialised with the process's other events, in the order they were queued. A dispatch to a
//! process that has terminated is dropped; for `call`, that fails the returned future
//! (abandoned) instead of leaving it pending.

use std::any::type_name;

use bytes::Bytes;

use crate::future::{Future, Promise};
use crate::pid::{Pid, Upid};
use crate::process::{Context, Process};
use crate::runtime::thunk::Thunk;
use crate::runtime::{self, SpawnError};

/// Runs `f` on the process's state, later, on a worker. Fire and forget.
///
/// ```
/// use libprocess::{Process, Runtime, dispatch, call};
/// struct Total(u64);
/// impl Process for Total {}
///
/// let runtime = Runtime::new();
/// let pid = runtime.spawn(Total(0));
/// for i in 1..=10 {
///     dispatch(&pid, move |t: &mut Total| t.0 += i);
/// }
/// assert_eq!(call(&pid, |t: &mut Total| t.0).get(), Ok(55));
/// ```
pub fn dispatch<P, F>(pid: &Pid<P>, f: F)
where
    P: Process,
    F: FnOnce(&mut P) + Send + 'static,
{
    pid.cell.dispatch(
        Thunk::new(move |process: &mut P, _: &mut Context<'_, P>| f(process)),
        type_name::<F>(),
    );
}

/// As [`dispatch`], with the process's [`Context`] too (to send, link or install handlers).
pub fn dispatch_with<P, F>(pid: &Pid<P>, f: F)
where
    P: Process,
    F: FnOnce(&mut P, &mut Context<'_, P>) + Send + 'static,
{
    pid.cell.dispatch(Thunk::new(f), type_name::<F>());
}

fn call_named<P, R, F>(pid: &Pid<P>, f: F, name: &'static str) -> Future<R>
where
    P: Process,
    R: Send + Sync + 'static,
    F: FnOnce(&mut P) -> R + Send + 'static,
{
    let promise = Promise::new();
    let future = promise.future();
    pid.cell.dispatch(
        Thunk::new(move |process: &mut P, _: &mut Context<'_, P>| {
            promise.set(f(process));
        }),
        name,
    );
    future
}

fn call_future_named<P, R, F>(pid: &Pid<P>, f: F, name: &'static str) -> Future<R>
where
    P: Process,
    R: Clone + Send + Sync + 'static,
    F: FnOnce(&mut P) -> Future<R> + Send + 'static,
{
    let promise = Promise::new();
    let future = promise.future();
    pid.cell.dispatch(
        Thunk::new(move |process: &mut P, _: &mut Context<'_, P>| promise.associate(f(process))),
        name,
    );
    future
}

/// Runs `f` on the process's state and gives back a future of its result. The future fails
/// (abandoned) if the process terminates before serving it.
pub fn call<P, R, F>(pid: &Pid<P>, f: F) -> Future<R>
where
    P: Process,
    R: Send + Sync + 'static,
    F: FnOnce(&mut P) -> R + Send + 'static,
{
    call_named(pid, f, type_name::<F>())
}

/// Runs `f`, which returns a future, on the process's state; the result completes with it.
pub fn call_future<P, R, F>(pid: &Pid<P>, f: F) -> Future<R>
where
    P: Process,
    R: Clone + Send + Sync + 'static,
    F: FnOnce(&mut P) -> Future<R> + Send + 'static,
{
    call_future_named(pid, f, type_name::<F>())
}

/// Turns `f` into a callback that, whenever and wherever it is called, dispatches `f` with
/// its argument onto the process, giving back a future of the result. The building block of
/// `future.then(defer(&pid, ...))`: continuations that run inside the actor.
///
/// ```
/// use libprocess::{Future, Process, Runtime, defer};
/// struct Adder(i32);
/// impl Process for Adder {}
///
/// let runtime = Runtime::new();
/// let pid = runtime.spawn(Adder(10));
/// let sum = Future::ready(5).then(defer(&pid, |a: &mut Adder, v: i32| a.0 + v));
/// assert_eq!(sum.get(), Ok(15));
/// ```
pub fn defer<P, A, R, F>(pid: &Pid<P>, f: F) -> impl FnOnce(A) -> Future<R> + Send + 'static
where
    P: Process,
    A: Send + 'static,
    R: Send + Sync + 'static,
    F: FnOnce(&mut P, A) -> R + Send + 'static,
{
    let pid = pid.clone();
    move |arg: A| {
        call_named(
            &pid,
            move |process: &mut P| f(process, arg),
            type_name::<F>(),
        )
    }
}

/// As [`defer`] for a function that itself returns a future.
pub fn defer_future<P, A, R, F>(pid: &Pid<P>, f: F) -> impl FnOnce(A) -> Future<R> + Send + 'static
where
    P: Process,
    A: Send + 'static,
    R: Clone + Send + Sync + 'static,
    F: FnOnce(&mut P, A) -> Future<R> + Send + 'static,
{
    let pid = pid.clone();
    move |arg: A| {
        call_future_named(
            &pid,
            move |process: &mut P| f(process, arg),
            type_name::<F>(),
        )
    }
}

/// Spawns `process` on the current runtime with a generated id `(N)`.
pub fn spawn<P: Process>(process: P) -> Pid<P> {
    runtime::current().spawn(process)
}

/// Spawns `process` on the current runtime under `id`.
pub fn spawn_with_id<P: Process>(id: impl Into<String>, process: P) -> Result<Pid<P>, SpawnError> {
    runtime::current().spawn_with_id(id, process)
}

/// Asks the process to terminate, ahead of its queued events (libprocess's default
/// `inject = true`): they are dropped, `finalize` runs next.
pub fn terminate<P: Process>(pid: &Pid<P>) {
    pid.cell.terminate(true);
}

/// Asks the process to terminate; with `inject = false` it first serves what is queued.
pub fn terminate_with<P: Process>(pid: &Pid<P>, inject: bool) {
    pid.cell.terminate(inject);
}

/// A future that completes once the process has finalized.
pub fn wait<P: Process>(pid: &Pid<P>) -> Future<()> {
    pid.cell.wait()
}

/// Sends a named message from `from` to `to` (locally, or over the network when `to` lives
/// elsewhere) through the runtime `from` lives in: the current one, or, from a thread of no
/// runtime, the listening runtime at `from`'s address.
pub fn send(from: &Upid, to: &Upid, name: impl Into<String>, body: impl Into<Bytes>) {
    runtime::for_sender(from).send(from, to, name, body);
}
