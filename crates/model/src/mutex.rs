//! Poison-tolerant locking: the one home of `lock`, for every crate that shares a `Mutex`.
//! A panic while a lock was held leaves the data as it was; the next user takes it instead of
//! panicking too. Owns nothing else (no lock ordering, no waiting policy).

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, taking it even when a panicking thread poisoned it.
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_is_taken_not_a_panic() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let poisoner = m.clone();
        let _ = std::thread::spawn(move || {
            let mut guard = poisoner.lock().unwrap();
            *guard = 2;
            panic!("poisons the lock");
        })
        .join();
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 3);
    }
}
