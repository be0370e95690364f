//! The health server's bounded table of open connections.
//!
//! Owns the cap on concurrent connections and the choice of which one to drop when a new client
//! arrives at the cap: the connection that has been idle (waiting for a request, or between
//! keep-alive requests) the longest, once it has been idle at least `EVICT_AFTER`. A connection
//! whose request is being answered is never dropped. So clients that open connections and stall
//! (slowloris) cycle through the table instead of filling it, and a real probe still gets in.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Notify};

/// Open connections at most.
pub(crate) const MAX_CONNECTIONS: usize = 128;
/// An idle connection is not dropped for a newcomer before this (a real client sends its request at
/// once after connecting).
pub(crate) const EVICT_AFTER: Duration = Duration::from_millis(250);

#[derive(Clone, Default)]
pub(crate) struct Connections {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    table: Mutex<Table>,
    freed: Notify,
}

#[derive(Default)]
struct Table {
    entries: Vec<Entry>,
    next_id: u64,
    evicted: u64,
}

struct Entry {
    id: u64,
    busy: bool,
    idle_since: Instant,
    /// Dropping it tells the connection's task to close.
    _evict: oneshot::Sender<()>,
}

/// A connection's place in the table; it leaves the table when dropped.
pub(crate) struct Slot {
    connections: Connections,
    pub(crate) id: u64,
    /// Resolves when the connection was dropped for a newcomer.
    pub(crate) evicted: oneshot::Receiver<()>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.connections.remove(self.id);
    }
}

/// Marks a connection busy while a request is answered.
pub(crate) struct Busy {
    connections: Connections,
    id: u64,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.connections.set_busy(self.id, false);
    }
}

impl Connections {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // Plain pushes and removes under the lock: a poisoned table is still consistent.
        self.inner.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot for a newly accepted connection, dropping the longest-idle connection if the table is
    /// full. Waits (without accepting more) while every connection is busy or too recently idle.
    pub(crate) async fn admit(&self) -> Slot {
        loop {
            let wait = match self.try_admit() {
                Ok(slot) => return slot,
                Err(wait) => wait,
            };
            let freed = self.inner.freed.notified();
            tokio::select! {
                _ = freed => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn try_admit(&self) -> Result<Slot, Duration> {
        let mut table = self.lock();
        let now = Instant::now();
        if table.entries.len() >= MAX_CONNECTIONS {
            let oldest_idle =
                table.entries.iter().enumerate().filter(|(_, e)| !e.busy).min_by_key(|(_, e)| e.idle_since);
            match oldest_idle {
                Some((i, e)) if now.duration_since(e.idle_since) >= EVICT_AFTER => {
                    table.entries.swap_remove(i);
                    table.evicted += 1;
                }
                Some((_, e)) => return Err(EVICT_AFTER - now.duration_since(e.idle_since)),
                None => return Err(EVICT_AFTER),
            }
        }
        let id = table.next_id;
        table.next_id += 1;
        let (tx, rx) = oneshot::channel();
        table.entries.push(Entry { id, busy: false, idle_since: now, _evict: tx });
        Ok(Slot { connections: self.clone(), id, evicted: rx })
    }

    /// Marks connection `id` busy until the returned guard is dropped.
    pub(crate) fn busy(&self, id: u64) -> Busy {
        self.set_busy(id, true);
        Busy { connections: self.clone(), id }
    }

    fn set_busy(&self, id: u64, busy: bool) {
        let mut table = self.lock();
        if let Some(e) = table.entries.iter_mut().find(|e| e.id == id) {
            e.busy = busy;
            e.idle_since = Instant::now();
        }
    }

    fn remove(&self, id: u64) {
        let mut table = self.lock();
        if let Some(i) = table.entries.iter().position(|e| e.id == id) {
            table.entries.swap_remove(i);
            drop(table);
            self.inner.freed.notify_one();
        }
    }

    /// How many connections the table holds (for the tests).
    #[cfg(test)]
    fn open(&self) -> usize {
        self.lock().entries.len()
    }

    /// Connections dropped for newcomers so far.
    pub(crate) fn evicted(&self) -> u64 {
        self.lock().evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn full_table_drops_the_longest_idle_connection_for_a_newcomer() {
        let c = Connections::default();
        let mut slots = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            slots.push(c.admit().await);
        }
        let _busy = c.busy(slots[0].id);
        tokio::time::advance(EVICT_AFTER).await;
        let _newcomer = c.admit().await;
        assert_eq!(c.open(), MAX_CONNECTIONS);
        assert_eq!(c.evicted(), 1);
        // The busy one survives; the next-oldest idle one (slot 1) was told to close.
        assert!(slots[1].evicted.try_recv().is_err());
        assert!(matches!(slots[1].evicted.try_recv(), Err(oneshot::error::TryRecvError::Closed)));
        assert!(matches!(slots[0].evicted.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
    }

    #[tokio::test(start_paused = true)]
    async fn table_of_busy_connections_waits_for_one_to_close() {
        let c = Connections::default();
        let mut slots = Vec::new();
        let mut guards = Vec::new();
        for _ in 0..MAX_CONNECTIONS {
            let s = c.admit().await;
            guards.push(c.busy(s.id));
            slots.push(s);
        }
        let waiting = tokio::time::timeout(EVICT_AFTER * 5, c.admit()).await;
        assert!(waiting.is_err(), "a table of busy connections admits nobody");
        slots.pop();
        let _slot = c.admit().await;
        assert_eq!(c.evicted(), 0);
    }
}
