//! One-shot signals: [`Trigger`] crosses threads (the shutdown request reaching every
//! worker), [`LocalSignal`] stays inside one worker (shutdown reaching its connections,
//! "all connections closed" reaching the worker). Waiting never polls: wakers only.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A cross-thread one-shot: fire once from anywhere, wait from workers (async) or the
/// main thread (blocking).
#[derive(Debug, Clone, Default)]
pub struct Trigger {
    inner: Arc<TriggerInner>,
}

#[derive(Debug, Default)]
struct TriggerInner {
    fired: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
    lock: Mutex<()>,
    cond: Condvar,
}

impl Trigger {
    /// Fire: wakes every waiter, now and later.
    pub fn fire(&self) {
        self.inner.fired.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *lock(&self.inner.wakers));
        for w in wakers {
            w.wake();
        }
        let _guard = lock(&self.inner.lock);
        self.inner.cond.notify_all();
    }

    /// Whether it has fired.
    pub fn is_fired(&self) -> bool {
        self.inner.fired.load(Ordering::SeqCst)
    }

    /// Wait (async) until fired.
    pub fn wait(&self) -> TriggerWait<'_> {
        TriggerWait { trigger: self }
    }

    /// Block the calling thread until fired or `timeout` passes; true if fired.
    pub fn wait_blocking(&self, timeout: Option<Duration>) -> bool {
        let mut guard = lock(&self.inner.lock);
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        while !self.is_fired() {
            match deadline {
                None => {
                    guard = self
                        .inner
                        .cond
                        .wait(guard)
                        .unwrap_or_else(|p| p.into_inner())
                }
                Some(d) => {
                    let now = std::time::Instant::now();
                    if now >= d {
                        return false;
                    }
                    guard = self
                        .inner
                        .cond
                        .wait_timeout(guard, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
        true
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Future returned by [`Trigger::wait`].
#[derive(Debug)]
pub struct TriggerWait<'a> {
    trigger: &'a Trigger,
}

impl Future for TriggerWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.trigger.is_fired() {
            return Poll::Ready(());
        }
        let mut wakers = lock(&self.trigger.inner.wakers);
        // Re-check under the lock: `fire` stores before taking the wakers.
        if self.trigger.is_fired() {
            return Poll::Ready(());
        }
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// A worker-local one-shot broadcast (`!Send`).
#[derive(Debug, Default)]
pub struct LocalSignal {
    fired: Cell<bool>,
    waiters: RefCell<Vec<Option<Waker>>>,
    free: RefCell<Vec<usize>>,
}

impl LocalSignal {
    /// Fire: wakes every waiter.
    pub fn fire(&self) {
        if self.fired.replace(true) {
            return;
        }
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        self.free.borrow_mut().clear();
        for w in waiters.into_iter().flatten() {
            w.wake();
        }
    }

    /// Whether it has fired.
    #[inline]
    pub fn is_fired(&self) -> bool {
        self.fired.get()
    }

    /// Wait until fired. Dropping the future deregisters it.
    pub fn wait(&self) -> LocalWait<'_> {
        LocalWait {
            signal: self,
            slot: None,
        }
    }
}

/// Future returned by [`LocalSignal::wait`].
#[derive(Debug)]
pub struct LocalWait<'a> {
    signal: &'a LocalSignal,
    slot: Option<usize>,
}

impl Future for LocalWait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.is_fired() {
            self.slot = None;
            return Poll::Ready(());
        }
        let mut waiters = self.signal.waiters.borrow_mut();
        match self.slot {
            Some(i) if i < waiters.len() => waiters[i] = Some(cx.waker().clone()),
            _ => {
                let i = match self.signal.free.borrow_mut().pop() {
                    Some(i) => {
                        waiters[i] = Some(cx.waker().clone());
                        i
                    }
                    None => {
                        waiters.push(Some(cx.waker().clone()));
                        waiters.len() - 1
                    }
                };
                drop(waiters);
                self.slot = Some(i);
            }
        }
        Poll::Pending
    }
}

impl Drop for LocalWait<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.slot.take() {
            if self.signal.is_fired() {
                return;
            }
            if let Some(w) = self.signal.waiters.borrow_mut().get_mut(i) {
                *w = None;
                self.signal.free.borrow_mut().push(i);
            }
        }
    }
}
