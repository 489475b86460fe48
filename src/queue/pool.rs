//! Recycled payload buffers, so the steady-state path allocates nothing per item: the batcher hands
//! emptied buffers back in bulk after each batch, and producers take them in bulk into a local cache.
//! Both sides lock once per *chunk*, not once per item.

use std::sync::Mutex;

/// A shared free list of byte buffers, bounded so it cannot hold more memory than a full queue's worth.
pub struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
    max_buffers: usize,
}

impl BufferPool {
    /// A pool that keeps at most `max_buffers` idle buffers (extra ones are freed).
    pub fn new(max_buffers: usize) -> Self {
        BufferPool {
            free: Mutex::new(Vec::with_capacity(max_buffers.min(1 << 20))),
            max_buffers,
        }
    }

    /// Move up to `n` idle buffers into `out` (fewer, or none, if the pool is short).
    pub fn take_into(&self, out: &mut Vec<Vec<u8>>, n: usize) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        let k = n.min(free.len());
        let start = free.len() - k;
        out.extend(free.drain(start..));
    }

    /// Return buffers to the pool (cleared); those beyond the pool's bound are freed.
    pub fn give_back(&self, bufs: &mut Vec<Vec<u8>>) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        for mut b in bufs.drain(..) {
            if free.len() >= self.max_buffers {
                break;
            }
            b.clear();
            free.push(b);
        }
        // Anything left in `bufs` past the bound is dropped here, outside the hot path's steady state.
        bufs.clear();
    }

    /// Idle buffers now.
    pub fn idle(&self) -> usize {
        self.free.lock().unwrap_or_else(|p| p.into_inner()).len()
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
}
