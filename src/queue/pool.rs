//! Recycled payload buffers, so the steady-state path allocates nothing per item: the batcher hands
//! emptied buffers back in bulk after each batch, and producers take them in bulk into a local cache.
//! Both sides lock once per *chunk*, not once per item.

use std::sync::Mutex;

/// A shared free list of byte buffers, bounded in count and in bytes: idle buffers hold at most
/// `max_bytes` of capacity, and a buffer grown past `MAX_POOLED_BUFFER_BYTES` (a large record's) is
/// freed rather than kept, so one 1 MiB record does not pin a megabyte per recycled buffer.
pub struct BufferPool {
    free: Mutex<(Vec<Vec<u8>>, usize)>,
    max_buffers: usize,
    max_bytes: usize,
}

/// A buffer with more capacity than this is freed on return instead of pooled.
pub const MAX_POOLED_BUFFER_BYTES: usize = 64 << 10;

impl BufferPool {
    /// A pool that keeps at most `max_buffers` idle buffers (extra ones are freed).
    pub fn new(max_buffers: usize) -> Self {
        BufferPool {
            free: Mutex::new((Vec::with_capacity(max_buffers.min(1 << 20)), 0)),
            max_buffers,
            max_bytes: usize::MAX,
        }
    }

    /// Also keep at most `max_bytes` of idle buffer capacity.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Move up to `n` idle buffers into `out` (fewer, or none, if the pool is short).
    pub fn take_into(&self, out: &mut Vec<Vec<u8>>, n: usize) {
        let mut guard = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let (free, bytes) = &mut *guard;
        let k = n.min(free.len());
        let start = free.len() - k;
        *bytes -= free[start..].iter().map(Vec::capacity).sum::<usize>();
        out.extend(free.drain(start..));
    }

    /// Return buffers to the pool (cleared); those beyond the pool's bound are freed.
    pub fn give_back(&self, bufs: &mut Vec<Vec<u8>>) {
        let mut guard = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let (free, bytes) = &mut *guard;
        for mut b in bufs.drain(..) {
            if free.len() >= self.max_buffers {
                break;
            }
            let cap = b.capacity();
            if cap > MAX_POOLED_BUFFER_BYTES || bytes.saturating_add(cap) > self.max_bytes {
                continue; // freed here
            }
            b.clear();
            *bytes += cap;
            free.push(b);
        }
        // Anything left in `bufs` past the bound is dropped here, outside the hot path's steady state.
        bufs.clear();
    }

    /// Idle buffers now.
    pub fn idle(&self) -> usize {
        self.free.lock().unwrap_or_else(|p| p.into_inner()).0.len()
    }

    /// Capacity of the idle buffers now, bytes.
    pub fn idle_bytes(&self) -> usize {
        self.free.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_cleared_and_the_pool_is_bounded() {
        let pool = BufferPool::new(2);
        let mut back = vec![vec![1u8; 10], vec![2u8; 10], vec![3u8; 10]];
        pool.give_back(&mut back);
        assert!(back.is_empty());
        assert_eq!(pool.idle(), 2);
        let mut got = vec![];
        pool.take_into(&mut got, 5);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|b| b.is_empty() && b.capacity() >= 10));
        assert_eq!(pool.idle(), 0);
    }

    #[test]
    fn a_large_records_buffer_is_freed_not_pooled_and_idle_bytes_are_bounded() {
        // Before: buffers kept the capacity of the largest record they had held, indefinitely.
        let pool = BufferPool::new(100).with_max_bytes(1000);
        let mut back = vec![
            Vec::with_capacity(1 << 20),
            Vec::with_capacity(400),
            Vec::with_capacity(400),
            Vec::with_capacity(400),
        ];
        pool.give_back(&mut back);
        assert_eq!(pool.idle(), 2);
        assert!(pool.idle_bytes() <= 1000);
        let mut out = Vec::new();
        pool.take_into(&mut out, 5);
        assert_eq!((out.len(), pool.idle_bytes()), (2, 0));
    }
}
