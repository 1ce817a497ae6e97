//! `Thunk<P>`: a dispatched closure stored inline when it is small.
//!
//! Most dispatched closures capture a few words (a value, a `Pid`, a promise). Boxing each one
//! costs an allocation on the sending thread and a free on the worker that runs it, which on
//! a cross-thread message stream is most of the cost of a message. A thunk keeps closures of
//! up to [`INLINE_WORDS`] words (and at most word alignment) in place, and boxes larger ones.

use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit, align_of, size_of};

use crate::process::{Context, Process};

/// Words of inline storage.
pub(crate) const INLINE_WORDS: usize = 3;

type Storage = [MaybeUninit<usize>; INLINE_WORDS];

/// A `FnOnce(&mut P, &mut Context<P>)`, inline or boxed.
pub(crate) struct Thunk<P: Process> {
    storage: Storage,
    /// Moves the closure out of `storage` and calls it.
    call: unsafe fn(*mut Storage, &mut P, &mut Context<'_, P>),
    /// Drops the closure in `storage` without calling it.
    drop: unsafe fn(*mut Storage),
    _marker: PhantomData<P>,
}

// SAFETY: a thunk is only built from closures that are `Send` (see `Thunk::new`), and it owns
// the closure exclusively.
unsafe impl<P: Process> Send for Thunk<P> {}

impl<P: Process> Thunk<P> {
    pub(crate) fn new<F>(f: F) -> Self
    where
        F: for<'a, 'b> FnOnce(&'a mut P, &'b mut Context<'_, P>) + Send + 'static,
    {
        let mut storage: Storage = [MaybeUninit::uninit(); INLINE_WORDS];
        if size_of::<F>() <= size_of::<Storage>() && align_of::<F>() <= align_of::<Storage>() {
            // SAFETY: `storage` is large enough and aligned enough for `F` (checked above), and
            // is uninitialised; `call_inline`/`drop_inline` read `F` back exactly once.
            unsafe { storage.as_mut_ptr().cast::<F>().write(f) };
            Thunk {
                storage,
                call: call_inline::<P, F>,
                drop: drop_inline::<F>,
                _marker: PhantomData,
            }
        } else {
            let boxed: *mut F = Box::into_raw(Box::new(f));
            storage[0] = MaybeUninit::new(boxed as usize);
            Thunk {
                storage,
                call: call_boxed::<P, F>,
                drop: drop_boxed::<F>,
                _marker: PhantomData,
            }
        }
    }

    /// Runs the closure.
    pub(crate) fn call(self, process: &mut P, ctx: &mut Context<'_, P>) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `call` matches how `storage` was filled in `new`, and `this` is never dropped,
        // so the closure is moved out exactly once.
        unsafe { (this.call)(&mut this.storage, process, ctx) }
    }
}

impl<P: Process> Drop for Thunk<P> {
    fn drop(&mut self) {
        // SAFETY: the closure was not called (`call` forgets the thunk), so it is still there.
        unsafe { (self.drop)(&mut self.storage) }
    }
}

unsafe fn call_inline<P: Process, F>(
    storage: *mut Storage,
    process: &mut P,
    ctx: &mut Context<'_, P>,
) where
    F: for<'a, 'b> FnOnce(&'a mut P, &'b mut Context<'_, P>),
{
    // SAFETY: the caller guarantees `storage` holds an initialised `F` that is read once.
    let f = unsafe { storage.cast::<F>().read() };
    f(process, ctx)
}

unsafe fn drop_inline<F>(storage: *mut Storage) {
    // SAFETY: the caller guarantees `storage` holds an initialised `F` that is dropped once.
    unsafe { storage.cast::<F>().drop_in_place() }
}

unsafe fn call_boxed<P: Process, F>(
    storage: *mut Storage,
    process: &mut P,
    ctx: &mut Context<'_, P>,
) where
    F: for<'a, 'b> FnOnce(&'a mut P, &'b mut Context<'_, P>),
{
    // SAFETY: the caller guarantees the first word is the pointer from `Box::into_raw` in
    // `new`, taken back exactly once.
    let f = unsafe { Box::from_raw((*storage)[0].assume_init() as *mut F) };
    f(process, ctx)
}

unsafe fn drop_boxed<F>(storage: *mut Storage) {
    // SAFETY: as in `call_boxed`.
    drop(unsafe { Box::from_raw((*storage)[0].assume_init() as *mut F) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct CountsDrops(Arc<AtomicUsize>);

    impl Drop for CountsDrops {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    // Thunks are exercised with a real `Context` through the runtime's tests; here we check
    // that unrun thunks, small and large, drop what they captured exactly once.
    #[test]
    fn unrun_thunks_drop_their_captures_once() {
        let drops = Arc::new(AtomicUsize::new(0));
        let small = CountsDrops(drops.clone());
        let large = (CountsDrops(drops.clone()), [0u64; 8]);
        struct Nobody;
        impl Process for Nobody {}
        let a: Thunk<Nobody> =
            Thunk::new(move |_: &mut Nobody, _: &mut Context<'_, Nobody>| drop(small));
        let b: Thunk<Nobody> =
            Thunk::new(move |_: &mut Nobody, _: &mut Context<'_, Nobody>| drop(large));
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(a);
        drop(b);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    }
}
