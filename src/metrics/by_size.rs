//! Each committed block's time in the sink (its write and its fdatasync), kept per class of the
//! block's size. On a real disk a commit's time grows with its bytes: a burst's 400 KB block
//! transfers for longer than a quiet moment's 4 KB one. A simulation that served every batch from the
//! whole run's mix of commit times would serve the large batches of a burst — the very items the
//! p99 is made of — at the small batches' speed, and call a figure no window could reach on this
//! disk a lower bound (`batch::lower_bound` draws from the class of each simulated batch's size).

use hdrhistogram::Histogram;

use super::quantiles_us;

/// Size classes: class `k` holds blocks of `2^k` to `2^(k+1) − 1` bytes; the last is open-ended.
pub const SIZE_CLASSES: usize = 28;

/// Longest commit a class records exactly (a longer one is clamped here): one minute, ns.
const MAX_COMMIT_NS: u64 = 60_000_000_000;

/// The sink's commit durations by block size, recorded without allocating.
#[derive(Debug, Clone)]
pub struct CommitsBySize {
    classes: Vec<Histogram<u32>>,
}

/// One size class's commits, summarised for a simulation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SizeClass {
    /// The smallest block size of the class, bytes.
    pub min_bytes: u64,
    /// Commits recorded in it.
    pub commits: u64,
    /// Their durations as evenly spaced quantiles (0, …, 1), µs.
    pub quantiles_us: Vec<f64>,
}

impl CommitsBySize {
    /// Empty classes.
    pub fn new() -> Self {
        let h = || Histogram::new_with_bounds(1, MAX_COMMIT_NS, 2).expect("valid histogram bounds");
        CommitsBySize {
            classes: (0..SIZE_CLASSES).map(|_| h()).collect(),
        }
    }

    /// The class of a block of `bytes`.
    pub fn class_of(bytes: usize) -> usize {
        (usize::BITS - 1 - bytes.max(1).leading_zeros()).min(SIZE_CLASSES as u32 - 1) as usize
    }

    /// Record one commit of a `bytes` block that took `ns`.
    pub fn record(&mut self, bytes: usize, ns: u64) {
        self.classes[Self::class_of(bytes)].saturating_record(ns.clamp(1, MAX_COMMIT_NS));
    }

    /// The classes that hold commits, smallest first, each as `steps + 1` quantiles.
    pub fn classes(&self, steps: usize) -> Vec<SizeClass> {
        self.classes
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.is_empty())
            .map(|(k, h)| SizeClass {
                min_bytes: 1 << k,
                commits: h.len(),
                quantiles_us: quantiles_us(h, steps),
            })
            .collect()
    }
}

impl Default for CommitsBySize {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_lands_in_the_class_of_its_size_and_the_largest_class_takes_the_rest() {
        assert_eq!(CommitsBySize::class_of(0), 0);
        assert_eq!(CommitsBySize::class_of(1), 0);
        assert_eq!(CommitsBySize::class_of(4095), 11);
        assert_eq!(CommitsBySize::class_of(4096), 12);
        assert_eq!(CommitsBySize::class_of(usize::MAX), SIZE_CLASSES - 1);
        let mut c = CommitsBySize::new();
        c.record(4096, 300_000);
        c.record(8000, 300_000);
        c.record(400_000, 2_000_000);
        c.record(1 << 40, u64::MAX);
        let got: Vec<(u64, u64)> = c
            .classes(10)
            .iter()
            .map(|s| (s.min_bytes, s.commits))
            .collect();
        assert_eq!(
            got,
            vec![(4096, 2), (1 << 18, 1), (1 << (SIZE_CLASSES - 1), 1)]
        );
        let top = &c.classes(10)[2];
        assert_eq!(top.quantiles_us.len(), 11);
        assert!(
            top.quantiles_us.iter().all(|&q| q <= 61_000_000.0),
            "{top:?}"
        );
    }
}
