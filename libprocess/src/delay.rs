//! Timed dispatch: `delay` runs a closure on a process after a while; `after` is a future that
//! completes after a while. Both honour the runtime's clock, which tests may pause.

use std::any::type_name;
use std::time::Duration;

use crate::clock::{self, Timer};
use crate::future::{Future, Promise};
use crate::pid::Pid;
use crate::process::{Context, Process};
use crate::runtime::thunk::Thunk;

/// Dispatches `f` onto the process after `duration` of its runtime's clock. The returned
/// [`Timer`] cancels it if it has not fired yet.
///
/// ```
/// use std::time::Duration;
/// use libprocess::{Process, Runtime, call, delay};
/// struct Alarm(bool);
/// impl Process for Alarm {}
///
/// let runtime = Runtime::new();
/// let pid = runtime.spawn(Alarm(false));
/// let timer = delay(Duration::from_secs(3600), &pid, |a: &mut Alarm| a.0 = true);
/// assert!(timer.cancel());
/// assert_eq!(call(&pid, |a: &mut Alarm| a.0).get(), Ok(false));
/// ```
pub fn delay<P, F>(duration: Duration, pid: &Pid<P>, f: F) -> Timer
where
    P: Process,
    F: FnOnce(&mut P) + Send + 'static,
{
    let target = pid.clone();
    clock::timer_on(&pid.cell.rt, duration, move || {
        target.cell.dispatch(
            Thunk::new(move |process: &mut P, _: &mut Context<'_, P>| f(process)),
            type_name::<F>(),
        );
    })
}

/// A future that completes after `duration` of the current runtime's clock. Discarding it
/// cancels the timer (and the future becomes discarded).
pub fn after(duration: Duration) -> Future<()> {
    let promise = Promise::new();
    let future = promise.future();
    let slot = std::sync::Arc::new(parking_lot::Mutex::new(Some(promise)));
    let fire = slot.clone();
    let timer = clock::timer(duration, move || {
        if let Some(promise) = fire.lock().take() {
            promise.set(());
        }
    });
    future.on_discard(move || {
        timer.cancel();
        if let Some(promise) = slot.lock().take() {
            promise.discard();
        }
    });
    future
}
